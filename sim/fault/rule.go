package fault

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule injects faults into the requests it matches.
//
// At most one outcome happens per request: 429, 500, 503, drop or lost, with the given
// probabilities (their sum must not exceed 1); with the remaining probability the request is
// served normally. Latency is decided separately and delays the request before any outcome.
type Rule struct {
	// Method matches the request method case-insensitively; "" or "*" matches any method.
	Method string
	// Path is a pattern over the request's URL path: segments separated by "/", where "*" matches
	// exactly one segment (possibly empty) and "**" matches any number of segments, including
	// none. "" or "*" alone matches every path. Example: /v1.0/applications/*/addPassword.
	Path string

	// Latency delays a matched request by this much, or by a uniformly chosen duration in
	// [Latency, LatencyMax] when LatencyMax > Latency.
	Latency    time.Duration
	LatencyMax time.Duration
	// LatencyProb is the probability that the delay applies; zero means always (when Latency is
	// set).
	LatencyProb float64

	// Throttle is the probability of a 429 Too Many Requests answer.
	Throttle float64
	// RetryAfter is what 429 and 503 answers ask the client to wait; zero leaves the choice to
	// the service's ErrorWriter.
	RetryAfter time.Duration
	// InternalError is the probability of a 500 Internal Server Error answer.
	InternalError float64
	// Unavailable is the probability of a 503 Service Unavailable answer.
	Unavailable float64
	// Drop is the probability that the connection is closed without any answer and without
	// running the handler.
	Drop float64
	// Lost is the probability that the handler runs (its side effects happen) but the
	// connection is then closed instead of answering: a "lost response", the case that makes a
	// non-idempotent call ambiguous for the client.
	Lost float64
}

var knownMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true,
}

// Validate reports what is wrong with the rule, if anything.
func (r Rule) Validate() error {
	var errs []error
	if m := strings.ToUpper(r.Method); m != "" && m != "*" && !knownMethods[m] {
		errs = append(errs, fmt.Errorf("method %q: want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *", r.Method))
	}
	if r.Path != "" && r.Path != "*" && !strings.HasPrefix(r.Path, "/") {
		errs = append(errs, fmt.Errorf("path %q: must start with / (or be * for every path)", r.Path))
	}
	probs := []struct {
		name string
		p    float64
	}{
		{"latency-p", r.LatencyProb}, {"429", r.Throttle}, {"500", r.InternalError},
		{"503", r.Unavailable}, {"drop", r.Drop}, {"lost", r.Lost},
	}
	for _, p := range probs {
		if p.p < 0 || p.p > 1 || p.p != p.p {
			errs = append(errs, fmt.Errorf("%s=%v: probability must be between 0 and 1", p.name, p.p))
		}
	}
	if sum := r.outcomeSum(); sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("429, 500, 503, drop and lost add up to %v: at most one happens per request, so their sum must not exceed 1", sum))
	}
	if r.Latency < 0 || r.LatencyMax < 0 {
		errs = append(errs, errors.New("latency must not be negative"))
	}
	if r.LatencyMax != 0 && r.LatencyMax < r.Latency {
		errs = append(errs, fmt.Errorf("latency range %v..%v: the upper bound is below the lower bound", r.Latency, r.LatencyMax))
	}
	if r.LatencyProb > 0 && r.Latency == 0 && r.LatencyMax == 0 {
		errs = append(errs, errors.New("latency-p without latency"))
	}
	if r.RetryAfter < 0 {
		errs = append(errs, errors.New("retry-after must not be negative"))
	}
	if r.RetryAfter > 0 && r.Throttle == 0 && r.Unavailable == 0 {
		errs = append(errs, errors.New("retry-after without 429 or 503"))
	}
	if r.outcomeSum() == 0 && r.Latency == 0 && r.LatencyMax == 0 {
		errs = append(errs, errors.New("rule injects nothing: give latency, 429, 500, 503, drop or lost"))
	}
	return errors.Join(errs...)
}

func (r Rule) outcomeSum() float64 {
	return r.Throttle + r.InternalError + r.Unavailable + r.Drop + r.Lost
}

// String returns the rule in the text form ParseRule reads, with options in a fixed order.
func (r Rule) String() string {
	var b strings.Builder
	if m := strings.ToUpper(r.Method); m != "" && m != "*" {
		b.WriteString(m)
		b.WriteByte(' ')
	}
	if r.Path == "" {
		b.WriteString("*")
	} else {
		b.WriteString(r.Path)
	}
	opt := func(k, v string) { b.WriteString(" " + k + "=" + v) }
	prob := func(k string, p float64) {
		if p > 0 {
			opt(k, strconv.FormatFloat(p, 'g', -1, 64))
		}
	}
	if r.LatencyMax > r.Latency {
		opt("latency", r.Latency.String()+".."+r.LatencyMax.String())
	} else if r.Latency > 0 {
		opt("latency", r.Latency.String())
	}
	prob("latency-p", r.LatencyProb)
	prob("429", r.Throttle)
	prob("500", r.InternalError)
	prob("503", r.Unavailable)
	prob("drop", r.Drop)
	prob("lost", r.Lost)
	if r.RetryAfter > 0 {
		opt("retry-after", r.RetryAfter.String())
	}
	return b.String()
}

// matches reports whether the rule applies to a request.
func (r Rule) matches(method, path string) bool {
	if m := r.Method; m != "" && m != "*" && !strings.EqualFold(m, method) {
		return false
	}
	if r.Path == "" || r.Path == "*" {
		return true
	}
	return matchSegments(strings.Split(strings.TrimPrefix(r.Path, "/"), "/"),
		strings.Split(strings.TrimPrefix(path, "/"), "/"))
}

func matchSegments(pat, segs []string) bool {
	for len(pat) > 0 {
		switch p := pat[0]; p {
		case "**":
			for i := 0; i <= len(segs); i++ {
				if matchSegments(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		default:
			if len(segs) == 0 || (p != "*" && p != segs[0]) {
				return false
			}
			pat, segs = pat[1:], segs[1:]
		}
	}
	return len(segs) == 0
}
