package notify_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
)

var expiryRoute = notify.Route{Name: "expiry", Events: []string{notify.EventExpiring, notify.EventExpired}, Notifiers: []string{"a"}}

// The acceptance case: a credential ages past 30 days, 7 days and its end under a fake
// clock; each crossing is announced once, also after a restart in between and with two replicas
// running over the same database.
func TestThresholdAlertsExactlyOnceAcrossRestartsAndReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app(t, "contoso", "payroll-api")
	c := b.secret(t, app, t0.Add(40*day))
	cfg := notify.Config{Routes: []notify.Route{expiryRoute}}

	first := b.service(t, nil, cfg)
	runOnce(t, first)
	require.Empty(t, b.a.messages(), "40 days left: nothing to say")

	b.advance(10*day + time.Hour) // 29d23h left: past 30 days
	runOnce(t, first)
	runOnce(t, first)
	require.Len(t, b.a.messages(), 1)
	m := b.a.messages()[0]
	require.Equal(t, notify.EventExpiring, m.Event.Type)
	require.Equal(t, 30*day, m.Event.Threshold)
	require.Equal(t, notify.SeverityWarning, m.Event.Severity)
	require.Equal(t, "payroll-api", m.Event.AppDisplayName)
	require.Equal(t, app.ID, m.Event.AppObjectID)
	require.Equal(t, c.KeyID, m.Event.KeyID)
	require.Equal(t, c.EndAt, m.Event.EndAt)

	// A restart: a new service over a new handle on the same database.
	restarted := b.service(t, b.open(t), cfg)
	runOnce(t, restarted)
	require.Len(t, b.a.messages(), 1, "a restart does not announce the crossing again")

	// Two replicas scan, dispatch and send at once, again and again, past 7 days and past the end.
	replicas := []*notify.Service{b.service(t, b.open(t), cfg), b.service(t, b.open(t), cfg)}
	for _, step := range []time.Duration{23 * day, 7 * day} { // 6d23h left, then expired 1h ago
		b.advance(step)
		var wg sync.WaitGroup
		for _, s := range replicas {
			wg.Go(func() {
				for range 5 {
					if _, _, err := s.RunOnce(t.Context()); err != nil {
						t.Errorf("replica: %v", err)
					}
				}
			})
		}
		wg.Wait()
	}
	msgs := b.a.messages()
	require.Len(t, msgs, 3, "30 days, 7 days, expired: once each")
	require.Equal(t, 7*day, msgs[1].Event.Threshold)
	require.Equal(t, notify.SeverityCritical, msgs[1].Event.Severity)
	require.Equal(t, notify.EventExpired, msgs[2].Event.Type)
	for _, n := range b.outbox(t) {
		require.Equal(t, rotor.NotificationSent, n.Status)
	}
	require.Len(t, b.outbox(t), 3)
}

func TestFirstSeenInsideSeveralThresholdsAnnouncesTheTightest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app(t, "contoso", "billing")
	b.secret(t, app, t0.Add(3*day))
	b.secret(t, app, t0.Add(-2*day))  // expired two days ago
	b.secret(t, app, t0.Add(-30*day)) // expired long ago: history, not news
	b.secret(t, app, t0.Add(400*day)) // far away
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{expiryRoute}})
	runOnce(t, s)
	require.ElementsMatch(t, []string{notify.EventExpiring, notify.EventExpired}, b.a.types())
	for _, m := range b.a.messages() {
		if m.Event.Type == notify.EventExpiring {
			require.Equal(t, 7*day, m.Event.Threshold)
		}
	}
}

func TestCustomThresholds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app(t, "contoso", "billing")
	b.secret(t, app, t0.Add(20*day))
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{expiryRoute}, Thresholds: []time.Duration{day, 14 * day, 60 * day}})
	runOnce(t, s)
	b.advance(7 * day)
	runOnce(t, s)
	b.advance(12*day + time.Hour)
	runOnce(t, s)
	var got []time.Duration
	for _, m := range b.a.messages() {
		got = append(got, m.Event.Threshold)
	}
	require.Equal(t, []time.Duration{60 * day, 14 * day, day}, got)
}

// A credential a rotation is replacing is not announced: the rotation's own events tell that
// story. If the rotation fails, the credential still expires, and that is announced.
func TestRotatingCredentialIsNotAnnouncedUntilTheRotationFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app(t, "contoso", "billing")
	c := b.secret(t, app, t0.Add(20*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationVerifying)
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{expiryRoute}})
	runOnce(t, s)
	require.Empty(t, b.a.messages())

	claimed, err := b.st.RotationClaim(t.Context(), &rotor.RotationClaimParams{Worker: "w", Now: t0, LeaseFor: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	claimed[0].State, claimed[0].ResumeState = rotor.RotationFailed, rotor.RotationVerifying
	require.NoError(t, b.st.RotationUpdate(t.Context(), claimed[0]))
	b.advance(time.Minute)
	runOnce(t, s)
	require.Len(t, b.a.messages(), 1)
	m := b.a.messages()[0]
	require.Equal(t, "standard", m.Event.Policy, "the binding's policy")
	require.Equal(t, r.BindingID, m.Event.BindingID)
}

func TestNoExpiryRouteNoScan(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.secret(t, b.app(t, "contoso", "billing"), t0.Add(day))
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{{Name: "failures", Events: []string{"rotation.*"}, Notifiers: []string{"a"}}}})
	runOnce(t, s)
	ths, err := b.st.NotificationThresholdList(t.Context(), &rotor.NotificationThresholdListParams{Tenant: "contoso", KeyIDs: []string{"x"}})
	require.NoError(t, err)
	require.Empty(t, ths)
	require.Empty(t, b.outbox(t))
}
