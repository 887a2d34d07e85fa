package email_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/email"
	"github.com/rotorhq/rotor/notify/notifytest"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim/tlsca"
)

// mailbox reads what a mailpit received through its HTTP API.
type mailbox struct{ srv *testenv.MailServer }

type address struct{ Name, Address string }

// apiMessage is the part of mailpit's GET /api/v1/message/{ID} the tests read.
type apiMessage struct {
	ID, MessageID string
	From          address
	To, Cc        []address
	Subject       string
	Text, HTML    string
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, v), string(b))
}

// messages returns every message, oldest first.
func (mb mailbox) messages(t *testing.T) []apiMessage {
	t.Helper()
	var list struct{ Messages []struct{ ID string } }
	getJSON(t, mb.srv.APIURL+"/api/v1/messages?limit=1000", &list)
	var out []apiMessage
	for _, m := range slices.Backward(list.Messages) { // the API lists newest first
		var full apiMessage
		getJSON(t, mb.srv.APIURL+"/api/v1/message/"+m.ID, &full)
		out = append(out, full)
	}
	return out
}

func (mb mailbox) headers(t *testing.T, id string) map[string][]string {
	t.Helper()
	var h map[string][]string
	getJSON(t, mb.srv.APIURL+"/api/v1/message/"+id+"/headers", &h)
	return h
}

func addrs(as []address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Address)
	}
	return out
}

// Received implements notifytest.Receiver.
func (mb mailbox) Received(t *testing.T) []notifytest.Received {
	var out []notifytest.Received
	for _, m := range mb.messages(t) {
		out = append(out, notifytest.Received{Title: m.Subject, Text: m.Text + "\n" + m.HTML + "\n" + m.Subject,
			Recipients: append(addrs(m.To), addrs(m.Cc)...)})
	}
	return out
}

// secureServer starts mailpit that requires STARTTLS and authentication.
func secureServer(t *testing.T) *testenv.MailServer {
	return testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthRequired, RequireSTARTTLS: true})
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return host, p
}

func secureConfig(t *testing.T, srv *testenv.MailServer) email.Config {
	host, port := hostPort(t, srv.SMTPAddr)
	return email.Config{Host: host, Port: port, TLS: email.STARTTLS, RootCAs: srv.RootCAs,
		Username: srv.Username, Password: secret.New(srv.Password),
		From: "rotor <rotor@example.com>", To: []string{"platform@example.com"}, Cc: []string{"audit@example.com"}}
}

// closedAddr returns a loopback port nothing listens on.
func closedAddr(t *testing.T) (string, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return hostPort(t, addr)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	notifytest.Run(t, notifytest.Harness{
		New: func(t *testing.T) (notify.Notifier, notifytest.Receiver) {
			srv := secureServer(t)
			n, err := email.New(secureConfig(t, srv))
			require.NoError(t, err)
			return n, mailbox{srv}
		},
		Unreachable: func(t *testing.T) (notify.Notifier, []string) {
			host, port := closedAddr(t)
			pw := "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			n, err := email.New(email.Config{Host: host, Port: port, Username: "rotor", Password: secret.New(pw),
				From: "rotor@example.com", To: []string{"a@example.com"}, Timeout: 5 * time.Second})
			require.NoError(t, err)
			return n, []string{pw}
		},
		RendersSecret: true,
	})
}

// The issue's acceptance case: through a real SMTP server with authentication and STARTTLS, read
// back through its API: recipients, subject, both bodies, and no secret.
func TestSendThroughMailpitWithAuthAndSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := secureServer(t)
	cfg := secureConfig(t, srv)
	n, err := email.New(cfg)
	require.NoError(t, err)

	m := &notify.Message{ID: "0190c8e2-7a41-7b9e-9c55-8d2e6f1a0b3c", To: []string{"owner@example.com", "PLATFORM@example.com"},
		Event: notify.Event{Type: notify.EventExpiring, Severity: notify.SeverityWarning, At: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
			Tenant: "contoso", AppID: "3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c", AppDisplayName: "payroll <api>",
			KeyID: "6b1f0c2e-8d3a-4f5b-9c7e-1a2b3c4d5e6f", CredentialKind: "secret", CredentialName: "ci pipeline",
			EndAt: time.Date(2026, 12, 20, 9, 30, 0, 0, time.UTC), Threshold: 30 * 24 * time.Hour, Policy: "standard"}}
	require.NoError(t, n.Send(t.Context(), m))
	require.ElementsMatch(t, []string{"platform@example.com", "owner@example.com", "audit@example.com"}, n.Recipients(m))

	mb := mailbox{srv}
	msgs := mb.messages(t)
	require.Len(t, msgs, 1)
	got := msgs[0]
	require.Equal(t, "[rotor: warning] Client secret of payroll <api> expires within 30 days", got.Subject)
	require.Equal(t, address{"rotor", "rotor@example.com"}, got.From)
	require.Equal(t, []string{"platform@example.com", "owner@example.com"}, addrs(got.To), "owners added, duplicates dropped")
	require.Equal(t, []string{"audit@example.com"}, addrs(got.Cc))
	require.Equal(t, "rotor-"+m.ID+"@example.com", got.MessageID, "stable across attempts")

	require.Contains(t, got.Text, "Client secret of payroll <api> expires within 30 days")
	require.Contains(t, got.Text, "Expires: 2026-12-20 09:30 UTC")
	require.Contains(t, got.Text, "Application (client) ID: 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c")
	require.Contains(t, got.Text, "Policy: standard")
	require.NotContains(t, got.Text, "New secret value")
	require.Contains(t, got.HTML, "<h2")
	require.Contains(t, got.HTML, "payroll &lt;api&gt;", "HTML escapes what it shows")
	require.NotContains(t, got.HTML, "payroll <api>")
	require.Contains(t, got.HTML, "2026-12-20 09:30 UTC")
	require.NotContains(t, got.HTML, "New secret value")

	h := mb.headers(t, got.ID)
	require.Equal(t, []string{notify.EventExpiring}, h["X-Rotor-Event"])
	require.Equal(t, []string{"warning"}, h["X-Rotor-Severity"])
	for name, vs := range h {
		for _, v := range vs {
			require.NotContains(t, v, srv.Password, "header %s", name)
		}
	}
}

