package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
)

// Step names and their places in the history.
const (
	stepCreate  = "create"
	stepVerify  = "verify"
	stepDeploy  = "deploy:" // + the binding step's name
	stepCleanup = "cleanup"
	stepRetire  = "retire:" // + the binding step's name
	stepCancel  = "cancel"
	stepRevert  = "revert:" // + the binding step's name

	ordCreate  = 10
	ordVerify  = 20
	ordDeploy  = 100 // + index
	ordCleanup = 1000
	ordRetire  = 1100 // + index
	ordCancel  = 2000
	ordRevert  = 2100 // + index
)

// commit writes r under its fencing token, the given steps, and one audit event for the change,
// in one transaction; extra runs inside it too.
func (e *Engine) commit(ctx context.Context, r *rotor.Rotation, ev *rotor.AuditEvent, steps []*rotor.RotationStep, extra func(tx rotor.Store) error) error {
	now := e.cfg.Clock.Now()
	r.UpdatedAt = now
	err := e.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		if err := tx.RotationUpdate(ctx, r); err != nil {
			return err
		}
		for _, st := range steps {
			if err := tx.RotationStepPut(ctx, st); err != nil {
				return err
			}
		}
		if ev != nil {
			e.fillAudit(r, ev, now)
			if err := tx.AuditAppend(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		e.observe(r, ev, steps...)
	}
	return err
}

func (e *Engine) fillAudit(r *rotor.Rotation, ev *rotor.AuditEvent, now time.Time) {
	ev.At = now
	if ev.Actor == "" {
		ev.Actor = "runner:" + e.cfg.Worker
	}
	ev.Tenant, ev.AppID, ev.RotationID = r.Tenant, r.AppID, r.ID
	if ev.Outcome == "" {
		ev.Outcome = rotor.OutcomeSuccess
	}
	if ev.Details == nil {
		ev.Details = map[string]string{}
	}
	ev.Details["state"] = string(r.State)
	ev.Details["binding_id"] = r.BindingID
}

// transition moves r to state with an audit event.
func (e *Engine) transition(ctx context.Context, r *rotor.Rotation, state rotor.RotationState, action, outcome, reason string) error {
	prev := *r
	r.State = state
	if err := e.commit(ctx, r, &rotor.AuditEvent{Action: action, Outcome: outcome, Reason: reason}, nil, nil); err != nil {
		*r = prev
		return err
	}
	return nil
}

// release gives up the lease until next, leaving the rotation in its state.
func (e *Engine) release(ctx context.Context, r *rotor.Rotation, next time.Time) error {
	r.LeaseOwner, r.LeaseExpiresAt, r.NextAttemptAt = "", time.Time{}, next
	r.UpdatedAt = e.cfg.Clock.Now()
	return e.cfg.Store.RotationUpdate(ctx, r)
}

// fail records a failed phase: the attempt is counted, the rotation waits for its backoff (or is
// parked when attempts are exhausted) and resumes in the failed phase.
func (e *Engine) fail(ctx context.Context, r *rotor.Rotation, pe *phaseError, log *slog.Logger) error {
	now := e.cfg.Clock.Now()
	r.Attempt++
	r.State, r.ResumeState, r.LastError = rotor.RotationFailed, pe.phase, truncate(pe.err.Error(), 2000)
	r.LeaseOwner, r.LeaseExpiresAt = "", time.Time{}
	next := now.Add(e.backoff(r.Attempt))
	if ra := rotor.RetryAfterOf(pe.err); ra > 0 && now.Add(ra).After(next) {
		next = now.Add(ra)
	}
	reason := fmt.Sprintf("%s failed (attempt %d of %d): %s", pe.phase, r.Attempt, e.cfg.MaxAttempts, r.LastError)
	action := "rotation.failed"
	if r.Attempt >= e.cfg.MaxAttempts || rotor.ClassOf(pe.err) == rotor.ClassPermanent && errors.Is(pe.err, errNoRetry) {
		next = time.Time{} // parked until an operator retries or cancels
		action = "rotation.parked"
		reason += "; no more automatic retries (rotor rotation retry or cancel)"
	}
	r.NextAttemptAt = next
	log.Error("rotation failed", "phase", pe.phase, "attempt", r.Attempt, "next_attempt_at", next, "err", pe.err)
	return e.commit(ctx, r, &rotor.AuditEvent{Action: action, Outcome: rotor.OutcomeFailure, Reason: reason,
		Details: map[string]string{"phase": string(pe.phase)}}, nil, nil)
}

// errNoRetry marks failures that retrying cannot fix (a policy that blocks new secrets).
var errNoRetry = errors.New("retrying cannot help")

// backoff is the wait after the attempt-th failure: doubling from the base up to the maximum,
// jittered down by up to 20%. It depends only on the stored attempt count, so it survives
// restarts.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.BackoffBase << min(attempt-1, 30)
	if d > e.cfg.BackoffMax || d <= 0 {
		d = e.cfg.BackoffMax
	}
	return d - time.Duration(rand.Float64()*0.2*float64(d))
}

// steps loads a rotation's step records by name.
func (e *Engine) steps(ctx context.Context, r *rotor.Rotation) (map[string]*rotor.RotationStep, error) {
	list, err := e.cfg.Store.RotationStepList(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*rotor.RotationStep, len(list))
	for _, s := range list {
		m[s.Name] = s
	}
	return m, nil
}

// startStep returns the step's record, marked running for a new attempt.
func (e *Engine) startStep(existing map[string]*rotor.RotationStep, r *rotor.Rotation, name, typ string, ord int, onFailure rotor.OnFailure) *rotor.RotationStep {
	st, ok := existing[name]
	if !ok {
		st = &rotor.RotationStep{RotationID: r.ID, Name: name, Type: typ, Ordinal: ord, OnFailure: onFailure}
		existing[name] = st
	}
	st.State, st.Attempt, st.Message = rotor.StepRunning, st.Attempt+1, ""
	st.StartedAt, st.FinishedAt = e.cfg.Clock.Now(), time.Time{}
	return st
}

func (e *Engine) finishStep(st *rotor.RotationStep, state rotor.StepState, msg string) {
	st.State, st.Message, st.FinishedAt = state, truncate(msg, 1000), e.cfg.Clock.Now()
}

// saveStep records a step on its own (intent before a side effect), under the rotation's fence.
func (e *Engine) saveStep(ctx context.Context, r *rotor.Rotation, st *rotor.RotationStep) error {
	err := e.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		if err := tx.RotationRenewLease(ctx, r.ID, r.Fence, e.cfg.Clock.Now().Add(e.cfg.LeaseFor)); err != nil {
			return err
		}
		return tx.RotationStepPut(ctx, st)
	})
	if err == nil {
		e.observe(r, nil, st)
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// sealAD binds a sealed secret to its rotation and credential.
func sealAD(rotationID, keyID string) []byte {
	return []byte("rotor/secret/" + rotationID + "/" + keyID)
}

// undoAD binds a step's sealed undo state to its rotation and step.
func undoAD(rotationID, step string) []byte { return []byte("rotor/undo/" + rotationID + "/" + step) }
