package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/planner"
)

// BindParams asks for a binding of one owner's secret.
type BindParams struct {
	Tenant string
	Owner  rotor.OwnerRef
	AppID  string
	Policy string
	// Adopt names an existing secret the binding takes over: rotor replaces it at its next
	// rotation and removes it after the grace period. Empty with New creates a new secret at
	// the first rotation and leaves the existing ones alone.
	Adopt string
	New   bool
	Steps []rotor.StepSpec // nil: the policy's steps
	Actor string
}

// Errors of Bind the caller can act on.
var (
	// ErrChooseSecret: the owner already has secrets; name one to adopt or ask for a new one.
	ErrChooseSecret = errors.New("choose a secret to adopt or ask for a new one")
	// ErrNoSuchSecret: the secret to adopt is not a live secret of the owner.
	ErrNoSuchSecret = errors.New("no such live secret")
)

// Bind creates a binding. Adopting is explicit: when the owner already has secrets the caller
// must name the one to adopt or ask for a new one, since an adopted secret is eventually removed.
func (e *Engine) Bind(ctx context.Context, p BindParams) (*rotor.Binding, error) {
	pol, err := e.cfg.Policy(p.Policy)
	if err != nil {
		return nil, err
	}
	if p.Adopt != "" && p.New {
		return nil, errors.New("adopt a secret or create a new one, not both")
	}
	dir, err := e.cfg.Directory(p.Tenant)
	if err != nil {
		return nil, err
	}
	secrets, err := dir.ListSecrets(ctx, p.Owner)
	if err != nil {
		return nil, fmt.Errorf("list the secrets of %s %s: %w", p.Owner.Kind, p.Owner.ID, err)
	}
	live := liveSecrets(secrets, e.cfg.Clock.Now())
	switch {
	case p.Adopt != "":
		if findKey(live, p.Adopt) == nil {
			return nil, fmt.Errorf("%s %s has no live secret %s (it has: %s): %w", p.Owner.Kind, p.Owner.ID, p.Adopt, describe(live), ErrNoSuchSecret)
		}
	case !p.New && len(live) > 0:
		has := fmt.Sprintf("%d live secrets", len(live))
		if len(live) == 1 {
			has = "a live secret"
		}
		return nil, fmt.Errorf("%s %s already has %s (%s): choose one to adopt (rotor will replace it and remove it after the grace period) or ask for a new one (the existing ones are left alone): %w",
			p.Owner.Kind, p.Owner.ID, has, describe(live), ErrChooseSecret)
	}
	return e.insertBinding(ctx, &rotor.Binding{Tenant: p.Tenant, OwnerKind: p.Owner.Kind, OwnerID: p.Owner.ID, AppID: p.AppID,
		Kind: rotor.KindSecret, Policy: pol.Name, KeyID: p.Adopt, Steps: p.Steps, Source: rotor.BindingManual}, pol, p.Actor, "bound by "+p.Actor)
}

func (e *Engine) insertBinding(ctx context.Context, b *rotor.Binding, pol *rotor.Policy, actor, reason string) (*rotor.Binding, error) {
	now := e.cfg.Clock.Now()
	b.ID, b.CreatedAt, b.UpdatedAt = uuid.NewString(), now, now
	b.RotateOffset = planner.Offset(pol.Jitter, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	err := e.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		if err := tx.BindingInsert(ctx, b); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, &rotor.AuditEvent{At: now, Actor: actor, Action: "binding.created", Tenant: b.Tenant, AppID: b.AppID,
			KeyID: b.KeyID, Outcome: rotor.OutcomeSuccess, Reason: reason,
			Details: map[string]string{"binding_id": b.ID, "policy": b.Policy, "owner_kind": string(b.OwnerKind), "owner_id": b.OwnerID}})
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// liveSecrets keeps the secrets that have not expired.
func liveSecrets(creds []*rotor.Credential, now time.Time) []*rotor.Credential {
	var out []*rotor.Credential
	for _, c := range creds {
		if c.EndAt.After(now) {
			out = append(out, c)
		}
	}
	return out
}

func describe(creds []*rotor.Credential) string {
	if len(creds) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(creds))
	for _, c := range creds {
		parts = append(parts, fmt.Sprintf("%s %q ending %s", c.KeyID, c.DisplayName, c.EndAt.Format("2006-01-02")))
	}
	return strings.Join(parts, "; ")
}

// BindResult reports what a policy's selector did for one application.
type BindResult struct {
	Policy  string
	App     *rotor.App
	Binding *rotor.Binding // created now
	Skipped string
}