func TestSecretOnlyWhenGiven(t *testing.T) {
	t.Parallel()
	srv := secureServer(t)
	n, err := email.New(secureConfig(t, srv))
	require.NoError(t, err)
	value := "fake-new-secret-for-test"
	m := &notify.Message{ID: "m1", Secret: secret.New(value), Event: notify.Event{Type: notify.ActionRotationDeployed,
		Tenant: "contoso", AppDisplayName: "billing", RotationID: "r1", KeyID: "k1", CredentialKind: "secret"}}
	require.NoError(t, n.Send(t.Context(), m))
	msgs := mailbox{srv}.messages(t)
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0].Text, "THIS MESSAGE CONTAINS A CREDENTIAL")
	require.Contains(t, msgs[0].Text, "New secret value: "+value)
	require.Contains(t, msgs[0].HTML, "<code style=\"font-size:15px\">"+value+"</code>")
	require.NotContains(t, msgs[0].Subject, value)
	h := mailbox{srv}.headers(t, msgs[0].ID)
	require.Equal(t, []string{"1"}, h["X-Priority"], "flagged important")
}

func TestAuthMechanisms(t *testing.T) {
	t.Parallel()
	srv := secureServer(t)
	tests := map[string]struct {
		auth email.Auth
		pw   string
		want error // nil, or the class expected
	}{
		"auto":           {email.AuthAuto, srv.Password, nil},
		"plain":          {email.AuthPlain, srv.Password, nil},
		"login":          {email.AuthLogin, srv.Password, nil},
		"wrong password": {email.AuthPlain, "not-the-password", errors.New("permanent")},
		// mailpit does not offer CRAM-MD5 with a password file: asking for it fails before
		// anything is sent.
		"cram-md5 not offered": {email.AuthCRAMMD5, srv.Password, errors.New("unclassified")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := secureConfig(t, srv)
			cfg.Auth, cfg.Password = tt.auth, secret.New(tt.pw)
			n, err := email.New(cfg)
			require.NoError(t, err)
			err = n.Send(t.Context(), &notify.Message{ID: name, Event: notify.Event{Type: notify.EventTest}})
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.NotContains(t, err.Error(), tt.pw)
			if tt.want.Error() == "permanent" {
				require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "%v", err)
				require.Contains(t, err.Error(), "535")
			}
		})
	}
}

