package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
)

// serving is a rotor serve running in the test process.
type serving struct {
	url  string
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs rotor serve with the configuration at path on a free loopback port, in process,
// until the test ends.
func startServe(t *testing.T, path string) *serving {
	t.Helper()
	logs := &syncBuffer{}
	c := &cli{stdin: strings.NewReader(""), stdout: logs, stderr: logs, lookupEnv: func(string) (string, bool) { return "", false },
		clock: clockwork.NewRealClock()}
	root := c.rootCmd()
	c.configPath, c.logLevel, c.logFormat = path, "info", "json"
	require.NoError(t, c.setupLogging())
	ctx, cancel := context.WithCancel(context.Background())
	root.SetContext(ctx)
	cmd := &cobra.Command{}
	root.AddCommand(cmd)
	cmd.SetContext(ctx)
	a, err := c.openApp(cmd)
	require.NoError(t, err)
	a.cfg.Server.Listen = "127.0.0.1:0" // the public URL is derived from the port it gets
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("rotor serve stopped: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		a.Close()
		if t.Failed() {
			t.Logf("rotor serve logs:\n%s", logs.String())
		}
	})
	return &serving{url: "http://" + addr, logs: logs}
}

// browser starts headless Chromium for the test. It trusts the simulator's TLS certificate by its
// public key only (--ignore-certificate-errors-spki-list), not every certificate.
func browser(t *testing.T, s *sim.Server) context.Context {
	t.Helper()
	u, err := url.Parse(s.URL())
	require.NoError(t, err)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: s.CA.CertPool()})
	require.NoError(t, err)
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)

	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(testenv.Chromium(t)), chromedp.WindowSize(1280, 900),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:]))}
	for _, f := range testenv.ChromiumFlags(t) {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if ok {
			opts = append(opts, chromedp.Flag(name, value))
		} else {
			opts = append(opts, chromedp.Flag(name, true))
		}
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start Chromium")
	return ctx
}

// urlContains is an action that waits until the page's address contains s (after a form
// submission, say). It asks the browser in a loop, like chromedp's own waits, because a wait
// running in the page would not survive the navigation it waits for.
func urlContains(s string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if loc, err := chromedp.Location()(ctx, t); err == nil && strings.Contains(loc, s) {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, ctx.Err()
			case <-tick.C:
			}
		}
	}
}

// step runs browser actions with a deadline, failing the test with the page's address.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.TextContent(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return strings.Join(strings.Fields(s), " ")
}

// screenshot saves the page as artifacts/screenshots/<name>.png at the repository's root.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := filepath.Join(repoRoot(t), "artifacts", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
}

