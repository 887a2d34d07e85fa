package exec_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target/exec"
	"github.com/rotorhq/rotor/target/targettest"
)

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// rotorEnv is rotor's own environment as the tests pretend it: it holds a secret of rotor's that
// commands must not see.
func rotorEnv(k string) (string, bool) {
	switch k {
	case "PATH":
		return "/usr/local/bin:/usr/bin:/bin", true
	case "ROTOR_KEK":
		return "fake-rotor-key-encryption-key", true
	case "HTTPS_PROXY":
		return "http://proxy.example:3128", true
	}
	return "", false
}

func build(t *testing.T, clock clockwork.Clock, log *slog.Logger, settings string) rotor.Target {
	t.Helper()
	tg, err := tryBuild(clock, log, settings)
	require.NoError(t, err)
	return tg
}

func tryBuild(clock clockwork.Clock, log *slog.Logger, settings string) (rotor.Target, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	tg := exec.Factory(exec.Deps{Clock: clock, LookupEnv: rotorEnv, Logger: log})(d, n.Content[0], "steps.x")
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700))
	return p
}

// store is a deployment script: it keeps the secret from stdin in a file, saying when there
// was nothing to change, and echoes it, as careless scripts do.
const store = `set -eu
read -r value
echo "deploying $value for $ROTOR_APP_ID"
if [ -f "$1" ] && [ "$(cat "$1")" = "$value" ]; then echo unchanged; exit 3; fi
printf %s "$value" > "$1"
echo "stored $(printf %s "$value" | base64)"
`

func TestConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, log *slog.Logger) *targettest.Fixture {
			dir := t.TempDir()
			out := filepath.Join(dir, "deployed")
			sh := script(t, dir, "store.sh", store)
			tg := build(t, clockwork.NewFakeClockAt(start), log, fmt.Sprintf(`{command: [%q, %q], unchanged_exit_code: 3}`, sh, out))
			read := func() ([]byte, bool) {
				b, err := os.ReadFile(out)
				return b, err == nil
			}
			return &targettest.Fixture{
				Target: tg,
				State: func(*testing.T) []byte {
					b, _ := read()
					return b
				},
				Current: func(*testing.T) (secret.Value, bool) {
					b, ok := read()
					return secret.FromBytes(b), ok
				},
			}
		},
	})
}

func TestEnvironmentAndScrubbing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sh := script(t, dir, "env.sh", `env | sort > "$1"; echo "secret is $MY_SECRET"; echo "args: $*"`)
	envFile := filepath.Join(dir, "env.txt")
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tg := build(t, clockwork.NewFakeClockAt(start), log, fmt.Sprintf(`{command: [%q, %q], secret_via: env, secret_env: MY_SECRET,
		env: {CLIENT_ID: "{{.AppID}}"}, inherit_env: [HTTPS_PROXY], dir: %q}`, sh, envFile, dir))
	d := targettest.Deployment(1)
	d.StepName = "legacy"
	require.NoError(t, tg.Preflight(context.Background(), rotor.Deployment{}))
	o, err := tg.Publish(context.Background(), d)
	require.NoError(t, err)
	require.True(t, o.Changed)
	require.Equal(t, "env.sh exited 0: args: "+envFile, o.Message)
	require.NotContains(t, logs.String(), d.Value.Reveal())
	require.Contains(t, logs.String(), "secret is [REDACTED]")

	b, err := os.ReadFile(envFile)
	require.NoError(t, err)
	env := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, want := range []string{
		"MY_SECRET=" + d.Value.Reveal(), "CLIENT_ID=" + d.AppID, "HTTPS_PROXY=http://proxy.example:3128",
		"PATH=/usr/local/bin:/usr/bin:/bin", "ROTOR_APP_ID=" + d.AppID, "ROTOR_KEY_ID=" + d.KeyID,
		"ROTOR_ROTATION_ID=" + d.RotationID, "ROTOR_TENANT_ID=" + d.TenantID, "ROTOR_STEP=legacy",
		"ROTOR_EXPIRES_AT=" + d.ExpiresAt.Format(time.RFC3339), "ROTOR_PREVIOUS_KEY_ID=",
	} {
		require.Contains(t, env, want)
	}
	for _, e := range env {
		require.False(t, strings.HasPrefix(e, "ROTOR_KEK="), "rotor's own environment is not passed on")
	}
}

func TestExitStatuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := targettest.Deployment(1)
	for _, tc := range []struct {
		body, err string
		class     rotor.ErrorClass
	}{
		{body: `read -r v; echo "failed to push $v"; echo "last line"; exit 2`, err: "fail.sh exited 2: last line", class: rotor.ClassPermanent},
		{body: `echo "vault sealed"; exit 75`, err: "fail.sh exited 75 (temporary failure): vault sealed", class: rotor.ClassTransient},
		{body: `read -r v; echo "bad: $v" >&2; exit 1`, err: "fail.sh exited 1: bad: [REDACTED]", class: rotor.ClassPermanent},
		{body: `kill -9 $$`, err: "signal: killed", class: rotor.ClassPermanent},
	} {
		sh := script(t, dir, "fail.sh", tc.body)
		tg := build(t, clockwork.NewFakeClockAt(start), nil, fmt.Sprintf(`{command: [%q]}`, sh))
		_, err := tg.Publish(context.Background(), d)
		require.ErrorContains(t, err, tc.err)
		require.False(t, secret.Contains(err.Error(), d.Value))
		require.Equal(t, tc.class, rotor.ClassOf(err), tc.body)
	}
}

func TestLongOutputKeepsTheEnd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := targettest.Deployment(1)
	// The secret is printed where the 64 KiB cut falls: no part of it may survive.
	sh := script(t, dir, "loud.sh", `read -r v; head -c 70000 /dev/zero | tr '\0' x; printf "%s\n" "$v"; i=0; while [ $i -lt 10 ]; do echo "line $i $v"; i=$((i+1)); done; echo done`)
	tg := build(t, clockwork.NewFakeClockAt(start), nil, fmt.Sprintf(`{command: [%q]}`, sh))
	o, err := tg.Publish(context.Background(), d)
	require.NoError(t, err)
	require.Equal(t, "loud.sh exited 0: done", o.Message)
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec.sh")
	require.NoError(t, os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o600))
	marker := filepath.Join(dir, "preflight-ran")
	check := script(t, dir, "check.sh", `[ "$ROTOR_PREFLIGHT" = 1 ] && [ -z "${ROTOR_SECRET:-}" ] && touch "$1" && echo "cannot reach backend" && exit 4`)
	for settings, want := range map[string]string{
		fmt.Sprintf(`{command: [%q]}`, noexec):                                                      "program " + noexec + ": is not executable",
		fmt.Sprintf(`{command: [%q]}`, filepath.Join(dir, "missing")):                               "no such file or directory",
		`{command: [no-such-program-rotor]}`:                                                        "program no-such-program-rotor: not found in PATH",
		fmt.Sprintf(`{command: [sh], dir: %q}`, filepath.Join(dir, "x")):                            "not a directory",
		fmt.Sprintf(`{command: [sh], secret_via: env, preflight_command: [%q, %q]}`, check, marker): "preflight_command " + check + " exited 4: cannot reach backend",
	} {
		tg := build(t, clockwork.NewFakeClockAt(start), nil, settings)
		require.ErrorContains(t, tg.Preflight(context.Background(), rotor.Deployment{}), want, settings)
	}
	_, err := os.Stat(marker)
	require.NoError(t, err, "the preflight command ran without the secret")
	require.NoError(t, build(t, clockwork.NewFakeClockAt(start), nil, `{command: [sh, -c, "exit 0"]}`).Preflight(context.Background(), rotor.Deployment{}))
}

func TestStdinEndsWithNewline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin")
	tg := build(t, clockwork.NewFakeClockAt(start), nil, fmt.Sprintf(`{command: [sh, -c, 'cat > "$0"', %q]}`, out))
	d := targettest.Deployment(1)
	_, err := tg.Publish(context.Background(), d)
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, d.Value.Reveal()+"\n", string(b))
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for settings, want := range map[string]string{
		`{}`:                                     "steps.x.command: required field is missing",
		`{command: []}`:                          "steps.x.command: give the program and its arguments",
		`{command: ["deploy.sh --all | tee x"]}`: `looks like a shell command line: write [sh, -c, "deploy.sh --all | tee x"]`,
		`{command: [./deploy.sh]}`:               `steps.x.command[0]: "./deploy.sh": a path to the program must be absolute`,
		`{command: [sh], secret_via: file}`:      `steps.x.secret_via: "file": use stdin or env`,
		`{command: [sh], secret_env: X}`:         "steps.x.secret_env: only with secret_via: env",
		`{command: [sh], secret_via: env, secret_env: ROTOR_APP_ID}`: "ROTOR_ names are rotor's",
		`{command: [sh], env: {ROTOR_X: y}}`:                         "steps.x.env.ROTOR_X: ROTOR_ names are rotor's",
		`{command: [sh], env: {X: "{{.Value}}"}}`:                    "steps.x.env.X: template:",
		`{command: [sh], unchanged_exit_code: 75}`:                   "steps.x.unchanged_exit_code: 75: want 1 to 255, not 75",
		`{command: [sh], timeout: 10ms}`:                             "steps.x.timeout: at least 1s",
		`{command: [sh], dir: relative}`:                             `steps.x.dir: "relative": must be an absolute path`,
	} {
		_, err := tryBuild(nil, nil, settings)
		require.ErrorContains(t, err, want, settings)
	}
}
