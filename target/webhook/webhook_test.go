package webhook_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/internal/testclock"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target/targettest"
	"github.com/rotorhq/rotor/target/webhook"
)

const signingKey = "fake-webhook-signing-key-NOT-REAL"

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// receiver records deliveries and answers with the statuses queued (200 when none is left).
type receiver struct {
	mu       sync.Mutex
	requests []delivery
	answers  []int
	header   http.Header // headers of answers
	block    bool        // hold requests until the client gives up
	srv      *httptest.Server
}

type delivery struct {
	header http.Header
	body   []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, delivery{header: req.Header.Clone(), body: body})
	status := http.StatusOK
	if len(r.answers) > 0 {
		status, r.answers = r.answers[0], r.answers[1:]
	}
	block := r.block
	for k, v := range r.header {
		w.Header()[k] = v
	}
	r.mu.Unlock()
	if block {
		<-req.Context().Done()
		return
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "status %d\nsecond line", status)
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.requests...)
}

func newReceiver(t *testing.T, tlsServer bool) *receiver {
	t.Helper()
	r := &receiver{}
	if tlsServer {
		r.srv = httptest.NewTLSServer(r)
	} else {
		r.srv = httptest.NewServer(r)
	}
	t.Cleanup(r.srv.Close)
	return r
}

// caFile writes the TLS test server's certificate for ca_file.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	return p
}

func env(k string) (string, bool) {
	if k == "WEBHOOK_KEY" {
		return signingKey, true
	}
	return "", false
}

func build(t *testing.T, clock clockwork.Clock, log *slog.Logger, settings string) rotor.Target {
	t.Helper()
	tg, err := tryBuild(clock, log, settings)
	require.NoError(t, err)
	return tg
}

func tryBuild(clock clockwork.Clock, log *slog.Logger, settings string) (rotor.Target, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	tg := webhook.Factory(webhook.Deps{Clock: clock, LookupEnv: env, Logger: log})(d, n.Content[0], "steps.hook")
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

func TestConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		AtLeastOnce: true,
		New: func(t *testing.T, log *slog.Logger) *targettest.Fixture {
			r := newReceiver(t, true)
			tg := build(t, testclock.NewJumping(start), log, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, ca_file: %q, allow_hosts: [127.0.0.1]}`, r.srv.URL+"/hooks/rotor?token=fake-query-token", caFile(t, r.srv)))
			return &targettest.Fixture{
				Target: tg,
				// What the receiver acted on, deduplicated by Idempotency-Key as receivers must.
				State: func(t *testing.T) []byte {
					seen := map[string]string{}
					for _, d := range r.deliveries() {
						seen[d.header.Get(webhook.HeaderIdempotencyKey)] = string(d.body)
					}
					if len(seen) == 0 {
						return nil
					}
					keys := make([]string, 0, len(seen))
					for k := range seen {
						keys = append(keys, k)
					}
					sort.Strings(keys)
					var b strings.Builder
					for _, k := range keys {
						b.WriteString(k + " " + seen[k] + "\n")
					}
					return []byte(b.String())
				},
				Records: func(*testing.T) []string {
					var out []string
					for _, d := range r.deliveries() {
						out = append(out, string(d.body), fmt.Sprint(d.header))
					}
					return out
				},
			}
		},
	})
}

func TestSignedEvent(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, true)
	clock := testclock.NewJumping(start)
	tg := build(t, clock, nil, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, include_secret: true, headers: {X-Team: orders},
		ca_file: %q, allow_hosts: [127.0.0.0/8]}`, r.srv.URL+"/rotor", caFile(t, r.srv)))
	d := targettest.Deployment(2)
	d.StepName = "notify"
	require.NoError(t, tg.Preflight(context.Background(), rotor.Deployment{}))
	require.Empty(t, r.deliveries(), "preflight sends nothing")

	o, err := tg.Publish(context.Background(), d)
	require.NoError(t, err)
	require.True(t, o.Changed)
	require.Equal(t, "delivered credential.rotated to "+r.srv.Listener.Addr().String()+" (HTTP 200)", o.Message)
	got := r.deliveries()
	require.Len(t, got, 1)
	h := got[0].header
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, "credential.rotated", h.Get("Rotor-Event"))
	require.Equal(t, "orders", h.Get("X-Team"))
	require.Equal(t, d.RotationID+":notify", h.Get("Idempotency-Key"))
	require.Equal(t, fmt.Sprint(start.Unix()), h.Get("Rotor-Timestamp"))
	require.NoError(t, webhook.Verify(secret.New(signingKey), h.Get("Rotor-Signature"), h.Get("Rotor-Timestamp"), got[0].body, start.Add(time.Minute), 5*time.Minute))
	require.Error(t, webhook.Verify(secret.New("wrong"), h.Get("Rotor-Signature"), h.Get("Rotor-Timestamp"), got[0].body, start, 5*time.Minute))
	require.ErrorContains(t, webhook.Verify(secret.New(signingKey), h.Get("Rotor-Signature"), h.Get("Rotor-Timestamp"), got[0].body, start.Add(time.Hour), 5*time.Minute), "away from now")

	var ev map[string]any
	require.NoError(t, json.Unmarshal(got[0].body, &ev))
	require.Equal(t, map[string]any{
		"type": "credential.rotated", "id": d.RotationID + ":notify", "rotation_id": d.RotationID, "step": "notify",
		"tenant": "contoso", "tenant_id": d.TenantID, "owner_kind": "application", "owner_id": d.OwnerID,
		"app_id": d.AppID, "app_display_name": d.AppDisplayName, "key_id": d.KeyID, "previous_key_id": d.PreviousKeyID,
		"not_before": d.NotBefore.Format(time.RFC3339), "expires_at": d.ExpiresAt.Format(time.RFC3339),
		"secret": d.Value.Reveal(),
	}, ev)
}

