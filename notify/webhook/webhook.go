// Package webhook posts notifications as JSON events to any HTTP endpoint, signed with
// HMAC-SHA256 (see internal/webhooksig) so that the receiver can trust them.
//
// The body is a Payload (version 1). Headers: Content-Type: application/json,
// Rotor-Event (the event type), Rotor-Delivery (the notification id, the same on every
// attempt: receivers deduplicate on it), Rotor-Timestamp and Rotor-Signature.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/webhooksig"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/internal/post"
	"github.com/rotorhq/rotor/secret"
)

// Header names besides the signature's.
const (
	EventHeader    = "Rotor-Event"
	DeliveryHeader = "Rotor-Delivery"
)

// Config configures a webhook notifier.
type Config struct {
	URL secret.Value
	// SigningKey signs every request; receivers verify with the same key. Required.
	SigningKey secret.Value
	// Clock stamps signatures (default: the real clock).
	Clock clockwork.Clock
	// CAFile adds PEM certificates to trust for the receiver's certificate.
	CAFile string
	// HTTPClient sends the request; nil means a client of rotor's (no redirects, CAFile trusted).
	HTTPClient *http.Client
}

// Notifier posts signed JSON events.
type Notifier struct {
	endpoint post.Endpoint
	key      secret.Value
	clock    clockwork.Clock
	client   *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New returns a webhook notifier.
func New(cfg Config) (*Notifier, error) {
	ep, err := post.ParseEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook: url: %w", err)
	}
	if cfg.SigningKey.Len() < 16 {
		return nil, errors.New("webhook: signing key: at least 16 bytes (e.g. openssl rand -hex 32)")
	}
	n := &Notifier{endpoint: ep, key: cfg.SigningKey, clock: cfg.Clock, client: cfg.HTTPClient}
	if n.clock == nil {
		n.clock = clockwork.NewRealClock()
	}
	if n.client == nil {
		if n.client, err = post.HTTPClient(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("%s: %w", "webhook", err)
		}
	}
	return n, nil
}

// Payload is the JSON body of a webhook notification, version 1. Fields may be added; none will
// change meaning within a version. It never carries a secret.
type Payload struct {
	Version  int               `json:"version"`
	ID       string            `json:"id"` // same on every delivery attempt
	Type     string            `json:"type"`
	Severity notify.Severity   `json:"severity"`
	Title    string            `json:"title"`
	At       time.Time         `json:"at"`
	Tenant   string            `json:"tenant,omitempty"`
	App      *App              `json:"app,omitempty"`
	Cred     *Credential       `json:"credential,omitempty"`
	Rotation *Rotation         `json:"rotation,omitempty"`
	Actor    string            `json:"actor,omitempty"`
	Outcome  string            `json:"outcome,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	AuditSeq int64             `json:"audit_seq,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	Digest   *notify.Digest    `json:"digest,omitempty"`
}

// App identifies the application an event is about.
type App struct {
	ID          string `json:"id,omitempty"`        // client (application) id
	ObjectID    string `json:"object_id,omitempty"` // application object id
	DisplayName string `json:"display_name,omitempty"`
	OwnerKind   string `json:"owner_kind,omitempty"` // application or servicePrincipal: which object holds the credential
	OwnerID     string `json:"owner_id,omitempty"`
}

// Credential is the credential an event is about (metadata only).
type Credential struct {
	KeyID            string     `json:"key_id"`
	Kind             string     `json:"kind,omitempty"` // secret or certificate
	DisplayName      string     `json:"display_name,omitempty"`
	End              *time.Time `json:"end,omitempty"`
	ThresholdSeconds int64      `json:"threshold_seconds,omitempty"` // credential.expiring: the crossed threshold
}

// Rotation is the rotation an event is about.
type Rotation struct {
	ID        string `json:"id"`
	BindingID string `json:"binding_id,omitempty"`
	Policy    string `json:"policy,omitempty"`
	OldKeyID  string `json:"old_key_id,omitempty"`
	NewKeyID  string `json:"new_key_id,omitempty"`
}

// NewPayload converts a message to the webhook's JSON shape.
func NewPayload(m *notify.Message) *Payload {
	e := m.Event
	p := &Payload{Version: 1, ID: m.ID, Type: e.Type, Severity: e.Severity, Title: e.Title(), At: e.At.UTC(), Tenant: e.Tenant,
		Actor: e.Actor, Outcome: e.Outcome, Reason: e.Reason, AuditSeq: e.AuditSeq, Details: e.Details, Digest: e.Digest}
	if p.Severity == "" {
		p.Severity = notify.SeverityInfo
	}
	if e.AppID != "" || e.AppObjectID != "" || e.AppDisplayName != "" || e.OwnerID != "" {
		p.App = &App{ID: e.AppID, ObjectID: e.AppObjectID, DisplayName: e.AppDisplayName, OwnerKind: e.OwnerKind, OwnerID: e.OwnerID}
	}
	if e.KeyID != "" {
		p.Cred = &Credential{KeyID: e.KeyID, Kind: e.CredentialKind, DisplayName: e.CredentialName,
			ThresholdSeconds: int64(e.Threshold / time.Second)}
		if !e.EndAt.IsZero() {
			end := e.EndAt.UTC()
			p.Cred.End = &end
		}
	}
	if e.RotationID != "" {
		p.Rotation = &Rotation{ID: e.RotationID, BindingID: e.BindingID, Policy: e.Policy, OldKeyID: e.OldKeyID, NewKeyID: e.NewKeyID}
	}
	return p
}

// Send implements notify.Notifier. It never sends m.Secret.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	body, err := json.Marshal(NewPayload(m))
	if err != nil {
		return rotor.Permanent(fmt.Errorf("webhook: encode: %w", err))
	}
	ts, sig := webhooksig.Sign(n.key.RevealBytes(), n.clock.Now(), body)
	h := http.Header{}
	h.Set(webhooksig.TimestampHeader, ts)
	h.Set(webhooksig.SignatureHeader, sig)
	h.Set(EventHeader, m.Event.Type)
	h.Set(DeliveryHeader, m.ID)
	_, err = post.Do(ctx, n.client, post.Request{Endpoint: n.endpoint, What: "webhook", Body: body, Header: h})
	return err
}
