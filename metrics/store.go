package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotorhq/rotor"
)

// snapshot is what the store said at one time.
type snapshot struct {
	at        time.Time
	ok        bool
	stats     *rotor.CredentialStats
	rotations []rotor.RotationCount
}

var (
	descCredentials = prometheus.NewDesc("rotor_credentials",
		"Credentials by tenant and lifecycle state (active, expiring, rotating, grace, expired, cleaned_up, removed).",
		[]string{"tenant", "state"}, nil)
	descExpiring = prometheus.NewDesc("rotor_credentials_expiring",
		"Live credentials ending within 7, 30 or 90 days (not yet expired).", []string{"tenant", "within"}, nil)
	descNextExpiry = prometheus.NewDesc("rotor_credential_next_expiry_days",
		"Days until the soonest end of a live credential that has not expired yet.", []string{"tenant"}, nil)
	descRotations = prometheus.NewDesc("rotor_rotations",
		"Rotations in the store by tenant and state.", []string{"tenant", "state"}, nil)
	descStoreUp = prometheus.NewDesc("rotor_store_up",
		"1 when the last read of the store for these metrics succeeded.", nil, nil)
	descAge = prometheus.NewDesc("rotor_store_metrics_age_seconds",
		"Age of the figures read from the store (they are reused for a while between scrapes).", nil, nil)
)

// storeCollector reports the store-derived figures, computed at most once per cache period
// whatever the number of scrapes: one aggregate pass over an index, never a listing.
type storeCollector struct{ m *Metrics }

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCredentials, descExpiring, descNextExpiry, descRotations, descStoreUp, descAge} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.snapshot()
	now := c.m.opts.Clock.Now()
	up := 0.0
	if s.ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, now.Sub(s.at).Seconds())
	if s.stats != nil {
		for _, t := range s.stats.Tenants {
			for state, n := range t.ByState {
				ch <- prometheus.MustNewConstMetric(descCredentials, prometheus.GaugeValue, float64(n), t.Tenant, state)
			}
			for within, n := range map[string]int{"7d": t.Within7, "30d": t.Within30, "90d": t.Within90} {
				ch <- prometheus.MustNewConstMetric(descExpiring, prometheus.GaugeValue, float64(n), t.Tenant, within)
			}
			if !t.NextEndAt.IsZero() {
				ch <- prometheus.MustNewConstMetric(descNextExpiry, prometheus.GaugeValue, t.NextEndAt.Sub(now).Hours()/24, t.Tenant)
			}
		}
	}
	for _, rc := range s.rotations {
		ch <- prometheus.MustNewConstMetric(descRotations, prometheus.GaugeValue, float64(rc.Count), rc.Tenant, string(rc.State))
	}
}

// snapshot returns the store's figures, reading them again when the cached ones are older than
// the cache period. Concurrent scrapes wait for one read rather than each making their own.
func (m *Metrics) snapshot() *snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Clock.Now()
	if m.snap != nil && now.Sub(m.snap.at) < m.opts.CacheFor {
		return m.snap
	}
	if m.opts.Store == nil {
		return &snapshot{at: now}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m.queries++
	s := &snapshot{at: now, ok: true}
	var err error
	if s.stats, err = m.opts.Store.CredentialStats(ctx, &rotor.CredentialStatsParams{Now: now, Warn: m.opts.Warn}); err != nil {
		m.opts.Log.Error("metrics: count credentials", "err", err)
		s.ok = false
	}
	if s.rotations, err = m.opts.Store.RotationCounts(ctx); err != nil {
		m.opts.Log.Error("metrics: count rotations", "err", err)
		s.ok = false
	}
	if !s.ok && m.snap != nil {
		// Keep the last good figures (their age says how stale they are), and retry next scrape.
		stale := *m.snap
		stale.ok = false
		return &stale
	}
	m.snap = s
	return s
}
