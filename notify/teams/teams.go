// Package teams posts notifications to a Microsoft Teams channel through an incoming webhook (a
// Workflows "post to a channel when a webhook request is received" flow, or a legacy Office 365
// connector), as a message with an Adaptive Card.
package teams

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/internal/post"
	"github.com/rotorhq/rotor/secret"
)

// Config configures a Teams notifier.
type Config struct {
	// URL is the webhook URL. Anyone who has it can post to the channel: it is a secret.
	URL secret.Value
	// Template renders the message (an Adaptive Card); nil uses the built-in one.
	Template *notify.Template
	// CAFile adds PEM certificates to trust for the receiver's certificate.
	CAFile string
	// HTTPClient sends the request; nil means a client of rotor's (no redirects, CAFile trusted).
	HTTPClient *http.Client
}

// Notifier posts Adaptive Cards to a Teams webhook.
type Notifier struct {
	endpoint post.Endpoint
	tmpl     *notify.Template
	client   *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a Teams notifier.
func New(cfg Config) (*Notifier, error) {
	ep, err := post.ParseEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("teams: url: %w", err)
	}
	n := &Notifier{endpoint: ep, tmpl: cfg.Template, client: cfg.HTTPClient}
	if n.tmpl == nil {
		n.tmpl = notify.DefaultTemplate(notify.TemplateTeams)
	} else if n.tmpl.Kind() != notify.TemplateTeams {
		return nil, fmt.Errorf("teams: template is a %s template", n.tmpl.Kind())
	}
	if n.client == nil {
		if n.client, err = post.HTTPClient(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("%s: %w", "teams", err)
		}
	}
	return n, nil
}

// Send implements notify.Notifier. It never renders m.Secret.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := n.tmpl.Render(notify.NewView(m, false))
	if err != nil {
		return rotor.Permanent(fmt.Errorf("teams: render: %w", err))
	}
	resp, err := post.Do(ctx, n.client, post.Request{Endpoint: n.endpoint, What: "teams webhook", Body: []byte(body)})
	if err != nil {
		return err
	}
	// Legacy Office 365 connectors answer 200 with "1", and report throttling in a 200 body.
	if bytes.Contains(resp.Body, []byte("HTTP error 429")) {
		return rotor.Throttled(fmt.Errorf("teams webhook at %s: throttled%s", n.endpoint, post.Snippet(resp.Body, n.endpoint)), 0)
	}
	return nil
}
