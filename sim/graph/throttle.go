package graph

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
)

// ThrottleOptions configure the simulated throttling of identity and access requests. Zero limits
// mean the documented values.
// https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits
type ThrottleOptions struct {
	// Enabled turns throttling on. Off, responses still carry x-ms-resource-unit.
	Enabled bool
	// TenantSize selects the application+tenant resource unit quota: "S" (under 50 users, 3,500
	// per 10 s), "M" (50 to 500 users, 5,000) or "L" (above 500, 8,000; the default).
	TenantSize string
	// ResourceUnitsPer10s overrides the application+tenant resource unit quota.
	ResourceUnitsPer10s int
	// WritesPer150s overrides the application+tenant write quota (3,000 per 2 minutes 30 seconds).
	WritesPer150s int
	// AppResourceUnitsPer20s overrides the per-application quota across tenants (150,000 per 20 s).
	AppResourceUnitsPer20s int
	// AppWritesPer5m overrides the per-application write quota across tenants (70,000 per 5 min).
	AppWritesPer5m int
	// TenantWritesPer5m overrides the tenant-wide write quota of all applications (18,000 per 5 min).
	TenantWritesPer5m int
	// KeyCredentialSelectsPerMinute overrides the per-tenant limit of application reads that $select
	// keyCredentials (150 per minute).
	KeyCredentialSelectsPerMinute int
}

func orDefault(v, d int) float64 {
	if v > 0 {
		return float64(v)
	}
	return float64(d)
}

// throttler is a set of token buckets: "Throttling is based on a token bucket algorithm, which works
// by adding individual costs of requests." Throttled requests are still counted ("all requests
// accrue against your usage limits"), down to 1.8 times the quota, so retrying immediately only
// lengthens the wait.
type throttler struct {
	clock   clockwork.Clock
	opts    ThrottleOptions
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	cap    float64
	rate   float64 // tokens per second
}

func newThrottler(clock clockwork.Clock, opts ThrottleOptions) *throttler {
	return &throttler{clock: clock, opts: opts, buckets: map[string]*bucket{}}
}

// limit is one quota a request counts against.
type limit struct {
	key       string
	scope     string // x-ms-throttle-scope
	reason    string // x-ms-throttle-information
	capacity  float64
	window    time.Duration
	need      float64
	isPercent bool // reported in x-ms-throttle-limit-percentage
}

// cost returns a request's resource units and write cost, from the documented base costs
// (GET applications costs 2, other reads 1, writes 1 and 1 write) and modifiers ($select -1,
// $expand +1, $top under 20 -1; never below 1).
func cost(r *http.Request, rt route) (ru, writes float64) {
	ru = 1
	if r.Method == http.MethodGet {
		if rt.kind == directory.KindApplication && rt.policy == "" {
			ru = 2
		}
	} else {
		writes = 1
	}
	q := r.URL.Query()
	if _, ok := queryParam(q, "select"); ok {
		ru--
	}
	if _, ok := queryParam(q, "expand"); ok {
		ru++
	}
	if v, ok := queryParam(q, "top"); ok {
		if n, err := strconv.Atoi(v); err == nil && n < 20 {
			ru--
		}
	}
	return math.Max(ru, 1), writes
}

// admit counts the request against its quotas and refuses it with 429, Retry-After and the
// x-ms-throttle-* headers when one is exhausted.
func (t *throttler) admit(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	ru, writes := cost(r, rt)
	w.Header().Set("x-ms-resource-unit", strconv.Itoa(int(ru)))
	if !t.opts.Enabled {
		return nil
	}
	app, tenant := strings.ToLower(c.AppID), c.TenantID
	ruQuota := map[string]int{"S": 3500, "M": 5000}[strings.ToUpper(t.opts.TenantSize)]
	if ruQuota == 0 {
		ruQuota = 8000
	}
	limits := []limit{
		{key: "ta-ru|" + tenant + "|" + app, scope: "Tenant_Application/ReadWrite/" + app + "/" + tenant, reason: "ResourceUnitLimitExceeded",
			capacity: orDefault(t.opts.ResourceUnitsPer10s, ruQuota), window: 10 * time.Second, need: ru, isPercent: true},
		{key: "a-ru|" + app, scope: "Application/ReadWrite/" + app + "/" + tenant, reason: "ResourceUnitLimitExceeded",
			capacity: orDefault(t.opts.AppResourceUnitsPer20s, 150000), window: 20 * time.Second, need: ru},
	}
	if writes > 0 {
		limits = append(limits,
			limit{key: "ta-w|" + tenant + "|" + app, scope: "Tenant_Application/Write/" + app + "/" + tenant, reason: "WriteLimitExceeded",
				capacity: orDefault(t.opts.WritesPer150s, 3000), window: 150 * time.Second, need: writes, isPercent: true},
			limit{key: "a-w|" + app, scope: "Application/Write/" + app + "/" + tenant, reason: "WriteLimitExceeded",
				capacity: orDefault(t.opts.AppWritesPer5m, 70000), window: 5 * time.Minute, need: writes},
			limit{key: "t-w|" + tenant, scope: "Tenant/Write/" + app + "/" + tenant, reason: "WriteLimitExceeded",
				capacity: orDefault(t.opts.TenantWritesPer5m, 18000), window: 5 * time.Minute, need: writes},
		)
	}
	// "The use of $select to get keyCredentials for applications has a throttling limit of 150
	// requests per minute for every tenant."
	// https://learn.microsoft.com/graph/api/application-list
	if sel, ok := queryParam(r.URL.Query(), "select"); ok && r.Method == http.MethodGet && rt.kind == directory.KindApplication &&
		strings.Contains(strings.ToLower(sel), "keycredentials") {
		limits = append(limits, limit{key: "t-kc|" + tenant, scope: "Tenant/Read/" + app + "/" + tenant, reason: "ResourceUnitLimitExceeded",
			capacity: orDefault(t.opts.KeyCredentialSelectsPerMinute, 150), window: time.Minute, need: 1})
	}

	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var violated []*limit
	for i := range limits {
		l := &limits[i]
		if t.bucket(l, now).tokens < l.need {
			violated = append(violated, l)
		}
	}
	usage := 0.0
	for i := range limits {
		l := &limits[i]
		b := t.buckets[l.key]
		b.tokens = math.Max(b.tokens-l.need, -0.8*b.cap)
		if l.isPercent {
			usage = math.Max(usage, (b.cap-b.tokens)/b.cap)
		}
	}
	if len(violated) == 0 {
		if usage > 0.8 {
			w.Header().Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(math.Min(usage, 1.8), 'f', 2, 64))
		}
		return nil
	}
	// The wait counts this refused request too: it was charged like the others.
	var worst *limit
	var wait time.Duration
	for _, l := range violated {
		b := t.buckets[l.key]
		if d := time.Duration((l.need - b.tokens) / b.rate * float64(time.Second)); worst == nil || d > wait {
			worst, wait = l, d
		}
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("x-ms-throttle-scope", worst.scope)
	h.Set("x-ms-throttle-information", worst.reason)
	h.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(math.Min(math.Max(usage, 1), 1.8), 'f', 2, 64))
	e := newError(http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.")
	e.throttled = true
	return e
}

// bucket returns the refilled bucket of l.
func (t *throttler) bucket(l *limit, now time.Time) *bucket {
	b, ok := t.buckets[l.key]
	if !ok {
		b = &bucket{tokens: l.capacity, last: now, cap: l.capacity, rate: l.capacity / l.window.Seconds()}
		t.buckets[l.key] = b
		return b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.cap, b.tokens+el*b.rate)
		b.last = now
	}
	return b
}
