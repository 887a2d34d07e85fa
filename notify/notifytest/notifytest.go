// Package notifytest is the conformance suite every notify.Notifier runs against a real receiver
// (an SMTP server, a loopback HTTP server):
//
//	func TestConformance(t *testing.T) {
//		notifytest.Run(t, notifytest.Harness{New: ..., Unreachable: ...})
//	}
//
// It checks the contract documented on notify.Notifier: delivery of what people need to read,
// no secret unless the notifier renders secrets and the message carries one, classified errors
// that never contain the notifier's own secrets, cancellation, and concurrent use.
package notifytest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/secret"
)

// Harness builds notifiers and their receivers for the suite.
type Harness struct {
	// New returns a notifier that delivers to a fresh receiver, and the receiver.
	New func(t *testing.T) (notify.Notifier, Receiver)
	// Unreachable returns a notifier whose destination refuses connections, and the secrets of
	// its configuration (password, webhook URL, signing key) that must never appear in an error.
	Unreachable func(t *testing.T) (notify.Notifier, []string)
	// RendersSecret says whether the notifier puts Message.Secret into what it delivers (email).
	RendersSecret bool
}

// Receiver is what a notifier delivered to.
type Receiver interface {
	// Received returns what arrived so far, oldest first. Deliveries are complete when Send
	// returned (receivers are synchronous).
	Received(t *testing.T) []Received
}

// Received is one delivered message, flattened for checks.
type Received struct {
	// Title is the message's headline: the email subject, the card's or header block's text,
	// the event's title.
	Title string
	// Text is everything else a person (or program) reads, concatenated: bodies, facts, JSON.
	Text string
	// Recipients are the addresses it went to (email); empty for channels and webhooks.
	Recipients []string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	tests := map[string]func(t *testing.T, h Harness){
		"DeliversWhatPeopleNeed": testDelivers,
		"ExpiryAlert":            testExpiry,
		"Digest":                 testDigest,
		"Secret":                 testSecret,
		"Concurrent":             testConcurrent,
		"Unreachable":            testUnreachable,
		"Cancelled":              testCancelled,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, h)
		})
	}
}

var at = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

// failure is a rotation failure about an app whose name needs escaping in HTML and JSON.
func failure(id string) *notify.Message {
	return &notify.Message{ID: id, Event: notify.Event{Type: notify.ActionRotationFailed, Severity: notify.SeverityWarning, At: at,
		Tenant: "contoso", AppID: "3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c", AppDisplayName: `payroll-api "eu" <prod> & co`,
		OwnerKind: "application", OwnerID: "9d0c8b7a-6e5f-4d3c-2b1a-0f9e8d7c6b5a",
		KeyID: "6b1f0c2e-8d3a-4f5b-9c7e-1a2b3c4d5e6f", CredentialKind: "secret", EndAt: at.Add(9 * 24 * time.Hour),
		RotationID: "0f5e7d9c-2b4a-4c6e-8f0a-1b3d5f7a9c2e", Policy: "standard", Outcome: rotor.OutcomeFailure,
		Reason: "deploying failed (attempt 1 of 8): step kv: 403 Forbidden", Details: map[string]string{"phase": "deploying"}}}
}

func only(t *testing.T, r Receiver) Received {
	t.Helper()
	got := r.Received(t)
	require.Len(t, got, 1, "exactly one delivery")
	return got[0]
}

func testDelivers(t *testing.T, h Harness) {
	n, r := h.New(t)
	m := failure("notification-1")
	require.NoError(t, n.Send(t.Context(), m))
	got := only(t, r)
	require.Contains(t, got.Title, `payroll-api "eu" <prod> & co`, "the title names the app, unescaped for the reader")
	require.Contains(t, got.Title, "failed")
	for _, want := range []string{"contoso", m.Event.AppID, m.Event.KeyID, m.Event.RotationID, "403 Forbidden", "standard"} {
		require.Contains(t, got.Text, want)
	}
}

func testExpiry(t *testing.T, h Harness) {
	n, r := h.New(t)
	m := &notify.Message{ID: "notification-2", Event: notify.Event{Type: notify.EventExpiring, Severity: notify.SeverityCritical, At: at,
		Tenant: "contoso", AppID: "3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c", AppDisplayName: "billing",
		KeyID: "6b1f0c2e-8d3a-4f5b-9c7e-1a2b3c4d5e6f", CredentialKind: "certificate", EndAt: at.Add(6 * 24 * time.Hour),
		Threshold: 7 * 24 * time.Hour}}
	require.NoError(t, n.Send(t.Context(), m))
	got := only(t, r)
	require.Contains(t, got.Title, "Certificate of billing expires within 7 days")
	require.True(t, strings.Contains(got.Text, "2026-11-27 09:30 UTC") || strings.Contains(got.Text, "2026-11-27T09:30:00Z"),
		"the end date, in UTC, for people or for programs: %s", got.Text)
}

