package directory

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary is the light view of an application or service principal that list filters receive; it
// costs no allocation to build.
type Summary struct {
	Kind        Kind
	ID          string
	AppID       string
	DisplayName string
}

// ListParams select a page of applications or service principals. Objects are listed in creation
// order; a page continues after the cursor of the previous one.
type ListParams struct {
	TenantID string
	Kind     Kind   // KindApplication or KindServicePrincipal
	After    uint64 // the Next of the previous page; 0 for the first page
	// Until, when not zero, leaves out objects created after this change sequence number (a delta
	// snapshot).
	Until uint64
	Limit int // page size; at least 1
	// Match filters objects; nil keeps all.
	Match func(Summary) bool
	// OwnedBy, when set, keeps only objects the principal (a service principal's object id) owns;
	// a service principal also counts as owned when its application is.
	OwnedBy string
}

// ListPage is one page of a listing. Its snapshots share memory with the directory and must be
// treated as read-only.
type ListPage struct {
	Applications      []Application
	ServicePrincipals []ServicePrincipal
	// Next is the cursor of the next page; 0 when this is the last page.
	Next uint64
}

// List returns a page of live applications or service principals.
func (d *Directory) List(p ListParams) (ListPage, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return ListPage{}, err
	}
	if p.Limit < 1 {
		p.Limit = 1
	}
	owner := strings.ToLower(p.OwnedBy)
	t.mu.RLock()
	defer t.mu.RUnlock()
	var page ListPage
	var last uint64 // createSeq of the last object on the page
	switch p.Kind {
	case KindApplication:
		i := sort.Search(len(t.appOrder), func(i int) bool { return t.appOrder[i].createSeq > p.After })
		for ; i < len(t.appOrder); i++ {
			a := t.appOrder[i]
			if p.Until != 0 && a.createSeq > p.Until {
				break
			}
			if !keep(t, p, owner, a.Ref(), Summary{Kind: KindApplication, ID: a.ID, AppID: a.AppID, DisplayName: a.DisplayName}) {
				continue
			}
			if len(page.Applications) == p.Limit {
				page.Next = last
				break
			}
			page.Applications = append(page.Applications, a.Application)
			last = a.createSeq
		}
	case KindServicePrincipal:
		i := sort.Search(len(t.spOrder), func(i int) bool { return t.spOrder[i].createSeq > p.After })
		for ; i < len(t.spOrder); i++ {
			sp := t.spOrder[i]
			if p.Until != 0 && sp.createSeq > p.Until {
				break
			}
			if !keep(t, p, owner, sp.Ref(), Summary{Kind: KindServicePrincipal, ID: sp.ID, AppID: sp.AppID, DisplayName: sp.DisplayName}) {
				continue
			}
			if len(page.ServicePrincipals) == p.Limit {
				page.Next = last
				break
			}
			page.ServicePrincipals = append(page.ServicePrincipals, sp.ServicePrincipal)
			last = sp.createSeq
		}
	default:
		return ListPage{}, fmt.Errorf("list %q: %w", p.Kind, ErrInvalid)
	}
	return page, nil
}

func keep(t *tenantState, p ListParams, owner string, ref ObjectRef, s Summary) bool {
	if owner != "" && !isOwnerLocked(t, ref, owner) {
		return false
	}
	return p.Match == nil || p.Match(s)
}

// Count returns the number of live objects a listing with p would return in all its pages.
func (d *Directory) Count(p ListParams) (int, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return 0, err
	}
	owner := strings.ToLower(p.OwnedBy)
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	switch p.Kind {
	case KindApplication:
		if p.Match == nil && owner == "" {
			return len(t.appOrder), nil
		}
		for _, a := range t.appOrder {
			if keep(t, p, owner, a.Ref(), Summary{Kind: KindApplication, ID: a.ID, AppID: a.AppID, DisplayName: a.DisplayName}) {
				n++
			}
		}
	case KindServicePrincipal:
		if p.Match == nil && owner == "" {
			return len(t.spOrder), nil
		}
		for _, sp := range t.spOrder {
			if keep(t, p, owner, sp.Ref(), Summary{Kind: KindServicePrincipal, ID: sp.ID, AppID: sp.AppID, DisplayName: sp.DisplayName}) {
				n++
			}
		}
	default:
		return 0, fmt.Errorf("count %q: %w", p.Kind, ErrInvalid)
	}
	return n, nil
}

