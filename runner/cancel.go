package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

// cancel stops a rotation an operator cancelled: the steps that published the new value are
// rolled back in reverse order where their targets can, and the credential this rotation
// created is removed (with any other carrying its marker). Once the new credential is current
// (grace, cleaning) there is nothing to cancel: the request is refused and cleared.
func (e *Engine) cancel(ctx context.Context, r *rotor.Rotation, log *slog.Logger) error {
	phase := r.State
	if phase == rotor.RotationFailed {
		phase = r.ResumeState
	}
	if phase == rotor.RotationGrace || phase == rotor.RotationCleaning {
		r.CancelRequested = false
		if r.State == rotor.RotationFailed {
			r.NextAttemptAt = e.cfg.Clock.Now()
		}
		return e.commit(ctx, r, &rotor.AuditEvent{Action: "rotation.cancel_refused", Outcome: rotor.OutcomeFailure,
			Reason: "the new credential is already current; the old one is removed after its grace period"}, nil, nil)
	}
	b, p, err := e.bindingAndPolicy(ctx, r)
	if err != nil {
		return err
	}
	existing, err := e.steps(ctx, r)
	if err != nil {
		return err
	}
	st := e.startStep(existing, r, stepCancel, "cancel", ordCancel, rotor.Continue)
	if err := e.saveStep(ctx, r, st); err != nil {
		return err
	}
	var problems []string
	if r.NewKeyID != "" {
		problems = append(problems, e.revert(ctx, r, b, p, existing, log)...)
	}
	dir, err := e.cfg.Directory(r.Tenant)
	if err == nil {
		owner := rotor.OwnerRef{Kind: b.OwnerKind, ID: b.OwnerID}
		err = e.removeMarked(ctx, r, dir, owner, "", log) // the new credential carries the marker too
	}
	if err != nil {
		// Leave the rotation to be retried: its credential must not be left behind.
		return e.stepFailed(ctx, r, st, phase, fmt.Errorf("cancel: remove the new credential: %w", err))
	}
	msg := "cancelled"
	if r.NewKeyID != "" {
		msg = fmt.Sprintf("cancelled; removed new credential %s", r.NewKeyID)
	}
	if len(problems) > 0 {
		r.NeedsAttention = true
		msg += "; not rolled back: " + strings.Join(problems, "; ")
	}
	e.finishStep(st, rotor.StepSucceeded, msg)
	r.State, r.FinishedAt, r.CancelRequested = rotor.RotationCancelled, e.cfg.Clock.Now(), false
	r.LeaseOwner, r.LeaseExpiresAt = "", r.FinishedAt
	if err := e.commit(ctx, r, &rotor.AuditEvent{Action: "rotation.cancelled", Outcome: rotor.OutcomeInfo, KeyID: r.NewKeyID, Reason: msg},
		[]*rotor.RotationStep{st}, nil); err != nil {
		return err
	}
	log.Info("rotation cancelled", "new_key_id", r.NewKeyID, "problems", len(problems))
	return nil
}

// revert rolls back the deploy steps that succeeded, last first, and returns what it could not.
func (e *Engine) revert(ctx context.Context, r *rotor.Rotation, b *rotor.Binding, p *rotor.Policy, existing map[string]*rotor.RotationStep, log *slog.Logger) []string {
	specs := stepsOf(b, p)
	var done []int
	for i, spec := range specs {
		if st, ok := existing[stepDeploy+spec.Name]; ok && (st.State == rotor.StepSucceeded || st.State == rotor.StepRunning) {
			done = append(done, i)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(done)))
	if len(done) == 0 {
		return nil
	}
	d, err := e.deployment(ctx, r, false)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, i := range done {
		spec := specs[i]
		deployed := existing[stepDeploy+spec.Name]
		name := stepRevert + spec.Name
		if prev, ok := existing[name]; ok && prev.State == rotor.StepSucceeded {
			continue
		}
		tg, err := e.cfg.Target(r.Tenant, spec)
		var rev rotor.Reverter
		if err == nil {
			var ok bool
			if rev, ok = tg.(rotor.Reverter); !ok {
				problems = append(problems, fmt.Sprintf("step %s (%s) cannot be rolled back", spec.Name, spec.Type))
				continue
			}
		}
		st := e.startStep(existing, r, name, spec.Type, ordRevert+i, rotor.Continue)
		if serr := e.saveStep(ctx, r, st); serr != nil {
			return append(problems, serr.Error())
		}
		var undo secret.Value
		if err == nil {
			var uerr error
			undo, uerr = e.openUndo(r, deployed)
			d.StepName = spec.Name
			err = errors.Join(uerr, rev.Revert(ctx, *d, undo))
		}
		if err != nil {
			// A rollback puts the previous value back: its errors may quote it, or the new one.
			msg := scrub(e.scrubRotation(ctx, r, err.Error()), undo)
			e.finishStep(st, rotor.StepFailed, msg)
			problems = append(problems, fmt.Sprintf("step %s: %s", spec.Name, msg))
			log.Warn("rollback failed", "step", spec.Name, "err", msg)
		} else {
			e.finishStep(st, rotor.StepSucceeded, "rolled back")
		}
		if serr := e.saveStep(ctx, r, st); serr != nil {
			return append(problems, serr.Error())
		}
	}
	return problems
}

func (e *Engine) openUndo(r *rotor.Rotation, st *rotor.RotationStep) (secret.Value, error) {
	if len(st.Undo) == 0 {
		return secret.Value{}, nil
	}
	return e.cfg.Keyring.Open(st.Undo, undoAD(r.ID, st.Name))
}
