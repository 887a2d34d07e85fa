// Package auth holds who may do what in rotor's API and web UI: roles and the permissions they
// grant, the principal a request acts as, API tokens (random values stored only as hashes),
// the mapping of Entra ID groups and app roles to roles, and the sealing of session cookies.
//
//	role       permissions
//	viewer     entra:read
//	operator   entra:read, entra:rotate
//	admin      entra:read, entra:rotate, entra:write
//
// entra:read reads everything rotor knows (never a secret value); entra:rotate plans, runs,
// retries and cancels rotations and asks for syncs; entra:write changes what rotor manages:
// bindings, notifiers and API tokens.
package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Permission is one thing a caller may do.
type Permission string

// Permissions, from weakest to strongest.
const (
	// Public marks routes anyone may call (health, sign-in, static files); no role has or needs it.
	Public Permission = ""
	// Read: read the inventory, bindings, rotations, policies, audit trail and notifications.
	Read Permission = "entra:read"
	// Rotate: dry-run, request, retry and cancel rotations; sync tenants; retry notifications.
	Rotate Permission = "entra:rotate"
	// Write: create, change and delete bindings; manage notifiers and API tokens.
	Write Permission = "entra:write"
)

// Role is a set of permissions given to a user (through Entra ID groups or app roles) or to an
// API token.
type Role string

// Roles.
const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
	Admin    Role = "admin"
)

// Roles lists every role, weakest first.
var Roles = []Role{Viewer, Operator, Admin}

var grants = map[Role][]Permission{
	Viewer:   {Read},
	Operator: {Read, Rotate},
	Admin:    {Read, Rotate, Write},
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := grants[r]; !ok {
		return "", fmt.Errorf("unknown role %q: use viewer, operator or admin", s)
	}
	return r, nil
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := grants[r]; return ok }

// Permissions returns what the role may do.
func (r Role) Permissions() []Permission { return slices.Clone(grants[r]) }

// Can reports whether the role grants p. Every role may do what is Public.
func (r Role) Can(p Permission) bool {
	return p == Public || slices.Contains(grants[r], p)
}

// rank orders roles from weakest (0) to strongest.
func (r Role) rank() int { return slices.Index(Roles, r) }

// Stronger returns the stronger of r and o; an invalid role is weaker than any valid one.
func (r Role) Stronger(o Role) Role {
	if o.rank() > r.rank() {
		return o
	}
	return r
}

// Principal is who a request acts as.
type Principal struct {
	Kind Kind
	// Name is what the audit trail records after the kind: the user's preferred_username, or
	// the token's name.
	Name string
	// ID is the user's object id (oid) or the token's id.
	ID   string
	Role Role
	// DisplayName is the user's name, for the UI.
	DisplayName string
	// SessionID is the web session's id (users signed in through the UI).
	SessionID string
}

// Kind says how a principal authenticated.
type Kind string

// Kinds of principals.
const (
	KindUser  Kind = "user"  // signed in with Entra ID, web session
	KindToken Kind = "token" // API token
)

// Actor names the principal in the audit trail: "user:alice@contoso.com", "token:ci".
func (p *Principal) Actor() string { return string(p.Kind) + ":" + p.Name }

// Can reports whether the principal may do what needs perm.
func (p *Principal) Can(perm Permission) bool { return p != nil && p.Role.Can(perm) }
