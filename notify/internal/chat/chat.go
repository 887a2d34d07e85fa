// Package chat is what the chat notifiers (Slack, Teams) share: a message rendered by a template
// of the notifier's kind and posted to an incoming webhook.
package chat

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/internal/post"
	"github.com/rotorhq/rotor/secret"
)

// Config configures a chat notifier.
type Config struct {
	// URL is the incoming webhook URL. Anyone who has it can post to the channel: it is a secret.
	URL secret.Value
	// Template renders the message; nil uses the built-in one of the notifier's kind.
	Template *notify.Template
	// CAFile adds PEM certificates to trust for the receiver's certificate.
	CAFile string
	// HTTPClient sends the request; nil means a client of rotor's (no redirects, CAFile trusted).
	HTTPClient *http.Client
}

// Webhook renders messages with a template of one kind and posts them to a webhook.
type Webhook struct {
	name     string // "slack", "teams": in errors
	endpoint post.Endpoint
	tmpl     *notify.Template
	client   *http.Client
}

// New returns the webhook of cfg for the notifier called name, whose templates are of kind.
func New(name string, kind notify.TemplateKind, cfg Config) (*Webhook, error) {
	ep, err := post.ParseEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: url: %w", name, err)
	}
	w := &Webhook{name: name, endpoint: ep, tmpl: cfg.Template, client: cfg.HTTPClient}
	if w.tmpl == nil {
		w.tmpl = notify.DefaultTemplate(kind)
	} else if w.tmpl.Kind() != kind {
		return nil, fmt.Errorf("%s: template is a %s template", name, w.tmpl.Kind())
	}
	if w.client == nil {
		if w.client, err = post.HTTPClient(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return w, nil
}

// Endpoint is where the webhook posts, without its secret path.
func (w *Webhook) Endpoint() post.Endpoint { return w.endpoint }

// Post renders m (never m.Secret) and posts it.
func (w *Webhook) Post(ctx context.Context, m *notify.Message) (*post.Response, error) {
	body, err := w.tmpl.Render(notify.NewView(m, false))
	if err != nil {
		return nil, rotor.Permanent(fmt.Errorf("%s: render: %w", w.name, err))
	}
	return post.Do(ctx, w.client, post.Request{Endpoint: w.endpoint, What: w.name + " webhook", Body: []byte(body)})
}
