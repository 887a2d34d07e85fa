package main

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/internal/testenv"
)

// TestMain stops the PostgreSQL server testenv starts for this test binary.
func TestMain(m *testing.M) { testenv.Main(m) }

const postgresConfig = "store:\n  driver: postgres\n  dsn: env:ROTOR_TEST_DSN\n"

// testDSN is a fresh database's DSN with a password in it (the server trusts local connections
// and ignores it), so that tests can check it is never printed.
func testDSN(t *testing.T) (dsn, password string) {
	t.Helper()
	u, err := url.Parse(testenv.Postgres(t))
	require.NoError(t, err)
	password = "not-a-real-password-" + strings.Repeat("x", 8)
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String(), password
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	dsn, password := testDSN(t)
	env := map[string]string{"ROTOR_TEST_DSN": dsn}
	p := writeFile(t, "rotor.yaml", postgresConfig)

	status, applied, upToDate := migrationOutput(t, "postgres")
	r := rotorRun(t, env, "-c", p, "migrate", "--status")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, status, r.stdout)

	r = rotorRun(t, env, "-c", p, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, applied+upToDate, r.stdout)

	r = rotorRun(t, env, "-c", p, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, upToDate, r.stdout)
	require.NotContains(t, r.stdout+r.stderr, password)
}

// Replicas started at once all succeed, and the migration runs once.
func TestMigratePostgresConcurrent(t *testing.T) {
	t.Parallel()
	dsn, _ := testDSN(t)
	env := map[string]string{"ROTOR_TEST_DSN": dsn}
	p := writeFile(t, "rotor.yaml", postgresConfig)
	results := make([]result, 4)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = rotorRun(t, env, "-c", p, "migrate") })
	}
	wg.Wait()
	_, applied, upToDate := migrationOutput(t, "postgres")
	var all string
	for _, r := range results {
		require.Equal(t, 0, r.code, r.stderr)
		require.Contains(t, r.stdout, upToDate)
		all += r.stdout
	}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(applied, "\n"), "\n") {
		require.Equal(t, 1, strings.Count(all, strings.TrimSuffix(line, "\n")+"\n"), "each migration is applied once: %q", line)
	}
}

func TestMigratePostgresErrors(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "rotor.yaml", postgresConfig)
	r := rotorRun(t, nil, "-c", p, "migrate")
	require.Equal(t, 1, r.code)
	require.Equal(t, "rotor: store.dsn: secret env:ROTOR_TEST_DSN: environment variable ROTOR_TEST_DSN is not set\n", r.stderr)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	const password = "not-a-real-password-unreachable"
	r = rotorRun(t, map[string]string{"ROTOR_TEST_DSN": "postgres://rotor:" + password + "@" + closed + "/rotor?sslmode=disable"}, "-c", p, "migrate")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `rotor: postgres: connect to database "rotor" on `+closed+` as user "rotor": `)
	require.NotContains(t, r.stdout+r.stderr, password)

	r = rotorRun(t, nil, "-c", writeFile(t, "rotor.yaml", "store:\n  driver: postgres\n"), "migrate")
	require.Equal(t, exitInvalidConfig, r.code)
	require.Contains(t, r.stderr, "store.dsn: required for driver postgres")
}
