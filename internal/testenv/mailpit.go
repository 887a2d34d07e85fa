package testenv

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SMTPAuth is the SMTP authentication a [MailServer] asks for.
type SMTPAuth int

const (
	// SMTPAuthNone: the server offers no AUTH and accepts mail from anyone.
	SMTPAuthNone SMTPAuth = iota
	// SMTPAuthAny: the server offers AUTH (PLAIN, LOGIN, CRAM-MD5) and accepts any username and
	// password, or none.
	SMTPAuthAny
	// SMTPAuthRequired: the server accepts mail only after AUTH with [MailServer.Username] and
	// [MailServer.Password].
	SMTPAuthRequired
)

// MailpitOptions configures the SMTP side of [Mailpit]. The zero value is a plain server without
// authentication or TLS.
type MailpitOptions struct {
	Auth SMTPAuth
	// STARTTLS makes the server offer STARTTLS with a throwaway certificate for 127.0.0.1 and
	// localhost, which [MailServer.RootCAs] trusts. Without it, authentication is allowed over
	// plain text (loopback only).
	STARTTLS bool
	// RequireSTARTTLS makes the server refuse mail until the client switched to TLS. It implies
	// STARTTLS.
	RequireSTARTTLS bool
}

// MailServer is a running mailpit: an SMTP server that keeps every message it receives and shows
// them through its HTTP API (GET /api/v1/messages, GET /api/v1/message/{ID},
// GET /api/v1/search?query=..., DELETE /api/v1/messages).
type MailServer struct {
	// SMTPAddr is the SMTP server's host:port, on 127.0.0.1.
	SMTPAddr string
	// APIURL is the base URL of the web UI and HTTP API, like http://127.0.0.1:41235 (no
	// trailing slash; the API is under /api/v1/).
	APIURL string
	// Username and Password are the credentials SMTPAuthRequired accepts; empty otherwise.
	Username, Password string
	// RootCAs trusts the STARTTLS certificate; CACertPEM is the same CA in PEM. Both are nil
	// without STARTTLS.
	RootCAs   *x509.CertPool
	CACertPEM []byte
}

// TLSConfig returns a client TLS configuration for STARTTLS to the server (for
// smtp.Client.StartTLS), or nil when the server has no TLS.
func (s *MailServer) TLSConfig() *tls.Config {
	if s.RootCAs == nil {
		return nil
	}
	host, _, _ := net.SplitHostPort(s.SMTPAddr)
	return &tls.Config{RootCAs: s.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12}
}

// Mailpit starts a mailpit SMTP server with an empty mailbox for the test, configured by opts,
// and stops it when the test ends. The binary comes from ROTOR_TEST_MAILPIT, default
// ~/.cache/rotor/bin/mailpit.
func Mailpit(t testing.TB, opts MailpitOptions) *MailServer {
	t.Helper()
	bin := locate("ROTOR_TEST_MAILPIT", filepath.Join(cacheDir(), "bin", "mailpit"))
	if err := requireExecutable(bin); err != nil {
		t.Fatalf("testenv: mailpit not found (ROTOR_TEST_MAILPIT=%q): %v\n%s", bin, err, installHint)
	}
	dir := t.TempDir()
	s := &MailServer{}
	args := []string{"--database", filepath.Join(dir, "mailpit.db"), "--smtp-disable-rdns"}

	if opts.RequireSTARTTLS {
		opts.STARTTLS = true
	}
	if opts.STARTTLS {
		ca, err := newCA("rotor test mailpit CA")
		if err != nil {
			t.Fatalf("testenv: mailpit: %v", err)
		}
		srv, err := ca.serverCert("rotor test mailpit")
		if err != nil {
			t.Fatalf("testenv: mailpit: %v", err)
		}
		if err := writeFiles(dir, map[string][]byte{"smtp.crt": srv.certPEM, "smtp.key": srv.keyPEM}); err != nil {
			t.Fatalf("testenv: mailpit: %v", err)
		}
		args = append(args, "--smtp-tls-cert", filepath.Join(dir, "smtp.crt"), "--smtp-tls-key", filepath.Join(dir, "smtp.key"))
		if opts.RequireSTARTTLS {
			args = append(args, "--smtp-require-starttls")
		}
		s.CACertPEM = ca.certPEM
		s.RootCAs = x509.NewCertPool()
		s.RootCAs.AddCert(ca.cert)
	}
	switch opts.Auth {
	case SMTPAuthNone:
	case SMTPAuthAny:
		args = append(args, "--smtp-auth-accept-any")
	case SMTPAuthRequired:
		s.Username, s.Password = "rotor-test", "pw-"+rand.Text()
		// An htpasswd file; mailpit accepts plain-text passwords in it.
		if err := writeFiles(dir, map[string][]byte{"smtp-auth": []byte(s.Username + ":" + s.Password + "\n")}); err != nil {
			t.Fatalf("testenv: mailpit: %v", err)
		}
		args = append(args, "--smtp-auth-file", filepath.Join(dir, "smtp-auth"))
	default:
		t.Fatalf("testenv: mailpit: unknown SMTPAuth %d", opts.Auth)
	}
	if opts.Auth != SMTPAuthNone && !opts.STARTTLS {
		args = append(args, "--smtp-auth-allow-insecure")
	}

	p, err := retryPorts(func() (*process, error) { return startMailpit(bin, dir, args, s) })
	if err != nil {
		t.Fatalf("testenv: mailpit: %v", err)
	}
	t.Cleanup(func() { p.stop(syscall.SIGTERM, 5*time.Second) })
	return s
}

func startMailpit(bin, dir string, args []string, s *MailServer) (*process, error) {
	smtpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.SMTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(smtpPort))
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
	s.APIURL = "http://" + httpAddr

	cmd := exec.Command(bin, append([]string{"--smtp", s.SMTPAddr, "--listen", httpAddr}, args...)...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	p, err := startProcess("mailpit", filepath.Join(dir, "mailpit.log"), cmd)
	if err != nil {
		return nil, err
	}
	err = poll(p, "GET /readyz and the SMTP greeting", 30*time.Second, func() error {
		if err := httpOK(probeClient, s.APIURL+"/readyz", ""); err != nil {
			return err
		}
		return smtpGreets(s.SMTPAddr)
	})
	if err != nil {
		p.stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return p, nil
}

// smtpGreets dials addr and expects a 220 greeting.
func smtpGreets(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read SMTP greeting: %w", err)
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("SMTP greeting %q", strings.TrimSpace(line))
	}
	_, _ = c.Write([]byte("QUIT\r\n"))
	return nil
}

// httpOK sends GET url (with a bearer token if not empty) and expects 200.
func httpOK(c *http.Client, url, token string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(buf[:n])))
	}
	return nil
}

// probeClient is for readiness probes: a hung server must not hang the poll.
var probeClient = &http.Client{Timeout: 2 * time.Second}
