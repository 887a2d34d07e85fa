package notify_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/secret"
)

// oneAlert sets up a credential 20 days from its end and a route that announces it to a, and
// returns the service after its alert was enqueued (not sent).
func oneAlert(t *testing.T, b *bundle, cfg notify.Config) *notify.Service {
	t.Helper()
	b.secret(t, b.app(t, "contoso", "billing"), t0.Add(20*day))
	cfg.Routes = []notify.Route{expiryRoute}
	s := b.service(t, nil, cfg)
	n, err := s.Scan(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	return s
}

func only(t *testing.T, b *bundle) *rotor.Notification {
	t.Helper()
	list := b.outbox(t)
	require.Len(t, list, 1)
	return list[0]
}

func TestFailedDeliveryIsRetriedWithBackoffAndShown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := oneAlert(t, b, notify.Config{BackoffBase: time.Minute, BackoffMax: 10 * time.Minute})
	b.a.failNext(rotor.Transient(errors.New("dial tcp 10.0.0.25:587: connection refused")),
		rotor.Throttled(errors.New("429 too many requests"), 30*time.Minute))

	_, err := s.SendDue(t.Context())
	require.NoError(t, err)
	n := only(t, b)
	require.Equal(t, rotor.NotificationRetrying, n.Status)
	require.Equal(t, 1, n.Attempt)
	require.Equal(t, "dial tcp 10.0.0.25:587: connection refused", n.LastError)
	require.WithinRange(t, n.NextAttemptAt, t0.Add(48*time.Second), t0.Add(time.Minute), "backoff from the base, jittered down")
	require.Contains(t, b.logs.String(), "will retry")
	require.Contains(t, b.logs.String(), "notification_id="+n.ID)

	_, err = s.SendDue(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, b.a.calls, "not due yet: not tried again")

	b.advance(time.Minute)
	_, err = s.SendDue(t.Context())
	require.NoError(t, err)
	n = only(t, b)
	require.Equal(t, 2, n.Attempt)
	require.Equal(t, t0.Add(time.Minute+30*time.Minute), n.NextAttemptAt, "a throttled receiver's Retry-After wins over a shorter backoff")

	// A restart in between: the attempt count and the next attempt are the row's, not the process's.
	b.advance(30 * time.Minute)
	_, err = b.service(t, b.open(t), notify.Config{Routes: []notify.Route{expiryRoute}}).SendDue(t.Context())
	require.NoError(t, err)
	n = only(t, b)
	require.Equal(t, rotor.NotificationSent, n.Status)
	require.Empty(t, n.LastError)
	require.Equal(t, t0.Add(31*time.Minute), n.SentAt)
	require.Len(t, b.a.messages(), 1)
}

func TestPermanentFailureAndExhaustedAttempts(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		errs     []error
		attempts int
	}{
		"permanent":     {[]error{rotor.Permanent(errors.New("550 5.1.1 mailbox unavailable"))}, 1},
		"exhausted":     {[]error{rotor.Transient(errors.New("a")), rotor.Transient(errors.New("b")), errors.New("c: unclassified")}, 3},
		"not retryable": {[]error{rotor.Transient(errors.New("a")), rotor.Permanent(errors.New("b"))}, 2},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := oneAlert(t, b, notify.Config{MaxAttempts: 3})
			b.a.failNext(tt.errs...)
			for range 5 {
				_, err := s.SendDue(t.Context())
				require.NoError(t, err)
				b.advance(2 * time.Hour)
			}
			n := only(t, b)
			require.Equal(t, rotor.NotificationFailed, n.Status)
			require.Equal(t, tt.attempts, n.Attempt)
			require.True(t, n.NextAttemptAt.IsZero())
			require.Equal(t, tt.errs[len(tt.errs)-1].Error(), n.LastError)
			require.Contains(t, b.logs.String(), "giving up")

			// An operator retries it (the API will); it goes out.
			_, err := b.st.NotificationRequestRetry(t.Context(), n.ID, b.clock.Now())
			require.NoError(t, err)
			_, err = s.SendDue(t.Context())
			require.NoError(t, err)
			require.Equal(t, rotor.NotificationSent, only(t, b).Status)
		})
	}
}

func TestRemovedNotifierFailsPermanently(t *testing.T) {
	t.Parallel()
	b := setup(t)
	oneAlert(t, b, notify.Config{})
	s := b.service(t, nil, notify.Config{Notifiers: map[string]notify.Notifier{"b": b.b}})
	_, err := s.SendDue(t.Context())
	require.NoError(t, err)
	n := only(t, b)
	require.Equal(t, rotor.NotificationFailed, n.Status)
	require.Contains(t, n.LastError, `notifier "a" is not configured`)
}

type secrets map[string]string

func (s secrets) RotationSecret(_ context.Context, rotationID string) (secret.Value, error) {
	v, ok := s[rotationID]
	if !ok {
		return secret.Value{}, fmt.Errorf("rotation %s: %w", rotationID, rotor.ErrNotFound)
	}
	return secret.New(v), nil
}

