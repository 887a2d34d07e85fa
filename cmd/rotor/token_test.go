package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/server"
	"github.com/rotorhq/rotor/sim/tlsca"
	"github.com/rotorhq/rotor/store/sqlstore"
)

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeFile(t, "rotor.yaml", "store:\n  path: "+filepath.Join(dir, "rotor.db")+"\n")

	r := rotorRun(t, nil, "-c", cfg, "token", "create", "--name", "ci", "--role", "operator", "--expires", "30d")
	require.Equal(t, 0, r.code, r.stderr)
	value := strings.TrimSpace(r.stdout)
	require.Regexp(t, `^rotor_[A-Za-z0-9_-]{43}$`, value, "the value alone on standard output")
	require.Contains(t, r.stderr, "created token ci (operator")
	require.Contains(t, r.stderr, "only time its value is shown")

	r = rotorRun(t, nil, "-c", cfg, "token", "create", "--name", "ci", "--role", "viewer")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "a token named ci exists until")
	r = rotorRun(t, nil, "-c", cfg, "token", "create", "--name", "x", "--role", "root")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `--role: unknown role "root": use viewer, operator or admin`)
	r = rotorRun(t, nil, "-c", cfg, "token", "create", "--name", "x", "--role", "viewer", "--expires", "400d")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "--expires 400d: use 1h to 366d: tokens always expire")
	r = rotorRun(t, nil, "-c", cfg, "token", "create", "--name", "x", "--role", "viewer", "--expires", "2y")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `--expires: invalid duration "2y"`)
	r = rotorRun(t, nil, "-c", cfg, "token", "create", "--role", "viewer")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `required flag(s) "name" not set`)

	r = rotorRun(t, nil, "-c", cfg, "token", "create", "--name", "dash", "--role", "viewer", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var created map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &created))
	require.Equal(t, "dash", created["name"])

	r = rotorRun(t, nil, "-c", cfg, "token", "list")
	require.Equal(t, 0, r.code, r.stderr)
	require.Regexp(t, `(?m)^\S+\s+ci\s+operator\s+active\s`, r.stdout)
	require.NotContains(t, r.stdout, value, "values are never listed")
	id := regexp.MustCompile(`(?m)^(\S+)\s+ci\s`).FindStringSubmatch(r.stdout)[1]

	r = rotorRun(t, nil, "-c", cfg, "token", "revoke", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "revoked token ci")
	r = rotorRun(t, nil, "-c", cfg, "token", "list")
	require.NotContains(t, r.stdout, " ci ")
	r = rotorRun(t, nil, "-c", cfg, "token", "list", "--all", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"State": "revoked"`)
	r = rotorRun(t, nil, "-c", cfg, "token", "revoke", "nope")
	require.Equal(t, 1, r.code)

	r = rotorRun(t, nil, "-c", cfg, "audit", "list", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"Action": "token.created"`)
	require.Contains(t, r.stdout, `"Action": "token.revoked"`)
	require.NotContains(t, r.stdout, value, "the audit trail never holds a token value")
}

// The outbox shows the store's notifications and the configured notifiers without their
// secrets, and a retry is audited.
func TestOutboxAdapter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "rotor.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	src := `notifiers:
  - name: ops-mail
    type: email
    host: smtp.example.com
    from: rotor@example.com
    to: [ops@example.com]
  - name: chat
    type: teams
    url: env:TEAMS_URL
  - name: siem
    type: webhook
    url: https://siem.example.com/hooks/rotor?key=x
    signing_key: env:SIGNING_KEY
notifications:
  routes:
    - name: platform
      notifiers: [ops-mail, chat]
    - name: security
      notifiers: [siem]
