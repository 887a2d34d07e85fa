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

// verify proves the new credential works: token requests with it until the policy's number of
// consecutive successes, waiting out Entra's replication delay (seconds to about 20 minutes) with
// backoff, until the policy's timeout counted from the step's start. Nothing is published before
// this passes.
func (e *Engine) verify(ctx context.Context, r *rotor.Rotation, log *slog.Logger) error {
	_, p, err := e.bindingAndPolicy(ctx, r)
	if err != nil {
		return err
	}
	tenant, err := e.cfg.Store.TenantGet(ctx, r.Tenant)
	if err != nil {
		return err
	}
	value, err := e.openNewSecret(ctx, r)
	if err != nil {
		return err
	}
	existing, err := e.steps(ctx, r)
	if err != nil {
		return err
	}
	st := e.startStep(existing, r, stepVerify, "verify", ordVerify, rotor.Abort)
	if err := e.saveStep(ctx, r, st); err != nil {
		return err
	}
	deadline := st.StartedAt.Add(p.Verify.Timeout)
	interval := max(p.Verify.Interval, 100*time.Millisecond)
	wait := interval
	var ok, tries int
	var lastErr error
	for ok < p.Verify.Successes {
		if e.cfg.Clock.Now().After(deadline) {
			err := fmt.Errorf("new credential %s did not get %s within %s (%s): %w",
				r.NewKeyID, tokens(p.Verify.Successes), p.Verify.Timeout, triesText(tries), lastErr)
			return e.stepFailed(ctx, r, st, rotor.RotationVerifying, err)
		}
		tries++
		if err := e.cfg.Store.RotationRenewLease(ctx, r.ID, r.Fence, e.cfg.Clock.Now().Add(e.cfg.LeaseFor)); err != nil {
			return err
		}
		err := e.cfg.Verifier.Verify(ctx, tenant.TenantID, r.AppID, p.Verify.Scope, value)
		switch {
		case err == nil:
			ok++
			wait = interval
		case ctx.Err() != nil:
			return ctx.Err()
		case rotor.Retryable(err):
			ok, lastErr = 0, err // replication: it works on some replicas and not others yet
			wait = min(wait*2, time.Minute)
			log.Debug("new credential not accepted yet", "tries", tries, "err", err)
		default:
			return e.stepFailed(ctx, r, st, rotor.RotationVerifying, fmt.Errorf("verify new credential %s: %w", r.NewKeyID, err))
		}
		if ok < p.Verify.Successes {
			if err := e.sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
	failpoint.Hit("verify.after_success")
	e.finishStep(st, rotor.StepSucceeded, fmt.Sprintf("%s after %s in %s", tokens(p.Verify.Successes), triesText(tries),
		e.cfg.Clock.Since(st.StartedAt).Round(time.Millisecond)))
	r.State = rotor.RotationDeploying
	err = e.commit(ctx, r, &rotor.AuditEvent{Action: "credential.verified", KeyID: r.NewKeyID, Reason: st.Message}, []*rotor.RotationStep{st}, nil)
	if err != nil {
		r.State = rotor.RotationVerifying
		return err
	}
	log.Info("new credential verified", "key_id", r.NewKeyID, "tries", tries)
	return nil
}

// openNewSecret reads and opens the sealed value of the rotation's new credential.
func (e *Engine) openNewSecret(ctx context.Context, r *rotor.Rotation) (value secret.Value, err error) {
	ss, err := e.cfg.Store.SealedSecretGet(ctx, r.ID)
	if err != nil {
		return value, fmt.Errorf("sealed secret of rotation %s: %w", r.ID, err)
	}
	if ss.KeyID != r.NewKeyID {
		return value, fmt.Errorf("sealed secret of rotation %s is for key %s, not %s", r.ID, ss.KeyID, r.NewKeyID)
	}
	v, err := e.cfg.Keyring.Open(ss.Ciphertext, sealAD(r.ID, ss.KeyID))
	if err != nil {
		return value, fmt.Errorf("open sealed secret of rotation %s: %w", r.ID, err)
	}
	return v, nil
}

func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	t := e.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// tokens says how many tokens in a row verification asks for.
func tokens(n int) string {
	if n == 1 {
		return "a token"
	}
	return fmt.Sprintf("%d consecutive tokens", n)
}

func triesText(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}