// BindSelected creates the bindings the policies' selectors ask for: each matching application
// without a binding under that policy gets one, taking over a secret as the policy's adopt says.
func (e *Engine) BindSelected(ctx context.Context, policies []*rotor.Policy, dryRun bool) ([]BindResult, error) {
	var out []BindResult
	for _, pol := range policies {
		if pol.Select == nil {
			continue
		}
		tenants := pol.Select.Tenants
		if len(tenants) == 0 {
			ts, err := e.cfg.Store.TenantList(ctx)
			if err != nil {
				return nil, err
			}
			for _, t := range ts {
				tenants = append(tenants, t.Name)
			}
		}
		for _, tn := range tenants {
			var owners rotor.OwnerLister
			if len(pol.Select.Owners) > 0 {
				dir, err := e.cfg.Directory(tn)
				if err != nil {
					return nil, err
				}
				var ok bool
				if owners, ok = dir.(rotor.OwnerLister); !ok {
					return nil, fmt.Errorf("policy %s selects by owner, and tenant %s's directory cannot list owners", pol.Name, tn)
				}
			}
			bound, err := e.cfg.Store.BindingList(ctx, &rotor.BindingListParams{Tenant: tn, Policy: pol.Name})
			if err != nil {
				return nil, err
			}
			has := map[string]bool{}
			for _, b := range bound {
				has[b.OwnerID] = true
			}
			var cursor *rotor.AppCursor
			for {
				apps, err := e.cfg.Store.AppList(ctx, &rotor.AppListParams{Tenant: tn, After: cursor, Limit: 1000})
				if err != nil {
					return nil, err
				}
				if len(apps) == 0 {
					break
				}
				last := apps[len(apps)-1]
				cursor = &rotor.AppCursor{Tenant: last.Tenant, DisplayName: last.DisplayName, ID: last.ID}
				for _, ap := range apps {
					if has[ap.ID] || !matches(pol.Select, ap) {
						continue
					}
					if owners != nil {
						ok, err := e.ownedBy(ctx, owners, ap, pol.Select.Owners)
						if err != nil {
							return nil, fmt.Errorf("policy %s: owners of %s (%s): %w", pol.Name, ap.DisplayName, ap.AppID, err)
						}
						if !ok {
							continue
						}
					}
					res, err := e.bindSelected(ctx, pol, ap, dryRun)
					if err != nil {
						return nil, err
					}
					out = append(out, res)
				}
			}
		}
	}
	return out, nil
}

func (e *Engine) bindSelected(ctx context.Context, pol *rotor.Policy, ap *rotor.App, dryRun bool) (BindResult, error) {
	res := BindResult{Policy: pol.Name, App: ap}
	creds, err := e.cfg.Store.CredentialList(ctx, &rotor.CredentialListParams{Tenant: ap.Tenant, OwnerID: ap.ID, Kind: rotor.KindSecret})
	if err != nil {
		return res, err
	}
	b := &rotor.Binding{Tenant: ap.Tenant, OwnerKind: rotor.OwnerApplication, OwnerID: ap.ID, AppID: ap.AppID, Kind: rotor.KindSecret,
		Policy: pol.Name, Source: rotor.BindingFromPolicy}
	switch pol.Adopt {
	case rotor.AdoptOnly:
		if len(creds) != 1 {
			res.Skipped = fmt.Sprintf("adopt: only, and the app has %d secrets", len(creds))
			return res, nil
		}
		b.KeyID = creds[0].KeyID
	case rotor.AdoptNewest:
		if len(creds) > 0 {
			sort.Slice(creds, func(i, j int) bool { return creds[i].EndAt.After(creds[j].EndAt) })
			b.KeyID = creds[0].KeyID
		}
	}
	if dryRun {
		res.Binding = b
		return res, nil
	}
	nb, err := e.insertBinding(ctx, b, pol, "planner", "selected by policy "+pol.Name)
	if errors.Is(err, rotor.ErrConflict) {
		res.Skipped = "the secret is already bound"
		return res, nil
	}
	res.Binding = nb
	return res, err
}

// ownersTTL is how long an application's owners, read from Graph for a selector, are reused:
// selection runs every planning round, and owners change rarely.
const ownersTTL = time.Hour

type cachedOwners struct {
	owners []rotor.Owner
	at     time.Time
}

// ownedBy reports whether one of the application's owners is one of want (object ids, user
// principal names or mail addresses, in any case). Only applications that pass the selector's
// other criteria get here, so a selector that names owners alone reads every application's
// owners once an hour.
func (e *Engine) ownedBy(ctx context.Context, l rotor.OwnerLister, ap *rotor.App, want []string) (bool, error) {
	key := ap.Tenant + "/" + ap.ID
	now := e.cfg.Clock.Now()
	e.ownersMu.Lock()
	c, ok := e.owners[key]
	e.ownersMu.Unlock()
	if !ok || now.Sub(c.at) > ownersTTL {
		owners, err := l.AppOwners(ctx, ap.ID)
		if err != nil {
			return false, err
		}
		c = cachedOwners{owners: owners, at: now}
		e.ownersMu.Lock()
		if e.owners == nil {
			e.owners = map[string]cachedOwners{}
		}
		e.owners[key] = c
		e.ownersMu.Unlock()
	}
	for _, o := range c.owners {
		for _, w := range want {
			if strings.EqualFold(w, o.ID) || strings.EqualFold(w, o.UserPrincipalName) || o.Mail != "" && strings.EqualFold(w, o.Mail) {
				return true, nil
			}
		}
	}
	return false, nil
}

// matches reports whether the selector selects the application (all but its owners).
func matches(s *rotor.Selector, ap *rotor.App) bool {
	if len(s.Tenants) > 0 && !slices.Contains(s.Tenants, ap.Tenant) {
		return false
	}
	if len(s.AppIDs) > 0 && !slices.ContainsFunc(s.AppIDs, func(id string) bool { return strings.EqualFold(id, ap.AppID) }) {
		return false
	}
	if len(s.DisplayNames) > 0 && !slices.ContainsFunc(s.DisplayNames, func(g string) bool { ok, _ := path.Match(g, ap.DisplayName); return ok }) {
		return false
	}
	if len(s.Tags) > 0 && !slices.ContainsFunc(s.Tags, func(t string) bool { return slices.Contains(ap.Tags, t) }) {
		return false
	}
	return true
}
