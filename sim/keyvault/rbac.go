package keyvault

import (
	"fmt"
	"strings"
	"time"
)

// Role is an Azure built-in role that grants Key Vault data actions. The simulator knows the
// roles that concern secrets, with the data actions Microsoft documents for them
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security).
type Role string

const (
	// RoleAdministrator (00482a5a-887f-4fb3-b363-3b7fe8e74483): all data actions on the vault.
	RoleAdministrator Role = "Key Vault Administrator"
	// RoleSecretsOfficer (b86a8fe4-44ce-4948-aee5-eccb2c155cd7): every action on secrets.
	RoleSecretsOfficer Role = "Key Vault Secrets Officer"
	// RoleSecretsUser (4633458b-17de-408a-b874-0445c86b69e6): read secret values and metadata.
	RoleSecretsUser Role = "Key Vault Secrets User"
	// RoleReader (21090545-7ca7-4776-b22c-e363652d74d2): read metadata, never values.
	RoleReader Role = "Key Vault Reader"
)

// Data actions of the secret operations.
const (
	ActionGetSecret    = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
	ActionSetSecret    = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
	ActionUpdate       = "Microsoft.KeyVault/vaults/secrets/update/action"
	ActionReadMetadata = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
	ActionDelete       = "Microsoft.KeyVault/vaults/secrets/delete"
	ActionRecover      = "Microsoft.KeyVault/vaults/secrets/recover/action"
	ActionPurge        = "Microsoft.KeyVault/vaults/secrets/purge/action"
	ActionBackup       = "Microsoft.KeyVault/vaults/secrets/backup/action"
	ActionRestore      = "Microsoft.KeyVault/vaults/secrets/restore/action"
)

var roleDataActions = map[Role][]string{
	RoleAdministrator:  {"Microsoft.KeyVault/vaults/*"},
	RoleSecretsOfficer: {"Microsoft.KeyVault/vaults/secrets/*"},
	RoleSecretsUser:    {ActionGetSecret, ActionReadMetadata},
	RoleReader:         {"Microsoft.KeyVault/vaults/*/read", ActionReadMetadata},
}

// ID returns the role definition id Azure uses for the built-in role.
func (r Role) ID() string {
	switch r {
	case RoleAdministrator:
		return "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	case RoleSecretsOfficer:
		return "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	case RoleSecretsUser:
		return "4633458b-17de-408a-b874-0445c86b69e6"
	case RoleReader:
		return "21090545-7ca7-4776-b22c-e363652d74d2"
	}
	return ""
}

// DataActions returns the data actions the role grants, with Azure's wildcards.
func (r Role) DataActions() []string { return append([]string(nil), roleDataActions[r]...) }

// Allows reports whether the role grants action.
func (r Role) Allows(action string) bool {
	for _, pattern := range roleDataActions[r] {
		if matchAction(pattern, action) {
			return true
		}
	}
	return false
}

// matchAction matches an action against a pattern in which "*" stands for any string, as in
// Azure role definitions. Comparison is case-insensitive.
func matchAction(pattern, action string) bool {
	pattern, action = strings.ToLower(pattern), strings.ToLower(action)
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == action
	}
	if !strings.HasPrefix(action, parts[0]) {
		return false
	}
	rest := action[len(parts[0]):]
	for i, p := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(rest, p)
		}
		j := strings.Index(rest, p)
		if j < 0 {
			return false
		}
		rest = rest[j+len(p):]
	}
	return true
}

// RoleAssignment grants a role to a principal on the vault or on one secret.
type RoleAssignment struct {
	ID          string // assignment id; AssignRole fills it in
	PrincipalID string // the principal's object id (token claim oid)
	Role        Role
	// Secret limits the assignment to one secret (scope .../vaults/{vault}/secrets/{name});
	// empty means the whole vault.
	Secret string
	// EffectiveAt is when the assignment takes effect: Azure role assignments propagate with a
	// delay (Config.Propagation.RoleAssignment).
	EffectiveAt time.Time
}

func (v *Vault) validateAssignment(a RoleAssignment) error {
	if a.PrincipalID == "" {
		return fmt.Errorf("role assignment: PrincipalID is empty")
	}
	if _, ok := roleDataActions[a.Role]; !ok {
		return fmt.Errorf("role assignment: unknown role %q: want %q, %q, %q or %q", a.Role,
			RoleAdministrator, RoleSecretsOfficer, RoleSecretsUser, RoleReader)
	}
	if a.Secret != "" {
		if kerr := validateName(a.Secret); kerr != nil {
			return fmt.Errorf("role assignment: secret scope %q: not a valid secret name", a.Secret)
		}
	}
	return nil
}

// authorize returns the assignment granting action on secret (empty for vault-wide operations
// such as listing) to principal, or false.
func (v *Vault) authorize(principal, action, secret string, now time.Time) (RoleAssignment, bool) {
	for _, a := range v.assignments {
		if a.PrincipalID != principal || now.Before(a.EffectiveAt) {
			continue
		}
		if a.Secret != "" && !strings.EqualFold(a.Secret, secret) {
			continue
		}
		if a.Role.Allows(action) {
			return a, true
		}
	}
	return RoleAssignment{}, false
}