`
	cfg, err := config.Parse("t.yaml", []byte(src), config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	require.NoError(t, err)
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	o := outbox{store: st, cfg: cfg, now: func() time.Time { return now }}
	ns, err := o.Notifiers(ctx)
	require.NoError(t, err)
	require.Equal(t, []server.NotifierInfo{
		{Name: "ops-mail", Type: "email", Target: "SMTP smtp.example.com", Routes: []string{"platform"}},
		{Name: "chat", Type: "teams", Target: "Microsoft Teams incoming webhook", Routes: []string{"platform"}},
		{Name: "siem", Type: "webhook", Target: "https://siem.example.com", Routes: []string{"security"}},
	}, ns, "no webhook URL with its query, no Teams URL")

	for i, status := range []rotor.NotificationStatus{rotor.NotificationSent, rotor.NotificationFailed, rotor.NotificationPending} {
		_, err := st.NotificationInsert(ctx, &rotor.Notification{ID: string(rune('a' + i)), Key: string(status), Route: "platform", Notifier: "ops-mail",
			Event: "credential.expiring", Tenant: "contoso", Payload: []byte(`{}`), Status: status, CreatedAt: now.Add(time.Duration(i) * time.Minute),
			UpdatedAt: now, NextAttemptAt: now})
		require.NoError(t, err)
	}
	items, err := o.Outbox(ctx, server.OutboxQuery{Limit: 2})
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, "c", items[0].ID, "newest first")
	require.NotNil(t, items[0].NextAttemptAt, "pending: when it is due")
	rest, err := o.Outbox(ctx, server.OutboxQuery{Limit: 2, Before: &server.OutboxCursor{CreatedAt: items[1].CreatedAt, ID: items[1].ID}})
	require.NoError(t, err)
	require.Len(t, rest, 1)
	failed, err := o.Outbox(ctx, server.OutboxQuery{Statuses: []string{"failed"}, Limit: 10})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	it, err := o.Retry(ctx, failed[0].ID, "user:ada@contoso.com")
	require.NoError(t, err)
	require.Equal(t, "pending", it.Status)
	_, err = o.Retry(ctx, failed[0].ID, "user:ada@contoso.com")
	require.ErrorIs(t, err, rotor.ErrConflict)
	evs, err := st.AuditSearch(ctx, &rotor.AuditSearchParams{Actor: "user:ada@contoso.com"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "notification.retry_requested", evs[0].Action)
}

// rotor serve with server.tls serves HTTPS itself; the public URL it derives is https, so the
// session cookie is Secure and HSTS is sent.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := tlsca.New(tlsca.Options{})
	require.NoError(t, err)
	cert, err := ca.IssueServerCert()
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	require.NoError(t, os.WriteFile(certFile, chain, 0o600))
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600))
	cfg := writeFile(t, "rotor.yaml", "store:\n  path: "+filepath.Join(dir, "rotor.db")+"\nserver:\n  tls:\n    cert_file: "+certFile+
		"\n    key_file: "+keyFile+"\n  metrics:\n    anonymous: true\n")
	srv := startServe(t, cfg)
	require.True(t, strings.HasPrefix(srv.url, "http://")) // startServe's guess; the server itself says https
	u := "https://" + strings.TrimPrefix(srv.url, "http://")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.CertPool()}}}
	get := func(path string) *http.Response {
		req, err := http.NewRequestWithContext(context.Background(), "GET", u+path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("/healthz")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "max-age=63072000; includeSubDomains", resp.Header.Get("Strict-Transport-Security"))
	require.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))
	resp = get("/metrics")
	require.Equal(t, http.StatusOK, resp.StatusCode, "metrics.anonymous: scraped without a token")
	b, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(b), "rotor_store_up 1")
	require.Contains(t, string(b), `rotor_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`)
	resp = get("/readyz")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestMergeYAML(t *testing.T) {
	t.Parallel()
	base := "# written by a test\nstore:\n  path: /tmp/r.db\nserver:\n  session:\n    key: file:/k\n"
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"nothing", "", base},
		{"a new section", "policies:\n  - name: p\n",
			"# written by a test\nstore:\n  path: /tmp/r.db\nserver:\n  session:\n    key: file:/k\npolicies:\n  - name: p\n"},
		{"into a section base writes", "server:\n  listen: 127.0.0.1:0\n",
			"# written by a test\nstore:\n  path: /tmp/r.db\nserver:\n  session:\n    key: file:/k\n  listen: 127.0.0.1:0\n"},
		{"a value replaced", "server:\n  session:\n    key: env:K\n",
			"# written by a test\nstore:\n  path: /tmp/r.db\nserver:\n  session:\n    key: env:K\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := mergeYAML(base, tc.extra)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := mergeYAML(base, "server: [")
	require.Error(t, err)
}
