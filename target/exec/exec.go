// Package exec is the "exec" step type: it runs a command that deploys the secret somewhere rotor
// has no step type for.
//
//   - name: push-to-legacy
//     type: exec
//     command: [/usr/local/bin/push-secret, --app, orders]
//     secret_via: stdin          # or env, with secret_env: NAME
//     timeout: 2m
//     unchanged_exit_code: 3     # the script found nothing to change
//
// The command is an argument list run without a shell (write [sh, -c, "..."] for one). The
// secret never appears in the arguments (other users can read them in /proc): it is written to
// the command's standard input, followed by a newline, or put in one environment variable. The
// command's environment is small: PATH, HOME, LANG, LC_ALL, TZ and TMPDIR from rotor's, the names
// listed in inherit_env, the step's env settings, and the deployment's fields:
//
//	ROTOR_ROTATION_ID ROTOR_STEP ROTOR_TENANT ROTOR_TENANT_ID ROTOR_OWNER_KIND ROTOR_OWNER_ID
//	ROTOR_APP_ID ROTOR_APP_NAME ROTOR_KEY_ID ROTOR_PREVIOUS_KEY_ID ROTOR_NOT_BEFORE ROTOR_EXPIRES_AT
//
// rotor's own environment is not passed on: it may hold rotor's secrets.
//
// Exit status 0 is success (Changed); unchanged_exit_code, when set, is success without change
// (so that a re-run after a crash can say it had nothing to do); 75 (EX_TEMPFAIL) is a failure
// worth retrying; anything else fails the step. When the timeout passes, or the rotation is
// stopped, the command's whole process group is killed. The output (standard output and error,
// at most 64 KiB) is scrubbed of the secret and its last line goes into the step's message.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/internal/fields"
)

// Type is the step type name.
const Type = "exec"

// ExitTempFail is the exit status (sysexits EX_TEMPFAIL) that asks for a retry.
const ExitTempFail = 75

// MaxOutput is how much of a command's output is kept.
const MaxOutput = 64 << 10

// waitDelay bounds how long rotor waits for the output pipes after the command exited or was
// killed: a descendant that left the process group may hold them open.
const waitDelay = 5 * time.Second

// Deps are the step type's dependencies.
type Deps struct {
	Clock     clockwork.Clock             // times the commands; default real
	LookupEnv func(string) (string, bool) // rotor's environment, for PATH and inherit_env; default os.LookupEnv
	Logger    *slog.Logger                // default: discard
}

// Config is the step's settings.
type Config struct {
	// Command is the program and its arguments. A program without a slash is looked up in PATH.
	Command []string `yaml:"command,required"`
	// SecretVia is stdin (default) or env.
	SecretVia string `yaml:"secret_via"`
	// SecretEnv names the variable that holds the secret with secret_via: env; default
	// ROTOR_SECRET.
	SecretEnv string `yaml:"secret_env"`
	// Env adds variables; values are templates of the deployment's fields ({{.AppID}}).
	Env map[string]string `yaml:"env"`
	// InheritEnv names variables of rotor's environment passed on as they are.
	InheritEnv []string `yaml:"inherit_env"`
	// Dir is the working directory; default rotor's.
	Dir string `yaml:"dir"`
	// Timeout; default 5m.
	Timeout config.Duration `yaml:"timeout"`
	// PreflightCommand runs at preflight, without the secret; it must exit 0.
	PreflightCommand []string `yaml:"preflight_command"`
	// UnchangedExitCode is the exit status meaning "succeeded, nothing to change".
	UnchangedExitCode *int `yaml:"unchanged_exit_code"`
}

// Target is a configured exec step.
type Target struct {
	cfg     Config
	deps    Deps
	env     []envTemplate
	timeout time.Duration
}

type envTemplate struct {
	name string
	tpl  *fields.Template
}

var _ rotor.Target = (*Target)(nil)

var baseEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// Factory returns the exec step type's factory.
func Factory(deps Deps) target.Factory {
	if deps.Clock == nil {
		deps.Clock = clockwork.NewRealClock()
	}
	if deps.LookupEnv == nil {
		deps.LookupEnv = os.LookupEnv
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		t := &Target{cfg: c, deps: deps, timeout: 5 * time.Minute}
		if c.Timeout != 0 {
			t.timeout = c.Timeout.D()
		}
		checkCommand(d, at+".command", c.Command, c.Command != nil)
		checkCommand(d, at+".preflight_command", c.PreflightCommand, false)
		switch c.SecretVia {
		case "", "stdin":
			if c.SecretEnv != "" {
				d.Errorf(at+".secret_env", "only with secret_via: env")
			}
		case "env":
			if t.cfg.SecretEnv == "" {
				t.cfg.SecretEnv = "ROTOR_SECRET"
			}
			if !validEnvName(t.cfg.SecretEnv) {
				d.Errorf(at+".secret_env", "%q is not an environment variable name", c.SecretEnv)
			} else if strings.HasPrefix(t.cfg.SecretEnv, "ROTOR_") && t.cfg.SecretEnv != "ROTOR_SECRET" {
				d.Errorf(at+".secret_env", "%q: ROTOR_ names are rotor's (ROTOR_SECRET is allowed)", c.SecretEnv)
			}
		default:
			d.Errorf(at+".secret_via", "%q: use stdin or env", c.SecretVia)
		}
		for _, k := range slices.Sorted(maps.Keys(c.Env)) {
			p := at + ".env." + k
			switch {
			case !validEnvName(k):
				d.Errorf(p, "not an environment variable name")
				continue
			case strings.HasPrefix(k, "ROTOR_"):
				d.Errorf(p, "ROTOR_ names are rotor's")
				continue
			case k == t.cfg.SecretEnv:
				d.Errorf(p, "is the secret's variable")
				continue
			}
			tpl, err := fields.ParseTemplate(c.Env[k])
			if err != nil {
				d.Errorf(p, "%v", err)
				continue
			}
			t.env = append(t.env, envTemplate{name: k, tpl: tpl})
		}
		for i, k := range c.InheritEnv {
			if !validEnvName(k) {
				d.Errorf(fmt.Sprintf("%s.inherit_env[%d]", at, i), "%q is not an environment variable name", k)
			}
		}
		if c.Dir != "" && !filepath.IsAbs(c.Dir) {
			d.Errorf(at+".dir", "%q: must be an absolute path", c.Dir)
		}
		if c.Timeout != 0 && c.Timeout.D() < time.Second {
			d.Errorf(at+".timeout", "at least 1s")
		}
		if u := c.UnchangedExitCode; u != nil && (*u <= 0 || *u > 255 || *u == ExitTempFail) {
			d.Errorf(at+".unchanged_exit_code", "%d: want 1 to 255, not 75 (which asks for a retry)", *u)
		}
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

func checkCommand(d *config.Decoder, at string, argv []string, required bool) {
	if len(argv) == 0 {
		if required {
			d.Errorf(at, "give the program and its arguments, e.g. [/usr/local/bin/deploy, --app, orders]")
		}
		return
	}
	prog := argv[0]
	switch {
	case prog == "":
		d.Errorf(at+"[0]", "the program is empty")
	case strings.ContainsRune(prog, '/') && !filepath.IsAbs(prog):
		d.Errorf(at+"[0]", "%q: a path to the program must be absolute", prog)
	case len(argv) == 1 && strings.ContainsAny(prog, " |;&$><"):
		d.Errorf(at, "%q looks like a shell command line: write [sh, -c, %q] to run a shell", prog, prog)
	}
}

func validEnvName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

// environ builds the command's environment; with withSecret, the secret's variable too.
func (t *Target) environ(d rotor.Deployment, withSecret bool) ([]string, error) {
	var env []string
	for _, k := range slices.Concat(baseEnv, t.cfg.InheritEnv) {
		if v, ok := t.deps.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := t.deps.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	for _, e := range t.env {
		v, err := e.tpl.Render(d)
		if err != nil {
			return nil, rotor.Permanent(fmt.Errorf("env.%s: %w", e.name, err))
		}
		env = append(env, e.name+"="+v)
	}
	env = append(env, fields.Env(d)...)
	if withSecret && t.cfg.SecretVia == "env" {
		env = append(env, t.cfg.SecretEnv+"="+d.Value.Reveal())
	}
	return env, nil
}

// lookPath finds argv[0] with the PATH of env, and checks that it is an executable file.
func lookPath(prog string, env []string) (string, error) {
	if !strings.ContainsRune(prog, '/') {
		path := ""
		for _, e := range env {
			if p, ok := strings.CutPrefix(e, "PATH="); ok {
				path = p
			}
		}
		for _, dir := range filepath.SplitList(path) {
			if dir == "" || !filepath.IsAbs(dir) {
				continue // never the working directory
			}
			if p := filepath.Join(dir, prog); executable(p) == nil {
				return p, nil
			}
		}
		return "", rotor.Permanent(fmt.Errorf("program %s: not found in PATH", prog))
	}
	if err := executable(prog); err != nil {
		return "", rotor.Permanent(fmt.Errorf("program %s: %w", prog, err))
	}
	return prog, nil
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return errors.New("is not executable")
	}
	return nil
}

// Preflight checks that the program exists and is executable and the directory exists, then
// runs preflight_command, when set, without the secret.
func (t *Target) Preflight(ctx context.Context, d rotor.Deployment) error {
	env, err := t.environ(d, false)
	if err != nil {
		return err
	}
	if _, err := lookPath(t.cfg.Command[0], env); err != nil {
		return err
	}
	if t.cfg.Dir != "" {
		if fi, err := os.Stat(t.cfg.Dir); err != nil || !fi.IsDir() {
			return rotor.Permanent(fmt.Errorf("dir %s: not a directory", t.cfg.Dir))
		}
	}
	if len(t.cfg.PreflightCommand) == 0 {
		return nil
	}
	r, err := t.run(ctx, t.cfg.PreflightCommand, append(env, "ROTOR_PREFLIGHT=1"), nil)
	if err != nil {
		return err
	}
	if r.code != 0 {
		return rotor.Permanent(fmt.Errorf("preflight_command %s exited %d%s", t.cfg.PreflightCommand[0], r.code, tail(r.output, 160)))
	}
	return nil
}

// result is a finished command.
type result struct {
	code     int
	output   string // scrubbed, capped
	timedOut bool
}

var errTimedOut = errors.New("timed out")

// run runs argv with env and stdin (nil: none), scrubbing secrets from its output.
func (t *Target) run(ctx context.Context, argv, env []string, stdin []byte, secrets ...secret.Value) (result, error) {
	prog, err := lookPath(argv[0], env)
	if err != nil {
		return result{}, err
	}
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := osexec.CommandContext(rctx, prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Dir = t.cfg.Dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out := &capped{limit: MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return result{}, rotor.Permanent(fmt.Errorf("start %s: %w", argv[0], err))
	}
	timer := t.deps.Clock.AfterFunc(t.timeout, func() { cancel(errTimedOut) })
	err = cmd.Wait()
	timer.Stop()
	r := result{output: secret.Scrub(out.String(), secrets...)}
	var exitErr *osexec.ExitError
	switch {
	case errors.Is(context.Cause(rctx), errTimedOut):
		r.timedOut = true
		return r, rotor.Transient(fmt.Errorf("%s: timed out after %s; its process group was killed%s", argv[0], config.FormatDuration(t.timeout), tail(r.output, 120)))
	case ctx.Err() != nil:
		return r, fmt.Errorf("%s: stopped: %w", argv[0], ctx.Err())
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
		if r.code < 0 {
			return r, rotor.Permanent(fmt.Errorf("%s: %s%s", argv[0], exitErr, tail(r.output, 120)))
		}
		return r, nil
	case err != nil:
		return r, rotor.Permanent(fmt.Errorf("%s: %w", argv[0], err))
	}
	return r, nil
}

// Publish runs the command with the secret.
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	if d.Value.IsZero() {
		return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("%s: %w", t.cfg.Command[0], fields.ErrNoValue))
	}
	env, err := t.environ(d, true)
	if err != nil {
		return rotor.Outcome{}, err
	}
	var stdin []byte
	if t.cfg.SecretVia != "env" {
		stdin = append(d.Value.RevealBytes(), '\n')
	}
	r, err := t.run(ctx, t.cfg.Command, env, stdin, d.Value)
	prog := filepath.Base(t.cfg.Command[0])
	t.deps.Logger.Debug("command finished", "step", d.StepName, "program", prog, "exit", r.code, "timed_out", r.timedOut, "output", truncate(r.output, 2048))
	if err != nil {
		return rotor.Outcome{}, err
	}
	switch {
	case r.code == 0:
		return rotor.Outcome{Changed: true, Message: prog + " exited 0" + tail(r.output, 160)}, nil
	case t.cfg.UnchangedExitCode != nil && r.code == *t.cfg.UnchangedExitCode:
		return rotor.Outcome{Message: prog + " had nothing to change (exit " + strconv.Itoa(r.code) + ")" + tail(r.output, 140)}, nil
	case r.code == ExitTempFail:
		return rotor.Outcome{}, rotor.Transient(fmt.Errorf("%s exited %d (temporary failure)%s", prog, r.code, tail(r.output, 160)))
	}
	return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("%s exited %d%s", prog, r.code, tail(r.output, 160)))
}

// tail returns ": <the last non-empty line of out, at most n bytes>" or "".
func tail(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return ""
	}
	if len(last) > n {
		last = "..." + last[len(last)-n:]
	}
	last = strings.ToValidUTF8(last, "?")
	return ": " + last
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// capped keeps the last limit bytes written to it (a command's last lines say how it ended); it
// is safe for the two output streams.
type capped struct {
	mu    sync.Mutex
	b     []byte
	limit int
	lost  bool
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b = append(c.b, p...)
	if over := len(c.b) - c.limit; over > 0 {
		c.b = append(c.b[:0], c.b[over:]...)
		c.lost = true
	}
	return len(p), nil
}

// String returns the output kept. When the start was dropped, the first (partial) line is
// dropped too: it could begin in the middle of a secret, which scrubbing would not recognise.
func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := string(c.b)
	if c.lost {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = ""
		}
		s = "[output truncated]\n" + s
	}
	return s
}

var _ io.Writer = (*capped)(nil)
