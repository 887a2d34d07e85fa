package notify

import (
	"time"

	"context"

	"github.com/rotorhq/rotor/secret"
)

// Notifier delivers messages to people or systems: an SMTP server, a Teams or Slack channel, a
// webhook. Each kind lives in a subpackage and renders the message in its own format.
//
// Contract for every implementation (checked by notify/notifytest):
//   - Safe for concurrent use; honours context cancellation and deadlines.
//   - Errors are classified with rotor.Transient, rotor.Throttled or rotor.Permanent, so the
//     sender knows whether to retry; an unclassified error is retried (bounded by attempts).
//   - Never puts a secret in an error, a log line or a payload: not its own credentials (an SMTP
//     password, a webhook URL that works as a bearer token, a signing key), and not m.Secret
//     unless it is a notifier that renders secrets (email) and m.Secret is set.
//   - A message may be delivered more than once (a crash after the server accepted it and before
//     the outbox recorded it); Message.ID is stable across attempts so receivers can detect it.
type Notifier interface {
	Send(ctx context.Context, m *Message) error
}

// Recipienter is a Notifier that addresses people (email): it says whom a message goes to, for
// the outbox view.
type Recipienter interface {
	Recipients(m *Message) []string
}

// Message is one notification on its way to one notifier.
type Message struct {
	// ID is stable across the delivery attempts of one outbox row.
	ID    string
	Event Event
	// To are recipients in addition to the notifier's own (an app's owners); only notifiers that
	// address people use them.
	To []string
	// Secret is the rotation's new secret value, set only when the route asked for it
	// (include_secret) and only for notifiers that render it (email). Everyone else ignores it.
	Secret secret.Value
}

// TestMessage is what rotor notify test sends through a notifier: a message about nothing, with
// a fresh id, so that people see what rotor's messages look like and that they arrive.
func TestMessage(id, notifier string, at time.Time, to []string) *Message {
	return &Message{ID: id, To: to, Event: Event{Type: EventTest, Severity: SeverityInfo, At: at, Actor: "rotor notify test",
		Reason: "a test of notifier " + notifier + "; nothing happened to any credential"}}
}
