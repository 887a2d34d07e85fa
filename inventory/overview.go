package inventory

import (
	"context"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
)

// Overview is the dashboard: counts by how soon credentials expire, the most urgent ones, and
// how many end in each of the coming weeks. It is computed by the store's aggregate queries,
// never by listing the inventory, so it stays fast with hundreds of thousands of credentials.
type Overview struct {
	Tenant  string // empty: every tenant
	Now     time.Time
	Summary Summary
	// Weeks[i] counts live credentials ending in (Now + i weeks, Now + i+1 weeks].
	Weeks []int
	// NextEndAt is the soonest end of a live credential that has not expired; zero if none.
	NextEndAt time.Time
}

// Overview counts a tenant's (or every tenant's) credentials for the dashboard. MostUrgent holds
// the live credentials that have not expired yet, soonest end first, leaving out those in grace
// (their successor is live): expired ones are counted, and listed by state on their own.
func (v *View) Overview(ctx context.Context, tenant string, now time.Time, weeks, urgent int) (*Overview, error) {
	st, err := v.Store.CredentialStats(ctx, &rotor.CredentialStatsParams{Tenant: tenant, Now: now, Warn: v.Thresholds.Warn, Weeks: weeks})
	if err != nil {
		return nil, err
	}
	o := &Overview{Tenant: tenant, Now: now, Weeks: st.Weeks, Summary: Summary{ByState: map[lifecycle.State]int{}}}
	for _, t := range st.Tenants {
		s := &o.Summary
		for name, n := range t.ByState {
			s.ByState[lifecycle.State(name)] += n
		}
		s.Within7 += t.Within7
		s.Within30 += t.Within30
		s.Within90 += t.Within90
		if !t.NextEndAt.IsZero() && (o.NextEndAt.IsZero() || t.NextEndAt.Before(o.NextEndAt)) {
			o.NextEndAt = t.NextEndAt
		}
	}
	s := &o.Summary
	for _, state := range []lifecycle.State{lifecycle.Active, lifecycle.Expiring, lifecycle.Rotating, lifecycle.Grace, lifecycle.Expired} {
		s.Total += s.ByState[state]
	}
	s.InGrace, s.Expired, s.Rotating = s.ByState[lifecycle.Grace], s.ByState[lifecycle.Expired], s.ByState[lifecycle.Rotating]
	if urgent > 0 {
		rows, err := v.Page(ctx, &rotor.CredentialSearchParams{Tenant: tenant, Limit: urgent,
			States: []string{string(lifecycle.Expiring), string(lifecycle.Rotating), string(lifecycle.Active)}}, now)
		if err != nil {
			return nil, err
		}
		s.MostUrgent = rows
	}
	return o, nil
}

// Page returns one page of credentials with their states, as the store's search finds them
// (p.Now and p.Warn are set from now and the view's thresholds).
func (v *View) Page(ctx context.Context, p *rotor.CredentialSearchParams, now time.Time) ([]Row, error) {
	p.Now, p.Warn = now, v.Thresholds.Warn
	found, err := v.Store.CredentialSearch(ctx, p)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, len(found))
	for i, r := range found {
		rows[i] = RowOf(r, v.Thresholds, now)
	}
	return rows, nil
}

// RowOf computes the state of a credential the store found, from its facts.
func RowOf(r *rotor.CredentialRow, th lifecycle.Thresholds, now time.Time) Row {
	c := r.Credential
	st := lifecycle.StateOf(lifecycle.Facts{EndAt: c.EndAt, Removed: c.Removed(), RemovedByRotor: c.RemovedBy == rotor.RemovedByRotor,
		Rotating: r.Rotating, Superseded: r.Superseded}, th, now)
	return Row{Credential: &c, State: st, Urgency: lifecycle.UrgencyOf(c.EndAt, th, now), Managed: r.BindingID != "", BindingID: r.BindingID}
}