func TestRetries(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, false)
	r.answers = []int{503, 429, 200}
	r.header = http.Header{"Retry-After": {"7"}}
	clock := testclock.NewJumping(start)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	tg := build(t, clock, log, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, allow_http: true, allow_private: true}`, r.srv.URL))
	o, err := tg.Publish(context.Background(), targettest.Deployment(1))
	require.NoError(t, err)
	require.Contains(t, o.Message, "(HTTP 200) after 3 attempts")
	got := r.deliveries()
	require.Len(t, got, 3)
	for i, d := range got {
		require.Equal(t, fmt.Sprint(i+1), d.header.Get("Rotor-Delivery-Attempt"))
		require.Equal(t, got[0].body, d.body, "the body is the same on every attempt")
	}
	waits := clock.Waits()
	require.Len(t, waits, 2)
	require.GreaterOrEqual(t, waits[0], 500*time.Millisecond)
	require.LessOrEqual(t, waits[0], time.Second)
	require.Equal(t, 7*time.Second, waits[1], "Retry-After is honoured")
	require.Equal(t, fmt.Sprint(start.Add(waits[0]+waits[1]).Unix()), got[2].header.Get("Rotor-Timestamp"), "each attempt is signed afresh")
	require.Contains(t, logs.String(), "attempt failed; retrying")

	// Attempts run out: a transient error the engine may retry later.
	r.answers = []int{500, 500, 500, 500, 500}
	_, err = tg.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, "webhook "+r.srv.URL+": HTTP 500: \"status 500\" (after 5 attempts)")
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err))
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, false)
	r.answers = []int{400}
	tg := build(t, testclock.NewJumping(start), nil, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, allow_http: true, allow_private: true}`, r.srv.URL+"/x?sig=fake-query-token"))
	_, err := tg.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, "webhook "+r.srv.URL+"/x: HTTP 400")
	require.NotContains(t, err.Error(), "fake-query-token", "the query string is never printed")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
	require.Len(t, r.deliveries(), 1)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, false)
	r.block = true
	clock := clockwork.NewFakeClockAt(start)
	tg := build(t, clock, nil, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, allow_http: true, allow_private: true, timeout: 3s, max_attempts: 1}`, r.srv.URL))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a bound on a broken test
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := tg.Publish(ctx, targettest.Deployment(1))
		errc <- err
	}()
	require.NoError(t, clock.BlockUntilContext(ctx, 1), "the attempt's timer")
	clock.Advance(3 * time.Second)
	err := <-errc
	require.ErrorContains(t, err, "no answer within 3s")
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err))
}

func TestOutboundPolicy(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, false)
	tg := build(t, testclock.NewJumping(start), nil, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, allow_http: true}`, r.srv.URL))
	err := tg.Preflight(context.Background(), rotor.Deployment{})
	require.ErrorContains(t, err, "127.0.0.1 resolves to 127.0.0.1, a loopback address: list it in allow_hosts or set allow_private: true")
	_, err = tg.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, "outbound address refused by policy")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
	require.Empty(t, r.deliveries())

	meta := build(t, testclock.NewJumping(start), nil, `{url: "http://169.254.169.254/metadata/identity", signing_key: env:WEBHOOK_KEY, allow_http: true, allow_private: true}`)
	_, err = meta.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, "169.254.169.254, a cloud metadata address: only listing the address")
}

