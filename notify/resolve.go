package notify

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
)

// resolver turns audit events and credentials into Events people recognise (display names,
// policy, dates), reading the store through caches that live for one pass.
type resolver struct {
	st rotor.Store
	th lifecycle.Thresholds

	apps          map[string]*rotor.App // tenant/object id
	appsByClient  map[string]*rotor.App // tenant/client id
	sps           map[string]*rotor.ServicePrincipal
	creds         map[string]*rotor.Credential
	rotations     map[string]*rotor.Rotation
	bindings      map[string]*rotor.Binding
	ownerBindings map[string][]*rotor.Binding // tenant/owner id
	ownerInFlight map[string][]*rotor.Rotation
}

func newResolver(st rotor.Store, th lifecycle.Thresholds) *resolver {
	return &resolver{st: st, th: th,
		apps: map[string]*rotor.App{}, appsByClient: map[string]*rotor.App{}, sps: map[string]*rotor.ServicePrincipal{},
		creds: map[string]*rotor.Credential{}, rotations: map[string]*rotor.Rotation{}, bindings: map[string]*rotor.Binding{},
		ownerBindings: map[string][]*rotor.Binding{}, ownerInFlight: map[string][]*rotor.Rotation{}}
}

// cached returns m[key], loading it on a miss. A load that finds nothing (ErrNotFound) is
// remembered as nil; any other error is returned.
func cached[T any](ctx context.Context, m map[string]*T, key string, load func(context.Context) (*T, error)) (*T, error) {
	if v, ok := m[key]; ok {
		return v, nil
	}
	v, err := load(ctx)
	if errors.Is(err, rotor.ErrNotFound) {
		v, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	m[key] = v
	return v, nil
}

// fromAudit resolves an audit event.
func (r *resolver) fromAudit(ctx context.Context, ev *rotor.AuditEvent) (*Event, error) {
	e := &Event{Type: ev.Action, At: ev.At, AuditSeq: ev.Seq, Actor: ev.Actor, Outcome: ev.Outcome, Reason: ev.Reason,
		Tenant: ev.Tenant, AppID: ev.AppID, KeyID: ev.KeyID, RotationID: ev.RotationID, Details: maps.Clone(ev.Details)}
	if e.RotationID != "" {
		rot, err := cached(ctx, r.rotations, e.RotationID, func(ctx context.Context) (*rotor.Rotation, error) {
			return r.st.RotationGet(ctx, e.RotationID)
		})
		if err != nil {
			return nil, err
		}
		if rot != nil {
			e.OwnerKind, e.OwnerID, e.BindingID = string(rot.OwnerKind), rot.OwnerID, rot.BindingID
			e.OldKeyID, e.NewKeyID = rot.OldKeyID, rot.NewKeyID
			if e.AppID == "" {
				e.AppID = rot.AppID
			}
			if e.KeyID == "" {
				e.KeyID = rot.OldKeyID // the credential that expires unless the rotation succeeds
			}
			b, err := cached(ctx, r.bindings, rot.BindingID, func(ctx context.Context) (*rotor.Binding, error) {
				return r.st.BindingGet(ctx, rot.BindingID)
			})
			if err != nil {
				return nil, err
			}
			if b != nil {
				e.Policy, e.CredentialKind = b.Policy, string(b.Kind)
			}
		}
	}
	if e.KeyID != "" && e.Tenant != "" {
		c, err := r.credential(ctx, e.Tenant, e.KeyID)
		if err != nil {
			return nil, err
		}
		if c != nil {
			e.CredentialKind, e.CredentialName, e.EndAt = string(c.Kind), c.DisplayName, c.EndAt
			if e.OwnerID == "" {
				e.OwnerKind, e.OwnerID = string(c.OwnerKind), c.OwnerID
			}
			if e.AppID == "" {
				e.AppID = c.AppID
			}
		}
	}
	// The inventory's out-of-band events describe the credential in their details.
	if d := ev.Details; d != nil {
		if e.OwnerKind == "" {
			e.OwnerKind = d["owner_kind"]
		}
		if e.CredentialName == "" {
			e.CredentialName = d["display_name"]
		}
		if e.EndAt.IsZero() && d["end"] != "" {
			if t, err := time.Parse(time.RFC3339, d["end"]); err == nil {
				e.EndAt = t.UTC()
			}
		}
	}
	if err := r.fillApp(ctx, e); err != nil {
		return nil, err
	}
	if e.Policy == "" {
		if err := r.fillPolicy(ctx, e); err != nil {
			return nil, err
		}
	}
	e.Severity = severityOf(e, r.th)
	return e, nil
}

// fromCredential makes an expiry event about c.
func (r *resolver) fromCredential(ctx context.Context, c *rotor.Credential, typ string, threshold time.Duration, now time.Time) (*Event, error) {
	e := &Event{Type: typ, At: now, Actor: "rotor", Tenant: c.Tenant, AppID: c.AppID, OwnerKind: string(c.OwnerKind), OwnerID: c.OwnerID,
		KeyID: c.KeyID, CredentialKind: string(c.Kind), CredentialName: c.DisplayName, EndAt: c.EndAt, Threshold: threshold}
	if err := r.fillApp(ctx, e); err != nil {
		return nil, err
	}
	if err := r.fillPolicy(ctx, e); err != nil {
		return nil, err
	}
	e.Severity = severityOf(e, r.th)
	return e, nil
}

func (r *resolver) credential(ctx context.Context, tenant, keyID string) (*rotor.Credential, error) {
	return cached(ctx, r.creds, tenant+"/"+keyID, func(ctx context.Context) (*rotor.Credential, error) {
		return r.st.CredentialGet(ctx, tenant, keyID)
	})
}

// fillApp finds the application's display name and object id (its owners are the object's).
func (r *resolver) fillApp(ctx context.Context, e *Event) error {
	if e.Tenant == "" {
		return nil
	}
	var app *rotor.App
	var err error
	switch rotor.OwnerKind(e.OwnerKind) {
	case rotor.OwnerApplication:
		app, err = cached(ctx, r.apps, e.Tenant+"/"+e.OwnerID, func(ctx context.Context) (*rotor.App, error) {
			return r.st.AppGet(ctx, e.Tenant, e.OwnerID)
		})
	case rotor.OwnerServicePrincipal:
		sp, err := cached(ctx, r.sps, e.Tenant+"/"+e.OwnerID, func(ctx context.Context) (*rotor.ServicePrincipal, error) {
			return r.st.ServicePrincipalGet(ctx, e.Tenant, e.OwnerID)
		})
		if err != nil {
			return err
		}
		if sp != nil {
			e.AppDisplayName = sp.DisplayName
			if e.AppID == "" {
				e.AppID = sp.AppID
			}
		}
	}
	if err != nil {
		return err
	}
	if app == nil && e.AppID != "" {
		app, err = cached(ctx, r.appsByClient, e.Tenant+"/"+e.AppID, func(ctx context.Context) (*rotor.App, error) {
			apps, err := r.st.AppFind(ctx, &rotor.AppFindParams{Tenant: e.Tenant, Query: e.AppID})
			if err != nil {
				return nil, err
			}
			for _, a := range apps {
				if a.AppID == e.AppID {
					return a, nil
				}
			}
			return nil, rotor.ErrNotFound
		})
		if err != nil {
			return err
		}
	}
	if app != nil {
		e.AppObjectID = app.ID
		if e.AppDisplayName == "" {
			e.AppDisplayName = app.DisplayName
		}
		if e.AppID == "" {
			e.AppID = app.AppID
		}
	}
	return nil
}

// fillPolicy finds the policy of the binding that manages the event's credential, if any.
func (r *resolver) fillPolicy(ctx context.Context, e *Event) error {
	if e.Tenant == "" || e.OwnerID == "" || e.KeyID == "" {
		return nil
	}
	bs, err := r.bindingsOf(ctx, e.Tenant, e.OwnerID)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.KeyID == e.KeyID {
			e.Policy, e.BindingID = b.Policy, b.ID
			return nil
		}
	}
	return nil
}

