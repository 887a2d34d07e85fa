package notify_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
)

func TestDailyDigestOncePerRouteAndDay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app(t, "contoso", "payroll-api")
	soon := b.secret(t, app, t0.Add(5*day))
	later := b.secret(t, app, t0.Add(20*day))
	b.secret(t, app, t0.Add(100*day)) // not soon
	rotating := b.secret(t, app, t0.Add(6*day))
	r := b.rotation(t, b.binding(t, rotating, "standard"), rotor.RotationDeploying)
	b.secret(t, b.app(t, "fabrikam", "billing"), t0.Add(4*day)) // another tenant

	cet := time.FixedZone("CET", 3600)
	daily := notify.Route{Name: "daily", Tenants: []string{"contoso"}, Notifiers: []string{"a"},
		Digest: &notify.DigestSchedule{At: 8 * time.Hour, Location: cet}}
	cfg := notify.Config{Routes: []notify.Route{daily}}
	s := b.service(t, nil, cfg)

	// 13:00 CET, past 08:00: today's digest goes out at once; no event happened since the route
	// was first seen.
	runOnce(t, s)
	msgs := b.a.messages()
	require.Len(t, msgs, 1)
	d := msgs[0].Event.Digest
	require.Equal(t, notify.EventDigest, msgs[0].Event.Type)
	require.Equal(t, "2026-11-02", d.Date)
	require.Len(t, d.Expiring, 2, "soonest first, the rotating one and the other tenant's left out")
	require.Equal(t, soon.KeyID, d.Expiring[0].KeyID)
	require.Equal(t, notify.SeverityCritical, d.Expiring[0].Severity)
	require.Equal(t, "payroll-api", d.Expiring[0].AppDisplayName)
	require.Equal(t, later.KeyID, d.Expiring[1].KeyID)
	require.Empty(t, d.Counts)
	require.Equal(t, notify.SeverityCritical, msgs[0].Event.Severity)

	// Events during the day are collected, not sent one by one.
	b.advance(time.Hour)
	b.audit(t, r, "rotation.failed", rotor.OutcomeFailure, "verify timed out", nil)
	b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, "attempts exhausted", nil)
	b.audit(t, r, "step.succeeded", rotor.OutcomeSuccess, "routine", nil)
	runOnce(t, s)
	require.Len(t, b.a.messages(), 1, "one digest a day")

	// Next day, 07:00 CET: not yet. 08:00 CET: two replicas race to make it; one does.
	b.advance(17 * time.Hour) // 2026-11-03 07:00 CET
	runOnce(t, s)
	require.Len(t, b.a.messages(), 1)
	b.advance(time.Hour)
	replicas := []*notify.Service{s, b.service(t, b.open(t), cfg)}
	var wg sync.WaitGroup
	for _, rs := range replicas {
		wg.Go(func() {
			for range 3 {
				if _, _, err := rs.RunOnce(t.Context()); err != nil {
					t.Errorf("replica: %v", err)
				}
			}
		})
	}
	wg.Wait()
	msgs = b.a.messages()
	require.Len(t, msgs, 2)
	d = msgs[1].Event.Digest
	require.Equal(t, "2026-11-03", d.Date)
	require.Equal(t, []notify.DigestCount{{Type: "rotation.failed", Count: 1}, {Type: "rotation.parked", Count: 1}}, d.Counts,
		"what the route is about, routine steps left out")
	require.Len(t, d.Events, 2)
	require.Equal(t, "verify timed out", d.Events[0].Reason)
	require.Equal(t, t0, d.Since, "since the previous digest")
}

func TestDigestRouteSendsNothingImmediately(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.secret(t, b.app(t, "contoso", "billing"), t0.Add(20*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationDeploying)
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{
		{Name: "daily", Notifiers: []string{"a"}, Digest: &notify.DigestSchedule{At: 23 * time.Hour}},
	}})
	runOnce(t, s)
	b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, "x", nil)
	runOnce(t, s)
	require.Empty(t, b.a.messages(), "12:00 UTC: the 23:00 digest is not due, and nothing goes out per event")
	b.advance(11 * time.Hour)
	runOnce(t, s)
	require.Len(t, b.a.messages(), 1)
	require.Equal(t, 1, len(b.a.messages()[0].Event.Digest.Events))
}
