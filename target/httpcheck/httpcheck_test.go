package httpcheck_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/internal/testclock"
	"github.com/rotorhq/rotor/target/httpcheck"
	"github.com/rotorhq/rotor/target/targettest"
)

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// consumer answers health checks from a script of (status, body), repeating the last one.
type consumer struct {
	mu      sync.Mutex
	script  []answer
	checks  int
	methods []string
	auth    []string
	srv     *httptest.Server
}

type answer struct {
	status int
	body   string
}

func newConsumer(t *testing.T, script ...answer) *consumer {
	t.Helper()
	c := &consumer{script: script}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		a := c.script[min(c.checks, len(c.script)-1)]
		c.checks++
		c.methods = append(c.methods, r.Method)
		c.auth = append(c.auth, r.Header.Get("Authorization"))
		c.mu.Unlock()
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *consumer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks
}

func env(k string) (string, bool) {
	if k == "HEALTH_TOKEN" {
		return "fake-health-token", true
	}
	return "", false
}

func build(t *testing.T, clock *testclock.Jumping, log *slog.Logger, settings string) rotor.Target {
	t.Helper()
	tg, err := tryBuild(clock, log, settings)
	require.NoError(t, err)
	return tg
}

func tryBuild(clock *testclock.Jumping, log *slog.Logger, settings string) (rotor.Target, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	deps := httpcheck.Deps{LookupEnv: env, Logger: log}
	if clock != nil {
		deps.Clock = clock
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	tg := httpcheck.Factory(deps)(d, n.Content[0], "steps.h")
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

func TestConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		ReadOnly: true,
		New: func(t *testing.T, log *slog.Logger) *targettest.Fixture {
			c := newConsumer(t, answer{503, "starting"}, answer{200, `{"status":"UP"}`})
			tg := build(t, testclock.NewJumping(start), log, fmt.Sprintf(`{url: %q, json_field: status, json_value: UP, allow_http: true, allow_private: true}`, c.srv.URL+"/actuator/health"))
			return &targettest.Fixture{Target: tg, State: func(*testing.T) []byte { return nil }}
		},
	})
}

func TestPollsUntilHealthy(t *testing.T) {
	t.Parallel()
	c := newConsumer(t, answer{503, "down"}, answer{200, `{"status":"DOWN"}`}, answer{200, `{"status":"UP","components":{"db":{"status":"UP"}}}`})
	clock := testclock.NewJumping(start)
	tg := build(t, clock, nil, fmt.Sprintf(`{url: %q, json_field: components.db.status, json_value: UP, interval: 10s, allow_http: true, allow_private: true}`, c.srv.URL))
	o, err := tg.Publish(context.Background(), targettest.Deployment(1))
	require.NoError(t, err)
	require.False(t, o.Changed)
	require.Equal(t, c.srv.Listener.Addr().String()+" healthy (HTTP 200) after 3 checks", o.Message)
	require.Equal(t, []time.Duration{10 * time.Second, 10 * time.Second}, clock.Waits())
}

func TestConsecutiveSuccesses(t *testing.T) {
	t.Parallel()
	c := newConsumer(t, answer{200, "ok"}, answer{500, "flap"}, answer{200, "ok"}, answer{200, "ok"})
	tg := build(t, testclock.NewJumping(start), nil, fmt.Sprintf(`{url: %q, successes: 2, body_contains: ok, allow_http: true, allow_private: true}`, c.srv.URL))
	o, err := tg.Publish(context.Background(), targettest.Deployment(1))
	require.NoError(t, err)
	require.Contains(t, o.Message, "after 4 checks")
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	d := targettest.Deployment(1)
	c := newConsumer(t, answer{503, "error: bad secret " + d.Value.Reveal() + "\nstack..."})
	clock := testclock.NewJumping(start)
	var logs strings.Builder
	tg := build(t, clock, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		fmt.Sprintf(`{url: %q, interval: 5s, timeout: 20s, allow_http: true, allow_private: true}`, c.srv.URL))
	_, err := tg.Publish(context.Background(), d)
	require.ErrorContains(t, err, "http_check "+c.srv.URL+": not healthy within 20s (4 checks); last: HTTP 503: \"error: bad secret [REDACTED]\"")
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err))
	require.Equal(t, 4, c.count())
	require.NotContains(t, logs.String(), d.Value.Reveal())
	require.Contains(t, logs.String(), "health check failed")
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	down := newConsumer(t, answer{503, "down"})
	tg := build(t, nil, nil, fmt.Sprintf(`{url: %q, method: HEAD, allow_http: true, allow_private: true}`, down.srv.URL))
	require.NoError(t, tg.Preflight(context.Background(), rotor.Deployment{}), "an unhealthy consumer does not block a rotation")
	require.Equal(t, []string{"HEAD"}, down.methods)

	denied := newConsumer(t, answer{401, ""})
	tg = build(t, nil, nil, fmt.Sprintf(`{url: %q, allow_http: true, allow_private: true}`, denied.srv.URL))
	require.ErrorContains(t, tg.Preflight(context.Background(), rotor.Deployment{}), "HTTP 401: rotor is not allowed to read the health endpoint")

	refused := build(t, nil, nil, fmt.Sprintf(`{url: %q, allow_http: true}`, down.srv.URL))
	err := refused.Preflight(context.Background(), rotor.Deployment{})
	require.ErrorContains(t, err, "loopback address: list it in allow_hosts or set allow_private: true")
	_, err = refused.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, "outbound address refused by policy")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "a refusal is not polled until the timeout")
	require.Equal(t, 1, down.count())
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for settings, want := range map[string]string{
		`{url: "https://a.example", method: POST}`:                         `steps.h.method: "POST": use GET or HEAD`,
		`{url: "https://a.example", expect_status: [200, 999]}`:            "steps.h.expect_status[1]: 999 is not an HTTP status",
		`{url: "https://a.example", json_field: status}`:                   "json_field and json_value go together",
		`{url: "https://a.example", method: HEAD, body_contains: x}`:       "HEAD answers have no body to check",
		`{url: "https://a.example", interval: 1m, timeout: 30s}`:           "steps.h.timeout: must be at least the interval (1m)",
		`{url: "https://a.example", interval: 10ms}`:                       "steps.h.interval: at least 1s",
		`{url: "http://a.example", allow_http: true, bearer_token: env:T}`: "credentials are only sent over https",
	} {
		_, err := tryBuild(nil, nil, settings)
		require.ErrorContains(t, err, want, settings)
	}
}
