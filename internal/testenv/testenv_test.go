package testenv_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPostgres(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	// Two databases of the same server: what one test creates, the other does not see.
	dsnA, dsnB := testenv.Postgres(t), testenv.Postgres(t)
	require.NotEqual(t, dsnA, dsnB)

	a, err := pgx.Connect(ctx, dsnA)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close(context.Background()) })
	b, err := pgx.Connect(ctx, dsnB)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close(context.Background()) })

	var version string
	require.NoError(t, a.QueryRow(ctx, "SHOW server_version").Scan(&version))
	t.Logf("PostgreSQL %s at %s", version, dsnA)

	_, err = a.Exec(ctx, "CREATE TABLE only_in_a (n int); INSERT INTO only_in_a VALUES (1), (2)")
	require.NoError(t, err)
	var sum int
	require.NoError(t, a.QueryRow(ctx, "SELECT sum(n) FROM only_in_a").Scan(&sum))
	require.Equal(t, 3, sum)

	var tables int
	require.NoError(t, b.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&tables))
	require.Zero(t, tables, "a table of database A is visible in database B")
}

func TestPostgresParallel(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			conn, err := pgx.Connect(ctx, testenv.Postgres(t))
			require.NoError(t, err)
			defer conn.Close(context.Background())
			var db string
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&db))
			require.Contains(t, db, "testpostgresparallel")
		})
	}
}

// mailpitMessage is the part of mailpit's GET /api/v1/messages answer the tests read.
type mailpitMessage struct {
	ID      string
	Subject string
	From    struct{ Address string }
	To      []struct{ Address string }
}

func mailpitMessages(t *testing.T, apiURL string) []mailpitMessage {
	t.Helper()
	resp, err := http.Get(apiURL + "/api/v1/messages")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Total    int
		Messages []mailpitMessage
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	return list.Messages
}

// sendMail sends one message over SMTP, with STARTTLS when tlsOK and AUTH PLAIN when auth is
// not nil.
func sendMail(s *testenv.MailServer, auth smtp.Auth, subject string) error {
	c, err := smtp.Dial(s.SMTPAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg := s.TLSConfig(); cfg != nil {
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail("rotor@example.test"); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.Rcpt("owner@example.test"); err != nil {
		return fmt.Errorf("rcpt: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	fmt.Fprintf(w, "From: rotor@example.test\r\nTo: owner@example.test\r\nSubject: %s\r\n\r\nThe credential was rotated.\r\n", subject)
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

func TestMailpit(t *testing.T) {
	t.Parallel()

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		s := testenv.Mailpit(t, testenv.MailpitOptions{})
		require.Nil(t, s.TLSConfig())
		require.NoError(t, sendMail(s, nil, "plain"))
		msgs := mailpitMessages(t, s.APIURL)
		require.Len(t, msgs, 1)
		require.Equal(t, "plain", msgs[0].Subject)
		require.Equal(t, "owner@example.test", msgs[0].To[0].Address)
	})

	t.Run("auth any", func(t *testing.T) {
		t.Parallel()
		s := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthAny})
		require.NoError(t, sendMail(s, smtp.PlainAuth("", "whoever", "whatever", "127.0.0.1"), "any"))
		require.Len(t, mailpitMessages(t, s.APIURL), 1)
	})

	t.Run("auth required and starttls", func(t *testing.T) {
		t.Parallel()
		s := testenv.Mailpit(t, testenv.MailpitOptions{Auth: testenv.SMTPAuthRequired, RequireSTARTTLS: true})
		require.NotNil(t, s.RootCAs)
		require.Contains(t, string(s.CACertPEM), "BEGIN CERTIFICATE")

		// Refused: no TLS, then a wrong password, then no AUTH at all.
		plain := *s
		plain.RootCAs = nil
		require.Error(t, sendMail(&plain, nil, "no tls"))
		require.ErrorContains(t, sendMail(s, smtp.PlainAuth("", s.Username, "wrong", "127.0.0.1"), "bad password"), "auth")
		require.ErrorContains(t, sendMail(s, nil, "no auth"), "mail")

		require.NoError(t, sendMail(s, smtp.PlainAuth("", s.Username, s.Password, "127.0.0.1"), "rotated"))
		msgs := mailpitMessages(t, s.APIURL)
		require.Len(t, msgs, 1)
		require.Equal(t, "rotated", msgs[0].Subject)

		// The message's source is readable through the API too.
		resp, err := http.Get(s.APIURL + "/api/v1/message/" + msgs[0].ID + "/raw")
		require.NoError(t, err)
		defer resp.Body.Close()
		raw := new(strings.Builder)
		_, err = bufio.NewReader(resp.Body).WriteTo(raw)
		require.NoError(t, err)
		require.Contains(t, raw.String(), "The credential was rotated.")
	})
}

func TestKubernetes(t *testing.T) {
	t.Parallel()
	k := testenv.Kubernetes(t)
	client := k.HTTPClient()

	ns := k.Namespace(t)
	require.Contains(t, ns, "testkubernetes")

	// noCert trusts the server but presents no client certificate.
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(k.CAData))
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	get := func(t *testing.T, c *http.Client, path, token string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, k.Host+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}

	// The namespace exists, read with the client certificate.
	code, body := get(t, client, "/api/v1/namespaces/"+ns, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, ns, body["metadata"].(map[string]any)["name"])

	// Listed with the bearer token.
	code, body = get(t, noCert, "/api/v1/namespaces", k.Token)
	require.Equal(t, http.StatusOK, code, body)
	var names []string
	for _, item := range body["items"].([]any) {
		names = append(names, item.(map[string]any)["metadata"].(map[string]any)["name"].(string))
	}
	require.Contains(t, names, ns)

	// Without credentials: anonymous is not allowed to list.
	code, _ = get(t, noCert, "/api/v1/namespaces", "")
	require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, code)

	code, body = get(t, client, "/version", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, testenv.KubeVersion, body["gitVersion"])

	kubeconfig, err := os.ReadFile(k.Kubeconfig)
	require.NoError(t, err)
	require.Contains(t, string(kubeconfig), k.Host)
	require.FileExists(t, k.CAFile)

	// Every caller sees the same server.
	require.Equal(t, k.Host, testenv.Kubernetes(t).Host)
}

