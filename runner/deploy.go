package runner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/failpoint"
	"github.com/rotorhq/rotor/secret"
)

// deploy runs the binding's steps in order. A step's intent (running) is recorded before its
// side effect; a step that succeeded is not run again when the rotation resumes. A failing step
// with on_failure abort fails the rotation, which resumes at that step; one with continue marks
// the rotation needs_attention and the next step runs. When every step has run, the new credential
// becomes current and the old one enters its grace period.
func (e *Engine) deploy(ctx context.Context, r *rotor.Rotation, log *slog.Logger) error {
	b, p, err := e.bindingAndPolicy(ctx, r)
	if err != nil {
		return err
	}
	specs := stepsOf(b, p)
	existing, err := e.steps(ctx, r)
	if err != nil {
		return err
	}
	var d *rotor.Deployment
	for i, spec := range specs {
		name := stepDeploy + spec.Name
		if prev, ok := existing[name]; ok && (prev.State == rotor.StepSucceeded ||
			prev.State == rotor.StepFailed && prev.OnFailure == rotor.Continue) {
			continue
		}
		if d == nil {
			if d, err = e.deployment(ctx, r, true); err != nil {
				return err
			}
		}
		tg, err := e.cfg.Target(r.Tenant, spec)
		st := e.startStep(existing, r, name, spec.Type, ordDeploy+i, spec.OnFailure)
		if err := e.saveStep(ctx, r, st); err != nil {
			return err
		}
		failpoint.Hit("deploy.before_publish")
		var out rotor.Outcome
		if err == nil {
			d.StepName = spec.Name
			out, err = tg.Publish(ctx, *d)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			e.finishStep(st, rotor.StepFailed, scrub(err.Error(), d.Value))
			if spec.OnFailure == rotor.Continue {
				r.NeedsAttention = true
				log.Warn("step failed; continuing as configured", "step", spec.Name, "err", st.Message)
				if err := e.commit(ctx, r, &rotor.AuditEvent{Action: "step.failed", Outcome: rotor.OutcomeFailure, KeyID: r.NewKeyID,
					Reason: fmt.Sprintf("step %s failed (on_failure: continue): %s", spec.Name, st.Message)}, []*rotor.RotationStep{st}, nil); err != nil {
					return err
				}
				continue
			}
			return e.stepFailed(ctx, r, st, rotor.RotationDeploying, fmt.Errorf("step %s: %s", spec.Name, st.Message))
		}
		failpoint.Hit("deploy.after_publish")
		if !out.Undo.IsZero() {
			if st.Undo, err = e.cfg.Keyring.Seal(out.Undo, undoAD(r.ID, name)); err != nil {
				return fmt.Errorf("seal undo state of step %s: %w", spec.Name, err)
			}
		}
		msg := scrub(out.Message, d.Value)
		if msg == "" {
			msg = "done"
			if !out.Changed {
				msg = "already up to date"
			}
		}
		e.finishStep(st, rotor.StepSucceeded, msg)
		if err := e.commit(ctx, r, &rotor.AuditEvent{Action: "step.succeeded", KeyID: r.NewKeyID,
			Reason: fmt.Sprintf("step %s: %s", spec.Name, msg)}, []*rotor.RotationStep{st}, nil); err != nil {
			return err
		}
		log.Info("step done", "step", spec.Name, "type", spec.Type, "changed", out.Changed)
	}
	return e.finish(ctx, r, b, p, log)
}

