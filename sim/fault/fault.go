// Package fault injects faults into the simulator's HTTP services: latency, throttling (429 with
// Retry-After), server errors (500, 503), dropped connections and lost responses.
//
// Rules match requests by method and path pattern. Every decision is deterministic: it is a hash
// of the injector's seed, the rule, the route (service, method and path) and the number of
// requests that rule has seen on that route. Two runs that send the same requests per route in the
// same order get the same faults, whatever the interleaving across routes.
//
// Each service mounts the injector with its own ErrorWriter, because Microsoft Graph, Key Vault
// and the Entra token endpoint answer errors in different shapes.
//
//	rules, err := fault.ParseRules("POST /v1.0/applications/*/addPassword lost=0.3")
//	inj, err := fault.New(fault.Options{Seed: 42, Clock: clock, Rules: rules})
//	handler := inj.Handler("graph", graphErrorWriter, graphMux)
package fault

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// ErrorWriter writes a service's error answer: the status, its headers (Retry-After when
// retryAfter > 0, request ids) and a body in the service's error shape. retryAfter is zero for
// 500 and when the rule gives none.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, retryAfter time.Duration)

// Options configure an Injector.
type Options struct {
	// Seed makes decisions reproducible: the same seed and request order give the same faults.
	Seed uint64
	// Clock times injected latency. Default: the real clock. With a fake clock, a delayed request
	// waits until the test advances the clock.
	Clock clockwork.Clock
	// Rules to start with; see SetRules.
	Rules []Rule
}

// Injector holds the active rules and their counters. It is safe for concurrent use; rules may
// be replaced while requests are served.
type Injector struct {
	seed  uint64
	clock clockwork.Clock

	mu    sync.RWMutex
	rules []*ruleState
}

type ruleState struct {
	rule Rule
	key  string // canonical text: part of the hash, so that decisions survive reordering

	mu       sync.Mutex
	counters map[string]uint64 // route -> requests seen

	stats Stats
}

// Stats counts what one rule did since it was installed.
type Stats struct {
	Rule           Rule
	Matched        uint64 // requests the rule matched
	Delayed        uint64 // requests delayed by latency
	Throttled      uint64 // 429 answers
	InternalErrors uint64 // 500 answers
	Unavailable    uint64 // 503 answers
	Dropped        uint64 // connections closed without running the handler
	Lost           uint64 // connections closed after the handler ran
}

// New returns an injector, or an error when one of opts.Rules is invalid.
func New(opts Options) (*Injector, error) {
	clock := opts.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	in := &Injector{seed: opts.Seed, clock: clock}
	if err := in.SetRules(opts.Rules); err != nil {
		return nil, err
	}
	return in, nil
}

// SetRules replaces the rules. The first rule that matches a request applies. Counters and
// statistics start from zero for the new rules.
func (in *Injector) SetRules(rules []Rule) error {
	states := make([]*ruleState, 0, len(rules))
	for i, r := range rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("rule %d (%s): %w", i+1, r, err)
		}
		states = append(states, &ruleState{rule: r, key: r.String(), counters: map[string]uint64{}})
	}
	in.mu.Lock()
	in.rules = states
	in.mu.Unlock()
	return nil
}

// Rules returns the active rules.
func (in *Injector) Rules() []Rule {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := make([]Rule, len(in.rules))
	for i, rs := range in.rules {
		out[i] = rs.rule
	}
	return out
}

// Stats returns the counters of the active rules, in rule order.
func (in *Injector) Stats() []Stats {
	in.mu.RLock()
	defer in.mu.RUnlock()
	out := make([]Stats, len(in.rules))
	for i, rs := range in.rules {
		s := &rs.stats
		out[i] = Stats{
			Rule:           rs.rule,
			Matched:        atomic.LoadUint64(&s.Matched),
			Delayed:        atomic.LoadUint64(&s.Delayed),
			Throttled:      atomic.LoadUint64(&s.Throttled),
			InternalErrors: atomic.LoadUint64(&s.InternalErrors),
			Unavailable:    atomic.LoadUint64(&s.Unavailable),
			Dropped:        atomic.LoadUint64(&s.Dropped),
			Lost:           atomic.LoadUint64(&s.Lost),
		}
	}
	return out
}

// outcome is what happens to a request after any delay.
type outcome int

const (
	pass          outcome = iota // served normally
	throttle                     // 429
	internalError                // 500
	unavailable                  // 503
	drop                         // connection closed, handler not run
	lost                         // handler run, connection closed
)

func (o outcome) String() string {
	return [...]string{"pass", "429", "500", "503", "drop", "lost"}[o]
}

// decision is what the injector does to one request.
type decision struct {
	outcome    outcome
	delay      time.Duration
	retryAfter time.Duration
	rule       *ruleState // nil when no rule matched
}

