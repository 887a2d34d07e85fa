// Package springrefresh is the "spring_refresh" step type: it makes a Spring Boot application
// re-read its configuration through Spring Cloud's Actuator endpoints, after a store step wrote
// the new secret where the application reads it (a file, a Kubernetes Secret mounted as files,
// a config server's backend).
//
//   - name: refresh-orders
//     type: spring_refresh
//     url: https://orders.internal.example:8443/actuator/refresh
//     username: rotor
//     password: env:ORDERS_ACTUATOR_PASSWORD
//
// POST /actuator/refresh answers the keys of the properties that changed (a JSON array): the step
// succeeds on 2xx with such an array, and reports Changed when it is not empty. POST
// /actuator/busrefresh (Spring Cloud Bus: every instance) answers 204 without a body: the step
// succeeds on 2xx and always reports Changed. Preflight reads the Actuator discovery page
// (GET /actuator) to check that the endpoint is reachable, that rotor is authorised and that
// the endpoint is exposed, without refreshing anything.
package springrefresh

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
const Type = "spring_refresh"

// Deps are the step type's dependencies.
type Deps = httpstep.Deps

// Config is the step's settings.
type Config struct {
	// URL of the endpoint: .../actuator/refresh or .../actuator/busrefresh.
	URL string `yaml:"url,required"`
	// Username and Password for HTTP basic authentication; Password is a reference.
	Username string     `yaml:"username"`
	Password secret.Ref `yaml:"password"`
	// BearerToken for bearer authentication, a reference.
	BearerToken secret.Ref `yaml:"bearer_token"`
	// Timeout of one attempt; default 30s (a refresh rebinds beans: it can take a while).
	Timeout config.Duration `yaml:"timeout"`
	// MaxAttempts, including the first; default 3.
	MaxAttempts int `yaml:"max_attempts"`

	AllowHTTP    bool     `yaml:"allow_http"`
	CAFile       string   `yaml:"ca_file"`
	AllowPrivate bool     `yaml:"allow_private"`
	AllowHosts   []string `yaml:"allow_hosts"`
}

// Target is a configured spring_refresh step.
type Target struct {
	cfg     Config
	ep      *httpstep.Endpoint
	bus     bool // busrefresh: no body to judge
	deps    Deps
	timeout time.Duration
	backoff httpstep.Backoff
}

var _ rotor.Target = (*Target)(nil)

