package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Chromium returns the path of the Chromium binary, after checking (once per test binary) that it
// renders a page with JavaScript headless. Run it with [ChromiumFlags]. The binary comes from
// ROTOR_TEST_CHROMIUM, default /usr/bin/chromium, else the first of chromium,
// chromium-browser, google-chrome on PATH.
func Chromium(t testing.TB) string {
	t.Helper()
	path, err := chromiumChecked()
	if err != nil {
		t.Fatalf("testenv: Chromium: %v", err)
	}
	return path
}

// ChromiumFlags returns the command-line flags for a headless browser in tests: no sandbox when
// running as root (Chromium refuses otherwise), no GPU, no first-run or background network
// activity, and a fresh profile in a directory of the test's.
func ChromiumFlags(t testing.TB) []string {
	t.Helper()
	return chromiumFlags(t.TempDir())
}

func chromiumFlags(profileDir string) []string {
	flags := []string{
		"--headless",
		"--disable-gpu",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-dev-shm-usage",
		"--user-data-dir=" + profileDir,
	}
	if os.Geteuid() == 0 {
		flags = append(flags, "--no-sandbox")
	}
	return flags
}

func chromiumPath() (string, error) {
	if p := os.Getenv("ROTOR_TEST_CHROMIUM"); p != "" {
		return p, requireExecutable(p)
	}
	if err := requireExecutable("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium binary (ROTOR_TEST_CHROMIUM unset, none on PATH)")
}

var chromiumChecked = sync.OnceValues(func() (string, error) {
	path, err := chromiumPath()
	if err != nil {
		return "", fmt.Errorf("%v\n%s (Debian package chromium)", err, installHint)
	}
	if err := chromiumRenders(path); err != nil {
		return "", fmt.Errorf("%s does not run headless: %w", path, err)
	}
	return path, nil
})

// chromiumRenders loads a page whose script changes the DOM and checks the DOM Chromium dumps.
func chromiumRenders(path string) error {
	profile, err := os.MkdirTemp("", "rotor-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	page := `<p id="probe">static</p><script>document.getElementById("probe").textContent = "rendered by " + (40 + 2)</script>`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append(chromiumFlags(profile),
		"--dump-dom", "data:text/html;charset=utf-8,"+url.PathEscape(page))...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := startCmd(cmd); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%w\n%s", err, tail(stderr.String(), 3000))
	}
	if want := `<p id="probe">rendered by 42</p>`; !strings.Contains(stdout.String(), want) {
		return fmt.Errorf("--dump-dom printed no %s:\n%s\n%s", want, tail(stdout.String(), 2000), tail(stderr.String(), 2000))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
