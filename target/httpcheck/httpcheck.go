// Package httpcheck is the "http_check" step type: it polls a consumer's health URL until the
// consumer answers as expected, so that a rotation counts as deployed only once the consumer
// came back healthy with the new secret (after a restart or a refresh earlier in the steps).
//
//   - name: orders-healthy
//     type: http_check
//     url: https://orders.internal.example/healthz
//     expect_status: [200]
//     json_field: status
//     json_value: UP
//     interval: 5s
//     timeout: 3m
//
// A check passes when the status is one of expect_status (default 200), the body contains
// body_contains (when set) and the JSON field json_field (a dot path; when set) equals
// json_value. The step succeeds after successes consecutive passing checks (default 1) and fails
// (transient: the engine may retry) when timeout passes first. It changes nothing: Changed is
// always false.
//
// Preflight sends one request and requires an HTTP answer other than 401, 403 or 407; it does not
// require the consumer to be healthy, since an emergency rotation often starts while it is not.
package httpcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/internal/httpstep"
)

// Type is the step type name.
const Type = "http_check"

// HeaderPreflight marks the check preflight sends, so that a consumer (or a test) can tell it from
// the checks after a deployment.
const HeaderPreflight = "Rotor-Preflight"

// Deps are the step type's dependencies.
type Deps = httpstep.Deps

// Config is the step's settings.
type Config struct {
	URL string `yaml:"url,required"`
	// Method is GET (default) or HEAD.
	Method string `yaml:"method"`
	// ExpectStatus lists the statuses that pass; default [200].
	ExpectStatus []int `yaml:"expect_status"`
	// BodyContains must appear in the body.
	BodyContains string `yaml:"body_contains"`
	// JSONField (a dot path into a JSON body, e.g. status or components.db.status) must equal
	// JSONValue.
	JSONField string `yaml:"json_field"`
	JSONValue string `yaml:"json_value"`
	// Successes is how many consecutive checks must pass; default 1.
	Successes int `yaml:"successes"`
	// Interval between checks; default 5s.
	Interval config.Duration `yaml:"interval"`
	// Timeout for the whole step; default 2m.
	Timeout config.Duration `yaml:"timeout"`
	// RequestTimeout of one check; default 10s.
	RequestTimeout config.Duration `yaml:"request_timeout"`
	// BearerToken is sent as Authorization: Bearer, a reference.
	BearerToken secret.Ref `yaml:"bearer_token"`

	AllowHTTP    bool     `yaml:"allow_http"`
	CAFile       string   `yaml:"ca_file"`
	AllowPrivate bool     `yaml:"allow_private"`
	AllowHosts   []string `yaml:"allow_hosts"`
}

// Target is a configured http_check step.
type Target struct {
	cfg                               Config
	ep                                *httpstep.Endpoint
	deps                              Deps
	method                            string
	expect                            []int
	successes                         int
	interval, timeout, requestTimeout time.Duration
}

var _ rotor.Target = (*Target)(nil)

// Factory returns the http_check step type's factory.
func Factory(deps Deps) target.Factory {
	deps = deps.WithDefaults()
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		t := &Target{
			cfg: c, deps: deps, method: strings.ToUpper(c.Method), expect: c.ExpectStatus, successes: c.Successes,
			interval: httpstep.Duration(c.Interval, 5*time.Second), timeout: httpstep.Duration(c.Timeout, 2*time.Minute),
			requestTimeout: httpstep.Duration(c.RequestTimeout, 10*time.Second),
		}
		t.ep = httpstep.Parse(d, at, httpstep.Settings{URL: c.URL, AllowHTTP: c.AllowHTTP, CAFile: c.CAFile, AllowPrivate: c.AllowPrivate, AllowHosts: c.AllowHosts}, deps.Resolver)
		switch t.method {
		case "":
			t.method = http.MethodGet
		case http.MethodGet, http.MethodHead:
		default:
			d.Errorf(at+".method", "%q: use GET or HEAD (a check must not change anything)", c.Method)
		}
		if len(t.expect) == 0 {
			t.expect = []int{http.StatusOK}
		}
		for i, s := range t.expect {
			if s < 100 || s > 599 {
				d.Errorf(fmt.Sprintf("%s.expect_status[%d]", at, i), "%d is not an HTTP status", s)
			}
		}
		if (c.JSONField == "") != (c.JSONValue == "") {
			d.Errorf(at+".json_field", "json_field and json_value go together")
		}
		if t.method == http.MethodHead && (c.BodyContains != "" || c.JSONField != "") {
			d.Errorf(at+".method", "HEAD answers have no body to check")
		}
		if c.Successes < 0 || c.Successes > 100 {
			d.Errorf(at+".successes", "%d: want 1 to 100", c.Successes)
		}
		if t.successes == 0 {
			t.successes = 1
		}
		if t.interval < time.Second {
			d.Errorf(at+".interval", "at least 1s")
		}
		if t.timeout < t.interval {
			d.Errorf(at+".timeout", "must be at least the interval (%s)", config.FormatDuration(t.interval))
		}
		if c.BearerToken != "" && t.ep != nil && t.ep.URL.Scheme != "https" {
			d.Errorf(at+".url", "credentials are only sent over https")
		}
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

func (t *Target) header() (http.Header, secret.Value, error) {
	h := http.Header{"Accept": {"application/json, text/plain, */*"}}
	tok, err := httpstep.Resolve(t.cfg.BearerToken, t.deps.LookupEnv, "bearer_token")
	if err != nil {
		return nil, secret.Value{}, err
	}
	if !tok.IsZero() {
		h.Set("Authorization", "Bearer "+tok.Reveal())
	}
	return h, tok, nil
}

// Preflight sends one check and requires an answer that is not an authentication failure.
func (t *Target) Preflight(ctx context.Context, _ rotor.Deployment) error {
	h, _, err := t.header()
	if err != nil {
		return err
	}
	h.Set(HeaderPreflight, "1")
	r, err := t.ep.Send(ctx, t.deps.Clock, t.requestTimeout, t.method, nil, h)
	if err != nil {
		return err
	}
	switch r.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusProxyAuthRequired:
		return rotor.Permanent(fmt.Errorf("http_check %s: HTTP %d: rotor is not allowed to read the health endpoint", t.ep, r.Status))
	}
	return nil
}

