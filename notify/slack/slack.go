// Package slack posts notifications to a Slack channel through an incoming webhook, as a message
// with Block Kit blocks.
package slack

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/internal/post"
	"github.com/rotorhq/rotor/secret"
)

// Config configures a Slack notifier.
type Config struct {
	// URL is the incoming webhook URL (https://hooks.slack.com/services/...). It is a secret.
	URL secret.Value
	// Template renders the message ({"text": ..., "blocks": [...]}); nil uses the built-in one.
	Template *notify.Template
	// CAFile adds PEM certificates to trust for the receiver's certificate.
	CAFile string
	// HTTPClient sends the request; nil means a client of rotor's (no redirects, CAFile trusted).
	HTTPClient *http.Client
}

// Notifier posts Block Kit messages to a Slack webhook.
type Notifier struct {
	endpoint post.Endpoint
	tmpl     *notify.Template
	client   *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Slack notifier.
func New(cfg Config) (*Notifier, error) {
	ep, err := post.ParseEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("slack: url: %w", err)
	}
	n := &Notifier{endpoint: ep, tmpl: cfg.Template, client: cfg.HTTPClient}
	if n.tmpl == nil {
		n.tmpl = notify.DefaultTemplate(notify.TemplateSlack)
	} else if n.tmpl.Kind() != notify.TemplateSlack {
		return nil, fmt.Errorf("slack: template is a %s template", n.tmpl.Kind())
	}
	if n.client == nil {
		if n.client, err = post.HTTPClient(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("%s: %w", "slack", err)
		}
	}
	return n, nil
}

// Send implements notify.Notifier. It never renders m.Secret. Slack answers 200 "ok", or an
// error status with a reason (400 invalid_blocks, 404 no_service, 410 channel_is_archived, 429
// with Retry-After).
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := n.tmpl.Render(notify.NewView(m, false))
	if err != nil {
		return rotor.Permanent(fmt.Errorf("slack: render: %w", err))
	}
	_, err = post.Do(ctx, n.client, post.Request{Endpoint: n.endpoint, What: "slack webhook", Body: []byte(body)})
	return err
}
