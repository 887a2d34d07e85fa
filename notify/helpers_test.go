package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/store/sqlstore"
)

const day = 24 * time.Hour

// t0 is when every test starts.
var t0 = time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)

// recorder is a notifier that remembers what it was asked to send, fails on demand, and signals
// each delivery.
type recorder struct {
	mu    sync.Mutex
	got   []*notify.Message
	fail  []error
	sent  chan *notify.Message
	calls int
}

func newRecorder() *recorder { return &recorder{sent: make(chan *notify.Message, 1000)} }

func (r *recorder) Send(_ context.Context, m *notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if len(r.fail) > 0 {
		err := r.fail[0]
		r.fail = r.fail[1:]
		return err
	}
	cp := *m
	r.got = append(r.got, &cp)
	r.sent <- &cp
	return nil
}

func (r *recorder) failNext(errs ...error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = append(r.fail, errs...)
}

func (r *recorder) messages() []*notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*notify.Message(nil), r.got...)
}

func (r *recorder) types() []string {
	var out []string
	for _, m := range r.messages() {
		out = append(out, m.Event.Type)
	}
	return out
}

// bundle is one test's database, clock and notifiers.
type bundle struct {
	path  string
	st    *sqlstore.Store
	clock *clockwork.FakeClock
	a, b  *recorder
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{path: filepath.Join(t.TempDir(), "rotor.db"), clock: clockwork.NewFakeClockAt(t0), a: newRecorder(), b: newRecorder(), logs: &syncBuffer{}}
	b.st = b.open(t)
	require.NoError(t, b.st.TenantUpsert(t.Context(), &rotor.Tenant{Name: "contoso", TenantID: uuid.NewString(), CreatedAt: t0, UpdatedAt: t0}))
	require.NoError(t, b.st.TenantUpsert(t.Context(), &rotor.Tenant{Name: "fabrikam", TenantID: uuid.NewString(), CreatedAt: t0, UpdatedAt: t0}))
	return b
}

// open opens another handle on the test's database: another process, as far as the store is
// concerned.
func (b *bundle) open(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), b.path, sqlstore.Options{Clock: b.clock})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// service returns a service over st (the bundle's store when nil) with notifiers "a" and "b".
func (b *bundle) service(t *testing.T, st rotor.Store, cfg notify.Config) *notify.Service {
	t.Helper()
	if st == nil {
		st = b.st
	}
	cfg.Store, cfg.Clock = st, b.clock
	if cfg.Worker == "" {
		cfg.Worker = "w-" + uuid.NewString()[:8]
	}
	if cfg.Notifiers == nil {
		cfg.Notifiers = map[string]notify.Notifier{"a": b.a, "b": b.b}
	}
	cfg.Log = slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := notify.New(cfg)
	require.NoError(t, err)
	return s
}

func (b *bundle) advance(d time.Duration) { b.clock.Advance(d) }

// app stores an application and returns it.
func (b *bundle) app(t *testing.T, tenant, name string) *rotor.App {
	t.Helper()
	a := &rotor.App{Tenant: tenant, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: name, SyncedAt: t0}
	require.NoError(t, b.st.AppUpsertBatch(t.Context(), []*rotor.App{a}))
	return a
}

// secret stores a client secret of app ending at end and returns it.
func (b *bundle) secret(t *testing.T, app *rotor.App, end time.Time) *rotor.Credential {
	t.Helper()
	c := &rotor.Credential{Tenant: app.Tenant, KeyID: uuid.NewString(), Kind: rotor.KindSecret, OwnerKind: rotor.OwnerApplication,
		OwnerID: app.ID, AppID: app.AppID, DisplayName: "ci", Hint: "abc", StartAt: end.Add(-180 * day), EndAt: end}
	require.NoError(t, b.st.CredentialPut(t.Context(), c, t0))
	return c
}

// binding makes a binding of policy for c.
func (b *bundle) binding(t *testing.T, c *rotor.Credential, policy string) *rotor.Binding {
	t.Helper()
	bd := &rotor.Binding{ID: uuid.NewString(), Tenant: c.Tenant, OwnerKind: c.OwnerKind, OwnerID: c.OwnerID, AppID: c.AppID,
		Kind: c.Kind, Policy: policy, KeyID: c.KeyID, Source: rotor.BindingFromPolicy, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, b.st.BindingInsert(t.Context(), bd))
	return bd
}

// rotation stores a rotation of binding bd replacing its credential, in state.
func (b *bundle) rotation(t *testing.T, bd *rotor.Binding, state rotor.RotationState) *rotor.Rotation {
	t.Helper()
	r := &rotor.Rotation{ID: uuid.NewString(), BindingID: bd.ID, Tenant: bd.Tenant, OwnerKind: bd.OwnerKind, OwnerID: bd.OwnerID,
		AppID: bd.AppID, Trigger: rotor.TriggerSchedule, State: state, OldKeyID: bd.KeyID, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, b.st.RotationInsert(t.Context(), r))
	return r
}

// audit appends an event about rotation r (nil: none) with action.
func (b *bundle) audit(t *testing.T, r *rotor.Rotation, action, outcome, reason string, details map[string]string) *rotor.AuditEvent {
	t.Helper()
	ev := &rotor.AuditEvent{At: b.clock.Now(), Actor: "runner:w1", Action: action, Outcome: outcome, Reason: reason, Details: details}
	if r != nil {
		ev.Tenant, ev.AppID, ev.RotationID = r.Tenant, r.AppID, r.ID
		if details == nil {
			ev.Details = map[string]string{"binding_id": r.BindingID}
		}
	}
	require.NoError(t, b.st.AuditAppend(t.Context(), ev))
	return ev
}

func (b *bundle) outbox(t *testing.T) []*rotor.Notification {
	t.Helper()
	list, err := b.st.NotificationList(t.Context(), &rotor.NotificationListParams{Limit: 1000})
	require.NoError(t, err)
	return list
}

func runOnce(t *testing.T, s *notify.Service) (enqueued, processed int) {
	t.Helper()
	e, p, err := s.RunOnce(t.Context())
	require.NoError(t, err)
	return e, p
}
