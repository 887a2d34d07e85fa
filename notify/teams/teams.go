// Package teams posts notifications to a Microsoft Teams channel through an incoming webhook (a
// Workflows "post to a channel when a webhook request is received" flow, or a legacy Office 365
// connector), as a message with an Adaptive Card.
package teams

import (
	"bytes"
	"context"
	"fmt"
	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/internal/chat"
	"github.com/rotorhq/rotor/notify/internal/post"
)

// Config configures a Teams notifier: URL is the webhook URL (a secret: anyone who has it can
// post to the channel); Template renders an Adaptive Card.
type Config = chat.Config

// Notifier posts Adaptive Cards to a Teams webhook.
type Notifier struct{ webhook *chat.Webhook }

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Teams notifier.
func New(cfg Config) (*Notifier, error) {
	w, err := chat.New("teams", notify.TemplateTeams, cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{webhook: w}, nil
}

// Send implements notify.Notifier. It never renders m.Secret.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	resp, err := n.webhook.Post(ctx, m)
	if err != nil {
		return err
	}
	// Legacy Office 365 connectors answer 200 with "1", and report throttling in a 200 body.
	if bytes.Contains(resp.Body, []byte("HTTP error 429")) {
		ep := n.webhook.Endpoint()
		return rotor.Throttled(fmt.Errorf("teams webhook at %s: throttled%s", ep, post.Snippet(resp.Body, ep)), 0)
	}
	return nil
}