// ChangeHead returns the sequence number of the tenant's latest change and the floor below which
// the change log was dropped: a delta round that started at a sequence number below the floor
// cannot be continued.
func (d *Directory) ChangeHead(tenantID string) (head, floor uint64, err error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return 0, 0, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.seq, t.changeFloor, nil
}

// ChangesParams select a page of changes in (Since, Until] for a delta query.
type ChangesParams struct {
	TenantID string
	Kind     Kind
	Since    uint64 // exclusive: the head when the previous round ended
	Until    uint64 // inclusive: the head when this round started
	After    uint64 // the Next of the previous page of this round; 0 for the first
	Limit    int
	IDs      map[string]bool // when not nil, only these object ids (lower case)
	OwnedBy  string
}

// Change is one changed object of a delta page: its current state, or its removal.
type Change struct {
	ID               string
	Application      *Application // live applications (read-only snapshot)
	ServicePrincipal *ServicePrincipal
	Removed          bool
	// Restorable is set on removed objects that are still in the deleted items (Graph's
	// "@removed": {"reason": "changed"}); unset means permanently deleted ("deleted").
	Restorable bool
}

// ChangesPage is one page of changes.
type ChangesPage struct {
	Changes []Change
	Next    uint64 // 0: the round is complete
}

// Changes returns the objects changed in (Since, Until], each once: an object is reported at its
// latest change; one changed again after Until is left for the next round.
func (d *Directory) Changes(p ChangesParams) (ChangesPage, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return ChangesPage{}, err
	}
	if p.Limit < 1 {
		p.Limit = 1
	}
	owner := strings.ToLower(p.OwnedBy)
	from := max(p.Since, p.After)
	now := d.clock.Now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	if p.Since < t.changeFloor {
		return ChangesPage{}, fmt.Errorf("changes since %d: the change log starts at %d: %w", p.Since, t.changeFloor, ErrNotFound)
	}
	i := sort.Search(len(t.changes), func(i int) bool { return t.changes[i].seq > from })
	var page ChangesPage
	for ; i < len(t.changes) && t.changes[i].seq <= p.Until; i++ {
		e := t.changes[i]
		if e.kind != p.Kind || (p.IDs != nil && !p.IDs[e.id]) {
			continue
		}
		c, ok := changeAt(t, e, owner, now, d.opts.TombstoneRetention)
		if !ok {
			continue
		}
		if len(page.Changes) == p.Limit {
			page.Next = t.changes[i-1].seq
			return page, nil
		}
		page.Changes = append(page.Changes, c)
	}
	return page, nil
}

func changeAt(t *tenantState, e changeEntry, owner string, now time.Time, retention time.Duration) (Change, bool) {
	switch e.kind {
	case KindApplication:
		if a, ok := t.apps[e.id]; ok {
			if a.lastChange != e.seq || (owner != "" && !isOwnerLocked(t, a.Ref(), owner)) {
				return Change{}, false
			}
			c := a.Application
			return Change{ID: a.ID, Application: &c}, true
		}
		if a, ok := t.deadApps[e.id]; ok && a.lastChange == e.seq {
			if owner != "" && !hasOwner(a.Owners, owner) {
				return Change{}, false
			}
			return Change{ID: a.ID, Removed: true, Restorable: !a.purged && now.Before(a.DeletedDateTime.Add(retention))}, true
		}
	case KindServicePrincipal:
		if sp, ok := t.sps[e.id]; ok {
			if sp.lastChange != e.seq || (owner != "" && !isOwnerLocked(t, sp.Ref(), owner)) {
				return Change{}, false
			}
			c := sp.ServicePrincipal
			return Change{ID: sp.ID, ServicePrincipal: &c}, true
		}
		if sp, ok := t.deadSPs[e.id]; ok && sp.lastChange == e.seq {
			if owner != "" && !hasOwner(sp.Owners, owner) {
				return Change{}, false
			}
			return Change{ID: sp.ID, Removed: true, Restorable: !sp.purged && now.Before(sp.DeletedDateTime.Add(retention))}, true
		}
	}
	return Change{}, false
}

func hasOwner(refs []ObjectRef, id string) bool {
	for _, r := range refs {
		if r.ID == id {
			return true
		}
	}
	return false
}
