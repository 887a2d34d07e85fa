package directory

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// AddApplicationParams describe a new application.
type AddApplicationParams struct {
	TenantID       string
	ID             string // optional object id (GUID); generated when empty
	AppID          string // optional client id (GUID); generated when empty
	DisplayName    string // required
	Description    string
	Notes          string
	SignInAudience string // default AzureADMyOrg
	Tags           []string
	// CreatedDateTime defaults to now. App management policy restrictions compare it with their
	// restrictForAppsCreatedAfterDateTime.
	CreatedDateTime        time.Time
	IdentifierURIs         []string
	AppRoles               []AppRole
	RequiredResourceAccess []RequiredResourceAccess
	// RequestedTokenVersion is api.requestedAccessTokenVersion: 2 makes Entra issue v2.0 access
	// tokens for this application as a resource; 0 or 1 means v1.0.
	RequestedTokenVersion int
	// NoServicePrincipal skips creating the application's service principal in its home tenant.
	// Without one the application cannot sign in (AADSTS7000229).
	NoServicePrincipal bool
	// ServicePrincipalID is the optional object id of the service principal; generated when empty.
	ServicePrincipalID string
}

// AddApplication creates an application and, unless told not to, its service principal.
func (d *Directory) AddApplication(p AddApplicationParams) (Application, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return Application{}, fmt.Errorf("add application %q: %w", p.DisplayName, err)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		return Application{}, fmt.Errorf("add application: display name is required: %w", ErrInvalid)
	}
	id, appID := strings.ToLower(p.ID), strings.ToLower(p.AppID)
	if id == "" {
		id = d.newID()
	}
	if appID == "" {
		appID = d.newID()
	}
	if !IsGUID(id) || !IsGUID(appID) {
		return Application{}, fmt.Errorf("add application %q: id and appId must be GUIDs: %w", p.DisplayName, ErrInvalid)
	}
	aud := p.SignInAudience
	if aud == "" {
		aud = AudienceMyOrg
	}
	created := p.CreatedDateTime
	if created.IsZero() {
		created = d.clock.Now()
	}
	created = created.UTC().Truncate(time.Second)

	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.apps[id]; ok {
		return Application{}, fmt.Errorf("add application %s: %w", id, ErrConflict)
	}
	if _, ok := t.appsByAppID[appID]; ok {
		return Application{}, fmt.Errorf("add application with appId %s: %w", appID, ErrConflict)
	}
	if _, ok := t.spsByAppID[appID]; ok {
		return Application{}, fmt.Errorf("add application with appId %s: a service principal has it: %w", appID, ErrConflict)
	}
	spID := strings.ToLower(p.ServicePrincipalID)
	if spID == "" && !p.NoServicePrincipal {
		spID = d.newID()
	}
	if _, ok := t.sps[spID]; ok {
		return Application{}, fmt.Errorf("add application: service principal id %s: %w", spID, ErrConflict)
	}
	roles := clip(slices.Clone(p.AppRoles))
	for i := range roles {
		if roles[i].ID == "" {
			roles[i].ID = d.newID()
		}
	}
	a := &appEntry{Application: Application{
		TenantID:               t.ID,
		ID:                     id,
		AppID:                  appID,
		DisplayName:            p.DisplayName,
		Description:            p.Description,
		Notes:                  p.Notes,
		SignInAudience:         aud,
		Tags:                   clip(slices.Clone(p.Tags)),
		CreatedDateTime:        created,
		IdentifierURIs:         clip(slices.Clone(p.IdentifierURIs)),
		AppRoles:               roles,
		RequiredResourceAccess: clip(slices.Clone(p.RequiredResourceAccess)),
		RequestedTokenVersion:  p.RequestedTokenVersion,
		PublisherDomain:        t.DefaultDomain,
	}}
	a.createSeq = d.touchLocked(t, KindApplication, id)
	a.lastChange = a.createSeq
	t.apps[id] = a
	t.appsByAppID[appID] = a
	t.appOrder = append(t.appOrder, a)

	if !p.NoServicePrincipal {
		sp := &spEntry{ServicePrincipal: ServicePrincipal{
			TenantID:               t.ID,
			ID:                     spID,
			AppID:                  appID,
			DisplayName:            p.DisplayName,
			AppDisplayName:         p.DisplayName,
			AppOwnerOrganizationID: t.ID,
			ServicePrincipalType:   "Application",
			ServicePrincipalNames:  append([]string{appID}, p.IdentifierURIs...),
			SignInAudience:         aud,
			AccountEnabled:         true,
			Tags:                   clip(slices.Clone(p.Tags)),
			AppRoles:               roles,
			IdentifierURIs:         clip(slices.Clone(p.IdentifierURIs)),
			RequestedTokenVersion:  p.RequestedTokenVersion,
			CreatedDateTime:        created,
		}}
		d.insertSPLocked(t, sp)
	}
	return a.deepCopy(), nil
}