func testDigest(t *testing.T, h Harness) {
	n, r := h.New(t)
	f := failure("x").Event
	m := &notify.Message{ID: "notification-3", Event: notify.Event{Type: notify.EventDigest, Severity: notify.SeverityWarning, At: at,
		Digest: &notify.Digest{Route: "platform", Date: "2026-11-21", Since: at.Add(-24 * time.Hour),
			Expiring: []notify.DigestCredential{{Tenant: "contoso", AppID: f.AppID, AppDisplayName: "billing", KeyID: f.KeyID,
				CredentialKind: "secret", EndAt: at.Add(3 * 24 * time.Hour), Severity: notify.SeverityCritical}},
			Events: []notify.DigestEvent{{At: at.Add(-time.Hour), Type: f.Type, Severity: f.Severity, Title: f.Title(), Tenant: "contoso", AppID: f.AppID}},
			Counts: []notify.DigestCount{{Type: f.Type, Count: 1}}}}}
	require.NoError(t, n.Send(t.Context(), m))
	got := only(t, r)
	require.Contains(t, got.Title, "2026-11-21")
	require.Contains(t, got.Text, "billing")
	require.Contains(t, got.Text, f.KeyID)
	require.Contains(t, got.Text, "rotation.failed")
}

// marker returns a value that looks like nothing real and is unique to the test.
func marker() string { return "fake-value-" + rand.Text() }

func testSecret(t *testing.T, h Harness) {
	n, r := h.New(t)
	value := marker()
	plain := failure("notification-4")
	plain.Event.Type, plain.Event.Severity, plain.Event.Outcome, plain.Event.Reason = notify.ActionRotationDeployed, notify.SeverityInfo, rotor.OutcomeSuccess, ""
	require.NoError(t, n.Send(t.Context(), plain))
	with := *plain
	with.ID, with.Secret = "notification-5", secret.New(value)
	require.NoError(t, n.Send(t.Context(), &with))

	got := r.Received(t)
	require.Len(t, got, 2)
	for _, g := range got {
		require.NotContains(t, g.Title, value, "never in a title")
	}
	require.NotContains(t, got[0].Text, value, "a message without a secret has none")
	if h.RendersSecret {
		require.Contains(t, got[1].Text, value, "the notifier renders the secret it was given")
	} else {
		require.NotContains(t, got[1].Text, value, "the notifier ignores secrets")
	}
}

func testConcurrent(t *testing.T, h Harness) {
	n, r := h.New(t)
	const count = 8
	var wg sync.WaitGroup
	for i := range count {
		wg.Go(func() {
			m := failure(fmt.Sprintf("notification-c%d", i))
			m.Event.AppDisplayName = fmt.Sprintf("app-%02d", i)
			if err := n.Send(t.Context(), m); err != nil {
				t.Errorf("send %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := r.Received(t)
	require.Len(t, got, count)
	seen := map[string]bool{}
	for _, g := range got {
		for i := range count {
			if strings.Contains(g.Title, fmt.Sprintf("app-%02d", i)) {
				seen[fmt.Sprint(i)] = true
			}
		}
	}
	require.Len(t, seen, count, "every message arrived once, intact")
}

func testUnreachable(t *testing.T, h Harness) {
	n, secrets := h.Unreachable(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	m := failure("notification-6")
	m.Secret = secret.New(marker())
	err := n.Send(ctx, m)
	require.Error(t, err)
	require.True(t, rotor.Retryable(err), "a refused connection is worth another try: %v (%s)", err, rotor.ClassOf(err))
	for _, s := range append(secrets, m.Secret.Reveal()) {
		require.NotEmpty(t, s)
		require.NotContains(t, err.Error(), s, "an error never carries a secret")
	}
}

func testCancelled(t *testing.T, h Harness) {
	n, r := h.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.Error(t, n.Send(ctx, failure("notification-7")))
	require.Empty(t, r.Received(t), "nothing is delivered after cancellation")
}

// JSONText returns every string (keys excepted) and number in a JSON document, one per line, as a
// reader would see them once decoded: receivers of JSON payloads use it for Received.Text.
func JSONText(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "payload is JSON: %s", b)
	return Text(v)
}

// Text returns every string (keys excepted) and number in a decoded JSON value, one per line,
// object members in key order.
func Text(v any) string {
	var sb strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k])
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			sb.WriteString(x + "\n")
		case float64:
			fmt.Fprintf(&sb, "%v\n", x)
		}
	}
	walk(v)
	return sb.String()
}