func TestPreflightChecksTLS(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, true)
	tg := build(t, testclock.NewJumping(start), nil, fmt.Sprintf(`{url: %q, signing_key: env:WEBHOOK_KEY, allow_private: true}`, r.srv.URL))
	err := tg.Preflight(context.Background(), rotor.Deployment{})
	require.ErrorContains(t, err, "certificate signed by unknown authority (set ca_file to trust a private CA)")
	missing := build(t, testclock.NewJumping(start), nil, fmt.Sprintf(`{url: %q, signing_key: env:NOT_SET, allow_private: true}`, r.srv.URL))
	require.ErrorContains(t, missing.Preflight(context.Background(), rotor.Deployment{}), "signing_key: secret env:NOT_SET: environment variable NOT_SET is not set")
	require.Empty(t, r.deliveries())
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for settings, want := range map[string]string{
		`{signing_key: env:K}`:                                                                  "steps.hook.url: required field is missing",
		`{url: "https://h.example"}`:                                                            "steps.hook.signing_key: required field is missing",
		`{url: "https://h.example", signing_key: "plaintext"}`:                                  `steps.hook.signing_key: must be a reference "env:NAME" or "file:/path"`,
		`{url: "http://h.example", signing_key: env:K}`:                                         "steps.hook.url: http://h.example: plain http sends everything in clear",
		`{url: "http://h.example", signing_key: env:K, allow_http: true, include_secret: true}`: "steps.hook.include_secret: the secret is only sent over https",
		`{url: "https://u:p@h.example", signing_key: env:K}`:                                    "credentials in the URL would be logged",
		`{url: "ftp://h.example", signing_key: env:K}`:                                          `steps.hook.url: "ftp://h.example" is not an http(s) URL`,
		`{url: "https://h.example", signing_key: env:K, headers: {Authorization: x}}`:           "steps.hook.headers.Authorization: would store a credential",
		`{url: "https://h.example", signing_key: env:K, headers: {Rotor-Signature: x}}`:         "is set by rotor",
		`{url: "https://h.example", signing_key: env:K, allow_hosts: ["not a host"]}`:           `steps.hook.allow_hosts[0]: "not a host" is not a host name`,
		`{url: "https://h.example", signing_key: env:K, event: "Bad Event"}`:                    `steps.hook.event: "Bad Event"`,
		`{url: "https://h.example", signing_key: env:K, timeout: soon}`:                         `steps.hook.timeout: invalid duration "soon"`,
		`{url: "https://h.example", signing_key: env:K, max_attempts: 99}`:                      "steps.hook.max_attempts: 99: want 1 to 20",
	} {
		_, err := tryBuild(nil, nil, settings)
		require.ErrorContains(t, err, want, settings)
	}
}

// TestSignatureVector pins the test vector docs/targets.md gives receivers.
func TestSignatureVector(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"credential.rotated","id":"rot-1:notify"}`)
	require.Equal(t, "v1=246a6abfddb561fe7a34723865b3bcf2c33756306ad22a37019beb624ad0bc43", webhook.Sign(secret.New("fake-signing-key"), 1763715600, body))
}
