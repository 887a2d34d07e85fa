// Package graph is rotor's thin Microsoft Graph v1.0 client, over azcore's HTTP pipeline, for
// exactly the calls rotor makes: list and delta of applications and service principals, owners,
// app management policies, and adding and removing credentials.
//
// Reads are idempotent and retried by error class (throttled: honour Retry-After; transient:
// exponential backoff with jitter), with a cap on attempts and the context's deadline, and the
// client slows down on its own when Graph reports the throttling quota nearly used
// (x-ms-throttle-limit-percentage). Writes are never retried: addPassword has no idempotency key,
// so the caller reconciles an ambiguous outcome (see Ambiguous).
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
)

// DefaultScope is the token scope for Microsoft Graph in the public cloud.
const DefaultScope = "https://graph.microsoft.com/.default"

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// Scope asked for in tokens; DefaultScope unless a national cloud needs another.
	Scope string
	// Transport sends requests; an *http.Client trusting extra CAs, for instance.
	Transport policy.Transporter
	// Clock paces retries and throttling pauses.
	Clock clockwork.Clock
	// MaxAttempts bounds the attempts of one read (default 8).
	MaxAttempts int
	// BaseBackoff is the first retry wait of a transient error, doubled each time (default 1s),
	// up to MaxBackoff (default 60s). Waits are jittered between half and the full value.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// RequestTimeout bounds each attempt (default 60s).
	RequestTimeout time.Duration
	// Observe, when set, is told about every response or transport failure.
	Observe func(Call)
}

// Call describes one HTTP exchange with Graph, for metrics.
type Call struct {
	Method       string
	Route        string // the path with ids replaced by {id}
	StatusCode   int    // 0 for a transport failure
	Duration     time.Duration
	ThrottlePct  float64 // x-ms-throttle-limit-percentage, when sent
	ResourceUnit int     // x-ms-resource-unit, when sent
}

// Client calls Microsoft Graph. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	cred  azcore.TokenCredential
	pl    runtime.Pipeline
	opts  Options
	clock clockwork.Clock

	mu         sync.Mutex
	pauseUntil time.Time // set when Graph says its quota is nearly used
	rnd        *rand.Rand
}

// New returns a client for the Graph endpoint baseURL (e.g. https://graph.microsoft.com/v1.0),
// authenticating with cred.
func New(baseURL string, cred azcore.TokenCredential, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("graph: base URL %q is not an absolute http(s) URL", baseURL)
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 60 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 60 * time.Second
	}
	pl := runtime.NewPipeline("rotor", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{opts.Scope}, nil)},
	}, &policy.ClientOptions{
		Transport: opts.Transport,
		Retry:     policy.RetryOptions{MaxRetries: -1}, // rotor retries by error class itself
		Telemetry: policy.TelemetryOptions{ApplicationID: "rotor"},
		// Loopback endpoints (a local test service) may be plain http; anything else must be https.
		InsecureAllowCredentialWithHTTP: u.Scheme == "http" && isLoopback(u.Hostname()),
	})
	return &Client{base: u, cred: cred, pl: pl, opts: opts, clock: opts.Clock, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// BaseURL returns the Graph endpoint the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// endpoint joins path (and query) to the base URL.
func (c *Client) endpoint(path string, q url.Values) string {
	u := c.base.String() + path
	if len(q) > 0 {
		// OData wants %20, not +, for spaces in $filter.
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u
}

// checkLink refuses a next or delta link that leaves the Graph endpoint: the client would send
// its bearer token there.
func (c *Client) checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("graph: malformed link %q: %w", link, err)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return fmt.Errorf("graph: refusing link to %s://%s: not the Graph endpoint %s://%s", u.Scheme, u.Host, c.base.Scheme, c.base.Host)
	}
	return nil
}

