package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/secret"
)

// OwnerMails returns the mail addresses of an application's owners. The wiring provides it from
// the inventory; an app without owners (or whose owners have no mail) returns none and no error.
// It is called by concurrent senders: it must be safe for concurrent use and honour ctx.
type OwnerMails interface {
	OwnerMails(ctx context.Context, tenant, appObjectID string) ([]string, error)
}

// OwnerMailsFunc adapts a function to OwnerMails.
type OwnerMailsFunc func(ctx context.Context, tenant, appObjectID string) ([]string, error)

// OwnerMails implements OwnerMails.
func (f OwnerMailsFunc) OwnerMails(ctx context.Context, tenant, appObjectID string) ([]string, error) {
	return f(ctx, tenant, appObjectID)
}

// SecretSource opens the new secret a rotation created, for routes with include_secret. It
// returns an error wrapping rotor.ErrNotFound when the rotation stored none. It must be safe for
// concurrent use.
type SecretSource interface {
	RotationSecret(ctx context.Context, rotationID string) (secret.Value, error)
}

// Config holds the service's collaborators and settings.
type Config struct {
	Store rotor.Store
	Clock clockwork.Clock
	Log   *slog.Logger
	// Worker identifies this process among replicas (lease owner of the notifications it sends).
	Worker string

	// Notifiers by configured name.
	Notifiers map[string]Notifier
	Routes    []Route
	// Owners resolves "to the app's owners"; required when a route has ToOwners.
	Owners OwnerMails
	// Secrets opens new secrets; required when a route has IncludeSecret.
	Secrets SecretSource

	// Thresholds are the expiry alerts, as durations before the end (default 30d and 7d); the
	// expiry itself is always a threshold (credential.expired).
	Thresholds []time.Duration
	// Lifecycle grades severities: a threshold at or under Lifecycle.Critical is critical.
	Lifecycle lifecycle.Thresholds
	// ExpiredWithin limits credential.expired alerts to credentials that expired this recently
	// (default 7d), so that starting rotor on an old tenant does not announce years of history.
	ExpiredWithin time.Duration

	DispatchInterval time.Duration // how often the audit trail is read (default 15s)
	ScanInterval     time.Duration // how often thresholds and digests are checked (default 5m)
	SendInterval     time.Duration // how often idle senders look for due notifications (default 10s)
	BatchSize        int           // audit events per dispatch transaction, notifications per claim (default 100)
	SendTimeout      time.Duration // one delivery attempt (default 30s)
	LeaseFor         time.Duration // claim length (default 2m; at least twice SendTimeout)
	MaxAttempts      int           // failed attempts before a notification is failed (default 10)
	BackoffBase      time.Duration // wait after the first failure, doubling (default 30s)
	BackoffMax       time.Duration // longest wait between attempts (default 1h)
	Retention        time.Duration // sent and failed notifications are pruned after this (default 90d)
}

// Service turns the audit trail and the credential inventory into notifications and delivers
// them, exactly once per event, route and notifier, across restarts and replicas:
//
//	audit trail --dispatch--> outbox <--scan-- credentials (thresholds), digests
//	                            |
//	                          send (claim with lease, deliver, record, back off)
//
// Every pass is safe to run on several replicas at once: the database's unique keys and
// compare-and-set cursors decide who enqueues, leases decide who sends.
type Service struct {
	cfg    Config
	log    *slog.Logger
	routes map[string]*Route
	kick   chan struct{}

	mu       sync.Mutex
	initDone map[string]bool // cursors this process has created
}

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("notify: Store is required")
	}
	if cfg.Worker == "" {
		return nil, errors.New("notify: Worker is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Thresholds) == 0 {
		cfg.Thresholds = []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour}
	}
	cfg.Thresholds = slices.Clone(cfg.Thresholds)
	slices.SortFunc(cfg.Thresholds, func(a, b time.Duration) int { return int((b - a) / time.Microsecond) })
	cfg.Thresholds = slices.Compact(cfg.Thresholds)
	for _, th := range cfg.Thresholds {
		if th <= 0 {
			return nil, fmt.Errorf("notify: threshold %s: must be positive (expiry itself is always announced)", th)
		}
	}
	if cfg.Lifecycle == (lifecycle.Thresholds{}) {
		cfg.Lifecycle = lifecycle.DefaultThresholds
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ExpiredWithin, 7*24*time.Hour)
	def(&cfg.DispatchInterval, 15*time.Second)
	def(&cfg.ScanInterval, 5*time.Minute)
	def(&cfg.SendInterval, 10*time.Second)
	def(&cfg.SendTimeout, 30*time.Second)
	def(&cfg.LeaseFor, max(2*time.Minute, 2*cfg.SendTimeout))
	def(&cfg.BackoffBase, 30*time.Second)
	def(&cfg.BackoffMax, time.Hour)
	def(&cfg.Retention, 90*24*time.Hour)
	if cfg.LeaseFor < 2*cfg.SendTimeout {
		return nil, fmt.Errorf("notify: LeaseFor %s must be at least twice SendTimeout %s", cfg.LeaseFor, cfg.SendTimeout)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	s := &Service{cfg: cfg, log: cfg.Log, routes: map[string]*Route{}, kick: make(chan struct{}, 1), initDone: map[string]bool{}}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if r.Name == "" {
			return nil, fmt.Errorf("notify: routes[%d] has no name", i)
		}
		if _, dup := s.routes[r.Name]; dup {
			return nil, fmt.Errorf("notify: two routes are named %q", r.Name)
		}
		s.routes[r.Name] = r
		for _, n := range r.Notifiers {
			if _, ok := cfg.Notifiers[n]; !ok {
				return nil, fmt.Errorf("notify: route %s: no notifier is named %q", r.Name, n)
			}
		}
		if r.ToOwners && cfg.Owners == nil {
			return nil, fmt.Errorf("notify: route %s sends to owners but no OwnerMails is wired", r.Name)
		}
		if r.IncludeSecret && cfg.Secrets == nil {
			return nil, fmt.Errorf("notify: route %s includes secrets but no SecretSource is wired", r.Name)
		}
	}
	return s, nil
}

