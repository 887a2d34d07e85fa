// Package runner drives rotations through the protocol of docs/rotation.md. A rotation row is the
// state machine; workers claim rows with a lease and write every change under the claim's fencing
// token, together with its steps and an audit event, in one transaction. Every phase records its
// intent before its side effect and is idempotent, so a rotation resumes by name on any process
// after a crash.
//
//	pending -> creating -> verifying -> deploying -> grace -> cleaning -> completed
//	                 \          \           \                     \
//	                  +----------+-----------+---------------------+--> failed (retried with
//	                                                                     backoff, then parked)
//	cancel (before grace): revert steps, remove the new credential -> cancelled
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/seal"
)

// MarkerPrefix starts the display name of every credential rotor creates; the rotation id
// follows. The marker is how an interrupted creation is found again.
const MarkerPrefix = "rotor:"

// Marker returns the display name of the credential rotation id creates.
func Marker(rotationID string) string { return MarkerPrefix + rotationID }

// Config holds the engine's collaborators and settings.
type Config struct {
	Store rotor.Store
	Clock clockwork.Clock
	// RenewClock paces background lease renewal (default Clock). Tests whose Clock jumps ahead
	// on every timer give it a real clock.
	RenewClock clockwork.Clock
	Keyring    *seal.Keyring
	Log        *slog.Logger

	// Directory returns the directory of a tenant (by rotor's tenant name).
	Directory func(tenant string) (rotor.Directory, error)
	// Verifier proves new credentials work.
	Verifier rotor.Verifier
	// Target builds the target of a deployment step.
	Target func(tenant string, spec rotor.StepSpec) (rotor.Target, error)
	// Policy returns the policy called name.
	Policy func(name string) (*rotor.Policy, error)
	// WriteLimiter returns the limiter that keeps a tenant's Graph writes under quota.
	WriteLimiter func(tenant string) Limiter
	// Observer, when set, is told of finished steps and attempts (metrics).
	Observer Observer

	Worker      string        // this process's worker id, unique among replicas
	Workers     int           // rotations processed at once (default 4)
	LeaseFor    time.Duration // claim length (default 2m), renewed at a third of it
	Poll        time.Duration // how often idle workers look for work (default 5s)
	MaxAttempts int           // failed attempts before a rotation is parked (default 8)
	BackoffBase time.Duration // default 1m
	BackoffMax  time.Duration // default 6h
}

// Limiter paces writes.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Engine runs rotations.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}

	ownersMu sync.Mutex
	owners   map[string]cachedOwners // tenant/app object id -> its owners, for selectors
}

// New returns an engine.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil, cfg.Keyring == nil, cfg.Directory == nil, cfg.Verifier == nil, cfg.Target == nil, cfg.Policy == nil:
		return nil, errors.New("runner: Store, Keyring, Directory, Verifier, Target and Policy are required")
	case cfg.Worker == "":
		return nil, errors.New("runner: Worker is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.RenewClock == nil {
		cfg.RenewClock = cfg.Clock
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.WriteLimiter == nil {
		cfg.WriteLimiter = func(string) Limiter { return unlimited{} }
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = time.Minute
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 6 * time.Hour
	}
	return &Engine{cfg: cfg, log: cfg.Log, kick: make(chan struct{}, 1)}, nil
}

type unlimited struct{}

func (unlimited) Wait(context.Context) error { return nil }

// Kick wakes idle workers, e.g. after a rotation was inserted in this process.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run claims and processes rotations until ctx ends, then waits for the rotations in hand.
func (e *Engine) Run(ctx context.Context) error {
	sem := make(chan struct{}, e.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		free := e.cfg.Workers - len(sem)
		if free > 0 {
			claimed, err := e.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				e.log.Error("claim rotations", "err", err)
			}
			for _, r := range claimed {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem; e.Kick() }()
					e.process(ctx, r)
				})
			}
			if len(claimed) == free {
				continue // there may be more
			}
		}
		t := e.cfg.Clock.NewTimer(e.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-e.kick:
		case <-t.Chan():
		}
		t.Stop()
	}
}

