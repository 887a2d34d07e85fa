package directory

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Well-known identifiers of Microsoft first-party applications, the same in every tenant.
const (
	// MicrosoftTenantID is the appOwnerOrganizationId of Microsoft's first-party applications.
	MicrosoftTenantID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
	// MicrosoftGraphAppID is Microsoft Graph's application id.
	MicrosoftGraphAppID = "00000003-0000-0000-c000-000000000000"
	// AzureKeyVaultAppID is Azure Key Vault's application id.
	AzureKeyVaultAppID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
	// AzureADGraphAppID is the retired Azure AD Graph's application id; addKey proofs name it as
	// their audience.
	AzureADGraphAppID = "00000002-0000-0000-c000-000000000000"
)

// Application permissions (app roles) of Microsoft Graph that the simulator knows, by value. The
// ids are the ones Microsoft Graph publishes.
// https://learn.microsoft.com/graph/permissions-reference
var graphAppRoles = []AppRole{
	{ID: "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", Value: "Application.Read.All", DisplayName: "Read all applications"},
	{ID: "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", Value: "Application.ReadWrite.All", DisplayName: "Read and write all applications"},
	{ID: "18a4783c-866b-4cc7-a460-3d5e5662c884", Value: "Application.ReadWrite.OwnedBy", DisplayName: "Manage apps that this app creates or owns"},
	{ID: "7ab1d382-f21e-4acd-a863-ba3e13f7da61", Value: "Directory.Read.All", DisplayName: "Read directory data"},
	{ID: "19dbc75e-c2e2-444c-a770-ec69d8559fc7", Value: "Directory.ReadWrite.All", DisplayName: "Read and write directory data"},
	{ID: "246dd0d5-5bd0-4def-940b-0421030a5b68", Value: "Policy.Read.All", DisplayName: "Read your organization's policies"},
	{ID: "be74164b-cff1-491c-8741-e671cb536e13", Value: "Policy.ReadWrite.ApplicationConfiguration", DisplayName: "Read and write your organization's application configuration policies"},
	{ID: "df021288-bdef-4463-88db-98f22de89214", Value: "User.Read.All", DisplayName: "Read all users' full profiles"},
	{ID: "06b708a9-e830-4db3-a914-8e69da51d44f", Value: "AppRoleAssignment.ReadWrite.All", DisplayName: "Manage app permission grants and app role assignments"},
}

type resourceDef struct {
	appID          string
	displayName    string
	identifierURIs []string
	roles          []AppRole
}

func firstPartyResources() []resourceDef {
	roles := make([]AppRole, len(graphAppRoles))
	for i, r := range graphAppRoles {
		r.AllowedMemberTypes = []string{"Application"}
		r.IsEnabled = true
		r.Description = "Allows the app to " + strings.ToLower(r.DisplayName[:1]) + r.DisplayName[1:] + " without a signed-in user."
		roles[i] = r
	}
	return []resourceDef{
		{
			appID:          MicrosoftGraphAppID,
			displayName:    "Microsoft Graph",
			identifierURIs: []string{"https://graph.microsoft.com", "https://graph.microsoft.com/"},
			roles:          roles,
		},
		{
			appID:          AzureKeyVaultAppID,
			displayName:    "Azure Key Vault",
			identifierURIs: []string{"https://vault.azure.net", "https://vault.azure.net/"},
		},
	}
}

func (d *Directory) addResourceSPLocked(t *tenantState, r resourceDef, now time.Time) {
	sp := &spEntry{
		ServicePrincipal: ServicePrincipal{
			TenantID:               t.ID,
			ID:                     d.newID(),
			AppID:                  r.appID,
			DisplayName:            r.displayName,
			AppDisplayName:         r.displayName,
			AppOwnerOrganizationID: MicrosoftTenantID,
			ServicePrincipalType:   "Application",
			ServicePrincipalNames:  append([]string{r.appID}, r.identifierURIs...),
			SignInAudience:         AudienceMultipleOrgs,
			AccountEnabled:         true,
			AppRoles:               r.roles,
			IdentifierURIs:         r.identifierURIs,
			CreatedDateTime:        now,
		},
		firstParty: true,
	}
	d.insertSPLocked(t, sp)
}