func TestTLSModes(t *testing.T) {
	t.Parallel()
	starttls := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthAny, STARTTLS: true})
	plain := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthAny})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, starttls.CACertPEM, 0o600))

	send := func(t *testing.T, srv *testenv.MailServer, mutate func(*email.Config)) error {
		host, port := hostPort(t, srv.SMTPAddr)
		cfg := email.Config{Host: host, Port: port, RootCAs: srv.RootCAs, From: "rotor@example.com", To: []string{"a@example.com"},
			Username: "any", Password: secret.New("any")}
		mutate(&cfg)
		n, err := email.New(cfg)
		require.NoError(t, err)
		return n.Send(t.Context(), &notify.Message{ID: t.Name(), Event: notify.Event{Type: notify.EventTest}})
	}
	t.Run("ca file", func(t *testing.T) {
		require.NoError(t, send(t, starttls, func(c *email.Config) { c.RootCAs, c.CAFile = nil, caFile }))
	})
	t.Run("untrusted certificate is permanent", func(t *testing.T) {
		err := send(t, starttls, func(c *email.Config) { c.RootCAs = nil })
		require.Error(t, err)
		require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "%v", err)
	})
	t.Run("mandatory starttls refuses a server without it", func(t *testing.T) {
		err := send(t, plain, func(c *email.Config) {})
		require.ErrorContains(t, err, "STARTTLS")
		require.Empty(t, mailbox{plain}.messages(t))
	})
	t.Run("opportunistic sends in clear when it must", func(t *testing.T) {
		require.NoError(t, send(t, plain, func(c *email.Config) {
			c.TLS, c.Auth, c.Username, c.Password = email.Opportunistic, email.AuthNone, "", secret.Value{}
		}))
	})
	t.Run("opportunistic upgrades when it can", func(t *testing.T) {
		require.NoError(t, send(t, starttls, func(c *email.Config) { c.TLS, c.Auth = email.Opportunistic, email.AuthPlain }))
	})
	t.Run("implicit TLS", func(t *testing.T) {
		addr := implicitTLSProxy(t, plain.SMTPAddr)
		host, port := hostPort(t, addr)
		n, err := email.New(email.Config{Host: host, Port: port, TLS: email.Implicit, RootCAs: proxyCA.CertPool(),
			From: "rotor@example.com", To: []string{"implicit@example.com"}, Auth: email.AuthPlain, Username: "any", Password: secret.New("any")})
		require.NoError(t, err)
		require.NoError(t, n.Send(t.Context(), &notify.Message{ID: "implicit", Event: notify.Event{Type: notify.EventTest}}))
		var found bool
		for _, m := range (mailbox{plain}).messages(t) {
			if slices.Contains(addrs(m.To), "implicit@example.com") {
				found = true
			}
		}
		require.True(t, found)
	})
}

var proxyCA = func() *tlsca.CA {
	ca, err := tlsca.New(tlsca.Options{})
	if err != nil {
		panic(err)
	}
	return ca
}()

// implicitTLSProxy accepts TLS connections (SMTPS) and relays them in clear to a plain SMTP
// server, so that the client speaks TLS from the first byte as it would to port 465.
func implicitTLSProxy(t *testing.T, backend string) string {
	t.Helper()
	cert, err := proxyCA.IssueServerCert()
	require.NoError(t, err)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
				<-done
			})
		}
	})
	return l.Addr().String()
}

func TestNoRecipient(t *testing.T) {
	t.Parallel()
	n, err := email.New(email.Config{Host: "127.0.0.1", Port: 1, From: "rotor@example.com"})
	require.NoError(t, err)
	err = n.Send(t.Context(), &notify.Message{ID: "x", Event: notify.Event{Type: notify.EventTest}})
	require.ErrorContains(t, err, "no recipient")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		cfg  email.Config
		want string
	}{
		"no host":           {email.Config{From: "a@example.com"}, "host is required"},
		"bad from":          {email.Config{Host: "h", From: "not an address"}, "from"},
		"bad to":            {email.Config{Host: "h", From: "a@example.com", To: []string{"nope"}}, `recipient "nope"`},
		"auth without user": {email.Config{Host: "h", From: "a@example.com", Auth: email.AuthPlain}, "needs a username and a password"},
		"user without auth": {email.Config{Host: "h", From: "a@example.com", Auth: email.AuthNone, Username: "u"}, "auth is none"},
		"unknown tls":       {email.Config{Host: "h", From: "a@example.com", TLS: "ssl"}, `unknown tls mode "ssl"`},
		"missing ca file":   {email.Config{Host: "h", From: "a@example.com", CAFile: "/nonexistent/ca.pem"}, "ca_file"},
		"wrong template":    {email.Config{Host: "h", From: "a@example.com", HTML: notify.DefaultTemplate(notify.TemplateText)}, "a text template given as the html template"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := email.New(tt.cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCustomTemplates(t *testing.T) {
	t.Parallel()
	srv := secureServer(t)
	cfg := secureConfig(t, srv)
	var err error
	cfg.Subject, err = notify.ParseTemplate(notify.TemplateSubject, "subject.tmpl", "ALERT {{.Event.Tenant}}: {{.Title}}")
	require.NoError(t, err)
	cfg.Text, err = notify.ParseTemplate(notify.TemplateText, "text.tmpl", "{{range .Facts}}{{.Name}}={{.Value}};{{end}}")
	require.NoError(t, err)
	n, err := email.New(cfg)
	require.NoError(t, err)
	require.NoError(t, n.Send(t.Context(), &notify.Message{ID: "c", Event: notify.Event{Type: notify.EventExpired, Tenant: "contoso", AppDisplayName: "billing"}}))
	msgs := mailbox{srv}.messages(t)
	require.Len(t, msgs, 1)
	require.Equal(t, "ALERT contoso: Credential of billing has expired", msgs[0].Subject)
	require.True(t, strings.HasPrefix(msgs[0].Text, "Tenant=contoso;Application=billing;"), msgs[0].Text)
	require.Contains(t, msgs[0].HTML, "<h2", "the HTML body is still the built-in one")
}