func TestChromium(t *testing.T) {
	t.Parallel()
	path := testenv.Chromium(t)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>rotor</title><ul id="l"></ul><script>
for (const s of ["key vault", "kubernetes"]) { const li = document.createElement("li"); li.textContent = s; document.getElementById("l").append(li) }
</script>`)
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, append(testenv.ChromiumFlags(t), "--dump-dom", srv.URL)...).Output()
	require.NoError(t, err)
	require.Contains(t, string(out), `<ul id="l"><li>key vault</li><li>kubernetes</li></ul>`)
}

// TestKilledBinaryLeavesNothing runs this test binary again as a helper that starts PostgreSQL and
// mailpit, kills it with SIGKILL, and checks that its dependencies died with it.
func TestKilledBinaryLeavesNothing(t *testing.T) {
	if os.Getenv("ROTOR_TESTENV_HELPER") == "1" {
		t.Skip("this is the helper")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs Linux /proc")
	}
	t.Parallel()

	// The helper's temporary directories go here; as root the postgres user must reach them.
	tmp, err := os.MkdirTemp("", "rotor-testenv-kill-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	require.NoError(t, os.Chmod(tmp, 0o755))

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartsAndWaits$", "-test.v")
	cmd.Env = append(os.Environ(), "ROTOR_TESTENV_HELPER=1", "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// Wait for the helper to say its dependencies are up.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var out []string
		for sc.Scan() {
			out = append(out, sc.Text())
			if sc.Text() == "HELPER READY" {
				ready <- nil
				_, _ = bufio.NewReader(stdout).WriteTo(new(strings.Builder))
				return
			}
		}
		ready <- fmt.Errorf("helper ended before it was ready:\n%s", strings.Join(out, "\n"))
	}()
	select {
	case err := <-ready:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		t.Fatal("helper not ready after 2 minutes")
	}

	children := childPIDs(t, cmd.Process.Pid)
	names := map[int]string{}
	for _, pid := range children {
		names[pid] = procName(pid)
	}
	t.Logf("helper %d has children %v", cmd.Process.Pid, names)
	require.Contains(t, valuesOf(names), "postgres")
	require.Contains(t, valuesOf(names), "mailpit")

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	deadline := time.Now().Add(20 * time.Second)
	for _, pid := range children {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d (%s) still runs after its test binary was killed", pid, names[pid])
			}
			time.Sleep(20 * time.Millisecond) // polling /proc: there is no signal to wait on
		}
	}
}

// TestHelperStartsAndWaits is the helper of TestKilledBinaryLeavesNothing.
func TestHelperStartsAndWaits(t *testing.T) {
	if os.Getenv("ROTOR_TESTENV_HELPER") != "1" {
		t.Skip("helper of TestKilledBinaryLeavesNothing")
	}
	testenv.Postgres(t)
	testenv.Mailpit(t, testenv.MailpitOptions{})
	fmt.Println("HELPER READY")
	select {} // until killed
}

func valuesOf(m map[int]string) []string {
	var v []string
	for _, s := range m {
		v = append(v, s)
	}
	return v
}

// childPIDs returns the direct children of pid, from /proc/<pid>/task/*/children.
func childPIDs(t *testing.T, pid int) []int {
	t.Helper()
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	require.NoError(t, err)
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, s := range strings.Fields(string(b)) {
			n, err := strconv.Atoi(s)
			require.NoError(t, err)
			pids = append(pids, n)
		}
	}
	return pids
}

func procName(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// alive reports whether pid exists and is not a zombie (a killed process whose parent, possibly
// a container's PID 1, has not reaped it yet).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
