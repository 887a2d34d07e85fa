// Package slack posts notifications to a Slack channel through an incoming webhook, as a message
// with Block Kit blocks.
package slack

import (
	"context"

	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/internal/chat"
)

// Config configures a Slack notifier: URL is the incoming webhook URL
// (https://hooks.slack.com/services/..., a secret); Template renders {"text": ..., "blocks": [...]}.
type Config = chat.Config

// Notifier posts Block Kit messages to a Slack webhook.
type Notifier struct{ webhook *chat.Webhook }

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Slack notifier.
func New(cfg Config) (*Notifier, error) {
	w, err := chat.New("slack", notify.TemplateSlack, cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{webhook: w}, nil
}

// Send implements notify.Notifier. It never renders m.Secret. Slack answers 200 "ok", or an
// error status with a reason (400 invalid_blocks, 404 no_service, 410 channel_is_archived, 429
// with Retry-After).
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	_, err := n.webhook.Post(ctx, m)
	return err
}
