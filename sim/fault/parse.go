package fault

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseError is a rule text that does not parse. It names the rule and the offending token.
type ParseError struct {
	Rule  int    // 1-based index of the rule in the text given to ParseRules
	Text  string // the rule's text
	Token string // the offending token; empty when the rule as a whole is wrong
	Msg   string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fault rule %d (%q)", e.Rule, e.Text)
	if e.Token != "" {
		fmt.Fprintf(&b, ": token %q", e.Token)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// ParseRules parses rules separated by ";" or newlines. Empty rules are skipped.
//
// One rule is a route followed by options, separated by spaces:
//
//	[METHOD] PATH option...
//
// METHOD is GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or * (any; the default). PATH starts
// with "/" and may use "*" for one path segment and "**" for any number of segments; PATH "*"
// alone matches every path. Options:
//
//	latency=30ms           delay every matched request by 30ms
//	latency=10ms..200ms    delay by a duration chosen uniformly in the range
//	latency-p=0.5          apply the delay to half of the matched requests (default: all)
//	429=0.2                answer 20% with 429 Too Many Requests
//	retry-after=2s         the wait a 429 or 503 answer asks for (Retry-After)
//	500=0.1                answer 10% with 500 Internal Server Error
//	503=0.1                answer 10% with 503 Service Unavailable
//	drop=0.05              close 5% of connections without answering or running the handler
//	lost=0.3               run the handler for 30%, then close the connection without answering
//
// Examples:
//
//	POST /v1.0/applications/*/addPassword lost=0.3
//	* 429=0.2 retry-after=2s latency=30ms
//	GET /secrets/** latency=5ms..50ms 503=0.01; PUT /secrets/* drop=0.1
func ParseRules(text string) ([]Rule, error) {
	var rules []Rule
	n := 0
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == ';' || r == '\n' }) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		r, err := parseRule(n, line)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ParseRule parses one rule (see ParseRules).
func ParseRule(text string) (Rule, error) { return parseRule(1, text) }

func parseRule(n int, text string) (Rule, error) {
	text = strings.TrimSpace(text)
	fail := func(token, format string, args ...any) (Rule, error) {
		return Rule{}, &ParseError{Rule: n, Text: text, Token: token, Msg: fmt.Sprintf(format, args...)}
	}
	tokens := strings.Fields(text)
	var route []string
	for len(tokens) > 0 && !strings.Contains(tokens[0], "=") {
		route = append(route, tokens[0])
		tokens = tokens[1:]
	}
	var r Rule
	switch len(route) {
	case 0:
		return fail("", "missing route: start with [METHOD] PATH, e.g. \"POST /v1.0/applications/*/addPassword\" or \"*\"")
	case 1:
		r.Path = route[0]
	case 2:
		r.Method, r.Path = strings.ToUpper(route[0]), route[1]
		if r.Method != "*" && !knownMethods[r.Method] {
			return fail(route[0], "unknown method: want GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or *")
		}
	default:
		return fail(route[2], "unexpected token after METHOD PATH: options are key=value")
	}
	if r.Path != "*" && !strings.HasPrefix(r.Path, "/") {
		return fail(r.Path, "path must start with / (or be * for every path)")
	}
	if r.Method == "*" {
		r.Method = ""
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		key, val, _ := strings.Cut(tok, "=")
		key = strings.ToLower(key)
		if seen[key] {
			return fail(tok, "option %s given twice", key)
		}
		seen[key] = true
		if val == "" {
			return fail(tok, "missing value after =")
		}
		var err error
		switch key {
		case "latency":
			r.Latency, r.LatencyMax, err = parseLatency(val)
		case "latency-p":
			r.LatencyProb, err = parseProb(val)
		case "429":
			r.Throttle, err = parseProb(val)
		case "500":
			r.InternalError, err = parseProb(val)
		case "503":
			r.Unavailable, err = parseProb(val)
		case "drop":
			r.Drop, err = parseProb(val)
		case "lost":
			r.Lost, err = parseProb(val)
		case "retry-after":
			r.RetryAfter, err = parseDuration(val)
		default:
			return fail(tok, "unknown option %q: want latency, latency-p, 429, 500, 503, drop, lost or retry-after", key)
		}
		if err != nil {
			return fail(tok, "%v", err)
		}
	}
	if err := r.Validate(); err != nil {
		return fail("", "%v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return r, nil
}

func parseProb(s string) (float64, error) {
	p, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a probability: want a number between 0 and 1", s)
	}
	if p < 0 || p > 1 || p != p {
		return 0, fmt.Errorf("probability %s is outside 0..1", s)
	}
	return p, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want e.g. 30ms, 2s, 1m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s is negative", s)
	}
	return d, nil
}

func parseLatency(s string) (lo, hi time.Duration, err error) {
	a, b, isRange := strings.Cut(s, "..")
	if lo, err = parseDuration(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, 0, nil
	}
	if hi, err = parseDuration(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %s: the upper bound is below the lower bound", s)
	}
	return lo, hi, nil
}
