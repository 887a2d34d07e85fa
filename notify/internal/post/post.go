// Package post sends JSON to webhooks for the notifiers: one POST, its outcome classified for
// the sender's retries, and the URL (a bearer secret for Teams and Slack) kept out of every error.
package post

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

// Endpoint is a webhook URL. Its String is the scheme and host only.
type Endpoint struct {
	url    secret.Value
	scheme string
	host   string
}

// ParseEndpoint checks that raw is an absolute https URL (http only to loopback). Errors never
// include the URL.
func ParseEndpoint(raw secret.Value) (Endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(raw.Reveal()))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return Endpoint{}, errors.New("not an absolute http(s) URL")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return Endpoint{}, fmt.Errorf("http://%s...: use https (plain http is allowed only on loopback)", u.Host)
	}
	return Endpoint{url: secret.New(u.String()), scheme: u.Scheme, host: u.Host}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String names the endpoint without its path and query, which may be a secret.
func (e Endpoint) String() string { return e.scheme + "://" + e.host }

// HTTPClient returns a client for notifiers: a timeout as a backstop to the caller's context,
// the system roots plus the PEM certificates in caFile (if any), and no redirects (a webhook that
// redirects is misconfigured, and following it could carry the body elsewhere).
func HTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute, CheckRedirect: noRedirects}, nil
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Request is one POST.
type Request struct {
	Endpoint Endpoint
	What     string // names the destination in errors: "Teams webhook"
	Body     []byte
	Header   http.Header
}

// Response is what came back from a 2xx.
type Response struct {
	Status int
	Body   []byte // the first 4 KiB
}

// Do posts r. Errors are classified: throttled (429, with Retry-After), transient (network,
// timeouts, 408, 5xx), permanent (other 4xx, 3xx, certificate problems). They name the
// destination by scheme and host only.
func Do(ctx context.Context, c *http.Client, r Request) (*Response, error) {
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Minute, CheckRedirect: noRedirects}
	}
	what := fmt.Sprintf("%s at %s", r.What, r.Endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Endpoint.url.Reveal(), bytes.NewReader(r.Body))
	if err != nil {
		return nil, rotor.Permanent(fmt.Errorf("%s: %s", what, scrub(err.Error(), r.Endpoint)))
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rotor")
	resp, err := c.Do(req)
	if err != nil {
		return nil, transportError(what, err, r.Endpoint)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &Response{Status: resp.StatusCode, Body: body}, nil
	}
	err = fmt.Errorf("%s: %s%s", what, resp.Status, Snippet(body, r.Endpoint))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, rotor.Throttled(err, RetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return nil, rotor.Transient(err)
	default:
		return nil, rotor.Permanent(err)
	}
}

// transportError classifies an error that produced no response.
func transportError(what string, err error, e Endpoint) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL
	}
	out := fmt.Errorf("%s: %s", what, scrub(err.Error(), e))
	var certInvalid x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &certInvalid), errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &verify):
		return rotor.Permanent(out)
	default:
		return rotor.Transient(out) // refused, reset, timed out, DNS: worth another try
	}
}

// RetryAfter parses a Retry-After header: seconds or an HTTP date. Zero when absent or invalid.
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Snippet returns the start of a response body for an error message, on one line, without the
// endpoint's URL.
func Snippet(body []byte, e Endpoint) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return ""
	}
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return ": " + scrub(s, e)
}

// scrub removes the endpoint's URL, and its path, from s.
func scrub(s string, e Endpoint) string {
	full := e.url.Reveal()
	if full == "" {
		return s
	}
	s = strings.ReplaceAll(s, full, e.String()+"/[REDACTED]")
	if u, err := url.Parse(full); err == nil {
		if len(u.EscapedPath()) > 1 {
			s = strings.ReplaceAll(s, u.EscapedPath(), "/[REDACTED]")
		}
		if u.RawQuery != "" {
			s = strings.ReplaceAll(s, u.RawQuery, "[REDACTED]")
		}
	}
	return s
}
