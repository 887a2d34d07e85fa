// Package httpstep is what the HTTP step types (webhook, spring_refresh, http_check) share: the
// endpoint settings and their validation, an HTTP client bound to the outbound address policy,
// single requests with a timeout on rotor's clock, status classification and retries with
// backoff.
package httpstep

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target/netpolicy"
)

// Deps are the HTTP step types' dependencies. The zero value uses the real clock, the process
// environment, the system resolver and discards logs.
type Deps struct {
	Clock     clockwork.Clock
	LookupEnv func(string) (string, bool) // resolves env: references to secrets
	Resolver  netpolicy.Resolver
	Logger    *slog.Logger
}

// WithDefaults fills in the zero fields.
func (d Deps) WithDefaults() Deps {
	if d.Clock == nil {
		d.Clock = clockwork.NewRealClock()
	}
	if d.LookupEnv == nil {
		d.LookupEnv = os.LookupEnv
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// Settings are the endpoint settings every HTTP step has.
type Settings struct {
	URL          string
	AllowHTTP    bool // plain http:// URLs
	CAFile       string
	AllowPrivate bool
	AllowHosts   []string
}

// Endpoint is a validated URL with its address policy and a client made on first use.
type Endpoint struct {
	URL    *url.URL
	policy *netpolicy.Policy
	caFile string

	mu     sync.Mutex
	client *http.Client
}

// Parse validates s, reporting problems through d under at (url, allow_hosts, ca_file). It
// returns nil when there were problems. It does no I/O.
func Parse(d *config.Decoder, at string, s Settings, resolver netpolicy.Resolver) *Endpoint {
	before := len(d.Errs())
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		d.Errorf(at+".url", "%q is not an http(s) URL", Redact(u, s.URL))
	case u.Scheme == "http" && !s.AllowHTTP:
		d.Errorf(at+".url", "%s: plain http sends everything in clear; use https, or set allow_http: true for a receiver on a trusted network", Redact(u, s.URL))
	case u.User != nil:
		d.Errorf(at+".url", "%s: credentials in the URL would be logged; use the step's auth settings", Redact(u, s.URL))
	}
	if s.CAFile != "" && s.CAFile[0] != '/' {
		d.Errorf(at+".ca_file", "%q: must be an absolute path", s.CAFile)
	}
	p, err := netpolicy.New(s.AllowPrivate, s.AllowHosts, resolver)
	if err != nil {
		for i, e := range netpolicy.CheckHosts(s.AllowHosts) {
			if e != nil {
				d.Errorf(fmt.Sprintf("%s.allow_hosts[%d]", at, i), "%v", e)
			}
		}
	}
	if len(d.Errs()) > before || s.URL == "" {
		return nil
	}
	return &Endpoint{URL: u, policy: p, caFile: s.CAFile}
}

// Redact returns u without credentials, query or fragment: what rotor may print of a URL (a
// query string often carries a token). raw is used when u is nil.
func Redact(u *url.URL, raw string) string {
	if u == nil {
		if i := indexAny(raw, "?#"); i >= 0 {
			raw = raw[:i]
		}
		return raw
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

func indexAny(s, chars string) int {
	for i := range len(s) {
		for j := range len(chars) {
			if s[i] == chars[j] {
				return i
			}
		}
	}
	return -1
}

// String returns the endpoint's redacted URL.
func (e *Endpoint) String() string { return Redact(e.URL, "") }

// Client returns the HTTP client, reading the CA file on first use.
func (e *Endpoint) Client() (*http.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != nil {
		return e.client, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.caFile != "" {
		pem, err := os.ReadFile(e.caFile)
		if err != nil {
			return nil, rotor.Permanent(fmt.Errorf("ca_file: %w", err))
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, rotor.Permanent(fmt.Errorf("ca_file %s: no PEM certificate in it", e.caFile))
		}
		tlsCfg.RootCAs = pool
	}
	e.client = e.policy.Client(tlsCfg)
	return e.client, nil
}

// WithTimeout returns a context cancelled after d on clock, and its cancel function. The
// cause of the cancellation is ErrTimeout.
func WithTimeout(ctx context.Context, clock clockwork.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := clock.AfterFunc(d, func() { cancel(ErrTimeout) })
	return ctx, func() { t.Stop(); cancel(context.Canceled) }
}

// ErrTimeout is the cause of a request's context cancelled by its timeout.
var ErrTimeout = errors.New("timed out")

// MaxBody is how much of a response body is read.
const MaxBody = 64 << 10

// Response is a response with its (capped) body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send makes one request, bounded by timeout on clock. Transport errors are classified:
// refusals by the address policy and certificate problems are permanent, the rest transient.
// Errors name the redacted URL, never its query.
func (e *Endpoint) Send(ctx context.Context, clock clockwork.Clock, timeout time.Duration, method string, body []byte, header http.Header) (*Response, error) {
	return e.send(ctx, clock, timeout, method, e.URL, body, header)
}

// SendTo is Send to another URL of the same endpoint (same policy and trust), without a body.
func (e *Endpoint) SendTo(ctx context.Context, clock clockwork.Clock, timeout time.Duration, method string, u *url.URL, header http.Header) (*Response, error) {
	return e.send(ctx, clock, timeout, method, u, nil, header)
}

func (e *Endpoint) send(ctx context.Context, clock clockwork.Clock, timeout time.Duration, method string, u *url.URL, body []byte, header http.Header) (*Response, error) {
	client, err := e.Client()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rctx, cancel := WithTimeout(ctx, clock, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return nil, rotor.Permanent(fmt.Errorf("%s %s: %w", method, Redact(u, ""), err))
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "rotor")
	}
	what := method + " " + Redact(u, "")
	resp, err := client.Do(req)
	if err != nil {
		return nil, e.transportErr(ctx, rctx, what, timeout, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return nil, e.transportErr(ctx, rctx, what, timeout, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// transportErr classifies a transport error; what is "<METHOD> <redacted URL>".
func (e *Endpoint) transportErr(ctx, rctx context.Context, what string, timeout time.Duration, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error prints the whole URL, query included
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if errors.Is(context.Cause(rctx), ErrTimeout) {
		return rotor.Transient(fmt.Errorf("%s: no answer within %s", what, config.FormatDuration(timeout)))
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, netpolicy.ErrRefused):
		return rotor.Permanent(fmt.Errorf("%s: %w", what, err))
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return rotor.Permanent(fmt.Errorf("%s: %w (set ca_file to trust a private CA)", what, err))
	case errors.As(err, &netErr):
		return rotor.Transient(fmt.Errorf("%s: %w", what, err))
	}
	return rotor.Transient(fmt.Errorf("%s: %w", what, err))
}

// Probe checks, without sending a request, that the endpoint is reachable under the address
// policy and, for https, that its certificate verifies.
func (e *Endpoint) Probe(ctx context.Context, clock clockwork.Clock, timeout time.Duration) error {
	client, err := e.Client()
	if err != nil {
		return err
	}
	tr := client.Transport.(*http.Transport)
	rctx, cancel := WithTimeout(ctx, clock, timeout)
	defer cancel()
	port := e.URL.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[e.URL.Scheme]
	}
	conn, err := e.policy.DialContext(rctx, "tcp", net.JoinHostPort(e.URL.Hostname(), port))
	if err != nil {
		return e.transportErr(ctx, rctx, "connect to "+e.String(), timeout, err)
	}
	defer conn.Close()
	if e.URL.Scheme == "https" {
		cfg := tr.TLSClientConfig.Clone()
		cfg.ServerName = e.URL.Hostname()
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(rctx); err != nil {
			return e.transportErr(ctx, rctx, "TLS handshake with "+e.String(), timeout, err)
		}
		_ = tc.Close()
	}
	return nil
}

// StatusError classifies a non-success status: 429 throttled (with Retry-After), 408 and 5xx
// transient, the rest permanent. what describes the request; body (scrubbed of secrets) is
// quoted, short.
func StatusError(what string, r *Response, secrets ...secret.Value) error {
	err := fmt.Errorf("%s: HTTP %d%s", what, r.Status, Snippet(r.Body, secrets...))
	switch {
	case r.Status == http.StatusTooManyRequests:
		return rotor.Throttled(err, RetryAfter(r.Header))
	case r.Status == http.StatusRequestTimeout, r.Status >= 500:
		return rotor.Transient(err)
	}
	return rotor.Permanent(err)
}

// Snippet returns ": <the first line of body, at most 120 bytes>" with secrets scrubbed, or "".
func Snippet(body []byte, secrets ...secret.Value) string {
	s := secret.Scrub(string(body), secrets...)
	if i := indexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	s = string(bytes.ToValidUTF8([]byte(s), []byte("?")))
	if s == "" {
		return ""
	}
	return ": " + strconv.Quote(s)
}

// RetryAfter reads a Retry-After header in seconds (an HTTP date is not honoured).
func RetryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// Backoff says how a step retries.
type Backoff struct {
	Attempts      int           // total attempts, at least 1
	Initial       time.Duration // wait after the first failure; doubles each time
	Max           time.Duration // cap of one wait
	MaxRetryAfter time.Duration // cap of a wait the server asked for
}

// Wait returns the wait after the n-th failed attempt (n >= 1): exponential, capped, with
// jitter in its upper half, or the server's Retry-After when longer (capped).
func (b Backoff) Wait(n int, retryAfter time.Duration) time.Duration {
	w := b.Initial << min(n-1, 30)
	if w <= 0 || w > b.Max {
		w = b.Max
	}
	w = w/2 + rand.N(w/2+1)
	if retryAfter > w {
		w = min(retryAfter, b.MaxRetryAfter)
	}
	return w
}

// Do runs attempt until it succeeds, returns an error that is not worth retrying, or the
// attempts run out, waiting on clock between attempts.
func (b Backoff) Do(ctx context.Context, clock clockwork.Clock, log *slog.Logger, what string, attempt func(n int) error) (int, error) {
	for n := 1; ; n++ {
		err := attempt(n)
		if err == nil || !rotor.Retryable(err) || n >= b.Attempts {
			return n, err
		}
		wait := b.Wait(n, rotor.RetryAfterOf(err))
		log.Warn("attempt failed; retrying", "what", what, "attempt", n, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return n, errors.Join(ctx.Err(), err)
		case <-clock.After(wait):
		}
	}
}

// Resolve reads a secret reference at use time; an empty reference gives an empty value.
func Resolve(ref secret.Ref, lookupEnv func(string) (string, bool), setting string) (secret.Value, error) {
	if ref.IsZero() {
		return secret.Value{}, nil
	}
	v, err := ref.Resolve(lookupEnv)
	if err != nil {
		return secret.Value{}, rotor.Permanent(fmt.Errorf("%s: %w", setting, err))
	}
	return v, nil
}

// Duration returns d, or def when d is zero.
func Duration(d config.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d.D()
}
