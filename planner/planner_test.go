package planner

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) // a Saturday

const day = 24 * time.Hour

func policy() *rotor.Policy {
	return &rotor.Policy{Name: "p", Lifetime: 180 * day, RotateBefore: 30 * day, GracePeriod: 7 * day, EmergencyWithin: 3 * day}
}

func cred(start, end time.Time) *rotor.Credential {
	return &rotor.Credential{KeyID: "k", StartAt: start, EndAt: end}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	weekday := []rotor.MaintenanceWindow{{Cron: "0 2 * * 1-5", Duration: 4 * time.Hour, TimeZone: "UTC"}}
	tests := []struct {
		name    string
		binding rotor.Binding
		policy  func(*rotor.Policy)
		current *rotor.Credential
		flight  bool
		due     bool
		trigger rotor.RotationTrigger
		reason  string
	}{
		{name: "paused", binding: rotor.Binding{KeyID: "k", Paused: true}, current: cred(now.Add(-170*day), now.Add(day)), reason: "paused"},
		{name: "in flight", binding: rotor.Binding{KeyID: "k"}, current: cred(now.Add(-170*day), now.Add(day)), flight: true, reason: "already in flight"},
		{name: "first rotation", binding: rotor.Binding{}, due: true, trigger: rotor.TriggerSchedule, reason: "no credential yet"},
		{name: "credential gone", binding: rotor.Binding{KeyID: "k"}, due: true, trigger: rotor.TriggerEmergency, reason: "no longer exists"},
		{name: "not yet", binding: rotor.Binding{KeyID: "k"}, current: cred(now.Add(-100*day), now.Add(80*day)), reason: "not due until 2027-01-10T12:00:00Z (30d0h before expiry"},
		{name: "due exactly now", binding: rotor.Binding{KeyID: "k"}, current: cred(now.Add(-150*day), now.Add(30*day)), due: true, trigger: rotor.TriggerSchedule, reason: "due since 2026-11-21T12:00:00Z"},
		{name: "one second early", binding: rotor.Binding{KeyID: "k"}, current: cred(now.Add(-150*day), now.Add(30*day+time.Second)), reason: "not due until"},
		{name: "offset makes it due earlier", binding: rotor.Binding{KeyID: "k", RotateOffset: 2 * time.Hour}, current: cred(now.Add(-150*day), now.Add(30*day+time.Hour)), due: true, trigger: rotor.TriggerSchedule},
		{name: "fraction comes first", binding: rotor.Binding{KeyID: "k"}, policy: func(p *rotor.Policy) { p.RotateAtFraction = 0.5 }, current: cred(now.Add(-91*day), now.Add(89*day)), due: true, trigger: rotor.TriggerSchedule},
		{name: "fraction not reached", binding: rotor.Binding{KeyID: "k"}, policy: func(p *rotor.Policy) { p.RotateAtFraction = 0.5 }, current: cred(now.Add(-89*day), now.Add(91*day)), reason: "not due until 2026-11-22T12:00:00Z"},
		{name: "waits for window on a Saturday", binding: rotor.Binding{KeyID: "k"}, policy: func(p *rotor.Policy) { p.Windows = weekday }, current: cred(now.Add(-160*day), now.Add(20*day)), reason: "waiting for the maintenance window opening 2026-11-23T02:00:00Z"},
		{name: "emergency overrides window", binding: rotor.Binding{KeyID: "k"}, policy: func(p *rotor.Policy) { p.Windows = weekday }, current: cred(now.Add(-178*day), now.Add(2*day)), due: true, trigger: rotor.TriggerEmergency, reason: "within emergency_within 3d0h"},
		{name: "expired", binding: rotor.Binding{KeyID: "k"}, current: cred(now.Add(-181*day), now.Add(-day)), due: true, trigger: rotor.TriggerEmergency, reason: "expired at 2026-11-20T12:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := policy()
			if tt.policy != nil {
				tt.policy(p)
			}
			d := Decide(Facts{Binding: &tt.binding, Policy: p, Current: tt.current, InFlight: tt.flight}, now)
			require.Equal(t, tt.due, d.Due, d.Reason)
			require.Equal(t, tt.trigger, d.Trigger)
			require.True(t, strings.Contains(d.Reason, tt.reason), "reason %q lacks %q", d.Reason, tt.reason)
		})
	}
}

func TestInWindow(t *testing.T) {
	t.Parallel()
	ws := []rotor.MaintenanceWindow{{Cron: "0 2 * * 1-5", Duration: 4 * time.Hour, TimeZone: "Europe/Amsterdam"}}
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // Monday; Amsterdam is UTC+1 in November
	tests := []struct {
		at   time.Time
		open bool
		next time.Time
	}{
		{mon.Add(0*time.Hour + 59*time.Minute), false, mon.Add(1 * time.Hour)}, // 01:59 local
		{mon.Add(1 * time.Hour), true, time.Time{}},                            // 02:00 local, opening
		{mon.Add(4*time.Hour + 59*time.Minute), true, time.Time{}},             // 05:59 local
		{mon.Add(5 * time.Hour), false, mon.Add(25 * time.Hour)},               // 06:00 local: closed, end exclusive
		{now, false, mon.Add(1 * time.Hour)},                                   // Saturday
	}
	for _, tt := range tests {
		open, next, err := InWindow(ws, tt.at)
		require.NoError(t, err)
		require.Equal(t, tt.open, open, tt.at)
		require.Equal(t, tt.next, next, tt.at)
	}
	open, _, err := InWindow(nil, now)
	require.NoError(t, err)
	require.True(t, open, "no windows: always open")
	_, _, err = InWindow([]rotor.MaintenanceWindow{{Cron: "every day", Duration: time.Hour}}, now)
	require.ErrorContains(t, err, `window "every day"`)
}

func TestOffsetIsWithinJitter(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		o := Offset(6*time.Hour, rnd)
		require.GreaterOrEqual(t, o, time.Duration(0))
		require.Less(t, o, 6*time.Hour)
	}
	require.Zero(t, Offset(0, rnd))
}