// response is what one attempt returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, method, u string, body any, header map[string]string) (*response, error) {
	if err := c.waitPause(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	req, err := runtime.NewRequest(ctx, method, u)
	if err != nil {
		return nil, fmt.Errorf("graph: build request: %w", err)
	}
	for k, v := range header {
		req.Raw().Header.Set(k, v)
	}
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, fmt.Errorf("graph: encode request: %w", err)
		}
	}
	start := c.clock.Now()
	resp, err := c.pl.Do(req)
	call := Call{Method: method, Route: route(u, c.base.Path), Duration: c.clock.Since(start)}
	if err != nil {
		c.observe(call)
		return nil, rotor.Transient(fmt.Errorf("graph %s %s: %w", method, redactURL(u), err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	call.StatusCode = resp.StatusCode
	call.ThrottlePct, _ = strconv.ParseFloat(resp.Header.Get("x-ms-throttle-limit-percentage"), 64)
	call.ResourceUnit, _ = strconv.Atoi(resp.Header.Get("x-ms-resource-unit"))
	c.observe(call)
	if err != nil {
		return nil, rotor.Transient(fmt.Errorf("graph %s %s: read response: %w", method, redactURL(u), err))
	}
	c.notePressure(call.ThrottlePct)
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (c *Client) observe(call Call) {
	if c.opts.Observe != nil {
		c.opts.Observe(call)
	}
}

// notePressure pauses the client when Graph reports its quota 80% used or more: the higher the
// use, the longer the pause, up to a full 10 s resource-unit window at 180%.
// https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits
func (c *Client) notePressure(pct float64) {
	if pct < 0.8 {
		return
	}
	pause := time.Duration(min(pct-0.8, 1.0) * float64(10*time.Second))
	c.mu.Lock()
	if until := c.clock.Now().Add(pause); until.After(c.pauseUntil) {
		c.pauseUntil = until
	}
	c.mu.Unlock()
}

func (c *Client) waitPause(ctx context.Context) error {
	c.mu.Lock()
	wait := c.pauseUntil.Sub(c.clock.Now())
	c.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	return c.sleep(ctx, wait)
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// do makes a request and decodes a 2xx JSON answer into out (when not nil). Idempotent requests
// are retried by error class; others are tried once.
func (c *Client) do(ctx context.Context, method, u string, body any, header map[string]string, idempotent bool, out any) error {
	var lastErr error
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, method, u, body, header, out)
		if err == nil {
			return nil
		}
		lastErr = err
		class := rotor.ClassOf(err)
		if !idempotent || attempt >= c.opts.MaxAttempts || (class != rotor.ClassThrottled && class != rotor.ClassTransient) {
			if attempt > 1 {
				return fmt.Errorf("after %d attempts: %w", attempt, lastErr)
			}
			return lastErr
		}
		wait := c.backoff(attempt)
		if ra := rotor.RetryAfterOf(err); ra > 0 {
			wait = ra // Graph says how long; retrying earlier only extends the throttling
		}
		if err := c.sleep(ctx, wait); err != nil {
			return errors.Join(lastErr, err)
		}
	}
}

func (c *Client) attempt(ctx context.Context, method, u string, body any, header map[string]string, out any) error {
	resp, err := c.send(ctx, method, u, body, header)
	if err != nil {
		return err
	}
	if resp.status < 200 || resp.status > 299 {
		return parseError(method, redactURL(u), &http.Response{StatusCode: resp.status, Header: resp.header}, resp.body, c.clock.Now).classified()
	}
	if out == nil || len(resp.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("graph %s %s: decode response: %w", method, redactURL(u), err)
	}
	return nil
}

// backoff is the jittered wait before retry number attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BaseBackoff << min(attempt-1, 20)
	if d > c.opts.MaxBackoff || d <= 0 {
		d = c.opts.MaxBackoff
	}
	c.mu.Lock()
	j := c.rnd.Float64()
	c.mu.Unlock()
	return d/2 + time.Duration(j*float64(d/2))
}

// redactURL drops the query, which can hold opaque tokens, from URLs in errors and logs.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// route turns a request URL into a low-cardinality label: /applications/{id}/addPassword.
func route(u, basePath string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "unknown"
	}
	segs := strings.Split(strings.TrimPrefix(strings.TrimPrefix(p.Path, basePath), "/"), "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, '('); j >= 0 {
			segs[i] = s[:j] + "/{id}" // applications(appId='...')
		} else if len(s) >= 32 {
			segs[i] = "{id}"
		}
	}
	return "/" + strings.Join(segs, "/")
}
