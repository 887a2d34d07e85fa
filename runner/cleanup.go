package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/failpoint"
)

// cleanup removes the old credential once the grace period has passed, only when the binding
// manages it: it is the credential the binding pointed at when the rotation was planned, and no
// other binding points at it now. Targets that retire something (disable an old Key Vault
// version) do so here; their failures mark the rotation needs_attention.
func (e *Engine) cleanup(ctx context.Context, r *rotor.Rotation, log *slog.Logger) error {
	b, p, err := e.bindingAndPolicy(ctx, r)
	if err != nil {
		return err
	}
	existing, err := e.steps(ctx, r)
	if err != nil {
		return err
	}
	st := e.startStep(existing, r, stepCleanup, "cleanup", ordCleanup, rotor.Abort)
	if err := e.saveStep(ctx, r, st); err != nil {
		return err
	}
	dir, err := e.cfg.Directory(r.Tenant)
	if err != nil {
		return e.stepFailed(ctx, r, st, rotor.RotationCleaning, err)
	}
	owner := rotor.OwnerRef{Kind: b.OwnerKind, ID: b.OwnerID}
	msg := "no old credential to remove"
	if r.OldKeyID != "" && r.OldKeyID != r.NewKeyID {
		others, err := e.cfg.Store.BindingList(ctx, &rotor.BindingListParams{Tenant: r.Tenant, OwnerID: b.OwnerID})
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.KeyID == r.OldKeyID {
				return e.stepFailed(ctx, r, st, rotor.RotationCleaning, rotor.Permanent(fmt.Errorf("%w: old credential %s is the current credential of binding %s: not removing it",
					errNoRetry, r.OldKeyID, o.ID)))
			}
		}
		// Record the removal before making it, so that a sync seeing the credential gone does
		// not report it as removed outside rotor.
		if err := e.cfg.Store.CredentialMarkRemoved(ctx, &rotor.CredentialMarkRemovedParams{Tenant: r.Tenant, KeyID: r.OldKeyID,
			At: e.cfg.Clock.Now(), By: rotor.RemovedByRotor}); err != nil && !errors.Is(err, rotor.ErrNotFound) {
			return err
		}
		if err := e.cfg.WriteLimiter(r.Tenant).Wait(ctx); err != nil {
			return err
		}
		failpoint.Hit("cleanup.before_remove")
		err = dir.RemoveSecret(ctx, owner, r.OldKeyID)
		switch {
		case errors.Is(err, rotor.ErrNotFound):
			msg = fmt.Sprintf("old credential %s was already gone", r.OldKeyID)
		case err != nil:
			return e.stepFailed(ctx, r, st, rotor.RotationCleaning, fmt.Errorf("remove old credential %s: %w", r.OldKeyID, err))
		default:
			msg = fmt.Sprintf("removed old credential %s", r.OldKeyID)
			if err := e.audit(ctx, r, &rotor.AuditEvent{Action: "credential.removed", KeyID: r.OldKeyID, Reason: "grace period over"}); err != nil {
				return err
			}
		}
		failpoint.Hit("cleanup.after_remove")
	}
	if err := e.retire(ctx, r, b, p, existing, log); err != nil {
		return err
	}
	e.finishStep(st, rotor.StepSucceeded, msg)
	r.State, r.FinishedAt = rotor.RotationCompleted, e.cfg.Clock.Now()
	r.LeaseOwner, r.LeaseExpiresAt = "", r.FinishedAt
	outcome, action := rotor.OutcomeSuccess, "rotation.completed"
	if r.NeedsAttention {
		outcome, action = rotor.OutcomeFailure, "rotation.completed_needs_attention"
	}
	if err := e.commit(ctx, r, &rotor.AuditEvent{Action: action, Outcome: outcome, KeyID: r.NewKeyID, Reason: msg}, []*rotor.RotationStep{st}, nil); err != nil {
		return err
	}
	log.Info("rotation completed", "removed_key_id", r.OldKeyID, "needs_attention", r.NeedsAttention)
	return nil
}

// retire runs Retire on the targets that have something to do after the grace period.
func (e *Engine) retire(ctx context.Context, r *rotor.Rotation, b *rotor.Binding, p *rotor.Policy, existing map[string]*rotor.RotationStep, log *slog.Logger) error {
	var d *rotor.Deployment
	for i, spec := range stepsOf(b, p) {
		name := stepRetire + spec.Name
		if prev, ok := existing[name]; ok && prev.State != rotor.StepRunning {
			continue
		}
		tg, err := e.cfg.Target(r.Tenant, spec)
		if err != nil {
			continue // reported when the step was deployed
		}
		ret, ok := tg.(rotor.Retirer)
		if !ok {
			continue
		}
		if d == nil {
			if d, err = e.deployment(ctx, r, false); err != nil {
				return err
			}
		}
		st := e.startStep(existing, r, name, spec.Type, ordRetire+i, rotor.Continue)
		if err := e.saveStep(ctx, r, st); err != nil {
			return err
		}
		d.StepName = spec.Name
		if err := ret.Retire(ctx, *d); err != nil {
			msg := e.scrubRotation(ctx, r, err.Error())
			e.finishStep(st, rotor.StepFailed, msg)
			r.NeedsAttention = true
			log.Warn("retire failed", "step", spec.Name, "err", msg)
		} else {
			e.finishStep(st, rotor.StepSucceeded, "done")
		}
		if err := e.saveStep(ctx, r, st); err != nil {
			return err
		}
	}
	return nil
}
