package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/notifytest"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// mailConfig writes a configuration whose notifier ops-mail sends through srv with STARTTLS and
// authentication, its password in ROTOR_SMTP_PASSWORD.
func mailConfig(t *testing.T, srv *testenv.MailServer, extra string) string {
	t.Helper()
	ca := writeFile(t, "smtp-ca.pem", string(srv.CACertPEM))
	host, port, _ := strings.Cut(srv.SMTPAddr, ":")
	return writeFile(t, "rotor.yaml", `store:
  path: `+filepath.Join(t.TempDir(), "rotor.db")+`
notifiers:
  - name: ops-mail
    type: email
    host: `+host+`
    port: `+port+`
    ca_file: `+ca+`
    username: `+srv.Username+`
    password: env:ROTOR_SMTP_PASSWORD
    from: "rotor <rotor@example.com>"
    to: [platform@example.com]
`+extra)
}

func mailpitSubjects(t *testing.T, srv *testenv.MailServer) []string {
	t.Helper()
	resp, err := http.Get(srv.APIURL + "/api/v1/messages")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var list struct{ Messages []struct{ Subject string } }
	require.NoError(t, json.Unmarshal(b, &list))
	var out []string
	for _, m := range list.Messages {
		out = append(out, m.Subject)
	}
	return out
}

func TestNotifyTestSendsThroughSMTP(t *testing.T) {
	t.Parallel()
	srv := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthRequired, RequireSTARTTLS: true})
	cfg := mailConfig(t, srv, "")
	env := map[string]string{"ROTOR_SMTP_PASSWORD": srv.Password}

	r := rotorRun(t, env, "-c", cfg, "notify", "test", "ops-mail", "--to", "owner@example.com")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "sent a test message through ops-mail (email) to platform@example.com, owner@example.com; message id ")
	require.Equal(t, []string{"[rotor] rotor test notification"}, mailpitSubjects(t, srv))
	require.NotContains(t, r.stdout+r.stderr, srv.Password)

	r = rotorRun(t, nil, "-c", cfg, "notify", "test", "ops-mail")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "notifier ops-mail: password: secret env:ROTOR_SMTP_PASSWORD: environment variable ROTOR_SMTP_PASSWORD is not set")

	r = rotorRun(t, map[string]string{"ROTOR_SMTP_PASSWORD": "wrong-password"}, "-c", cfg, "notify", "test", "ops-mail")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "535")
	require.Contains(t, r.stderr, "(permanent: retrying will not help: check the configuration)")
	require.NotContains(t, r.stderr, "wrong-password")

	r = rotorRun(t, env, "-c", cfg, "notify", "test", "pager")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `no notifier is named "pager" (configured: ops-mail)`)
}

func TestNotifyTestWebhookFailureKeepsTheURLSecret(t *testing.T) {
	t.Parallel()
	url, token := notifytest.ClosedURL(t)
	cfg := writeFile(t, "rotor.yaml", "notifiers:\n  - name: teams\n    type: teams\n    url: env:TEAMS_URL\n")
	r := rotorRun(t, map[string]string{"TEAMS_URL": url}, "-c", cfg, "notify", "test", "teams", "--timeout", "5s")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "teams webhook at http://127.0.0.1:")
	require.Contains(t, r.stderr, "(transient: rotor would retry it)")
	require.NotContains(t, r.stderr, token)

	r = rotorRun(t, map[string]string{"TEAMS_URL": url}, "-c", cfg, "notify", "test", "teams", "--to", "a@example.com")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "--to: notifier teams is a teams notifier, not email")
}

