package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/planner"
)

// PlanItem is the planner's decision for one binding.
type PlanItem struct {
	Binding    *rotor.Binding
	Decision   planner.Decision
	RotationID string // the rotation planned now, when one was
	Skipped    string // why a due binding got no rotation now
}

// PlanOptions narrow a planning round.
type PlanOptions struct {
	DryRun  bool   // decide only; insert nothing
	Tenant  string // only this tenant's bindings
	OwnerID string // only this owner's bindings
	Actor   string // recorded on planned rotations (default "planner")
}

// Plan decides for every binding whether it is due and plans a rotation for those that are,
// within each policy's limit of rotations in flight per tenant.
func (e *Engine) Plan(ctx context.Context, o PlanOptions) ([]PlanItem, error) {
	bindings, err := e.cfg.Store.BindingList(ctx, &rotor.BindingListParams{Tenant: o.Tenant, OwnerID: o.OwnerID})
	if err != nil {
		return nil, err
	}
	inflight, err := e.cfg.Store.RotationList(ctx, &rotor.RotationListParams{Tenant: o.Tenant, Limit: 1 << 30,
		States: []rotor.RotationState{rotor.RotationPending, rotor.RotationCreating, rotor.RotationVerifying,
			rotor.RotationDeploying, rotor.RotationGrace, rotor.RotationCleaning, rotor.RotationFailed}})
	if err != nil {
		return nil, err
	}
	byBinding := map[string]bool{}
	running := map[[2]string]int{} // (tenant, policy) -> rotations before grace
	policyOf := map[string]string{}
	for _, b := range bindings {
		policyOf[b.ID] = b.Policy
	}
	for _, r := range inflight {
		byBinding[r.BindingID] = true
		if r.State != rotor.RotationGrace && r.State != rotor.RotationCleaning {
			running[[2]string{r.Tenant, policyOf[r.BindingID]}]++
		}
	}
	current, err := e.currentCredentials(ctx, bindings)
	if err != nil {
		return nil, err
	}
	now := e.cfg.Clock.Now()
	items := make([]PlanItem, 0, len(bindings))
	for _, b := range bindings {
		item := PlanItem{Binding: b}
		p, err := e.cfg.Policy(b.Policy)
		if err != nil {
			item.Decision.Reason = fmt.Sprintf("policy %q: %v", b.Policy, err)
			items = append(items, item)
			continue
		}
		var cur *rotor.Credential
		if c := current[[2]string{b.Tenant, b.KeyID}]; c != nil && !c.Removed() {
			cur = c
		}
		item.Decision = planner.Decide(planner.Facts{Binding: b, Policy: p, Current: cur, InFlight: byBinding[b.ID]}, now)
		if item.Decision.Due {
			key := [2]string{b.Tenant, b.Policy}
			switch {
			case running[key] >= p.MaxConcurrentPerTenant && item.Decision.Trigger != rotor.TriggerEmergency:
				item.Skipped = fmt.Sprintf("%d rotations in flight in tenant %s under policy %s (max_concurrent_per_tenant)", running[key], b.Tenant, b.Policy)
			case o.DryRun:
			default:
				r, err := e.insert(ctx, b, item.Decision.Trigger, item.Decision.Reason, o.Actor)
				if errors.Is(err, rotor.ErrConflict) {
					item.Skipped = "another process planned it first"
					break
				}
				if err != nil {
					return nil, err
				}
				item.RotationID = r.ID
				running[key]++
			}
		}
		items = append(items, item)
	}
	if !o.DryRun {
		e.Kick()
	}
	return items, nil
}

// keyIDsPerRead bounds the key ids of one credential read (PostgreSQL allows 65,535 parameters).
const keyIDsPerRead = 1000