// GrantAppRole grants the application permission roleValue of the resource application
// resourceAppID (for example MicrosoftGraphAppID and "Application.ReadWrite.All") to the service
// principal of clientAppID, as an admin consent does. Granting twice is a no-op.
func (d *Directory) GrantAppRole(tenantID, clientAppID, resourceAppID, roleValue string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", roleValue, clientAppID, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	client, ok := t.spsByAppID[strings.ToLower(clientAppID)]
	if !ok {
		return fmt.Errorf("grant %s: service principal of app %s: %w", roleValue, clientAppID, ErrNotFound)
	}
	res, ok := t.spsByAppID[strings.ToLower(resourceAppID)]
	if !ok {
		return fmt.Errorf("grant %s: resource %s: %w", roleValue, resourceAppID, ErrNotFound)
	}
	i := slices.IndexFunc(res.AppRoles, func(r AppRole) bool { return r.Value == roleValue })
	if i < 0 {
		return fmt.Errorf("grant %s: resource %s has no such app role: %w", roleValue, resourceAppID, ErrNotFound)
	}
	role := res.AppRoles[i]
	key := client.ID + "|" + res.ID + "|" + role.ID
	if t.grantSet[key] {
		return nil
	}
	t.grantSet[key] = true
	t.grants = append(t.grants, AppRoleAssignment{
		ID:                   d.newID(),
		PrincipalID:          client.ID,
		ResourceID:           res.ID,
		AppRoleID:            role.ID,
		AppRoleValue:         role.Value,
		ResourceAppID:        res.AppID,
		ResourceDisplayName:  res.DisplayName,
		PrincipalDisplayName: client.DisplayName,
		CreatedDateTime:      d.clock.Now().UTC(),
	})
	return nil
}

// RevokeAppRole removes a grant made by GrantAppRole. Revoking a missing grant is a no-op.
func (d *Directory) RevokeAppRole(tenantID, clientAppID, resourceAppID, roleValue string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("revoke %s from %s: %w", roleValue, clientAppID, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	client, ok := t.spsByAppID[strings.ToLower(clientAppID)]
	if !ok {
		return nil
	}
	t.grants = slices.DeleteFunc(slices.Clone(t.grants), func(g AppRoleAssignment) bool {
		if g.PrincipalID == client.ID && strings.EqualFold(g.ResourceAppID, resourceAppID) && g.AppRoleValue == roleValue {
			delete(t.grantSet, g.PrincipalID+"|"+g.ResourceID+"|"+g.AppRoleID)
			return true
		}
		return false
	})
	return nil
}

// AppRoleAssignments returns the app roles granted to the service principal principalID.
func (d *Directory) AppRoleAssignments(tenantID, principalID string) ([]AppRoleAssignment, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []AppRoleAssignment
	for _, g := range t.grants {
		if g.PrincipalID == principalID {
			out = append(out, g)
		}
	}
	return out, nil
}

// GrantedRoles returns the values of the app roles of resource service principal resourceID
// granted to service principal principalID, sorted.
func (d *Directory) GrantedRoles(tenantID, principalID, resourceID string) ([]string, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for _, g := range t.grants {
		if g.PrincipalID == principalID && g.ResourceID == resourceID {
			out = append(out, g.AppRoleValue)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ResolveResource returns the service principal of the resource a token request names, by its
// application id or one of its identifier URIs (compared case-insensitively, with or without a
// trailing slash), as Entra resolves the resource part of a "{resource}/.default" scope.
func (d *Directory) ResolveResource(tenantID, resource string) (ServicePrincipal, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return ServicePrincipal{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if sp, ok := t.spsByAppID[strings.ToLower(resource)]; ok {
		return sp.deepCopy(), nil
	}
	want := strings.TrimSuffix(strings.ToLower(resource), "/")
	for _, sp := range t.spOrder {
		for _, u := range sp.IdentifierURIs {
			if strings.TrimSuffix(strings.ToLower(u), "/") == want {
				return sp.deepCopy(), nil
			}
		}
	}
	return ServicePrincipal{}, fmt.Errorf("resource %q: %w", resource, ErrNotFound)
}