// Run dispatches, scans and sends until ctx ends. Each loop runs at once, then at its interval;
// errors are logged and the loop goes on.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, fn func(context.Context) (int, error), kick <-chan struct{}) {
		defer wg.Done()
		for {
			n, err := fn(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Error("notify: "+name+" failed", "err", err)
			}
			if n > 0 && name != "send" {
				s.Kick()
			}
			t := s.cfg.Clock.NewTimer(every)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.Chan():
			case <-kick:
				t.Stop()
			}
		}
	}
	wg.Add(3)
	go loop("dispatch", s.cfg.DispatchInterval, s.Dispatch, nil)
	go loop("scan", s.cfg.ScanInterval, s.Scan, nil)
	go loop("send", s.cfg.SendInterval, s.SendDue, s.kick)
	wg.Wait()
	return nil
}

// Kick wakes the sender, e.g. after something was enqueued in this process.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// RunOnce runs one dispatch pass, one scan and sends what is due, and returns how many
// notifications it enqueued and delivered (or failed). Tests and the CLI use it.
func (s *Service) RunOnce(ctx context.Context) (enqueued, processed int, err error) {
	d, err1 := s.Dispatch(ctx)
	sc, err2 := s.Scan(ctx)
	p, err3 := s.SendDue(ctx)
	return d + sc, p, errors.Join(err1, err2, err3)
}

// auditHead returns the sequence number of the newest audit event (0 for an empty trail).
func (s *Service) auditHead(ctx context.Context) (int64, error) {
	evs, err := s.cfg.Store.AuditList(ctx, &rotor.AuditListParams{Descending: true, Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("read the audit head: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	return evs[0].Seq, nil
}

// cursor returns the position of the named cursor, creating it at the audit head when it does
// not exist: notifications begin with the events after the first start, never replay history.
func (s *Service) cursor(ctx context.Context, name string) (int64, error) {
	s.mu.Lock()
	done := s.initDone[name]
	s.mu.Unlock()
	var head int64
	if !done {
		var err error
		if head, err = s.auditHead(ctx); err != nil {
			return 0, err
		}
	}
	pos, err := s.cfg.Store.NotifyCursorInit(ctx, name, head, s.cfg.Clock.Now())
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.initDone[name] = true
	s.mu.Unlock()
	return pos, nil
}

// notification makes the outbox row for e through notifier n of route r.
func (s *Service) notification(key string, r *Route, notifier string, e *Event, payload []byte, now time.Time) *rotor.Notification {
	return &rotor.Notification{ID: newID(), Key: key + "/" + r.Name + "/" + notifier, Route: r.Name, Notifier: notifier, Event: e.Type,
		Tenant: e.Tenant, AppID: e.AppID, KeyID: e.KeyID, RotationID: e.RotationID, AuditSeq: e.AuditSeq, Payload: payload,
		Status: rotor.NotificationPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
}

func newID() string { return uuid.NewString() }