// currentCredentials reads the credentials the bindings manage, by (tenant, key id), a thousand
// per query rather than one query per binding.
func (e *Engine) currentCredentials(ctx context.Context, bindings []*rotor.Binding) (map[[2]string]*rotor.Credential, error) {
	keys := map[string][]string{} // tenant -> key ids
	for _, b := range bindings {
		if b.KeyID != "" {
			keys[b.Tenant] = append(keys[b.Tenant], b.KeyID)
		}
	}
	m := make(map[[2]string]*rotor.Credential, len(bindings))
	for tenant, ids := range keys {
		for start := 0; start < len(ids); start += keyIDsPerRead {
			creds, err := e.cfg.Store.CredentialList(ctx, &rotor.CredentialListParams{Tenant: tenant,
				KeyIDs: ids[start:min(start+keyIDsPerRead, len(ids))], IncludeRemoved: true})
			if err != nil {
				return nil, err
			}
			for _, c := range creds {
				m[[2]string{c.Tenant, c.KeyID}] = c
			}
		}
	}
	return m, nil
}

// Request plans a rotation of a binding now, whatever its schedule (rotor rotate, the API).
func (e *Engine) Request(ctx context.Context, bindingID, actor string) (*rotor.Rotation, error) {
	b, err := e.cfg.Store.BindingGet(ctx, bindingID)
	if err != nil {
		return nil, err
	}
	if b.Paused {
		return nil, fmt.Errorf("binding %s is paused: %w", b.ID, rotor.ErrConflict)
	}
	r, err := e.insert(ctx, b, rotor.TriggerManual, "requested by "+actor, actor)
	if err != nil {
		return nil, err
	}
	e.Kick()
	return r, nil
}

func (e *Engine) insert(ctx context.Context, b *rotor.Binding, trigger rotor.RotationTrigger, reason, actor string) (*rotor.Rotation, error) {
	if actor == "" {
		actor = "planner"
	}
	now := e.cfg.Clock.Now()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	r := &rotor.Rotation{ID: id.String(), BindingID: b.ID, Tenant: b.Tenant, OwnerKind: b.OwnerKind, OwnerID: b.OwnerID,
		AppID: b.AppID, Trigger: trigger, State: rotor.RotationPending, OldKeyID: b.KeyID, NextAttemptAt: now,
		CreatedAt: now, UpdatedAt: now, RequestedBy: actor}
	err = e.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		if err := tx.RotationInsert(ctx, r); err != nil {
			return err
		}
		ev := &rotor.AuditEvent{Actor: actor, Action: "rotation.planned", KeyID: b.KeyID, Outcome: rotor.OutcomeInfo, Reason: reason,
			Details: map[string]string{"trigger": string(trigger)}}
		e.fillAudit(r, ev, now)
		return tx.AuditAppend(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// RequestCancel asks for a rotation to be cancelled; the worker holding it (or the next to
// claim it) rolls it back.
func (e *Engine) RequestCancel(ctx context.Context, id, actor string) (*rotor.Rotation, error) {
	r, err := e.cfg.Store.RotationGet(ctx, id)
	if err != nil {
		return nil, err
	}
	phase := r.State
	if phase == rotor.RotationFailed {
		phase = r.ResumeState
	}
	if phase == rotor.RotationGrace || phase == rotor.RotationCleaning {
		return nil, fmt.Errorf("rotation %s: the new credential is already current, nothing to cancel: %w", id, rotor.ErrConflict)
	}
	var out *rotor.Rotation
	err = e.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		var err error
		if out, err = tx.RotationRequestCancel(ctx, id, e.cfg.Clock.Now()); err != nil {
			return err
		}
		ev := &rotor.AuditEvent{Actor: actor, Action: "rotation.cancel_requested", Outcome: rotor.OutcomeInfo}
		e.fillAudit(out, ev, e.cfg.Clock.Now())
		return tx.AuditAppend(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	e.Kick()
	return out, nil
}

// RequestRetry makes a failed (or parked) rotation runnable now with a fresh attempt count.
func (e *Engine) RequestRetry(ctx context.Context, id, actor string) (*rotor.Rotation, error) {
	var out *rotor.Rotation
	err := e.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		var err error
		if out, err = tx.RotationRequestRetry(ctx, id, e.cfg.Clock.Now()); err != nil {
			return err
		}
		ev := &rotor.AuditEvent{Actor: actor, Action: "rotation.retry_requested", Outcome: rotor.OutcomeInfo}
		e.fillAudit(out, ev, e.cfg.Clock.Now())
		return tx.AuditAppend(ctx, ev)
	})
	if err != nil {
		return nil, err
	}
	e.Kick()
	return out, nil
}

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.cfg.Clock.Now() }