// decide finds the first matching rule and rolls its dice for this request.
func (in *Injector) decide(service, method, path string) decision {
	in.mu.RLock()
	var rs *ruleState
	for _, s := range in.rules {
		if s.rule.matches(method, path) {
			rs = s
			break
		}
	}
	in.mu.RUnlock()
	if rs == nil {
		return decision{}
	}
	route := service + " " + method + " " + path
	rs.mu.Lock()
	n := rs.counters[route]
	rs.counters[route] = n + 1
	rs.mu.Unlock()

	r := rs.rule
	d := decision{rule: rs}
	roll := func(salt uint64) float64 { return unit(in.seed, rs.key, route, n, salt) }
	if (r.Latency > 0 || r.LatencyMax > 0) && (r.LatencyProb == 0 || roll(1) < r.LatencyProb) {
		d.delay = r.Latency
		if r.LatencyMax > r.Latency {
			d.delay += time.Duration(roll(2) * float64(r.LatencyMax-r.Latency))
		}
	}
	u := roll(0)
	for _, c := range []struct {
		p float64
		o outcome
	}{{r.Throttle, throttle}, {r.InternalError, internalError}, {r.Unavailable, unavailable}, {r.Drop, drop}, {r.Lost, lost}} {
		if u < c.p {
			d.outcome = c.o
			break
		}
		u -= c.p
	}
	if d.outcome == throttle || d.outcome == unavailable {
		d.retryAfter = r.RetryAfter
	}
	return d
}

// unit maps (seed, rule, route, n, salt) to a number in [0, 1).
func unit(seed uint64, rule, route string, n, salt uint64) float64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], seed)
	h.Write(buf[:])
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(route))
	h.Write([]byte{0})
	binary.LittleEndian.PutUint64(buf[:], n)
	h.Write(buf[:])
	binary.LittleEndian.PutUint64(buf[:], salt)
	h.Write(buf[:])
	x := h.Sum64()
	// splitmix64 finalizer: FNV's low bits are weak for short inputs.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// Handler wraps next with fault injection for one service. service names the mount (e.g.
// "graph", "login", "keyvault:vault1"); it is part of the route, so that identical paths on two
// services count separately. write produces the service's 429, 500 and 503 answers.
//
// A route is service, method and URL path (without the query); each rule keeps one request
// counter per route it has matched, for as long as the rule is installed.
func (in *Injector) Handler(service string, write ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := in.decide(service, r.Method, r.URL.Path)
		if d.rule == nil {
			next.ServeHTTP(w, r)
			return
		}
		s := &d.rule.stats
		atomic.AddUint64(&s.Matched, 1)
		if d.delay > 0 {
			atomic.AddUint64(&s.Delayed, 1)
			select {
			case <-in.clock.After(d.delay):
			case <-r.Context().Done():
				return
			}
		}
		switch d.outcome {
		case throttle:
			atomic.AddUint64(&s.Throttled, 1)
			write(w, r, http.StatusTooManyRequests, d.retryAfter)
		case internalError:
			atomic.AddUint64(&s.InternalErrors, 1)
			write(w, r, http.StatusInternalServerError, 0)
		case unavailable:
			atomic.AddUint64(&s.Unavailable, 1)
			write(w, r, http.StatusServiceUnavailable, d.retryAfter)
		case drop:
			atomic.AddUint64(&s.Dropped, 1)
			closeWithoutAnswer(w)
		case lost:
			atomic.AddUint64(&s.Lost, 1)
			next.ServeHTTP(&discard{header: http.Header{}}, r)
			closeWithoutAnswer(w)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// closeWithoutAnswer closes the client's connection abruptly, without a response. On HTTP/1.x it
// hijacks the connection and resets it; where hijacking is impossible (HTTP/2) it aborts the
// handler, which resets the stream.
func closeWithoutAnswer(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn() // skip the TLS close_notify: the peer sees the connection vanish
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // RST instead of FIN
	}
	_ = raw.Close()
}

// discard is a ResponseWriter that keeps nothing: the lost response.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

// JSONErrorWriter is a generic ErrorWriter: `{"error":{"code":...,"message":...}}` with
// Retry-After in whole seconds (rounded up). Services with their own error shape provide theirs.
func JSONErrorWriter(w http.ResponseWriter, _ *http.Request, status int, retryAfter time.Duration) {
	SetRetryAfter(w.Header(), retryAfter)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	text := http.StatusText(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":"injected fault: %d %s"}}`,
		strings.ReplaceAll(text, " ", ""), status, text)
}

// SetRetryAfter sets the Retry-After header to d in whole seconds, rounded up; nothing when
// d <= 0.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d <= 0 {
		return
	}
	h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
}