func (d *Directory) insertSPLocked(t *tenantState, sp *spEntry) {
	sp.createSeq = d.touchLocked(t, KindServicePrincipal, sp.ID)
	sp.lastChange = sp.createSeq
	t.sps[sp.ID] = sp
	t.spsByAppID[sp.AppID] = sp
	t.spOrder = append(t.spOrder, sp)
}

// AddServicePrincipalParams describe a service principal of an application of the tenant that does
// not have one yet (see AddApplicationParams.NoServicePrincipal).
type AddServicePrincipalParams struct {
	TenantID string
	AppID    string
	ID       string // optional
	Tags     []string
}

// AddServicePrincipal creates the service principal of an existing application of the tenant.
func (d *Directory) AddServicePrincipal(p AddServicePrincipalParams) (ServicePrincipal, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return ServicePrincipal{}, fmt.Errorf("add service principal for %s: %w", p.AppID, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	appID := strings.ToLower(p.AppID)
	a, ok := t.appsByAppID[appID]
	if !ok {
		return ServicePrincipal{}, fmt.Errorf("add service principal: application %s: %w", p.AppID, ErrNotFound)
	}
	if _, ok := t.spsByAppID[appID]; ok {
		return ServicePrincipal{}, fmt.Errorf("add service principal for %s: %w", p.AppID, ErrConflict)
	}
	id := strings.ToLower(p.ID)
	if id == "" {
		id = d.newID()
	}
	sp := &spEntry{ServicePrincipal: ServicePrincipal{
		TenantID:               t.ID,
		ID:                     id,
		AppID:                  appID,
		DisplayName:            a.DisplayName,
		AppDisplayName:         a.DisplayName,
		AppOwnerOrganizationID: t.ID,
		ServicePrincipalType:   "Application",
		ServicePrincipalNames:  append([]string{appID}, a.IdentifierURIs...),
		SignInAudience:         a.SignInAudience,
		AccountEnabled:         true,
		Tags:                   clip(slices.Clone(p.Tags)),
		AppRoles:               a.AppRoles,
		IdentifierURIs:         a.IdentifierURIs,
		RequestedTokenVersion:  a.RequestedTokenVersion,
		CreatedDateTime:        d.clock.Now().UTC().Truncate(time.Second),
	}}
	d.insertSPLocked(t, sp)
	return sp.deepCopy(), nil
}

// DeleteApplication soft-deletes an application and its service principal in the tenant, as Entra
// does: they move to the deleted items for the tombstone retention and show in delta queries as
// removed.
func (d *Directory) DeleteApplication(tenantID, id, actor string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("delete application %s: %w", id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.apps[strings.ToLower(id)]
	if !ok {
		return fmt.Errorf("delete application %s: %w", id, ErrNotFound)
	}
	now := d.clock.Now().UTC()
	delete(t.apps, a.ID)
	delete(t.appsByAppID, a.AppID)
	t.appOrder = removeOrdered(t.appOrder, a.createSeq, func(e *appEntry) uint64 { return e.createSeq })
	a.DeletedDateTime = now
	a.lastChange = d.touchLocked(t, KindApplication, a.ID)
	t.deadApps[a.ID] = a
	for _, c := range a.PasswordCredentials {
		d.recordLocked(t, CredentialEvent{Action: ActionRemoved, Kind: CredentialPassword, Object: a.Ref(), AppID: a.AppID, KeyID: c.KeyID, DisplayName: c.DisplayName, Start: c.StartDateTime, End: c.EndDateTime, By: actor, Reason: "application deleted"})
	}
	for _, c := range a.KeyCredentials {
		d.recordLocked(t, CredentialEvent{Action: ActionRemoved, Kind: CredentialKey, Object: a.Ref(), AppID: a.AppID, KeyID: c.KeyID, DisplayName: c.DisplayName, Start: c.StartDateTime, End: c.EndDateTime, By: actor, Reason: "application deleted"})
	}
	if sp, ok := t.spsByAppID[a.AppID]; ok {
		delete(t.sps, sp.ID)
		delete(t.spsByAppID, sp.AppID)
		t.spOrder = removeOrdered(t.spOrder, sp.createSeq, func(e *spEntry) uint64 { return e.createSeq })
		sp.DeletedDateTime = now
		sp.lastChange = d.touchLocked(t, KindServicePrincipal, sp.ID)
		t.deadSPs[sp.ID] = sp
		t.grants = slices.DeleteFunc(slices.Clone(t.grants), func(g AppRoleAssignment) bool {
			if g.PrincipalID == sp.ID {
				delete(t.grantSet, g.PrincipalID+"|"+g.ResourceID+"|"+g.AppRoleID)
				return true
			}
			return false
		})
	}
	return nil
}

// PurgeApplication permanently deletes a soft-deleted application (and its service principal), as
// "permanently delete" in the deleted items does. Delta then reports it with reason "deleted".
func (d *Directory) PurgeApplication(tenantID, id string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("purge application %s: %w", id, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.deadApps[strings.ToLower(id)]
	if !ok || a.purged {
		return fmt.Errorf("purge application %s: not in deleted items: %w", id, ErrNotFound)
	}
	a.purged = true
	a.lastChange = d.touchLocked(t, KindApplication, a.ID)
	for _, sp := range t.deadSPs {
		if sp.AppID == a.AppID && !sp.purged {
			sp.purged = true
			sp.lastChange = d.touchLocked(t, KindServicePrincipal, sp.ID)
		}
	}
	return nil
}

func removeOrdered[E any](s []E, seq uint64, key func(E) uint64) []E {
	i := sort.Search(len(s), func(i int) bool { return key(s[i]) >= seq })
	if i < len(s) && key(s[i]) == seq {
		return append(s[:i:i], s[i+1:]...)
	}
	return s
}

// Application returns the application with object id id.
func (d *Directory) Application(tenantID, id string) (Application, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return Application{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.apps[strings.ToLower(id)]
	if !ok {
		return Application{}, fmt.Errorf("application %s: %w", id, ErrNotFound)
	}
	return a.deepCopy(), nil
}

// ApplicationByAppID returns the application with client id appID.
func (d *Directory) ApplicationByAppID(tenantID, appID string) (Application, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return Application{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.appsByAppID[strings.ToLower(appID)]
	if !ok {
		return Application{}, fmt.Errorf("application with appId %s: %w", appID, ErrNotFound)
	}
	return a.deepCopy(), nil
}

// DeletedApplication returns a soft-deleted application (a tombstone).
func (d *Directory) DeletedApplication(tenantID, id string) (Application, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return Application{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.deadApps[strings.ToLower(id)]
	if !ok {
		return Application{}, fmt.Errorf("deleted application %s: %w", id, ErrNotFound)
	}
	return a.deepCopy(), nil
}

// ServicePrincipal returns the service principal with object id id.
func (d *Directory) ServicePrincipal(tenantID, id string) (ServicePrincipal, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return ServicePrincipal{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	sp, ok := t.sps[strings.ToLower(id)]
	if !ok {
		return ServicePrincipal{}, fmt.Errorf("service principal %s: %w", id, ErrNotFound)
	}
	return sp.deepCopy(), nil
}

// ServicePrincipalByAppID returns the service principal of application appID in the tenant.
func (d *Directory) ServicePrincipalByAppID(tenantID, appID string) (ServicePrincipal, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return ServicePrincipal{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	sp, ok := t.spsByAppID[strings.ToLower(appID)]
	if !ok {
		return ServicePrincipal{}, fmt.Errorf("service principal with appId %s: %w", appID, ErrNotFound)
	}
	return sp.deepCopy(), nil
}

// Counts returns the number of live applications and service principals of the tenant.
func (d *Directory) Counts(tenantID string) (apps, servicePrincipals int, err error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return 0, 0, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.apps), len(t.sps), nil
}

// AddUserParams describe a user.
type AddUserParams struct {
	TenantID          string
	ID                string // optional
	DisplayName       string // required
	UserPrincipalName string // default: derived from DisplayName and the tenant's domain
	Mail              string // default: UserPrincipalName
	GivenName         string
	Surname           string
	JobTitle          string
}

// AddUser creates a user.
func (d *Directory) AddUser(p AddUserParams) (User, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return User{}, fmt.Errorf("add user %q: %w", p.DisplayName, err)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		return User{}, fmt.Errorf("add user: display name is required: %w", ErrInvalid)
	}
	id := strings.ToLower(p.ID)
	if id == "" {
		id = d.newID()
	}
	upn := p.UserPrincipalName
	if upn == "" {
		upn = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(p.DisplayName)), " ", ".") + "@" + t.DefaultDomain
	}
	mail := p.Mail
	if mail == "" {
		mail = upn
	}
	u := &User{TenantID: t.ID, ID: id, DisplayName: p.DisplayName, UserPrincipalName: upn, Mail: mail, GivenName: p.GivenName, Surname: p.Surname, JobTitle: p.JobTitle}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.users[id]; ok {
		return User{}, fmt.Errorf("add user %s: %w", id, ErrConflict)
	}
	t.users[id] = u
	t.userOrder = append(t.userOrder, id)
	return *u, nil
}

// User returns the user with object id id.
func (d *Directory) User(tenantID, id string) (User, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return User{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	u, ok := t.users[strings.ToLower(id)]
	if !ok {
		return User{}, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return *u, nil
}

// AddOwner makes owner (a user or a service principal) an owner of target (an application or a
// service principal). Adding an existing owner is a no-op.
func (d *Directory) AddOwner(tenantID string, target, owner ObjectRef) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("add owner: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	owner.ID = strings.ToLower(owner.ID)
	switch owner.Kind {
	case KindUser:
		if _, ok := t.users[owner.ID]; !ok {
			return fmt.Errorf("add owner: user %s: %w", owner.ID, ErrNotFound)
		}
	case KindServicePrincipal:
		if _, ok := t.sps[owner.ID]; !ok {
			return fmt.Errorf("add owner: service principal %s: %w", owner.ID, ErrNotFound)
		}
	default:
		return fmt.Errorf("add owner: an owner is a user or a service principal, not %q: %w", owner.Kind, ErrInvalid)
	}
	owners, touch, err := d.ownersLocked(t, target)
	if err != nil {
		return fmt.Errorf("add owner: %w", err)
	}
	if slices.Contains(*owners, owner) {
		return nil
	}
	*owners = append(clip(*owners), owner)
	touch()
	return nil
}

// RemoveOwner removes an owner of target. Removing a non-owner is a no-op.
func (d *Directory) RemoveOwner(tenantID string, target, owner ObjectRef) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("remove owner: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	owners, touch, err := d.ownersLocked(t, target)
	if err != nil {
		return fmt.Errorf("remove owner: %w", err)
	}
	owner.ID = strings.ToLower(owner.ID)
	if !slices.Contains(*owners, owner) {
		return nil
	}
	*owners = slices.DeleteFunc(slices.Clone(*owners), func(o ObjectRef) bool { return o == owner })
	touch()
	return nil
}

// ownersLocked returns a pointer to the owners slice of target and a function recording a change.
func (d *Directory) ownersLocked(t *tenantState, target ObjectRef) (*[]ObjectRef, func(), error) {
	id := strings.ToLower(target.ID)
	switch target.Kind {
	case KindApplication:
		a, ok := t.apps[id]
		if !ok {
			return nil, nil, fmt.Errorf("application %s: %w", target.ID, ErrNotFound)
		}
		return &a.Owners, func() { a.lastChange = d.touchLocked(t, KindApplication, a.ID) }, nil
	case KindServicePrincipal:
		sp, ok := t.sps[id]
		if !ok {
			return nil, nil, fmt.Errorf("service principal %s: %w", target.ID, ErrNotFound)
		}
		return &sp.Owners, func() { sp.lastChange = d.touchLocked(t, KindServicePrincipal, sp.ID) }, nil
	default:
		return nil, nil, fmt.Errorf("%q objects have no owners: %w", target.Kind, ErrInvalid)
	}
}

// Owners returns the owners of an application or service principal, resolved.
func (d *Directory) Owners(tenantID string, target ObjectRef) ([]Owner, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var refs []ObjectRef
	switch target.Kind {
	case KindApplication:
		a, ok := t.apps[strings.ToLower(target.ID)]
		if !ok {
			return nil, fmt.Errorf("application %s: %w", target.ID, ErrNotFound)
		}
		refs = a.Owners
	case KindServicePrincipal:
		sp, ok := t.sps[strings.ToLower(target.ID)]
		if !ok {
			return nil, fmt.Errorf("service principal %s: %w", target.ID, ErrNotFound)
		}
		refs = sp.Owners
	default:
		return nil, fmt.Errorf("owners of %q: %w", target.Kind, ErrInvalid)
	}
	out := make([]Owner, 0, len(refs))
	for _, r := range refs {
		switch r.Kind {
		case KindUser:
			if u, ok := t.users[r.ID]; ok {
				c := *u
				out = append(out, Owner{Ref: r, User: &c})
			}
		case KindServicePrincipal:
			if sp, ok := t.sps[r.ID]; ok {
				c := sp.deepCopy()
				out = append(out, Owner{Ref: r, ServicePrincipal: &c})
			}
		}
	}
	return out, nil
}

// IsOwner reports whether the service principal or user principalID owns target. For a service
// principal target, owning its application counts too, as Application.ReadWrite.OwnedBy lets an
// app manage the applications it owns and their service principals.
func (d *Directory) IsOwner(tenantID string, target ObjectRef, principalID string) bool {
	t, err := d.tenant(tenantID)
	if err != nil {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return isOwnerLocked(t, target, strings.ToLower(principalID))
}

func isOwnerLocked(t *tenantState, target ObjectRef, principalID string) bool {
	has := func(refs []ObjectRef) bool {
		for _, r := range refs {
			if r.ID == principalID {
				return true
			}
		}
		return false
	}
	switch target.Kind {
	case KindApplication:
		a, ok := t.apps[strings.ToLower(target.ID)]
		return ok && has(a.Owners)
	case KindServicePrincipal:
		sp, ok := t.sps[strings.ToLower(target.ID)]
		if !ok {
			return false
		}
		if has(sp.Owners) {
			return true
		}
		a, ok := t.appsByAppID[sp.AppID]
		return ok && has(a.Owners)
	}
	return false
}

// deepCopy returns a snapshot that shares no memory with the directory.
func (a *appEntry) deepCopy() Application {
	c := a.Application
	c.Tags = slices.Clone(a.Tags)
	c.IdentifierURIs = slices.Clone(a.IdentifierURIs)
	c.AppRoles = slices.Clone(a.AppRoles)
	c.RequiredResourceAccess = slices.Clone(a.RequiredResourceAccess)
	c.PasswordCredentials = slices.Clone(a.PasswordCredentials)
	c.KeyCredentials = cloneKeys(a.KeyCredentials)
	c.Owners = slices.Clone(a.Owners)
	c.AppManagementPolicyIDs = slices.Clone(a.AppManagementPolicyIDs)
	return c
}

func (s *spEntry) deepCopy() ServicePrincipal {
	c := s.ServicePrincipal
	c.Tags = slices.Clone(s.Tags)
	c.ServicePrincipalNames = slices.Clone(s.ServicePrincipalNames)
	c.AppRoles = slices.Clone(s.AppRoles)
	c.IdentifierURIs = slices.Clone(s.IdentifierURIs)
	c.PasswordCredentials = slices.Clone(s.PasswordCredentials)
	c.KeyCredentials = cloneKeys(s.KeyCredentials)
	c.Owners = slices.Clone(s.Owners)
	c.AppManagementPolicyIDs = slices.Clone(s.AppManagementPolicyIDs)
	return c
}

func cloneKeys(ks []KeyCredential) []KeyCredential {
	out := slices.Clone(ks)
	for i := range out {
		out[i].Key = slices.Clone(out[i].Key)
		out[i].CustomKeyIdentifier = slices.Clone(out[i].CustomKeyIdentifier)
	}
	return out
}

// UpdateParams change plain properties of an application or service principal; nil fields stay.
type UpdateParams struct {
	TenantID    string
	Object      ObjectRef
	DisplayName *string
	Description *string // applications only
	Notes       *string // applications only
	Tags        *[]string
	Actor       string
}

// Update changes plain properties of an application or service principal, as PATCH does. A request
// that changes nothing records no change.
func (d *Directory) Update(p UpdateParams) error {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return fmt.Errorf("update %s: %w", p.Object.ID, err)
	}
	if p.DisplayName != nil && strings.TrimSpace(*p.DisplayName) == "" {
		return fmt.Errorf("update %s: displayName must not be empty: %w", p.Object.ID, ErrInvalid)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := strings.ToLower(p.Object.ID)
	switch p.Object.Kind {
	case KindApplication:
		a, ok := t.apps[id]
		if !ok {
			return fmt.Errorf("update application %s: %w", p.Object.ID, ErrNotFound)
		}
		changed := false
		if p.DisplayName != nil && *p.DisplayName != a.DisplayName {
			a.DisplayName, changed = *p.DisplayName, true
		}
		if p.Description != nil && *p.Description != a.Description {
			a.Description, changed = *p.Description, true
		}
		if p.Notes != nil && *p.Notes != a.Notes {
			a.Notes, changed = *p.Notes, true
		}
		if p.Tags != nil && !slices.Equal(*p.Tags, a.Tags) {
			a.Tags, changed = clip(slices.Clone(*p.Tags)), true
		}
		if changed {
			a.lastChange = d.touchLocked(t, KindApplication, a.ID)
		}
	case KindServicePrincipal:
		sp, ok := t.sps[id]
		if !ok {
			return fmt.Errorf("update service principal %s: %w", p.Object.ID, ErrNotFound)
		}
		if p.Description != nil || p.Notes != nil {
			return fmt.Errorf("update service principal %s: description and notes are not modeled: %w", p.Object.ID, ErrInvalid)
		}
		changed := false
		if p.DisplayName != nil && *p.DisplayName != sp.DisplayName {
			sp.DisplayName, changed = *p.DisplayName, true
		}
		if p.Tags != nil && !slices.Equal(*p.Tags, sp.Tags) {
			sp.Tags, changed = clip(slices.Clone(*p.Tags)), true
		}
		if changed {
			sp.lastChange = d.touchLocked(t, KindServicePrincipal, sp.ID)
		}
	default:
		return fmt.Errorf("update %q: %w", p.Object.Kind, ErrInvalid)
	}
	return nil
}
