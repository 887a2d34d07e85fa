package webhook_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/webhooksig"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/notifytest"
	"github.com/rotorhq/rotor/notify/webhook"
	"github.com/rotorhq/rotor/secret"
)

const key = "0123456789abcdef-test-signing-key"

var now = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

// checkSigned is a receiver as the docs tell users to write one: verify the signature over the
// raw body and the timestamp, then decode the event.
func checkSigned(r *http.Request, body []byte) (notifytest.Received, error) {
	if err := webhooksig.Verify([]byte(key), r.Header.Get(webhooksig.TimestampHeader), r.Header.Get(webhooksig.SignatureHeader),
		body, now, webhooksig.DefaultTolerance); err != nil {
		return notifytest.Received{}, fmt.Errorf("signature: %w", err)
	}
	var p webhook.Payload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return notifytest.Received{}, fmt.Errorf("payload: %w", err)
	}
	switch {
	case p.Version != 1:
		return notifytest.Received{}, fmt.Errorf("version %d", p.Version)
	case p.ID == "" || p.ID != r.Header.Get(webhook.DeliveryHeader):
		return notifytest.Received{}, fmt.Errorf("id %q, delivery header %q", p.ID, r.Header.Get(webhook.DeliveryHeader))
	case p.Type == "" || p.Type != r.Header.Get(webhook.EventHeader):
		return notifytest.Received{}, fmt.Errorf("type %q, event header %q", p.Type, r.Header.Get(webhook.EventHeader))
	case p.Title == "" || p.Severity == "":
		return notifytest.Received{}, fmt.Errorf("no title or severity")
	}
	var v any
	_ = json.Unmarshal(body, &v)
	return notifytest.Received{Title: p.Title, Text: notifytest.Text(v)}, nil
}

var ok = notifytest.Reply{Status: http.StatusNoContent}

func newNotifier(t *testing.T, url string) *webhook.Notifier {
	n, err := webhook.New(webhook.Config{URL: secret.New(url), SigningKey: secret.New(key), Clock: clockwork.NewFakeClockAt(now)})
	require.NoError(t, err)
	return n
}

func TestConformance(t *testing.T) {
	t.Parallel()
	notifytest.Run(t, notifytest.Harness{
		New: func(t *testing.T) (notify.Notifier, notifytest.Receiver) {
			r := notifytest.NewHTTPReceiver(t, ok, checkSigned)
			return newNotifier(t, r.URL), r
		},
		Unreachable: func(t *testing.T) (notify.Notifier, []string) {
			url, token := notifytest.ClosedURL(t)
			return newNotifier(t, url), []string{key, token}
		},
	})
}

func TestPayload(t *testing.T) {
	t.Parallel()
	var got webhook.Payload
	var headers http.Header
	r := notifytest.NewHTTPReceiver(t, ok, func(req *http.Request, body []byte) (notifytest.Received, error) {
		headers = req.Header.Clone()
		require.NoError(t, json.Unmarshal(body, &got))
		return checkSigned(req, body)
	})
	end := now.Add(6 * 24 * time.Hour)
	m := &notify.Message{ID: "n-1", Secret: secret.New("fake-never-sent"), Event: notify.Event{Type: notify.EventExpiring,
		Severity: notify.SeverityCritical, At: now, Tenant: "contoso", AppID: "app-1", AppObjectID: "obj-1", AppDisplayName: "billing",
		OwnerKind: "application", OwnerID: "obj-1", KeyID: "key-1", CredentialKind: "secret", CredentialName: "ci", EndAt: end,
		Threshold: 7 * 24 * time.Hour, Actor: "rotor"}}
	require.NoError(t, newNotifier(t, r.URL).Send(t.Context(), m))
	require.Len(t, r.Received(t), 1)
	require.Equal(t, webhook.Payload{Version: 1, ID: "n-1", Type: notify.EventExpiring, Severity: notify.SeverityCritical,
		Title: "Client secret of billing expires within 7 days", At: now, Tenant: "contoso",
		App:   &webhook.App{ID: "app-1", ObjectID: "obj-1", DisplayName: "billing", OwnerKind: "application", OwnerID: "obj-1"},
		Cred:  &webhook.Credential{KeyID: "key-1", Kind: "secret", DisplayName: "ci", End: &end, ThresholdSeconds: 7 * 24 * 3600},
		Actor: "rotor"}, got)
	require.Equal(t, "1795253400", headers.Get(webhooksig.TimestampHeader), "signed at the notifier's clock")
	require.Equal(t, "rotor", headers.Get("User-Agent"))
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	r := notifytest.NewHTTPReceiver(t, ok, checkSigned)
	r.ReplyNext(notifytest.Reply{Status: 401, Body: "bad signature"}, notifytest.Reply{Status: 502})
	n := newNotifier(t, r.URL)
	err := n.Send(t.Context(), &notify.Message{ID: "a", Event: notify.Event{Type: notify.EventTest}})
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "%v", err)
	err = n.Send(t.Context(), &notify.Message{ID: "b", Event: notify.Event{Type: notify.EventTest}})
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err), "%v", err)
	require.NoError(t, n.Send(t.Context(), &notify.Message{ID: "c", Event: notify.Event{Type: notify.EventTest}}))
	require.Len(t, r.Received(t), 1)
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	_, err := webhook.New(webhook.Config{URL: secret.New("https://siem.example.com/rotor"), SigningKey: secret.New("short")})
	require.ErrorContains(t, err, "at least 16 bytes")
	_, err = webhook.New(webhook.Config{URL: secret.New("http://siem.example.com/rotor"), SigningKey: secret.New(key)})
	require.ErrorContains(t, err, "use https")
}

func TestCAFileTrustsAPrivateCA(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	m := &notify.Message{ID: "x", Event: notify.Event{Type: notify.EventTest}}

	n, err := webhook.New(webhook.Config{URL: secret.New(srv.URL + "/hook"), SigningKey: secret.New(key)})
	require.NoError(t, err)
	err = n.Send(t.Context(), m)
	require.Error(t, err)
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "an untrusted certificate does not fix itself: %v", err)

	n, err = webhook.New(webhook.Config{URL: secret.New(srv.URL + "/hook"), SigningKey: secret.New(key), CAFile: caFile})
	require.NoError(t, err)
	require.NoError(t, n.Send(t.Context(), m))

	_, err = webhook.New(webhook.Config{URL: secret.New(srv.URL), SigningKey: secret.New(key), CAFile: "/nonexistent/ca.pem"})
	require.ErrorContains(t, err, "webhook: ca_file")
}
