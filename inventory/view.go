package inventory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
)

// Row is one credential with where it stands.
type Row struct {
	*rotor.Credential
	State   lifecycle.State
	Urgency lifecycle.Urgency
	Managed bool // a binding manages it
	// BindingID is the binding that manages it, when known (Page fills it).
	BindingID string
}

// Filter narrows a listing. Zero fields do not filter.
type Filter struct {
	Tenant         string
	OwnerKind      rotor.OwnerKind
	OwnerID        string
	AppID          string // client id
	Kind           rotor.CredentialKind
	States         []lifecycle.State
	ExpiringWithin time.Duration // still valid and ending before now + this (expired ones are the state expired)
	IncludeRemoved bool
	Limit          int
}

// View answers questions about the inventory: what expires when, in which state.
type View struct {
	Store      rotor.Store
	Thresholds lifecycle.Thresholds
}

// facts about credentials that come from rotations and bindings.
type rotationFacts struct {
	rotating   map[string]bool // tenant/keyId being replaced, successor not live
	superseded map[string]bool // tenant/keyId replaced, in grace
	managed    map[string]bool // tenant/keyId a binding manages
}

func (v *View) rotationFacts(ctx context.Context, tenant string) (*rotationFacts, error) {
	f := &rotationFacts{rotating: map[string]bool{}, superseded: map[string]bool{}, managed: map[string]bool{}}
	rs, err := v.Store.RotationList(ctx, &rotor.RotationListParams{Tenant: tenant, Limit: 1 << 30, States: []rotor.RotationState{
		rotor.RotationPending, rotor.RotationCreating, rotor.RotationVerifying, rotor.RotationDeploying,
		rotor.RotationGrace, rotor.RotationCleaning, rotor.RotationFailed}})
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.OldKeyID == "" {
			continue
		}
		k := r.Tenant + "/" + r.OldKeyID
		phase := r.State
		if phase == rotor.RotationFailed {
			phase = r.ResumeState
		}
		if phase == rotor.RotationGrace || phase == rotor.RotationCleaning {
			f.superseded[k] = true
		} else {
			f.rotating[k] = true
		}
	}
	bs, err := v.Store.BindingList(ctx, &rotor.BindingListParams{Tenant: tenant})
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.KeyID != "" {
			f.managed[b.Tenant+"/"+b.KeyID] = true
		}
	}
	return f, nil
}

func (f *rotationFacts) row(c *rotor.Credential, th lifecycle.Thresholds, now time.Time) Row {
	k := c.Tenant + "/" + c.KeyID
	st := lifecycle.StateOf(lifecycle.Facts{EndAt: c.EndAt, Removed: c.Removed(), RemovedByRotor: c.RemovedBy == rotor.RemovedByRotor,
		Rotating: f.rotating[k], Superseded: f.superseded[k]}, th, now)
	return Row{Credential: c, State: st, Urgency: lifecycle.UrgencyOf(c.EndAt, th, now), Managed: f.managed[k]}
}

// List returns the credentials matching f, soonest expiry first.
func (v *View) List(ctx context.Context, f Filter, now time.Time) ([]Row, error) {
	facts, err := v.rotationFacts(ctx, f.Tenant)
	if err != nil {
		return nil, err
	}
	p := &rotor.CredentialListParams{Tenant: f.Tenant, OwnerKind: f.OwnerKind, OwnerID: f.OwnerID, AppID: f.AppID, Kind: f.Kind,
		IncludeRemoved: f.IncludeRemoved || wants(f.States, lifecycle.CleanedUp) || wants(f.States, lifecycle.Removed)}
	if f.ExpiringWithin > 0 {
		p.EndAfter, p.EndBefore = now, now.Add(f.ExpiringWithin)
	}
	if len(f.States) == 0 && f.Limit > 0 {
		p.Limit = f.Limit
	}
	creds, err := v.Store.CredentialList(ctx, p)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, len(creds))
	for _, c := range creds {
		r := facts.row(c, v.Thresholds, now)
		if len(f.States) > 0 && !wants(f.States, r.State) {
			continue
		}
		rows = append(rows, r)
		if f.Limit > 0 && len(rows) == f.Limit {
			break
		}
	}
	return rows, nil
}

func wants(states []lifecycle.State, s lifecycle.State) bool {
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

// Summary counts the dashboard's figures.
type Summary struct {
	Total      int // live credentials
	Within7    int // live, expiring within 7 days (not expired)
	Within30   int
	Within90   int
	InGrace    int
	Expired    int
	Rotating   int
	ByState    map[lifecycle.State]int
	MostUrgent []Row // the live credentials expiring soonest (expired first), at most 10
}

// Summarise counts a tenant's (or every tenant's) credentials by how soon they expire.
func (v *View) Summarise(ctx context.Context, tenant string, now time.Time) (*Summary, error) {
	facts, err := v.rotationFacts(ctx, tenant)
	if err != nil {
		return nil, err
	}
	creds, err := v.Store.CredentialList(ctx, &rotor.CredentialListParams{Tenant: tenant})
	if err != nil {
		return nil, err
	}
	s := &Summary{ByState: map[lifecycle.State]int{}}
	day := 24 * time.Hour
	for _, c := range creds {
		r := facts.row(c, v.Thresholds, now)
		s.Total++
		s.ByState[r.State]++
		left := c.EndAt.Sub(now)
		switch {
		case left <= 0:
			s.Expired++
		case left <= 7*day:
			s.Within7++
			fallthrough
		case left <= 30*day:
			s.Within30++
			fallthrough
		case left <= 90*day:
			s.Within90++
		}
		if r.State == lifecycle.Grace {
			s.InGrace++
		}
		if r.State == lifecycle.Rotating {
			s.Rotating++
		}
		if len(s.MostUrgent) < 10 && r.State != lifecycle.Grace {
			s.MostUrgent = append(s.MostUrgent, r) // creds come soonest expiry first
		}
	}
	sort.SliceStable(s.MostUrgent, func(i, j int) bool { return s.MostUrgent[i].EndAt.Before(s.MostUrgent[j].EndAt) })
	return s, nil
}

// ParseStates parses state names.
func ParseStates(names []string) ([]lifecycle.State, error) {
	out := make([]lifecycle.State, 0, len(names))
	for _, n := range names {
		s, err := lifecycle.ParseState(n)
		if err != nil {
			return nil, fmt.Errorf("--state: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}