// finish makes the new credential current and starts the old one's grace period, which never
// runs past the old credential's own expiry.
func (e *Engine) finish(ctx context.Context, r *rotor.Rotation, b *rotor.Binding, p *rotor.Policy, log *slog.Logger) error {
	dir, err := e.cfg.Directory(r.Tenant)
	if err != nil {
		return failed(rotor.RotationDeploying, err)
	}
	owner := rotor.OwnerRef{Kind: b.OwnerKind, ID: b.OwnerID}
	// Entra's reads can lag its writes: an attempt that saw no marked credential may have
	// created a second one. Remove any but the recorded one before going on.
	if err := e.removeMarked(ctx, r, dir, owner, r.NewKeyID, log); err != nil {
		return failed(rotor.RotationDeploying, err)
	}
	now := e.cfg.Clock.Now()
	graceUntil := now.Add(p.GracePeriod)
	if r.OldKeyID != "" {
		secrets, err := dir.ListSecrets(ctx, owner)
		if err != nil {
			return failed(rotor.RotationDeploying, fmt.Errorf("read old credential: %w", err))
		}
		old := findKey(secrets, r.OldKeyID)
		switch {
		case old == nil:
			graceUntil = now // gone already: nothing to wait for
		case old.EndAt.Before(graceUntil):
			graceUntil = old.EndAt
		}
	} else {
		graceUntil = now
	}
	prev := *r
	r.State, r.GraceUntil = rotor.RotationGrace, graceUntil.UTC()
	reason := fmt.Sprintf("new credential %s is current", r.NewKeyID)
	if r.OldKeyID != "" {
		reason += fmt.Sprintf("; old credential %s stays valid until %s", r.OldKeyID, r.GraceUntil.Format(time.RFC3339))
	}
	err = e.commit(ctx, r, &rotor.AuditEvent{Action: "rotation.deployed", KeyID: r.NewKeyID, Reason: reason},
		nil, func(tx rotor.Store) error {
			cur, err := tx.BindingGet(ctx, b.ID)
			if err != nil {
				return err
			}
			cur.KeyID = r.NewKeyID
			return tx.BindingUpdate(ctx, cur, now)
		})
	if err != nil {
		*r = prev
		return err
	}
	failpoint.Hit("finish.after_commit")
	log.Info("deployed", "key_id", r.NewKeyID, "old_key_id", r.OldKeyID, "grace_until", r.GraceUntil, "needs_attention", r.NeedsAttention)
	return nil
}

// deployment describes the rotation's new credential to targets; withValue opens the sealed secret.
func (e *Engine) deployment(ctx context.Context, r *rotor.Rotation, withValue bool) (*rotor.Deployment, error) {
	tenant, err := e.cfg.Store.TenantGet(ctx, r.Tenant)
	if err != nil {
		return nil, err
	}
	d := &rotor.Deployment{RotationID: r.ID, TenantName: r.Tenant, TenantID: tenant.TenantID, OwnerKind: r.OwnerKind,
		OwnerID: r.OwnerID, AppID: r.AppID, AppDisplayName: r.AppID, Kind: rotor.KindSecret, KeyID: r.NewKeyID,
		PreviousKeyID: r.OldKeyID, ExpiresAt: r.NewEndAt}
	if app, err := e.appName(ctx, r); err == nil {
		d.AppDisplayName = app
	}
	if withValue {
		v, err := e.openNewSecret(ctx, r)
		if err != nil {
			return nil, err
		}
		d.Value = v
	}
	if ss, err := e.cfg.Store.SealedSecretGet(ctx, r.ID); err == nil {
		d.NotBefore = ss.CreatedAt
	}
	return d, nil
}

func (e *Engine) appName(ctx context.Context, r *rotor.Rotation) (string, error) {
	if r.OwnerKind == rotor.OwnerServicePrincipal {
		sp, err := e.cfg.Store.ServicePrincipalGet(ctx, r.Tenant, r.OwnerID)
		if err != nil {
			return "", err
		}
		return sp.DisplayName, nil
	}
	a, err := e.cfg.Store.AppGet(ctx, r.Tenant, r.OwnerID)
	if err != nil {
		return "", err
	}
	return a.DisplayName, nil
}

// stepsOf returns the binding's steps, or its policy's when it has none of its own.
func stepsOf(b *rotor.Binding, p *rotor.Policy) []rotor.StepSpec {
	if b.Steps != nil {
		return b.Steps
	}
	return p.Steps
}

func findKey(creds []*rotor.Credential, keyID string) *rotor.Credential {
	for _, c := range creds {
		if c.KeyID == keyID {
			return c
		}
	}
	return nil
}

// scrubRotation removes the rotation's new secret, when it can be opened, from msg.
func (e *Engine) scrubRotation(ctx context.Context, r *rotor.Rotation, msg string) string {
	if v, err := e.openNewSecret(ctx, r); err == nil {
		return scrub(msg, v)
	}
	return msg
}

// scrub removes a secret value, in clear and in its JSON and base64 forms, from a message a
// target or a command produced, in case it echoed it (a server quoting a Kubernetes Secret's
// data quotes it in base64).
func scrub(msg string, v secret.Value) string {
	if v.Len() < 4 {
		return msg
	}
	return secret.Scrub(msg, v)
}
