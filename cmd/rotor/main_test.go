package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/store/sqlstore"
)

// result is what one in-process run of rotor printed.
type result struct {
	code           int
	stdout, stderr string
}

// rotorRun runs rotor in process with args and the given environment (nothing else is visible).
func rotorRun(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, lookup)
	return result{code, out.String(), errb.String()}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := rotorRun(t, nil, "version")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "rotor dev\n")
	require.Contains(t, r.stdout, "commit ")
	require.Contains(t, r.stdout, runtime.Version())
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	t.Parallel()
	r := rotorRun(t, nil, "rotat")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `unknown command "rotat"`)

	r = rotorRun(t, nil, "--log-level", "loud", "version")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `--log-level: log level "loud"`)
}

// migrationOutput is what rotor migrate prints on an empty database of driver: the pending list
// (for --status), the applied list, and the final line, from the migrations built into rotor.
func migrationOutput(t *testing.T, driver string) (status, applied, upToDate string) {
	t.Helper()
	ms, err := sqlstore.LoadMigrations(sqlstore.Embedded())
	require.NoError(t, err)
	status = fmt.Sprintf("schema version 0, %d pending\n", len(ms))
	for _, m := range ms {
		status += fmt.Sprintf("pending %04d_%s\n", m.Version, m.Name)
		applied += fmt.Sprintf("applied %04d_%s\n", m.Version, m.Name)
	}
	upToDate = fmt.Sprintf("schema version %d (%s), up to date\n", len(ms), driver)
	return status, applied, upToDate
}
