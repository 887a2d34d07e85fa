// Package testenv starts the real local dependencies rotor's tests run against: a PostgreSQL
// server, an SMTP server (mailpit), a Kubernetes API server with etcd, and headless Chromium.
//
// Every dependency is a throwaway instance on free loopback ports with its data in a temporary
// directory. PostgreSQL and Kubernetes are started once per test binary, on first use, and shared
// by its tests (each test gets its own database or namespace); a package that uses them must run
// its tests through [Main]:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Mailpit is started per call and stopped when the test ends.
//
// The binaries come from `make test-deps` (scripts/test-deps.sh). Their locations are read from
// ROTOR_TEST_PG_BIN, ROTOR_TEST_MAILPIT, ROTOR_TEST_KUBE_ASSETS and ROTOR_TEST_CHROMIUM, which
// `make test` sets, and default to where test-deps puts them. A missing dependency fails the test
// (it is never skipped) with a message saying how to install it.
//
// On Linux every child process gets SIGKILL when the test binary dies, so even a killed test run
// leaves nothing running.
package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// installHint ends every "dependency missing" message.
const installHint = "run `make test-deps` (scripts/test-deps.sh) to install it, or `make test` to install everything and run the suite"

// mainRunning is set by Main while the package's tests run.
var mainRunning atomic.Bool

// shared holds the stop functions of the dependencies shared by the whole test binary, in start
// order.
var shared struct {
	mu    sync.Mutex
	stops []func()
}

// Main runs the package's tests, then stops the shared dependencies (PostgreSQL, Kubernetes) and
// removes their data, and exits with the tests' status. Call it from TestMain of every package
// that uses [Postgres] or [Kubernetes].
func Main(m *testing.M) {
	mainRunning.Store(true)
	code := m.Run()
	stopShared()
	os.Exit(code)
}

// onStop registers f to run when Main stops the shared dependencies.
func onStop(f func()) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stops = append(shared.stops, f)
}

func stopShared() {
	shared.mu.Lock()
	stops := shared.stops
	shared.stops = nil
	shared.mu.Unlock()
	for _, f := range slices.Backward(stops) {
		f()
	}
}

// requireMain fails t when the package does not run its tests through Main: a shared dependency
// would otherwise outlive the tests (its data directory at least).
func requireMain(t testing.TB, what string) {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatalf("testenv: %s is shared by the whole test binary and stopped by testenv.Main: add\n\tfunc TestMain(m *testing.M) { testenv.Main(m) }\nto this package's tests", what)
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago. Another process can take
// it before the caller binds it: starters retry with new ports when a process fails to start.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cacheDir is where scripts/test-deps.sh puts what it builds ($XDG_CACHE_HOME/rotor or
// ~/.cache/rotor).
func cacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "rotor")
}

// locate returns the value of the environment variable env, or else the first of defaults that
// exists. The result is not checked further.
func locate(env string, defaults ...string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	for _, d := range defaults {
		if d == "" {
			continue
		}
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	if len(defaults) > 0 {
		return defaults[0]
	}
	return ""
}

// requireExecutables returns an error naming the first of names that is not an executable file
// in dir.
func requireExecutables(dir string, names ...string) error {
	for _, n := range names {
		if err := requireExecutable(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// requireExecutable returns an error unless path is an executable file.
func requireExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// childEnv is the environment of every child process: only what a program needs to run, so that
// variables of the developer's shell (PG*, MP_*, ETCD_*, KUBECONFIG...) cannot change the
// dependencies' behaviour.
func childEnv(extra ...string) []string {
	env := []string{"LC_ALL=C", "LANG=C"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// errExited reports that a process ended while we waited for it to become ready; starters retry
// with fresh ports on it (the usual cause is a port taken in between).
var errExited = errors.New("exited before it was ready")

// poll calls check until it returns nil, p exits, or timeout passes, backing off from 10 ms to
// 250 ms between calls. The error names what was awaited and carries the end of p's log.
func poll(p *process, what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 10 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s %w (%v) waiting for %s\n%s", p.name, errExited, p.exitErr, what, p.logTail())
		case <-time.After(wait):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %s: %w\n%s", p.name, timeout, what, err, p.logTail())
		}
		wait = min(wait*2, 250*time.Millisecond)
	}
}

// retryPorts runs start up to three times while it fails because a process exited early, which
// is how a port taken between freePort and the process binding it shows up.
func retryPorts[T any](start func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for range 3 {
		v, err = start()
		if err == nil || !errors.Is(err, errExited) {
			break
		}
	}
	return v, err
}

// sanitize turns a test name into a lower-case identifier of at most n characters made of a-z,
// 0-9 and sep.
func sanitize(name string, sep rune, n int) string {
	var b strings.Builder
	last := sep
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			last = r
		case last != sep:
			b.WriteRune(sep)
			last = sep
		}
	}
	s := strings.Trim(b.String(), string(sep))
	if len(s) > n {
		s = strings.TrimRight(s[:n], string(sep))
	}
	return s
}