// check judges one answer; it returns why it fails, or "".
func (t *Target) check(r *httpstep.Response, secrets ...secret.Value) string {
	if !slices.Contains(t.expect, r.Status) {
		return "HTTP " + strconv.Itoa(r.Status) + httpstep.Snippet(r.Body, secrets...)
	}
	if t.cfg.BodyContains != "" && !strings.Contains(string(r.Body), t.cfg.BodyContains) {
		return fmt.Sprintf("HTTP %d without %q in the body", r.Status, t.cfg.BodyContains)
	}
	if t.cfg.JSONField != "" {
		var v any
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return fmt.Sprintf("HTTP %d: the body is not JSON", r.Status)
		}
		got, ok := lookup(v, t.cfg.JSONField)
		if !ok {
			return fmt.Sprintf("HTTP %d: no field %s in the body", r.Status, t.cfg.JSONField)
		}
		if got != t.cfg.JSONValue {
			return fmt.Sprintf("HTTP %d: %s is %s", r.Status, t.cfg.JSONField, strconv.Quote(secret.Scrub(got, secrets...)))
		}
	}
	return ""
}

// lookup follows a dot path into decoded JSON and renders the value as text.
func lookup(v any, path string) (string, bool) {
	for seg := range strings.SplitSeq(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			n, ok := c[seg]
			if !ok {
				return "", false
			}
			v = n
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return "", false
			}
			v = c[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case nil:
		return "null", true
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b), true
	default:
		return fmt.Sprint(x), true
	}
}

// Publish polls until the consumer passes successes consecutive checks, or timeout passes.
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	h, tok, err := t.header()
	if err != nil {
		return rotor.Outcome{}, err
	}
	clock := t.deps.Clock
	deadline := clock.Now().Add(t.timeout)
	passed, checks := 0, 0
	var last string
	for {
		checks++
		r, err := t.ep.Send(ctx, clock, t.requestTimeout, t.method, nil, h)
		switch {
		case err != nil && ctx.Err() != nil:
			return rotor.Outcome{}, err
		case err != nil && rotor.ClassOf(err) == rotor.ClassPermanent:
			return rotor.Outcome{}, err // refused by the address policy, a certificate problem
		case err != nil:
			passed, last = 0, err.Error()
		default:
			if why := t.check(r, d.Value, tok); why != "" {
				passed, last = 0, why
			} else {
				passed++
				last = "HTTP " + strconv.Itoa(r.Status)
			}
		}
		if passed >= t.successes {
			return rotor.Outcome{Message: fmt.Sprintf("%s healthy (%s) after %d %s", t.ep.URL.Host, last, checks, plural(checks, "check"))}, nil
		}
		if passed == 0 {
			t.deps.Logger.Debug("health check failed", "url", t.ep.String(), "check", checks, "why", last)
		}
		if !clock.Now().Add(t.interval).Before(deadline) {
			return rotor.Outcome{}, rotor.Transient(fmt.Errorf("http_check %s: not healthy within %s (%d %s); last: %s",
				t.ep, config.FormatDuration(t.timeout), checks, plural(checks, "check"), last))
		}
		select {
		case <-ctx.Done():
			return rotor.Outcome{}, ctx.Err()
		case <-clock.After(t.interval):
		}
	}
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
