package springrefresh_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/internal/testclock"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target/springrefresh"
	"github.com/rotorhq/rotor/target/targettest"
)

const actuatorPassword = "fake-actuator-password-NOT-REAL"

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// app is a fake Spring Boot application: its configuration source holds a client secret, and a
// refresh binds the source's value, answering the keys that changed, as RefreshEndpoint does.
type app struct {
	mu        sync.Mutex
	source    string // what the configuration source (a file, a mounted Secret) holds
	live      string // what the application uses
	refreshes int
	answers   []int // statuses to answer first
	exposed   []string
	srv       *httptest.Server
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{exposed: []string{"self", "health", "refresh"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /actuator", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorised(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		links := map[string]any{}
		for _, e := range a.exposed {
			links[e] = map[string]any{"href": "https://" + r.Host + "/actuator/" + e}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"_links": links})
	})
	mux.HandleFunc("POST /actuator/refresh", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorised(r) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if len(a.answers) > 0 {
			s := a.answers[0]
			a.answers = a.answers[1:]
			w.WriteHeader(s)
			return
		}
		a.refreshes++
		changed := []string{}
		if a.source != a.live {
			a.live = a.source
			changed = append(changed, "spring.cloud.azure.active-directory.credential.client-secret")
		}
		w.Header().Set("Content-Type", "application/vnd.spring-boot.actuator.v3+json")
		_ = json.NewEncoder(w).Encode(changed)
	})
	mux.HandleFunc("POST /actuator/busrefresh", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /actuator/odd/refresh", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"ok"}`)
	})
	a.srv = httptest.NewTLSServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) authorised(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	return ok && u == "rotor" && p == actuatorPassword
}

func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	return p
}

func env(k string) (string, bool) {
	switch k {
	case "ACTUATOR_PASSWORD":
		return actuatorPassword, true
	case "WRONG_PASSWORD":
		return "fake-wrong", true
	}
	return "", false
}

func build(t *testing.T, log *slog.Logger, settings string) rotor.Target {
	t.Helper()
	tg, err := tryBuild(log, settings)
	require.NoError(t, err)
	return tg
}

func tryBuild(log *slog.Logger, settings string) (rotor.Target, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	tg := springrefresh.Factory(springrefresh.Deps{Clock: testclock.NewJumping(start), LookupEnv: env, Logger: log})(d, n.Content[0], "steps.s")
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

func (a *app) settings(t *testing.T, path string) string {
	return fmt.Sprintf(`{url: %q, username: rotor, password: env:ACTUATOR_PASSWORD, ca_file: %q, allow_hosts: [127.0.0.1]}`, a.srv.URL+path, caFile(t, a.srv))
}

// withStore publishes as a store step followed by the refresh would: the value first reaches
// the application's configuration source, then the refresh makes the application use it.
type withStore struct {
	rotor.Target
	a *app
}

func (w withStore) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	w.a.mu.Lock()
	w.a.source = d.Value.Reveal()
	w.a.mu.Unlock()
	return w.Target.Publish(ctx, d)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, log *slog.Logger) *targettest.Fixture {
			a := newApp(t)
			return &targettest.Fixture{
				Target: withStore{build(t, log, a.settings(t, "/actuator/refresh")), a},
				State: func(*testing.T) []byte {
					a.mu.Lock()
					defer a.mu.Unlock()
					if a.live == "" {
						return nil
					}
					return []byte(a.live)
				},
				Current: func(*testing.T) (secret.Value, bool) {
					a.mu.Lock()
					defer a.mu.Unlock()
					return secret.New(a.live), a.live != ""
				},
			}
		},
	})
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tg := build(t, nil, a.settings(t, "/actuator/refresh"))
	ctx := context.Background()
	require.NoError(t, tg.Preflight(ctx, rotor.Deployment{}))
	require.Zero(t, a.refreshes, "preflight refreshes nothing")

	a.source = "fake-new"
	a.answers = []int{503}
	o, err := tg.Publish(ctx, targettest.Deployment(1))
	require.NoError(t, err)
	require.True(t, o.Changed)
	require.Equal(t, "refreshed "+a.srv.Listener.Addr().String()+": 1 property changed (spring.cloud.azure.active-directory.credential.client-secret)", o.Message)
	o, err = tg.Publish(ctx, targettest.Deployment(1))
	require.NoError(t, err)
	require.False(t, o.Changed)
	require.Equal(t, "refreshed "+a.srv.Listener.Addr().String()+": no property changed", o.Message)

	a.exposed = []string{"health"}
	require.ErrorContains(t, tg.Preflight(ctx, rotor.Deployment{}), "the refresh endpoint is not exposed: add it to management.endpoints.web.exposure.include")

	wrong := build(t, nil, strings.Replace(a.settings(t, "/actuator/refresh"), "ACTUATOR_PASSWORD", "WRONG_PASSWORD", 1))
	require.ErrorContains(t, wrong.Preflight(ctx, rotor.Deployment{}), "HTTP 401: the actuator refuses rotor's credentials")
	_, err = wrong.Publish(ctx, targettest.Deployment(1))
	require.ErrorContains(t, err, "HTTP 401")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
}

func TestBusRefreshAndOddAnswers(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bus := build(t, nil, a.settings(t, "/actuator/busrefresh"))
	o, err := bus.Publish(context.Background(), targettest.Deployment(1))
	require.NoError(t, err)
	require.True(t, o.Changed)
	require.Equal(t, "bus refresh accepted by "+a.srv.Listener.Addr().String()+" (HTTP 204)", o.Message)

	odd := build(t, nil, a.settings(t, "/actuator/odd/refresh"))
	_, err = odd.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, `HTTP 200 but the answer is not the JSON array of changed keys a refresh returns: "{\"status\":\"ok\"}"`)
}

func TestOutboundPolicy(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tg := build(t, nil, fmt.Sprintf(`{url: %q, username: rotor, password: env:ACTUATOR_PASSWORD, ca_file: %q}`, a.srv.URL+"/actuator/refresh", caFile(t, a.srv)))
	_, err := tg.Publish(context.Background(), targettest.Deployment(1))
	require.ErrorContains(t, err, "a loopback address: list it in allow_hosts or set allow_private: true")
	require.Zero(t, a.refreshes)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for settings, want := range map[string]string{
		`{url: "https://app.example/actuator/health"}`:                                                     "want the actuator's refresh or busrefresh endpoint",
		`{url: "https://app.example/actuator/refresh", password: env:P}`:                                   "steps.s.username: required with password",
		`{url: "https://app.example/actuator/refresh", username: u}`:                                       "steps.s.password: required with username",
		`{url: "https://app.example/actuator/refresh", username: u, password: p}`:                          `steps.s.password: must be a reference`,
		`{url: "https://app.example/actuator/refresh", username: u, password: env:P, bearer_token: env:T}`: "use either username/password or bearer_token",
		`{url: "http://app.example/actuator/refresh", allow_http: true, bearer_token: env:T}`:              "credentials are only sent over https",
	} {
		_, err := tryBuild(nil, settings)
		require.ErrorContains(t, err, want, settings)
	}
	_, err := tryBuild(nil, `{url: "http://app:8080/actuator/busrefresh/orders:**", allow_http: true, allow_private: true}`)
	require.NoError(t, err, "busrefresh with a destination")
}
