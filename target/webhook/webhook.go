// Package webhook is the "webhook" step type: it POSTs a signed JSON event about the rotation to
// a URL, so that other systems can react (update their own copy, open a ticket, notify).
//
// The request:
//
//	POST <url>
//	Content-Type: application/json
//	Rotor-Event: credential.rotated
//	Rotor-Timestamp: 1763715600
//	Rotor-Signature: v1=<hex HMAC-SHA256 of "<Rotor-Timestamp>.<body>" with the signing key>
//	Idempotency-Key: <rotation id>:<step name>
//
//	{"type":"credential.rotated","id":"<rotation id>:<step name>","rotation_id":"...", ...}
//
// The secret is in the body (as "secret") only with include_secret: true, and never over plain
// http. Receivers verify the signature with a constant-time comparison, reject timestamps more
// than a few minutes old (replay), and process each Idempotency-Key once: rotor delivers at
// least once, so the same event may arrive again after a retry or a restart.
//
// 2xx is success. 408, 429 (honouring Retry-After) and 5xx answers and transport errors are
// retried with exponential backoff and jitter; other answers fail the step at once.
package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/internal/webhooksig"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/internal/fields"
	"github.com/rotorhq/rotor/target/internal/httpstep"
)

// Type is the step type name.
const Type = "webhook"

// Headers rotor sets.
const (
	HeaderEvent          = "Rotor-Event"
	HeaderTimestamp      = webhooksig.TimestampHeader
	HeaderSignature      = webhooksig.SignatureHeader
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderAttempt        = "Rotor-Delivery-Attempt"
)

// DefaultEvent is the event type sent.
const DefaultEvent = "credential.rotated"

// Deps are the step type's dependencies.
type Deps = httpstep.Deps

// Config is the step's settings.
type Config struct {
	URL string `yaml:"url,required"`
	// SigningKey is the HMAC-SHA256 key, a reference (env:NAME or file:/path).
	SigningKey secret.Ref `yaml:"signing_key,required"`
	// IncludeSecret puts the new secret in the event. Off by default.
	IncludeSecret bool `yaml:"include_secret"`
	// Event is the event type; default credential.rotated.
	Event string `yaml:"event"`
	// Headers are extra request headers (not secret: they are stored in the configuration).
	Headers map[string]string `yaml:"headers"`
	// Timeout of one attempt; default 10s.
	Timeout config.Duration `yaml:"timeout"`
	// MaxAttempts, including the first; default 5.
	MaxAttempts int `yaml:"max_attempts"`

	AllowHTTP    bool     `yaml:"allow_http"`
	CAFile       string   `yaml:"ca_file"`
	AllowPrivate bool     `yaml:"allow_private"`
	AllowHosts   []string `yaml:"allow_hosts"`
}

// Target is a configured webhook step.
type Target struct {
	cfg     Config
	ep      *httpstep.Endpoint
	deps    Deps
	timeout time.Duration
	backoff httpstep.Backoff
}

var _ rotor.Target = (*Target)(nil)

var (
	eventRe  = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	headerRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Factory returns the webhook step type's factory.
func Factory(deps Deps) target.Factory {
	deps = deps.WithDefaults()
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		ep := httpstep.Parse(d, at, httpstep.Settings{URL: c.URL, AllowHTTP: c.AllowHTTP, CAFile: c.CAFile, AllowPrivate: c.AllowPrivate, AllowHosts: c.AllowHosts}, deps.Resolver)
		if c.IncludeSecret && ep != nil && ep.URL.Scheme != "https" {
			d.Errorf(at+".include_secret", "the secret is only sent over https")
		}
		if c.Event == "" {
			c.Event = DefaultEvent
		} else if !eventRe.MatchString(c.Event) {
			d.Errorf(at+".event", "%q: lowercase letters, digits, '.', '_' and '-'", c.Event)
		}
		for k := range c.Headers {
			switch h := http.CanonicalHeaderKey(k); {
			case !headerRe.MatchString(k):
				d.Errorf(at+".headers."+k, "not a valid header name")
			case h == "Content-Type" || h == "Host" || h == "Content-Length" || h == HeaderEvent || h == HeaderTimestamp ||
				h == HeaderSignature || h == HeaderIdempotencyKey || h == HeaderAttempt:
				d.Errorf(at+".headers."+k, "is set by rotor")
			case h == "Authorization" || h == "Cookie":
				d.Errorf(at+".headers."+k, "would store a credential in the configuration; receivers authenticate rotor by the signature")
			}
		}
		if c.MaxAttempts < 0 || c.MaxAttempts > 20 {
			d.Errorf(at+".max_attempts", "%d: want 1 to 20", c.MaxAttempts)
		}
		if len(d.Errs()) > before {
			return nil
		}
		return &Target{
			cfg: c, ep: ep, deps: deps, timeout: httpstep.Duration(c.Timeout, 10*time.Second),
			backoff: httpstep.Backoff{Attempts: cmp.Or(c.MaxAttempts, 5), Initial: time.Second, Max: 30 * time.Second, MaxRetryAfter: 2 * time.Minute},
		}
	}
}