func (r *resolver) bindingsOf(ctx context.Context, tenant, ownerID string) ([]*rotor.Binding, error) {
	key := tenant + "/" + ownerID
	if bs, ok := r.ownerBindings[key]; ok {
		return bs, nil
	}
	bs, err := r.st.BindingList(ctx, &rotor.BindingListParams{Tenant: tenant, OwnerID: ownerID})
	if err != nil {
		return nil, err
	}
	r.ownerBindings[key] = bs
	return bs, nil
}

// inFlightStates are the rotation states in which a rotation is replacing its old credential.
var inFlightStates = []rotor.RotationState{rotor.RotationPending, rotor.RotationCreating, rotor.RotationVerifying,
	rotor.RotationDeploying, rotor.RotationGrace, rotor.RotationCleaning}

// lifecycleFacts returns what lifecycle.StateOf needs about c: whether a rotation is replacing it
// (a failed rotation is not: its credential still expires unless somebody acts).
func (r *resolver) lifecycleFacts(ctx context.Context, c *rotor.Credential) (lifecycle.Facts, error) {
	f := lifecycle.Facts{EndAt: c.EndAt, Removed: c.Removed(), RemovedByRotor: c.RemovedBy == rotor.RemovedByRotor}
	key := c.Tenant + "/" + c.OwnerID
	rs, ok := r.ownerInFlight[key]
	if !ok {
		var err error
		rs, err = r.st.RotationList(ctx, &rotor.RotationListParams{Tenant: c.Tenant, OwnerID: c.OwnerID, States: inFlightStates})
		if err != nil {
			return f, err
		}
		r.ownerInFlight[key] = rs
	}
	for _, rot := range rs {
		if rot.OldKeyID != c.KeyID {
			continue
		}
		switch rot.State {
		case rotor.RotationGrace, rotor.RotationCleaning:
			f.Superseded = true
		default:
			f.Rotating = true
		}
	}
	return f, nil
}