func TestOwnersAndSecretAreAddedAtSendTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app := b.app(t, "contoso", "payroll-api")
	c := b.secret(t, app, t0.Add(100*day))
	r := b.rotation(t, b.binding(t, c, "standard"), rotor.RotationDeploying)
	const value = "fake-rotated-value-for-test"
	var mu sync.Mutex
	var asked []string
	owners := notify.OwnerMailsFunc(func(_ context.Context, tenant, objectID string) ([]string, error) {
		mu.Lock() // senders call it concurrently
		defer mu.Unlock()
		asked = append(asked, tenant+"/"+objectID)
		if objectID != app.ID {
			return nil, nil
		}
		return []string{"alice@example.com", " Alice@example.com", "bob@example.com", ""}, nil
	})
	cfg := notify.Config{Owners: owners, Secrets: secrets{r.ID: value}, Routes: []notify.Route{
		{Name: "owners", Events: []string{"rotation.deployed", "rotation.failed"}, ToOwners: true, IncludeSecret: true, Notifiers: []string{"a"}},
		{Name: "team", Events: []string{"rotation.deployed"}, Notifiers: []string{"b"}},
	}}
	s := b.service(t, nil, cfg)
	runOnce(t, s)
	b.audit(t, r, "rotation.failed", rotor.OutcomeFailure, "verify timed out", nil)
	b.audit(t, r, "rotation.deployed", rotor.OutcomeSuccess, "deployed", nil)
	runOnce(t, s)

	msgs := b.a.messages()
	require.Len(t, msgs, 2)
	if msgs[0].Event.Type != "rotation.failed" {
		msgs[0], msgs[1] = msgs[1], msgs[0]
	}
	require.Equal(t, []string{"alice@example.com", "bob@example.com"}, msgs[0].To, "owners, deduplicated")
	require.True(t, msgs[0].Secret.IsZero(), "a failure carries no secret")
	require.Equal(t, "rotation.deployed", msgs[1].Event.Type)
	require.Equal(t, value, msgs[1].Secret.Reveal(), "the deployed event carries it on the include_secret route")
	require.Equal(t, []string{"contoso/" + app.ID, "contoso/" + app.ID}, asked)

	team := b.b.messages()
	require.Len(t, team, 1)
	require.True(t, team[0].Secret.IsZero(), "a route without include_secret never gets it")
	require.Empty(t, team[0].To)

	for _, n := range b.outbox(t) {
		require.NotContains(t, string(n.Payload), value, "the outbox never holds a secret")
		require.NotContains(t, n.LastError, value)
	}
	require.NotContains(t, b.logs.String(), value, "nor do the logs")
}

func TestOwnerLookupFailureIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	owners := notify.OwnerMailsFunc(func(context.Context, string, string) ([]string, error) {
		if calls.Add(1) == 1 {
			return nil, errors.New("store: database is locked")
		}
		return []string{"owner@example.com"}, nil
	})
	b.secret(t, b.app(t, "contoso", "billing"), t0.Add(20*day))
	route := expiryRoute
	route.ToOwners = true
	s := b.service(t, nil, notify.Config{Owners: owners, Routes: []notify.Route{route}, BackoffBase: time.Second})
	runOnce(t, s)
	n := only(t, b)
	require.Equal(t, rotor.NotificationRetrying, n.Status)
	require.Contains(t, n.LastError, "look up the owners")
	b.advance(time.Second)
	runOnce(t, s)
	require.Len(t, b.a.messages(), 1)
	require.Equal(t, []string{"owner@example.com"}, b.a.messages()[0].To)
}

func TestNewRejectsBadWiring(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := map[string]struct {
		cfg  notify.Config
		want string
	}{
		"unknown notifier":   {notify.Config{Routes: []notify.Route{{Name: "r", Notifiers: []string{"zz"}}}}, `no notifier is named "zz"`},
		"owners not wired":   {notify.Config{Routes: []notify.Route{{Name: "r", Notifiers: []string{"a"}, ToOwners: true}}}, "no OwnerMails"},
		"secrets not wired":  {notify.Config{Routes: []notify.Route{{Name: "r", Notifiers: []string{"a"}, IncludeSecret: true}}}, "no SecretSource"},
		"duplicate route":    {notify.Config{Routes: []notify.Route{{Name: "r", Notifiers: []string{"a"}}, {Name: "r", Notifiers: []string{"a"}}}}, "two routes"},
		"negative threshold": {notify.Config{Thresholds: []time.Duration{-day}}, "must be positive"},
	}
	for name, tt := range tests {
		tt.cfg.Store, tt.cfg.Worker = b.st, "w"
		tt.cfg.Notifiers = map[string]notify.Notifier{"a": b.a}
		_, err := notify.New(tt.cfg)
		require.ErrorContains(t, err, tt.want, name)
	}
	_, err := notify.New(notify.Config{Worker: "w"})
	require.ErrorContains(t, err, "Store is required")
	_, err = notify.New(notify.Config{Store: b.st})
	require.ErrorContains(t, err, "Worker is required")
}
