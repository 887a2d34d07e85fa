package auth

import "strings"

// RoleMap maps what Entra ID says of a user (the groups and app roles claims of the ID token)
// to a rotor role. A user gets the strongest role any of their groups or app roles maps to.
type RoleMap struct {
	Groups   map[string]Role // group object id -> role
	AppRoles map[string]Role // app role value -> role
}

// Resolve returns the user's role, and false when nothing maps to one.
func (m RoleMap) Resolve(groups, appRoles []string) (Role, bool) {
	var best Role
	for _, g := range groups {
		if r, ok := m.Groups[strings.ToLower(g)]; ok {
			best = best.Stronger(r)
		}
	}
	for _, ar := range appRoles {
		if r, ok := m.AppRoles[ar]; ok {
			best = best.Stronger(r)
		}
	}
	return best, best.Valid()
}
