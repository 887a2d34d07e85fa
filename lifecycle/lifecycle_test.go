package lifecycle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStateOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	th := DefaultThresholds

	tests := []struct {
		name  string
		facts Facts
		want  State
	}{
		{"far from expiry", Facts{EndAt: now.Add(90 * day)}, Active},
		{"one second outside the warning threshold", Facts{EndAt: now.Add(30*day + time.Second)}, Active},
		{"exactly at the warning threshold", Facts{EndAt: now.Add(30 * day)}, Expiring},
		{"inside the critical threshold", Facts{EndAt: now.Add(2 * day)}, Expiring},
		{"one nanosecond left", Facts{EndAt: now.Add(time.Nanosecond)}, Expiring},
		{"end date is now", Facts{EndAt: now}, Expired},
		{"end date passed", Facts{EndAt: now.Add(-day)}, Expired},
		{"rotation in flight", Facts{EndAt: now.Add(10 * day), Rotating: true}, Rotating},
		{"rotation in flight while far from expiry", Facts{EndAt: now.Add(200 * day), Rotating: true}, Rotating},
		{"successor live", Facts{EndAt: now.Add(10 * day), Superseded: true}, Grace},
		{"successor live wins over rotating", Facts{EndAt: now.Add(10 * day), Superseded: true, Rotating: true}, Grace},
		{"grace but end date passed", Facts{EndAt: now.Add(-time.Minute), Superseded: true}, Expired},
		{"rotating but end date passed", Facts{EndAt: now.Add(-time.Minute), Rotating: true}, Expired},
		{"removed by rotor", Facts{EndAt: now.Add(10 * day), Removed: true, RemovedByRotor: true}, CleanedUp},
		{"removed by rotor after expiry", Facts{EndAt: now.Add(-10 * day), Removed: true, RemovedByRotor: true}, CleanedUp},
		{"removed outside rotor", Facts{EndAt: now.Add(10 * day), Removed: true}, Removed},
		{"removed outside rotor after expiry", Facts{EndAt: now.Add(-10 * day), Removed: true}, Removed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, StateOf(tt.facts, th, now))
		})
	}
}

func TestStateOfCustomThresholds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := Thresholds{Warn: time.Hour, Critical: time.Minute}
	require.Equal(t, Active, StateOf(Facts{EndAt: now.Add(2 * time.Hour)}, th, now))
	require.Equal(t, Expiring, StateOf(Facts{EndAt: now.Add(30 * time.Minute)}, th, now))
}

func TestUrgencyOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		left time.Duration
		want Urgency
	}{
		{-day, UrgencyExpired},
		{0, UrgencyExpired},
		{time.Second, UrgencyCritical},
		{7 * day, UrgencyCritical},
		{7*day + time.Second, UrgencyWarning},
		{30 * day, UrgencyWarning},
		{30*day + time.Second, UrgencyNone},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, UrgencyOf(now.Add(tt.left), DefaultThresholds, now), "left %v", tt.left)
	}
	require.Equal(t, "critical", UrgencyCritical.String())
}

func TestParseState(t *testing.T) {
	t.Parallel()
	for _, s := range States {
		got, err := ParseState(string(s))
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	_, err := ParseState("expird")
	require.ErrorContains(t, err, `unknown credential state "expird"`)
}
