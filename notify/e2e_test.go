package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/email"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/secret"
)

type mailpitMessage struct {
	ID      string
	To, Cc  []struct{ Address string }
	Subject string
	Text    string
	HTML    string
}

func mailpitMessages(t *testing.T, srv *testenv.MailServer) []mailpitMessage {
	t.Helper()
	get := func(url string, v any) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		require.NoError(t, json.Unmarshal(b, v))
	}
	var list struct{ Messages []struct{ ID string } }
	get(srv.APIURL+"/api/v1/messages", &list)
	var out []mailpitMessage
	for _, m := range slices.Backward(list.Messages) {
		var full mailpitMessage
		get(srv.APIURL+"/api/v1/message/"+m.ID, &full)
		out = append(out, full)
	}
	return out
}

func to(m mailpitMessage) []string {
	var out []string
	for _, a := range m.To {
		out = append(out, a.Address)
	}
	return out
}

// From the audit trail and the inventory to a real SMTP server with authentication and STARTTLS:
// an expiry alert to the app's owners, a rotation failure, and the new secret only where a route
// asked for it.
func TestEndToEndThroughSMTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthRequired, RequireSTARTTLS: true})
	host, portS, err := net.SplitHostPort(srv.SMTPAddr)
	require.NoError(t, err)
	port, err := strconv.Atoi(portS)
	require.NoError(t, err)
	mailer, err := email.New(email.Config{Host: host, Port: port, TLS: email.STARTTLS, RootCAs: srv.RootCAs,
		Username: srv.Username, Password: secret.New(srv.Password), From: "rotor <rotor@example.com>", To: []string{"platform@example.com"}})
	require.NoError(t, err)

	app := b.app(t, "contoso", "payroll-api")
	b.secret(t, app, t0.Add(25*day)) // unmanaged, expiring
	c := b.secret(t, app, t0.Add(100*day))
	bd := b.binding(t, c, "standard")
	r := b.rotation(t, bd, rotor.RotationDeploying)
	newKey := "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
	value := "fake-rotated-value-" + strconv.FormatInt(time.Now().UnixNano(), 36)

	// The rotation's new secret, sealed as the runner seals it.
	kekValue, err := seal.GenerateKEK()
	require.NoError(t, err)
	kek, err := seal.ParseKEK(kekValue)
	require.NoError(t, err)
	keyring := seal.NewKeyring(kek)
	ct, err := keyring.Seal(secret.New(value), []byte("rotor/secret/"+r.ID+"/"+newKey)) // runner's sealAD
	require.NoError(t, err)
	require.NoError(t, b.st.SealedSecretPut(t.Context(), &rotor.SealedSecret{RotationID: r.ID, Tenant: r.Tenant, KeyID: newKey,
		KeyRef: keyring.Current(), Ciphertext: ct, CreatedAt: t0}))

	owners := notify.OwnerMailsFunc(func(_ context.Context, tenant, objectID string) ([]string, error) {
		if tenant == "contoso" && objectID == app.ID {
			return []string{"alice@example.com"}, nil
		}
		return nil, nil
	})
	s := b.service(t, nil, notify.Config{
		Notifiers: map[string]notify.Notifier{"mail": mailer},
		Owners:    owners,
		Secrets:   runner.SealedSecrets{Store: b.st, Keyring: keyring},
		Routes: []notify.Route{
			{Name: "owners", Events: []string{notify.EventExpiring, "rotation.failed"}, ToOwners: true, Notifiers: []string{"mail"}},
			{Name: "app-team", Events: []string{"rotation.deployed"}, Apps: []string{"payroll-*"}, IncludeSecret: true, Notifiers: []string{"mail"}},
		},
	})
	runOnce(t, s)
	b.audit(t, r, "rotation.failed", rotor.OutcomeFailure, "verifying failed (attempt 1 of 8): token request: AADSTS7000215", nil)
	runOnce(t, s)
	b.advance(time.Hour)
	require.NoError(t, b.st.AuditAppend(t.Context(), &rotor.AuditEvent{At: b.clock.Now(), Actor: "runner:w1", Action: "rotation.deployed",
		Outcome: rotor.OutcomeSuccess, Tenant: r.Tenant, AppID: r.AppID, KeyID: newKey, RotationID: r.ID, Reason: "deployed to 2 targets"}))
	runOnce(t, s)

	msgs := mailpitMessages(t, srv)
	require.Len(t, msgs, 3)
	expiry, failure, deployed := msgs[0], msgs[1], msgs[2]

	require.Equal(t, "[rotor: warning] Client secret of payroll-api expires within 30 days", expiry.Subject)
	require.Equal(t, []string{"platform@example.com", "alice@example.com"}, to(expiry), "the notifier's recipients and the app's owners")
	require.Contains(t, expiry.Text, "Expires: 2026-11-27 12:00 UTC")
	require.Contains(t, expiry.HTML, "payroll-api")

	require.Equal(t, "[rotor: warning] Rotation of the client secret of payroll-api failed; rotor retries it", failure.Subject)
	require.Contains(t, failure.Text, "AADSTS7000215")
	require.Contains(t, failure.HTML, "AADSTS7000215")

	require.Equal(t, "[rotor] New client secret of payroll-api deployed", deployed.Subject)
	require.Equal(t, []string{"platform@example.com"}, to(deployed), "this route does not address owners")
	require.Contains(t, deployed.Text, "New secret value: "+value)
	require.Contains(t, deployed.HTML, value)

	for _, m := range msgs[:2] {
		require.NotContains(t, m.Text, value)
		require.NotContains(t, m.HTML, value)
		require.NotContains(t, m.Text, "New secret value")
	}
	for _, m := range msgs {
		require.NotContains(t, m.Subject, value)
	}
	for _, n := range b.outbox(t) {
		require.Equal(t, rotor.NotificationSent, n.Status)
		require.NotContains(t, string(n.Payload), value)
	}
	require.NotContains(t, b.logs.String(), value)
	require.NotContains(t, b.logs.String(), srv.Password)
}

// Run drives the loops from the clock: an event appended while it runs is delivered after the
// dispatch interval, without sleeping.
func TestRunDeliversOnTheClock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.secret(t, b.app(t, "contoso", "billing"), t0.Add(100*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationDeploying)
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{{Name: "all", Notifiers: []string{"a"}}}, DispatchInterval: 10 * time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.NoError(t, b.clock.BlockUntilContext(ctx, 3), "dispatch, scan and send wait on their timers")

	b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, "attempts exhausted", nil)
	b.advance(10 * time.Second)
	select {
	case m := <-b.a.sent:
		require.Equal(t, "rotation.parked", m.Event.Type)
	case <-time.After(30 * time.Second): // a guard against a hang, not a wait for the result
		t.Fatal("no delivery after the dispatch interval")
	}
	cancel()
	require.NoError(t, <-done)
}
