package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Postgres returns the DSN of a new, empty database on the test binary's PostgreSQL server,
// owned by the superuser "postgres" (trust authentication, no TLS), for example
// postgres://postgres@127.0.0.1:41234/t3_teststore?sslmode=disable. Each call creates its own
// database, so parallel tests are isolated; it is dropped when the test ends.
//
// The server is started on first use (initdb with fsync off, on a free loopback port) and stopped
// by [Main]. Binaries come from ROTOR_TEST_PG_BIN, default /usr/lib/postgresql/15/bin.
func Postgres(t testing.TB) string {
	t.Helper()
	requireMain(t, "PostgreSQL")
	c, err := pgShared()
	if err != nil {
		t.Fatalf("testenv: PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("t%d_%s", c.seq.Add(1), sanitize(t.Name(), '_', 50))
	if err := c.psql(fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		t.Fatalf("testenv: PostgreSQL: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE ends the connections the test left open.
		if err := c.psql(fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name)); err != nil {
			t.Errorf("testenv: PostgreSQL: drop database %s: %v", name, err)
		}
	})
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), name)
}

// pgCluster is the test binary's PostgreSQL server.
type pgCluster struct {
	bin  string // directory of initdb, postgres, psql
	dir  string // base directory: data/, the socket, the log
	port int
	cred *syscall.Credential // the postgres user's, when we run as root
	proc *process
	seq  atomic.Int64 // database name counter
}

var pgShared = sync.OnceValues(func() (*pgCluster, error) {
	c, err := startPostgres()
	if err == nil {
		onStop(c.stop)
	}
	return c, err
})

// pgBinDir returns ROTOR_TEST_PG_BIN, or else the newest /usr/lib/postgresql/*/bin.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	return locate("ROTOR_TEST_PG_BIN", append(dirs, "/usr/lib/postgresql/15/bin")...)
}

func startPostgres() (*pgCluster, error) {
	bin := pgBinDir()
	if err := requireExecutables(bin, "initdb", "postgres", "psql"); err != nil {
		return nil, fmt.Errorf("server binaries not found (ROTOR_TEST_PG_BIN=%q): %v\n%s (Debian package postgresql)", bin, err, installHint)
	}
	dir, err := os.MkdirTemp("", "rotor-pg-")
	if err != nil {
		return nil, err
	}
	c := &pgCluster{bin: bin, dir: dir}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()

	// PostgreSQL refuses to run as root: run it as the postgres user, which must own the data.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user to own the data directory: %w\n%s", err, installHint)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}

	start := time.Now()
	initdb := c.command("initdb", "-D", c.dataDir(), "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	initDuration := time.Since(start)

	p, err := retryPorts(c.startServer)
	if err != nil {
		return nil, err
	}
	c.proc = p
	ok = true
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testenv: PostgreSQL on 127.0.0.1:%d (initdb %s, start %s), data in %s\n",
			c.port, initDuration.Round(time.Millisecond), time.Since(start.Add(initDuration)).Round(time.Millisecond), dir)
	}
	return c, nil
}

func (c *pgCluster) dataDir() string { return filepath.Join(c.dir, "data") }

// startServer runs postgres itself rather than pg_ctl, which would detach it: as our child it
// dies with the test binary. Ready is what pg_ctl -w waits for: "ready" in postmaster.pid.
func (c *pgCluster) startServer() (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c.port = port
	cmd := c.command("postgres", "-D", c.dataDir(),
		"-p", strconv.Itoa(port), "-k", c.dir, "-c", "listen_addresses=127.0.0.1",
		// Throwaway data: durability off.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		// Parallel tests each hold a pool.
		"-c", "max_connections=300")
	p, err := startProcess("postgres", filepath.Join(c.dir, "postgres.log"), cmd)
	if err != nil {
		return nil, err
	}
	pidFile := filepath.Join(c.dataDir(), "postmaster.pid")
	err = poll(p, "postmaster.pid to say ready", 30*time.Second, func() error {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return err
		}
		// Line 8 is the postmaster status (PM_STATUS_READY is "ready   ").
		lines := strings.Split(string(b), "\n")
		if len(lines) < 8 || strings.TrimSpace(lines[7]) != "ready" {
			return fmt.Errorf("postmaster status %q", lines[min(7, len(lines)-1)])
		}
		return nil
	})
	if err != nil {
		p.stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return p, nil
}

// command returns a command running the PostgreSQL program name, as the postgres user when we
// are root.
func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = childEnv("HOME=" + c.dir)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// psql runs one SQL command as the superuser over TCP.
func (c *pgCluster) psql(sql string) error {
	cmd := c.command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
		"-p", strconv.Itoa(c.port), "-U", "postgres", "-d", "postgres", "-c", sql)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("psql -c %q: %w: %s", sql, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *pgCluster) stop() {
	// SIGQUIT: immediate shutdown, nothing worth keeping.
	c.proc.stop(syscall.SIGQUIT, 10*time.Second)
	os.RemoveAll(c.dir)
}
