package directory

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// What user sign-in needs of the directory: security groups of users, app roles assigned to
// users, and an application's web platform settings (redirect URIs, the groups claim).

// Group is a security group of users.
type Group struct {
	TenantID    string
	ID          string
	DisplayName string
	Members     []string // user object ids
}

// AddGroupParams describe a security group.
type AddGroupParams struct {
	TenantID    string
	ID          string // optional object id; generated when empty
	DisplayName string // required
	Members     []string
}

// AddGroup creates a security group.
func (d *Directory) AddGroup(p AddGroupParams) (Group, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return Group{}, fmt.Errorf("add group %q: %w", p.DisplayName, err)
	}
	if strings.TrimSpace(p.DisplayName) == "" {
		return Group{}, fmt.Errorf("add group: display name is required: %w", ErrInvalid)
	}
	id := strings.ToLower(p.ID)
	if id == "" {
		id = d.newID()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.groups[id]; ok {
		return Group{}, fmt.Errorf("add group %s: %w", id, ErrConflict)
	}
	g := &Group{TenantID: t.ID, ID: id, DisplayName: p.DisplayName}
	for _, m := range p.Members {
		if _, ok := t.users[strings.ToLower(m)]; !ok {
			return Group{}, fmt.Errorf("add group %s: member %s: %w", id, m, ErrNotFound)
		}
		g.Members = append(g.Members, strings.ToLower(m))
	}
	t.groups[id] = g
	t.groupOrder = append(t.groupOrder, id)
	return cloneGroup(g), nil
}

// AddGroupMember adds a user to a group; adding a member again is a no-op.
func (d *Directory) AddGroupMember(tenantID, groupID, userID string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.groups[strings.ToLower(groupID)]
	if !ok {
		return fmt.Errorf("group %s: %w", groupID, ErrNotFound)
	}
	if _, ok := t.users[strings.ToLower(userID)]; !ok {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	if !slices.Contains(g.Members, strings.ToLower(userID)) {
		g.Members = append(g.Members, strings.ToLower(userID))
	}
	return nil
}

// Groups returns the tenant's groups in creation order.
func (d *Directory) Groups(tenantID string) ([]Group, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Group, 0, len(t.groupOrder))
	for _, id := range t.groupOrder {
		out = append(out, cloneGroup(t.groups[id]))
	}
	return out, nil
}

func cloneGroup(g *Group) Group {
	c := *g
	c.Members = slices.Clone(g.Members)
	return c
}

// Users returns the tenant's users in creation order.
func (d *Directory) Users(tenantID string) ([]User, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]User, 0, len(t.userOrder))
	for _, id := range t.userOrder {
		out = append(out, *t.users[id])
	}
	return out, nil
}

// AssignUserAppRole assigns the app role called roleValue of the application appID (client id) to a
// user, as an enterprise application's "Users and groups" page does. Assigning it again is a no-op.
// https://learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps#assign-users-and-groups-to-microsoft-entra-roles
func (d *Directory) AssignUserAppRole(tenantID, userID, appID, roleValue string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.appsByAppID[strings.ToLower(appID)]
	if !ok {
		return fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	if _, ok := t.users[strings.ToLower(userID)]; !ok {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	i := slices.IndexFunc(a.AppRoles, func(r AppRole) bool { return r.Value == roleValue && slices.Contains(r.AllowedMemberTypes, "User") })
	if i < 0 {
		return fmt.Errorf("application %s has no app role %q for users: %w", appID, roleValue, ErrNotFound)
	}
	key := strings.ToLower(userID) + "|" + a.AppID
	if !slices.Contains(t.userRoles[key], a.AppRoles[i].ID) {
		t.userRoles[key] = append(t.userRoles[key], a.AppRoles[i].ID)
	}
	return nil
}

// WebSettings are an application's web platform settings for signing users in.
type WebSettings struct {
	// RedirectURIs are the web redirect URIs (replyUrlsWithType of type Web).
	RedirectURIs []string
	// GroupMembershipClaims says which groups the ID token's groups claim lists: "None" (or
	// empty), "SecurityGroup", "All", "DirectoryRole", "ApplicationGroup".
	// https://learn.microsoft.com/entra/identity-platform/reference-app-manifest#groupmembershipclaims-attribute
	GroupMembershipClaims string
}

// SetWebSettings sets an application's (by client id) web platform settings and, when roles are
// given, adds app roles for users to it (and its service principal).
func (d *Directory) SetWebSettings(tenantID, appID string, w WebSettings, roles ...AppRole) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return err
	}
	for _, u := range w.RedirectURIs {
		if _, err := url.Parse(u); err != nil {
			return fmt.Errorf("redirect URI %q: %w", u, ErrInvalid)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.appsByAppID[strings.ToLower(appID)]
	if !ok {
		return fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	t.web[a.AppID] = &WebSettings{RedirectURIs: slices.Clone(w.RedirectURIs), GroupMembershipClaims: w.GroupMembershipClaims}
	if len(roles) > 0 {
		for _, r := range roles {
			if r.ID == "" {
				r.ID = d.newID()
			}
			a.AppRoles = append(clip(a.AppRoles), r)
		}
		if sp, ok := t.spsByAppID[a.AppID]; ok {
			sp.AppRoles = slices.Clone(a.AppRoles)
		}
		a.lastChange = d.touchLocked(t, KindApplication, a.ID)
	}
	return nil
}

// UserSignIn is what the directory says about a user signing in to an application: the facts
// an ID token carries.
type UserSignIn struct {
	User User
	// Groups are the object ids of the user's security groups, when the application asks for
	// them (GroupMembershipClaims SecurityGroup or All); nil otherwise.
	Groups []string
	// AppRoles are the values of the application's app roles assigned to the user.
	AppRoles []string
	// RedirectURIs are the application's web redirect URIs.
	RedirectURIs   []string
	AppDisplayName string
}

// UserSignIn returns what an ID token for the user signing in to the application appID (client
// id) says about them.
func (d *Directory) UserSignIn(tenantID, userID, appID string) (UserSignIn, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return UserSignIn{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	u, ok := t.users[strings.ToLower(userID)]
	if !ok {
		return UserSignIn{}, fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	a, ok := t.appsByAppID[strings.ToLower(appID)]
	if !ok {
		return UserSignIn{}, fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	out := UserSignIn{User: *u, AppDisplayName: a.DisplayName}
	w := t.web[a.AppID]
	if w != nil {
		out.RedirectURIs = slices.Clone(w.RedirectURIs)
		if w.GroupMembershipClaims == "SecurityGroup" || w.GroupMembershipClaims == "All" {
			out.Groups = []string{}
			for _, id := range t.groupOrder {
				if slices.Contains(t.groups[id].Members, u.ID) {
					out.Groups = append(out.Groups, id)
				}
			}
		}
	}
	for _, roleID := range t.userRoles[u.ID+"|"+a.AppID] {
		for _, r := range a.AppRoles {
			if r.ID == roleID && r.IsEnabled {
				out.AppRoles = append(out.AppRoles, r.Value)
			}
		}
	}
	return out, nil
}

// WebSettingsOf returns an application's (by client id) web settings.
func (d *Directory) WebSettingsOf(tenantID, appID string) (WebSettings, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return WebSettings{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.appsByAppID[strings.ToLower(appID)]
	if !ok {
		return WebSettings{}, fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	w := t.web[a.AppID]
	if w == nil {
		return WebSettings{}, nil
	}
	return WebSettings{RedirectURIs: slices.Clone(w.RedirectURIs), GroupMembershipClaims: w.GroupMembershipClaims}, nil
}
