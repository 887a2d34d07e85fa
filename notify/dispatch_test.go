package notify_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
)

func TestDispatchResolvesAndRoutesAuditEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	payroll := b.app(t, "contoso", "payroll-api")
	billing := b.app(t, "fabrikam", "billing")
	pc := b.secret(t, payroll, t0.Add(20*day))
	bc := b.secret(t, billing, t0.Add(20*day))
	pr := b.rotation(t, b.binding(t, pc, "standard"), rotor.RotationDeploying)
	br := b.rotation(t, b.binding(t, bc, "relaxed"), rotor.RotationDeploying)

	s := b.service(t, nil, notify.Config{Routes: []notify.Route{
		// Everything that matters, of one tenant, to a.
		{Name: "contoso-team", Tenants: []string{"contoso"}, Notifiers: []string{"a"}},
		// Failures under the standard policy, to a and b.
		{Name: "standard-failures", Events: []string{"rotation.failed", "rotation.parked"}, Policies: []string{"standard"}, Notifiers: []string{"a", "b"}},
		// One app by client id, another by display-name glob, to b.
		{Name: "apps", Apps: []string{billing.AppID, "payroll-*"}, Events: []string{"rotation.completed", notify.ActionCredentialAddedOutOfBand}, Notifiers: []string{"b"}},
	}})
	runOnce(t, s) // the cursor starts at the head of the trail

	b.audit(t, pr, "step.succeeded", rotor.OutcomeSuccess, "step kv: published", nil) // routine: routed nowhere
	b.audit(t, pr, "rotation.failed", rotor.OutcomeFailure, "deploying failed (attempt 1 of 8): step kv: 403", map[string]string{"phase": "deploying"})
	b.audit(t, br, "rotation.completed", rotor.OutcomeSuccess, "done", nil)
	// The inventory sync names tenant, app and key, and describes the credential in details.
	ev := &rotor.AuditEvent{At: b.clock.Now(), Actor: "sync", Action: notify.ActionCredentialAddedOutOfBand, Outcome: rotor.OutcomeInfo,
		Tenant: "contoso", AppID: payroll.AppID, KeyID: "7d6c5b4a-0000-4000-8000-000000000001",
		Details: map[string]string{"owner_kind": "application", "display_name": "added by hand", "end": t0.Add(700 * day).Format(time.RFC3339)}}
	require.NoError(t, b.st.AuditAppend(t.Context(), ev))

	enq, sent := runOnce(t, s)
	type got struct{ route, notifier, event string }
	var rows []got
	for _, n := range b.outbox(t) {
		rows = append(rows, got{n.Route, n.Notifier, n.Event})
		require.Equal(t, rotor.NotificationSent, n.Status)
	}
	sort.Slice(rows, func(i, j int) bool { return fmt.Sprint(rows[i]) < fmt.Sprint(rows[j]) })
	require.Equal(t, []got{
		{"apps", "b", notify.ActionCredentialAddedOutOfBand},
		{"apps", "b", "rotation.completed"},
		{"contoso-team", "a", notify.ActionCredentialAddedOutOfBand},
		{"contoso-team", "a", "rotation.failed"},
		{"standard-failures", "a", "rotation.failed"},
		{"standard-failures", "b", "rotation.failed"},
	}, rows)
	require.Equal(t, 6, enq)
	require.Equal(t, 6, sent)

	var failed, oob *notify.Message
	for _, m := range b.a.messages() {
		switch m.Event.Type {
		case "rotation.failed":
			failed = m
		case notify.ActionCredentialAddedOutOfBand:
			oob = m
		}
	}
	require.NotNil(t, failed)
	require.Equal(t, "payroll-api", failed.Event.AppDisplayName, "resolved from the rotation's owner")
	require.Equal(t, "standard", failed.Event.Policy)
	require.Equal(t, pc.KeyID, failed.Event.KeyID, "the credential that expires unless the rotation succeeds")
	require.Equal(t, pc.EndAt, failed.Event.EndAt)
	require.Equal(t, "deploying", failed.Event.Details["phase"])
	require.Equal(t, notify.SeverityWarning, failed.Event.Severity)
	require.NotNil(t, oob)
	require.Equal(t, "payroll-api", oob.Event.AppDisplayName, "resolved from the client id")
	require.Equal(t, "added by hand", oob.Event.CredentialName, "from the sync's details")
	require.Equal(t, t0.Add(700*day), oob.Event.EndAt)

	// Nothing twice, also after a restart.
	runOnce(t, s)
	runOnce(t, b.service(t, b.open(t), notify.Config{Routes: []notify.Route{{Name: "contoso-team", Tenants: []string{"contoso"}, Notifiers: []string{"a"}}}}))
	require.Len(t, b.outbox(t), 6)
}

func TestDispatchStartsAtTheHeadOfTheTrail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.secret(t, b.app(t, "contoso", "billing"), t0.Add(100*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationDeploying)
	for range 3 {
		b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, "history", nil)
	}
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{{Name: "all", Notifiers: []string{"a"}}}})
	runOnce(t, s)
	require.Empty(t, b.a.messages(), "enabling notifications does not replay history")
	b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, "news", nil)
	runOnce(t, s)
	require.Len(t, b.a.messages(), 1)
	require.Equal(t, "news", b.a.messages()[0].Event.Reason)
}

// A rotation that keeps failing is announced once; parking it is news again.
func TestRepeatedFailuresOfOneRotationAnnouncedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.secret(t, b.app(t, "contoso", "billing"), t0.Add(100*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationDeploying)
	s := b.service(t, nil, notify.Config{Routes: []notify.Route{{Name: "all", Notifiers: []string{"a"}}}})
	runOnce(t, s)
	for i := range 4 {
		b.audit(t, r, "rotation.failed", rotor.OutcomeFailure, fmt.Sprintf("attempt %d", i+1), nil)
		runOnce(t, s)
	}
	b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, "attempts exhausted", nil)
	runOnce(t, s)
	require.Equal(t, []string{"rotation.failed", "rotation.parked"}, b.a.types())
	require.Equal(t, "attempt 1", b.a.messages()[0].Event.Reason)
}

func TestDispatchReplicasEnqueueEachEventOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.secret(t, b.app(t, "contoso", "billing"), t0.Add(100*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationDeploying)
	cfg := notify.Config{Routes: []notify.Route{{Name: "all", Events: []string{"rotation.parked"}, Notifiers: []string{"a", "b"}}}, BatchSize: 7}
	replicas := []*notify.Service{b.service(t, nil, cfg), b.service(t, b.open(t), cfg), b.service(t, b.open(t), cfg)}
	runOnce(t, replicas[0])
	const events = 60
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range events {
			b.audit(t, r, "rotation.parked", rotor.OutcomeFailure, fmt.Sprint(i), nil)
		}
	})
	for _, s := range replicas {
		wg.Go(func() {
			for range 10 {
				if _, err := s.Dispatch(t.Context()); err != nil {
					t.Errorf("dispatch: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for _, s := range replicas {
		_, err := s.Dispatch(t.Context())
		require.NoError(t, err)
	}
	for _, s := range replicas {
		_, err := s.SendDue(t.Context())
		require.NoError(t, err)
	}
	require.Len(t, b.outbox(t), 2*events)
	require.Len(t, b.a.messages(), events)
	require.Len(t, b.b.messages(), events)
	seen := map[string]bool{}
	for _, m := range b.a.messages() {
		require.False(t, seen[m.Event.Reason], "event %s delivered twice", m.Event.Reason)
		seen[m.Event.Reason] = true
	}
}