func TestNotifyListShowsTheOutbox(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "rotor.db")
	cfg := writeFile(t, "rotor.yaml", "store:\n  path: "+dbPath+"\n")
	r := rotorRun(t, nil, "-c", cfg, "notify", "list")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "run rotor migrate")
	require.Equal(t, 0, rotorRun(t, nil, "-c", cfg, "migrate").code)

	r = rotorRun(t, nil, "-c", cfg, "notify", "list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "no notifications\n", r.stdout)

	st, err := sqlstore.OpenSQLite(t.Context(), dbPath, sqlstore.Options{})
	require.NoError(t, err)
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	failed := &rotor.Notification{ID: "n-failed", Key: "k1", Route: "platform", Notifier: "ops-mail", Event: "rotation.failed",
		Tenant: "contoso", Payload: []byte("{}"), Status: rotor.NotificationFailed, Attempt: 10,
		LastError: "email: send to smtp.example.com:587: 550 5.1.1\n mailbox unavailable", CreatedAt: at, UpdatedAt: at}
	retrying := &rotor.Notification{ID: "n-retrying", Key: "k2", Route: "owners", Notifier: "teams", Event: notify.EventExpiring,
		Tenant: "contoso", Payload: []byte("{}"), Status: rotor.NotificationRetrying, Attempt: 2, NextAttemptAt: at.Add(time.Hour),
		LastError: "teams webhook at https://contoso.webhook.office.com: 503 Service Unavailable", CreatedAt: at.Add(time.Minute), UpdatedAt: at}
	for _, n := range []*rotor.Notification{failed, retrying} {
		_, err := st.NotificationInsert(t.Context(), n)
		require.NoError(t, err)
	}
	require.NoError(t, st.Close())

	r = rotorRun(t, nil, "-c", cfg, "notify", "list")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^ID\s+CREATED\s+STATUS\s+ATTEMPTS\s+NOTIFIER\s+ROUTE\s+EVENT\s+TENANT\s+NEXT ATTEMPT\s+LAST ERROR$`, lines[0])
	require.Regexp(t, `^n-retrying\s+2026-11-21 09:31 UTC\s+retrying\s+2\s+teams\s+owners\s+credential.expiring\s+contoso\s+2026-11-21 10:30 UTC\s+teams webhook at https://contoso.webhook.office.com: 503 Service Unavailable$`, lines[1])
	require.Regexp(t, `^n-failed\s+2026-11-21 09:30 UTC\s+failed\s+10\s+ops-mail\s+platform\s+rotation.failed\s+contoso\s+-\s+email: send to smtp.example.com:587: 550 5.1.1 mailbox unavailable$`, lines[2])

	r = rotorRun(t, nil, "-c", cfg, "notify", "list", "--status", "failed", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	require.Len(t, rows, 1)
	require.Equal(t, "n-failed", rows[0]["id"])
	require.EqualValues(t, 10, rows[0]["attempts"])

	r = rotorRun(t, nil, "-c", cfg, "notify", "list", "--status", "lost")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `--status "lost": use pending, retrying, sent or failed`)
}

// The service as rotor serve wires it: from the configuration, over the store, to a real SMTP
// server.
func TestNotifyServiceFromConfiguration(t *testing.T) {
	t.Parallel()
	srv := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthRequired, RequireSTARTTLS: true})
	path := mailConfig(t, srv, `notifications:
  routes:
    - name: platform
      notifiers: [ops-mail]
`)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	c := &cli{lookupEnv: func(k string) (string, bool) {
		if k == "ROTOR_SMTP_PASSWORD" {
			return srv.Password, true
		}
		return "", false
	}, clock: clock, stdout: io.Discard, stderr: io.Discard}
	cmd := c.rootCmd()
	c.configPath = path
	cfg, err := c.loadConfig(cmd)
	require.NoError(t, err)
	st, err := c.openStore(t.Context(), cfg, true)
	require.NoError(t, err)
	defer st.Close()

	now := clock.Now()
	require.NoError(t, st.TenantUpsert(t.Context(), &rotor.Tenant{Name: "contoso", TenantID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}))
	app := &rotor.App{Tenant: "contoso", ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "payroll-api", SyncedAt: now}
	require.NoError(t, st.AppUpsertBatch(t.Context(), []*rotor.App{app}))
	require.NoError(t, st.CredentialPut(t.Context(), &rotor.Credential{Tenant: "contoso", KeyID: uuid.NewString(), Kind: rotor.KindSecret,
		OwnerKind: rotor.OwnerApplication, OwnerID: app.ID, AppID: app.AppID, StartAt: now.Add(-100 * 24 * time.Hour),
		EndAt: now.Add(5 * 24 * time.Hour)}, now))

	svc, err := c.notifyService(cfg, notifyDeps{Store: st, Worker: "test", Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	enq, sent, err := svc.RunOnce(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, enq)
	require.Equal(t, 1, sent)
	require.Equal(t, []string{"[rotor: CRITICAL] Client secret of payroll-api expires within 7 days"}, mailpitSubjects(t, srv))

	_, err = (&cli{lookupEnv: c.lookupEnv, clock: clock}).notifyService(mustParse(t, mailConfig(t, srv, `notifications:
  routes:
    - name: owners
      notifiers: [ops-mail]
      to_owners: true
`)), notifyDeps{Store: st, Worker: "test"})
	require.ErrorContains(t, err, "cannot look owners up")
}

func mustParse(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	return cfg
}