// TestBrowserSignInBindAndRotate drives the web UI in headless Chromium through everything an
// operator does the first time: sign in with (simulated) Entra ID, look at the dashboard, find an
// application, make rotor manage its secret with a file step, dry-run and run a rotation, and read
// the audit log. A viewer then signs in and cannot change anything.
func TestBrowserSignInBindAndRotate(t *testing.T) {
	t.Parallel()
	deployDir := t.TempDir()
	envFile := filepath.Join(deployDir, "payments.env")
	policy := `policies:
  - name: standard
    lifetime: 180d
    rotate_before: 30d
    grace_period: 7d
    verify:
      successes: 1
      interval: 1s
      timeout: 2m
`
	e := startSim(t, sim.Options{Seed: 21, Tenants: 1, AppsPerTenant: 60}, policy)
	r := e.rotor(t, "sync")
	require.Equal(t, 0, r.code, r.stderr)
	srv := startServe(t, e.config)

	// The application to manage: the first seeded one with exactly one secret on the app object.
	page, err := e.sim.Directory.List(directory.ListParams{TenantID: e.tenant.Tenant.ID, Kind: directory.KindApplication, Limit: 100})
	require.NoError(t, err)
	var target directory.Application
	for _, a := range page.Applications {
		if a.AppID != e.tenant.Manager.AppID && len(a.PasswordCredentials) == 1 && a.PasswordCredentials[0].EndDateTime.After(time.Now().Add(60*24*time.Hour)) {
			target = a
			break
		}
	}
	require.NotEmpty(t, target.ID, "a seeded app with one long-lived secret")
	users := map[string]directory.SeededUser{}
	for _, u := range e.tenant.SignIn.Users {
		users[u.Role] = u
	}

	ctx := browser(t, e.sim)

	// 1. Anonymous: the dashboard sends to the sign-in page.
	step(t, ctx, "open rotor", chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	screenshot(t, ctx, "01-sign-in")

	// 2. Sign in with Entra ID (the simulator's page lists its demo people) as the admin.
	step(t, ctx, "go to Entra ID", chromedp.Click(chromedp.CSS("#sign-in")), chromedp.WaitVisible(chromedp.CSS(`button[data-upn]`)))
	screenshot(t, ctx, "02-entra-pick-account")
	step(t, ctx, "pick the admin", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-upn=%q]`, users["admin"].UserPrincipalName))),
		chromedp.WaitVisible(chromedp.CSS("ul.cards")))

	// 3. The dashboard.
	require.Contains(t, text(t, ctx, ".who"), "Ada Admin")
	require.Contains(t, text(t, ctx, ".who .role"), "admin")
	require.Regexp(t, `^\d+$`, text(t, ctx, "ul.cards li:first-child .figure"))
	step(t, ctx, "chart", chromedp.WaitVisible(chromedp.CSS("svg.chart rect.bar")))
	screenshot(t, ctx, "03-dashboard")

	// 4. Find the application and open it.
	step(t, ctx, "search", chromedp.Click(chromedp.CSS(`nav a[href="/apps"]`)), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), target.DisplayName), chromedp.Submit(chromedp.CSS("#q")), urlContains("q="),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`a[href="/apps/contoso/%s"]`, target.ID))))
	screenshot(t, ctx, "04-apps-search")
	step(t, ctx, "open the app", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/apps/contoso/%s"]`, target.ID))),
		chromedp.WaitVisible(chromedp.CSS("#creds-h")))
	require.Contains(t, text(t, ctx, "h1"), target.DisplayName)
	require.Contains(t, text(t, ctx, "#bindings-h + p"), "manages none")
	screenshot(t, ctx, "05-app")

	// 5. Configure a binding: adopt the existing secret, with a file step. A typo in the step is
	// caught by the step type's own validation before anything is saved.
	keyID := target.PasswordCredentials[0].KeyID
	bad := fmt.Sprintf("- name: payments-env\n  type: file\n  paht: %s\n", envFile)
	step(t, ctx, "open the binding form", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/apps/contoso/%s/bind"]`, target.ID))),
		chromedp.WaitVisible(chromedp.CSS("#steps")),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[value="adopt:%s"]`, keyID))),
		chromedp.Click(chromedp.CSS(`input[name="steps_mode"][value="custom"]`)),
		chromedp.SetValue(chromedp.CSS("#steps"), bad),
		chromedp.Submit(chromedp.CSS("#steps")), urlContains("/bind"),
		chromedp.WaitVisible(chromedp.CSS("#form-errors")))
	errs := text(t, ctx, "#form-errors")
	require.Contains(t, errs, `unknown field (did you mean "path"?)`)
	require.Contains(t, errs, "required field is missing")
	screenshot(t, ctx, "06-bind-validation")
	good := fmt.Sprintf("- name: payments-env\n  type: file\n  path: %s\n  format: env\n  key: PAYMENTS_CLIENT_SECRET\n  create: true\n", envFile)
	step(t, ctx, "fix and save", chromedp.SetValue(chromedp.CSS("#steps"), good), chromedp.Submit(chromedp.CSS("#steps")), urlContains("msg=bound"),
		chromedp.WaitVisible(chromedp.CSS(".notice")), chromedp.WaitVisible(chromedp.CSS("article.binding")))
	require.Contains(t, text(t, ctx, ".notice"), "now managed by rotor")
	require.Contains(t, text(t, ctx, "article.binding"), "payments-env")
	screenshot(t, ctx, "07-app-managed")

	// 6. Rotate: the dry run first, with every preflight check, then the rotation itself.
	step(t, ctx, "dry run", chromedp.Click(chromedp.CSS(`article.binding a.button.primary`)), chromedp.WaitVisible(chromedp.CSS("ul.checks")))
	checks := text(t, ctx, "ul.checks")
	require.Contains(t, checks, "permission")
	require.Contains(t, checks, "step payments-env (file)")
	require.NotContains(t, checks, "Failed:")
	screenshot(t, ctx, "08-rotate-dry-run")
	_, err = os.Stat(envFile)
	require.True(t, os.IsNotExist(err), "a dry run changes nothing")
	step(t, ctx, "rotate", chromedp.Click(chromedp.CSS("#confirm-rotate")), urlContains("/rotations/"), chromedp.WaitVisible(chromedp.CSS("#rotation-state")))
	require.Contains(t, text(t, ctx, ".notice"), "Rotation requested")
	// The page reloads itself while the rotation runs; wait for the new secret to be current.
	step(t, ctx, "rotation reaches grace", chromedp.WaitVisible(chromedp.CSS("#rotation-state .rstate-grace")))
	require.Contains(t, text(t, ctx, "table.steplog"), "deploy:payments-env")
	screenshot(t, ctx, "09-rotation")

	// The file holds a secret Entra accepts, and it is not the adopted one.
	env := readEnv(t, envFile)
	value := env["PAYMENTS_CLIENT_SECRET"]
	require.NotEmpty(t, value)
	res, err := e.sim.Directory.CheckClientSecret(e.tenant.Tenant.ID, target.AppID, value)
	require.NoError(t, err)
	require.Equal(t, directory.AuthValid, res.Status)
	require.NotEqual(t, keyID, res.KeyID, "a new secret was deployed")
	require.NotContains(t, srv.logs.String(), value, "the secret never reaches the logs")

	// 7. The audit log names the user for every change made through the UI.
	actor := "user:" + users["admin"].UserPrincipalName
	step(t, ctx, "audit log", chromedp.Click(chromedp.CSS(`nav a[href="/audit"]`)), chromedp.WaitVisible(chromedp.CSS("#actor")),
		chromedp.SendKeys(chromedp.CSS("#actor"), actor), chromedp.Submit(chromedp.CSS("#actor")), urlContains("actor="),
		chromedp.WaitVisible(chromedp.CSS("table.audit")))
	audit := text(t, ctx, "table.audit")
	for _, action := range []string{"auth.signed_in", "binding.created", "rotation.planned"} {
		require.Contains(t, audit, action)
	}
	step(t, ctx, "all events", chromedp.Navigate(srv.url+"/audit"), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	require.Contains(t, text(t, ctx, "table.audit"), "credential.created")
	screenshot(t, ctx, "10-audit")
	step(t, ctx, "outbox", chromedp.Click(chromedp.CSS(`nav a[href="/notifications"]`)), chromedp.WaitVisible(chromedp.CSS("h1")))
	screenshot(t, ctx, "11-notifications")
	step(t, ctx, "settings", chromedp.Click(chromedp.CSS(`nav a[href="/settings"]`)), chromedp.WaitVisible(chromedp.CSS("#tokens-h")))
	screenshot(t, ctx, "12-settings")

	// 8. Sign out: the session cookie no longer works, and Entra ID's session ends too.
	step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".who button")), urlContains("/auth/signed-out"), chromedp.WaitVisible(chromedp.CSS("h1")))
	require.Contains(t, text(t, ctx, "h1"), "signed out")
	screenshot(t, ctx, "13-signed-out")
	step(t, ctx, "back to the dashboard", chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS("#sign-in")))

	// 9. A viewer sees everything and changes nothing: no rotate or configure buttons, and the
	// binding form is forbidden.
	step(t, ctx, "sign in as viewer", chromedp.Click(chromedp.CSS("#sign-in")), chromedp.WaitVisible(chromedp.CSS(`button[data-upn]`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-upn=%q]`, users["viewer"].UserPrincipalName))),
		urlContains(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS("ul.cards")),
		chromedp.Navigate(fmt.Sprintf("%s/apps/contoso/%s", srv.url, target.ID)), chromedp.WaitVisible(chromedp.CSS("article.binding")))
	require.Contains(t, text(t, ctx, ".who .role"), "viewer")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("article.binding a.button").length`))
	require.NoError(t, err)
	require.Zero(t, n, "a viewer gets no buttons that change things")
	step(t, ctx, "bind form refused", chromedp.Navigate(fmt.Sprintf("%s/apps/contoso/%s/bind", srv.url, target.ID)),
		chromedp.WaitVisible(chromedp.CSS(".error-page")))
	require.Contains(t, text(t, ctx, ".error-page"), "needs permission entra:write")
	screenshot(t, ctx, "14-viewer-forbidden")

	// 10. Someone with no rotor role is refused at sign-in, and the refusal is audited.
	step(t, ctx, "sign out viewer", chromedp.Navigate(srv.url+"/settings"), chromedp.WaitVisible(chromedp.CSS(".who button")),
		chromedp.Click(chromedp.CSS(".who button")), urlContains("/auth/signed-out"), chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.Navigate(srv.url+"/login"), chromedp.Click(chromedp.CSS("#sign-in")), chromedp.WaitVisible(chromedp.CSS(`button[data-upn]`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-upn=%q]`, users[""].UserPrincipalName))),
		chromedp.WaitVisible(chromedp.CSS(".error-page")))
	require.Contains(t, text(t, ctx, ".error-page"), "No access to rotor")
	screenshot(t, ctx, "15-no-role")
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return out
}
