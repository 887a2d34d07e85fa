package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/failpoint"
)

// create adds the new credential. The rotation row in state creating is the durable intent; the
// credential carries the marker rotor:<rotation id>. addPassword has no idempotency key, so every
// attempt first lists the owner's secrets: a marked credential whose value was not stored (the
// answer was lost, or the process died before storing it) is removed, then one is created again.
// The value is sealed and stored in the same transaction that records the new key id.
func (e *Engine) create(ctx context.Context, r *rotor.Rotation, log *slog.Logger) error {
	b, p, err := e.bindingAndPolicy(ctx, r)
	if err != nil {
		return err
	}
	dir, err := e.cfg.Directory(r.Tenant)
	if err != nil {
		return failed(rotor.RotationCreating, err)
	}
	existing, err := e.steps(ctx, r)
	if err != nil {
		return err
	}
	st := e.startStep(existing, r, stepCreate, "create", ordCreate, rotor.Abort)
	if err := e.saveStep(ctx, r, st); err != nil {
		return err
	}
	failpoint.Hit("create.before_reconcile")
	owner := rotor.OwnerRef{Kind: b.OwnerKind, ID: b.OwnerID}
	if err := e.removeMarked(ctx, r, dir, owner, "", log); err != nil {
		e.finishStep(st, rotor.StepFailed, err.Error())
		return e.stepFailed(ctx, r, st, rotor.RotationCreating, err)
	}

	if err := e.checkSecretLimit(ctx, r.Tenant, owner, dir); err != nil {
		return e.stepFailed(ctx, r, st, rotor.RotationCreating, err)
	}
	now := e.cfg.Clock.Now()
	end, capMsg, err := e.lifetime(ctx, dir, owner, p, now)
	if err != nil {
		e.finishStep(st, rotor.StepFailed, err.Error())
		return e.stepFailed(ctx, r, st, rotor.RotationCreating, err)
	}
	if err := e.stepsReady(ctx, r, b, p, end, log); err != nil {
		return e.stepFailed(ctx, r, st, rotor.RotationCreating, err)
	}
	if err := e.cfg.WriteLimiter(r.Tenant).Wait(ctx); err != nil {
		return err
	}
	failpoint.Hit("create.before_add")
	ns, err := dir.AddSecret(ctx, owner, Marker(r.ID), end)
	if err != nil {
		// Whether or not the secret exists now, the next attempt reconciles by the marker.
		e.finishStep(st, rotor.StepFailed, err.Error())
		return e.stepFailed(ctx, r, st, rotor.RotationCreating, fmt.Errorf("add secret: %w", err))
	}
	failpoint.Hit("create.after_add")
	ct, err := e.cfg.Keyring.Seal(ns.Value, sealAD(r.ID, ns.KeyID))
	if err != nil {
		return fmt.Errorf("seal new secret: %w", err) // the marked credential is removed by the next attempt
	}
	msg := fmt.Sprintf("created secret %s ending %s", ns.KeyID, ns.EndAt.UTC().Format(time.RFC3339))
	if capMsg != "" {
		msg += "; " + capMsg
	}
	e.finishStep(st, rotor.StepSucceeded, msg)
	r.NewKeyID, r.NewEndAt, r.State = ns.KeyID, ns.EndAt.UTC(), rotor.RotationVerifying
	err = e.commit(ctx, r, &rotor.AuditEvent{Action: "credential.created", KeyID: ns.KeyID, Reason: msg,
		Details: map[string]string{"display_name": ns.DisplayName, "end": ns.EndAt.UTC().Format(time.RFC3339)}},
		[]*rotor.RotationStep{st}, func(tx rotor.Store) error {
			if err := tx.SealedSecretPut(ctx, &rotor.SealedSecret{RotationID: r.ID, Tenant: r.Tenant, KeyID: ns.KeyID,
				KeyRef: e.cfg.Keyring.Current(), Ciphertext: ct, CreatedAt: e.cfg.Clock.Now()}); err != nil {
				return err
			}
			// The inventory learns of the credential now, not at the next sync: the planner
			// must see the binding's new credential at once.
			name, _ := e.appName(ctx, r)
			return tx.CredentialPut(ctx, &rotor.Credential{Tenant: r.Tenant, KeyID: ns.KeyID, Kind: rotor.KindSecret,
				OwnerKind: r.OwnerKind, OwnerID: r.OwnerID, OwnerName: name, AppID: r.AppID, DisplayName: ns.DisplayName,
				Hint: ns.Hint, StartAt: ns.StartAt, EndAt: ns.EndAt}, e.cfg.Clock.Now())
		})
	if err != nil {
		r.NewKeyID, r.NewEndAt, r.State = "", time.Time{}, rotor.RotationCreating
		return err
	}
	failpoint.Hit("create.after_store")
	log.Info("created new secret", "key_id", ns.KeyID, "end", ns.EndAt, "capped", capMsg != "")
	return nil
}