// Event is the JSON body rotor sends. Secret is set only with include_secret.
type Event struct {
	Type           string       `json:"type"`
	ID             string       `json:"id"` // the idempotency key: "<rotation id>:<step>"
	RotationID     string       `json:"rotation_id"`
	Step           string       `json:"step"`
	Tenant         string       `json:"tenant"`
	TenantID       string       `json:"tenant_id"`
	OwnerKind      string       `json:"owner_kind"`
	OwnerID        string       `json:"owner_id"`
	AppID          string       `json:"app_id"`
	AppDisplayName string       `json:"app_display_name,omitempty"`
	KeyID          string       `json:"key_id"`
	PreviousKeyID  string       `json:"previous_key_id,omitempty"`
	NotBefore      string       `json:"not_before,omitempty"`
	ExpiresAt      string       `json:"expires_at"`
	Secret         *secretField `json:"secret,omitempty"`
}

// secretField marshals the secret in clear: secret.Value itself never does.
type secretField struct{ v secret.Value }

func (s *secretField) MarshalJSON() ([]byte, error) { return json.Marshal(s.v.Reveal()) }

func (t *Target) event(d rotor.Deployment) Event {
	f := fields.Of(d)
	e := Event{
		Type: t.cfg.Event, ID: fields.IdempotencyKey(d), RotationID: f.RotationID, Step: f.StepName,
		Tenant: f.TenantName, TenantID: f.TenantID, OwnerKind: f.OwnerKind, OwnerID: f.OwnerID,
		AppID: f.AppID, AppDisplayName: f.AppDisplayName, KeyID: f.KeyID, PreviousKeyID: f.PreviousKeyID,
		NotBefore: fields.FormatTime(f.NotBefore), ExpiresAt: fields.FormatTime(f.ExpiresAt),
	}
	if t.cfg.IncludeSecret {
		e.Secret = &secretField{d.Value}
	}
	return e
}

// Sign returns the Rotor-Signature header value for body sent at timestamp (Unix seconds). The
// scheme is the one rotor's webhook notifier uses too (internal/webhooksig).
func Sign(key secret.Value, timestamp int64, body []byte) string {
	_, sig := webhooksig.Sign(key.RevealBytes(), time.Unix(timestamp, 0), body)
	return sig
}

// Verify checks a Rotor-Signature header for body sent at the Rotor-Timestamp header, and that the
// timestamp is within tolerance of now. Receivers written in Go can use it as it is.
func Verify(key secret.Value, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	return webhooksig.Verify(key.RevealBytes(), timestamp, signature, body, now, tolerance)
}

// Preflight resolves the signing key and connects to the receiver (TLS handshake included)
// without sending a request.
func (t *Target) Preflight(ctx context.Context, _ rotor.Deployment) error {
	if _, err := httpstep.Resolve(t.cfg.SigningKey, t.deps.LookupEnv, "signing_key"); err != nil {
		return err
	}
	return t.ep.Probe(ctx, t.deps.Clock, t.timeout)
}

// Publish delivers the event, retrying as the package documents. It reports Changed: the
// receiver acted (rotor cannot tell a repeated delivery; receivers deduplicate by
// Idempotency-Key).
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	key, err := httpstep.Resolve(t.cfg.SigningKey, t.deps.LookupEnv, "signing_key")
	if err != nil {
		return rotor.Outcome{}, err
	}
	body, err := json.Marshal(t.event(d))
	if err != nil {
		return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("webhook %s: encode event: %w", t.ep, err))
	}
	var status int
	n, err := t.backoff.Do(ctx, t.deps.Clock, t.deps.Logger, "webhook "+t.ep.String(), func(attempt int) error {
		now := t.deps.Clock.Now().Unix()
		h := http.Header{}
		for k, v := range t.cfg.Headers {
			h.Set(k, v)
		}
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", "rotor-webhook/1")
		h.Set(HeaderEvent, t.cfg.Event)
		h.Set(HeaderTimestamp, strconv.FormatInt(now, 10))
		h.Set(HeaderSignature, Sign(key, now, body))
		h.Set(HeaderIdempotencyKey, fields.IdempotencyKey(d))
		h.Set(HeaderAttempt, strconv.Itoa(attempt))
		resp, err := t.ep.Send(ctx, t.deps.Clock, t.timeout, http.MethodPost, body, h)
		if err != nil {
			return err
		}
		if resp.Status < 200 || resp.Status > 299 {
			return httpstep.StatusError("webhook "+t.ep.String(), resp, d.Value, key)
		}
		status = resp.Status
		return nil
	})
	if err != nil {
		if n > 1 {
			err = fmt.Errorf("%w (after %d attempts)", err, n)
		}
		return rotor.Outcome{}, err
	}
	msg := fmt.Sprintf("delivered %s to %s (HTTP %d)", t.cfg.Event, t.ep.URL.Host, status)
	if n > 1 {
		msg += fmt.Sprintf(" after %d attempts", n)
	}
	return rotor.Outcome{Changed: true, Message: msg}, nil
}