// Factory returns the spring_refresh step type's factory.
func Factory(deps Deps) target.Factory {
	deps = deps.WithDefaults()
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		ep := httpstep.Parse(d, at, httpstep.Settings{URL: c.URL, AllowHTTP: c.AllowHTTP, CAFile: c.CAFile, AllowPrivate: c.AllowPrivate, AllowHosts: c.AllowHosts}, deps.Resolver)
		t := &Target{cfg: c, ep: ep, deps: deps, timeout: httpstep.Duration(c.Timeout, 30*time.Second),
			backoff: httpstep.Backoff{Attempts: cmp.Or(c.MaxAttempts, 3), Initial: 2 * time.Second, Max: 30 * time.Second, MaxRetryAfter: 2 * time.Minute}}
		if ep != nil {
			switch last := lastSegment(ep.URL.Path); last {
			case "refresh":
			case "busrefresh":
				t.bus = true
			default:
				if prev := lastSegment(strings.TrimSuffix(strings.TrimSuffix(ep.URL.Path, "/"), "/"+last)); prev == "busrefresh" {
					t.bus = true // busrefresh/{destination}
				} else {
					d.Errorf(at+".url", "%s: want the actuator's refresh or busrefresh endpoint, e.g. https://HOST/actuator/refresh", ep)
				}
			}
			if c.Password != "" && c.Username == "" {
				d.Errorf(at+".username", "required with password")
			}
			if c.Username != "" && c.Password == "" {
				d.Errorf(at+".password", "required with username")
			}
			if c.BearerToken != "" && c.Username != "" {
				d.Errorf(at+".bearer_token", "use either username/password or bearer_token")
			}
			if (c.Password != "" || c.BearerToken != "") && ep.URL.Scheme != "https" {
				d.Errorf(at+".url", "credentials are only sent over https")
			}
		}
		if c.MaxAttempts < 0 || c.MaxAttempts > 10 {
			d.Errorf(at+".max_attempts", "%d: want 1 to 10", c.MaxAttempts)
		}
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

func lastSegment(p string) string {
	p = strings.TrimSuffix(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// header returns the request headers with authentication, and the credential (for scrubbing).
func (t *Target) header() (http.Header, secret.Value, error) {
	h := http.Header{"Accept": {"application/json"}}
	pw, err := httpstep.Resolve(t.cfg.Password, t.deps.LookupEnv, "password")
	if err != nil {
		return nil, secret.Value{}, err
	}
	if t.cfg.Username != "" {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(t.cfg.Username, pw.Reveal())
		h.Set("Authorization", r.Header.Get("Authorization"))
		return h, pw, nil
	}
	tok, err := httpstep.Resolve(t.cfg.BearerToken, t.deps.LookupEnv, "bearer_token")
	if err != nil {
		return nil, secret.Value{}, err
	}
	if !tok.IsZero() {
		h.Set("Authorization", "Bearer "+tok.Reveal())
	}
	return h, tok, nil
}

// Preflight GETs the actuator discovery page next to the endpoint: it must answer, accept the
// credentials and list the endpoint. An application whose discovery page is turned off (404)
// passes when it is reachable.
func (t *Target) Preflight(ctx context.Context, _ rotor.Deployment) error {
	h, cred, err := t.header()
	if err != nil {
		return err
	}
	u := *t.ep.URL
	path := strings.TrimSuffix(u.Path, "/")
	name := "refresh"
	if t.bus {
		name = "busrefresh"
	}
	u.Path = path[:strings.LastIndex(path, "/"+name)]
	resp, err := t.ep.SendTo(ctx, t.deps.Clock, t.timeout, http.MethodGet, &u, h)
	if err != nil {
		return err
	}
	what := "spring_refresh " + httpstep.Redact(&u, "")
	switch {
	case resp.Status == http.StatusNotFound:
		return nil // discovery turned off: the publish will tell
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		return rotor.Permanent(fmt.Errorf("%s: HTTP %d: the actuator refuses rotor's credentials", what, resp.Status))
	case resp.Status < 200 || resp.Status > 299:
		return httpstep.StatusError(what, resp, cred)
	}
	var links struct {
		Links map[string]json.RawMessage `json:"_links"`
	}
	if json.Unmarshal(resp.Body, &links) != nil || links.Links == nil {
		return rotor.Permanent(fmt.Errorf("%s: not an actuator discovery page (no _links)", what))
	}
	if _, ok := links.Links[name]; !ok {
		return rotor.Permanent(fmt.Errorf("%s: the %s endpoint is not exposed: add it to management.endpoints.web.exposure.include", what, name))
	}
	return nil
}

// Publish POSTs to the endpoint and judges the answer.
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	h, cred, err := t.header()
	if err != nil {
		return rotor.Outcome{}, err
	}
	what := "spring_refresh " + t.ep.String()
	var resp *httpstep.Response
	n, err := t.backoff.Do(ctx, t.deps.Clock, t.deps.Logger, what, func(int) error {
		r, err := t.ep.Send(ctx, t.deps.Clock, t.timeout, http.MethodPost, nil, h)
		if err != nil {
			return err
		}
		if r.Status < 200 || r.Status > 299 {
			return httpstep.StatusError(what, r, cred, d.Value)
		}
		resp = r
		return nil
	})
	if err != nil {
		if n > 1 {
			err = fmt.Errorf("%w (after %d attempts)", err, n)
		}
		return rotor.Outcome{}, err
	}
	if t.bus {
		return rotor.Outcome{Changed: true, Message: fmt.Sprintf("bus refresh accepted by %s (HTTP %d)", t.ep.URL.Host, resp.Status)}, nil
	}
	var keys []string
	if err := json.Unmarshal(resp.Body, &keys); err != nil {
		return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("%s: HTTP %d but the answer is not the JSON array of changed keys a refresh returns%s", what, resp.Status, httpstep.Snippet(resp.Body, cred, d.Value)))
	}
	if len(keys) == 0 {
		return rotor.Outcome{Message: "refreshed " + t.ep.URL.Host + ": no property changed"}, nil
	}
	msg := fmt.Sprintf("refreshed %s: %d properties changed", t.ep.URL.Host, len(keys))
	if len(keys) == 1 {
		msg = "refreshed " + t.ep.URL.Host + ": 1 property changed"
	}
	list := strings.Join(keys, ", ")
	if len(list) <= 120 {
		msg += " (" + secret.Scrub(list, d.Value) + ")"
	}
	return rotor.Outcome{Changed: true, Message: msg}, nil
}