// RunUntilIdle processes runnable rotations until none is left runnable now. It is what
// `rotor rotate` and the tests use to drive rotations without a server.
func (e *Engine) RunUntilIdle(ctx context.Context) error {
	for {
		claimed, err := e.claim(ctx, e.cfg.Workers)
		if err != nil {
			return err
		}
		if len(claimed) == 0 {
			return nil
		}
		var wg sync.WaitGroup
		for _, r := range claimed {
			wg.Go(func() { e.process(ctx, r) })
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func (e *Engine) claim(ctx context.Context, n int) ([]*rotor.Rotation, error) {
	return e.cfg.Store.RotationClaim(ctx, &rotor.RotationClaimParams{
		Worker: e.cfg.Worker, Now: e.cfg.Clock.Now(), LeaseFor: e.cfg.LeaseFor, Limit: n})
}

// process drives one claimed rotation as far as it can go now, renewing its lease meanwhile.
// It stops when the rotation finishes, fails, waits (grace), or its lease is lost.
func (e *Engine) process(parent context.Context, r *rotor.Rotation) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	renewed := make(chan struct{})
	id, fence := r.ID, r.Fence // drive writes *r (a failed transition restores it): renew keeps copies
	go func() {
		defer close(renewed)
		e.renew(ctx, id, fence, cancel)
	}()
	defer func() { cancel(nil); <-renewed }()

	log := e.log.With("rotation_id", r.ID, "tenant", r.Tenant, "app_id", r.AppID, "binding_id", r.BindingID)
	err := e.drive(ctx, r, log)
	switch {
	case err == nil:
	case errors.Is(err, rotor.ErrLeaseLost) || errors.Is(context.Cause(ctx), rotor.ErrLeaseLost):
		log.Warn("lease lost: another worker took the rotation over; stopping", "err", err)
	case parent.Err() != nil:
		log.Info("stopping: shutting down", "state", r.State)
	default:
		log.Error("rotation step failed to record", "state", r.State, "err", err)
	}
}

// renew extends the lease at a third of its length until ctx ends; a lost lease cancels ctx.
func (e *Engine) renew(ctx context.Context, id string, fence int64, cancel context.CancelCauseFunc) {
	for {
		t := e.cfg.RenewClock.NewTimer(e.cfg.LeaseFor / 3)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
		err := e.cfg.Store.RotationRenewLease(ctx, id, fence, e.cfg.Clock.Now().Add(e.cfg.LeaseFor))
		if errors.Is(err, rotor.ErrLeaseLost) {
			cancel(rotor.ErrLeaseLost)
			return
		}
		if err != nil && ctx.Err() == nil {
			e.log.Warn("renew lease", "rotation_id", id, "err", err)
		}
	}
}

// drive runs phases until the rotation stops for now.
func (e *Engine) drive(ctx context.Context, r *rotor.Rotation, log *slog.Logger) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.CancelRequested {
			return e.cancel(ctx, r, log)
		}
		var err error
		switch r.State {
		case rotor.RotationPending:
			err = e.transition(ctx, r, rotor.RotationCreating, "rotation.started", rotor.OutcomeInfo, "")
		case rotor.RotationFailed:
			resume := r.ResumeState
			if resume == "" || resume == rotor.RotationFailed {
				resume = rotor.RotationCreating
			}
			log.Info("retrying", "attempt", r.Attempt+1, "phase", resume)
			r.State = resume
			continue
		case rotor.RotationCreating:
			err = e.create(ctx, r, log)
		case rotor.RotationVerifying:
			err = e.verify(ctx, r, log)
		case rotor.RotationDeploying:
			err = e.deploy(ctx, r, log)
		case rotor.RotationGrace:
			if e.cfg.Clock.Now().Before(r.GraceUntil) {
				return e.release(ctx, r, r.GraceUntil)
			}
			err = e.transition(ctx, r, rotor.RotationCleaning, "rotation.grace_ended", rotor.OutcomeInfo, "")
		case rotor.RotationCleaning:
			err = e.cleanup(ctx, r, log)
		case rotor.RotationCompleted, rotor.RotationCancelled:
			return nil
		default:
			return fmt.Errorf("rotation %s: unknown state %q", r.ID, r.State)
		}
		if err == nil {
			continue
		}
		var pe *phaseError
		if !errors.As(err, &pe) {
			return err // a store error: the lease expires and the rotation is retried elsewhere
		}
		return e.fail(ctx, r, pe, log)
	}
}

// phaseError is a failure of a phase's work (Entra, verification, a target), as opposed to a
// failure to record it.
type phaseError struct {
	phase rotor.RotationState
	err   error
}

func (p *phaseError) Error() string { return p.err.Error() }
func (p *phaseError) Unwrap() error { return p.err }

func failed(phase rotor.RotationState, err error) error { return &phaseError{phase: phase, err: err} }