// stepsReady runs the preflight of every step before the new secret is created: a rotation that
// cannot deploy should not take the owner's room for a second secret, nor leave a secret behind
// that nothing uses. A step that may fail (on_failure: continue) only warns; the rotation goes on
// and is marked needs_attention if that step fails when it runs.
func (e *Engine) stepsReady(ctx context.Context, r *rotor.Rotation, b *rotor.Binding, p *rotor.Policy, end time.Time, log *slog.Logger) error {
	probe := *r
	probe.NewEndAt = end
	d, err := e.deployment(ctx, &probe, false)
	if err != nil {
		return err
	}
	for _, spec := range stepsOf(b, p) {
		tg, err := e.cfg.Target(r.Tenant, spec)
		if err == nil {
			d.StepName = spec.Name
			err = tg.Preflight(ctx, *d)
		}
		if err == nil {
			continue
		}
		err = fmt.Errorf("step %s (%s) is not ready, so no secret was created: %w", spec.Name, spec.Type, err)
		if spec.OnFailure == rotor.Continue {
			log.Warn("step preflight failed; the step may fail (on_failure: continue)", "step", spec.Name, "err", err)
			continue
		}
		return err
	}
	return nil
}

// removeMarked removes the credentials carrying r's marker, except keep (the one r stored).
func (e *Engine) removeMarked(ctx context.Context, r *rotor.Rotation, dir rotor.Directory, owner rotor.OwnerRef, keep string, log *slog.Logger) error {
	secrets, err := dir.ListSecrets(ctx, owner)
	if err != nil {
		return fmt.Errorf("list secrets to reconcile: %w", err)
	}
	for _, c := range secrets {
		if c.DisplayName != Marker(r.ID) || c.KeyID == keep {
			continue
		}
		if err := e.cfg.WriteLimiter(r.Tenant).Wait(ctx); err != nil {
			return err
		}
		if err := dir.RemoveSecret(ctx, owner, c.KeyID); err != nil && !errors.Is(err, rotor.ErrNotFound) {
			return fmt.Errorf("remove unrecorded secret %s: %w", c.KeyID, err)
		}
		log.Warn("removed a secret of this rotation whose value was not stored", "key_id", c.KeyID)
		if err := e.audit(ctx, r, &rotor.AuditEvent{Action: "credential.removed_unrecorded", KeyID: c.KeyID,
			Reason: "created by an interrupted attempt of this rotation; its value was never stored"}); err != nil {
			return err
		}
	}
	return nil
}

// audit appends an event about r on its own.
func (e *Engine) audit(ctx context.Context, r *rotor.Rotation, ev *rotor.AuditEvent) error {
	e.fillAudit(r, ev, e.cfg.Clock.Now())
	return e.cfg.Store.AuditAppend(ctx, ev)
}

// lifetime is the end date of a new secret: the policy's lifetime, capped by the tenant's app
// management policy. A policy that blocks new secrets fails without retries.
func (e *Engine) lifetime(ctx context.Context, dir rotor.Directory, owner rotor.OwnerRef, p *rotor.Policy, now time.Time) (time.Time, string, error) {
	res, err := dir.SecretRestriction(ctx, owner)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("read app management policy: %w", err)
	}
	if res.Blocked {
		return time.Time{}, "", rotor.Permanent(fmt.Errorf("%w: app management policy %s blocks adding secrets to this app", errNoRetry, res.Source))
	}
	life := p.Lifetime
	var msg string
	if res.MaxLifetime > 0 && res.MaxLifetime < life {
		msg = fmt.Sprintf("lifetime capped from %s to %s by app management policy %s", days(life), days(res.MaxLifetime), res.Source)
		life = res.MaxLifetime
	}
	return now.Add(life).UTC().Truncate(time.Second), msg, nil
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// stepFailed records a failed step and returns the phase failure for the caller to record.
func (e *Engine) stepFailed(ctx context.Context, r *rotor.Rotation, st *rotor.RotationStep, phase rotor.RotationState, err error) error {
	if st.State == rotor.StepRunning {
		e.finishStep(st, rotor.StepFailed, err.Error())
	}
	if serr := e.saveStep(ctx, r, st); serr != nil {
		return errors.Join(err, serr)
	}
	return failed(phase, err)
}

// bindingAndPolicy loads the rotation's binding and its policy.
func (e *Engine) bindingAndPolicy(ctx context.Context, r *rotor.Rotation) (*rotor.Binding, *rotor.Policy, error) {
	b, err := e.cfg.Store.BindingGet(ctx, r.BindingID)
	if err != nil {
		return nil, nil, err
	}
	p, err := e.cfg.Policy(b.Policy)
	if err != nil {
		return nil, nil, failed(r.State, fmt.Errorf("policy %q of binding %s: %w", b.Policy, b.ID, err))
	}
	return b, p, nil
}

// checkSecretLimit refuses a rotation that cannot add a secret: an application that accepts
// personal Microsoft accounts holds at most two client secrets, and rotating needs room for the
// new one next to the old. Retrying cannot help; an operator must remove an unused secret.
// https://learn.microsoft.com/entra/identity-platform/supported-accounts-validation
func (e *Engine) checkSecretLimit(ctx context.Context, tenant string, owner rotor.OwnerRef, dir rotor.Directory) error {
	if owner.Kind != rotor.OwnerApplication {
		return nil
	}
	app, err := e.cfg.Store.AppGet(ctx, tenant, owner.ID)
	if err != nil || !strings.Contains(app.SignInAudience, "Personal") {
		return nil // unknown to the inventory: Graph will say
	}
	secrets, err := dir.ListSecrets(ctx, owner)
	if err != nil {
		return err
	}
	if len(secrets) >= 2 {
		return rotor.Permanent(fmt.Errorf("%w: application %s accepts personal Microsoft accounts (%s), which limits it to two client secrets, and it has %d: remove an unused one so that the new secret fits next to the current one",
			errNoRetry, app.DisplayName, app.SignInAudience, len(secrets)))
	}
	return nil
}
