package keyvault

import (
	"fmt"
	"strings"
	"time"
)

// Role is an Azure built-in role that grants Key Vault data actions. The simulator knows the
// roles that concern secrets and keys, with the data actions Microsoft documents for them
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
	// RoleCryptoOfficer (14b46e9e-c2b7-41b4-b07b-48a6ebf60603): every action on keys.
	RoleCryptoOfficer Role = "Key Vault Crypto Officer"
	// RoleCryptoUser (12338af0-0e69-4776-bea7-57ae8d297424): read keys and use them
	// (encrypt, decrypt, wrap, unwrap, sign, verify), update and back them up; not create them.
	RoleCryptoUser Role = "Key Vault Crypto User"
	// RoleCryptoServiceEncryptionUser (e147488a-f6f5-4113-8e2d-b22465e65bf6): read keys, wrap
	// and unwrap with them.
	RoleCryptoServiceEncryptionUser Role = "Key Vault Crypto Service Encryption User"
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

// Data actions of the key operations.
const (
	ActionKeyRead   = "Microsoft.KeyVault/vaults/keys/read"
	ActionKeyCreate = "Microsoft.KeyVault/vaults/keys/create/action"
	ActionKeyWrap   = "Microsoft.KeyVault/vaults/keys/wrap/action"
	ActionKeyUnwrap = "Microsoft.KeyVault/vaults/keys/unwrap/action"
)

var roleDataActions = map[Role][]string{
	RoleAdministrator:  {"Microsoft.KeyVault/vaults/*"},
	RoleSecretsOfficer: {"Microsoft.KeyVault/vaults/secrets/*"},
	RoleSecretsUser:    {ActionGetSecret, ActionReadMetadata},
	RoleReader:         {"Microsoft.KeyVault/vaults/*/read", ActionReadMetadata},
	RoleCryptoOfficer:  {"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"},
	RoleCryptoUser: {ActionKeyRead, "Microsoft.KeyVault/vaults/keys/update/action", "Microsoft.KeyVault/vaults/keys/backup/action",
		"Microsoft.KeyVault/vaults/keys/encrypt/action", "Microsoft.KeyVault/vaults/keys/decrypt/action", ActionKeyWrap, ActionKeyUnwrap,
		"Microsoft.KeyVault/vaults/keys/sign/action", "Microsoft.KeyVault/vaults/keys/verify/action"},
	RoleCryptoServiceEncryptionUser: {ActionKeyRead, ActionKeyWrap, ActionKeyUnwrap},
}

// roles lists the known roles, for messages.
var roles = []Role{RoleAdministrator, RoleSecretsOfficer, RoleSecretsUser, RoleReader, RoleCryptoOfficer, RoleCryptoUser, RoleCryptoServiceEncryptionUser}

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
	case RoleCryptoOfficer:
		return "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
	case RoleCryptoUser:
		return "12338af0-0e69-4776-bea7-57ae8d297424"
	case RoleCryptoServiceEncryptionUser:
		return "e147488a-f6f5-4113-8e2d-b22465e65bf6"
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

// RoleAssignment grants a role to a principal on the vault, on one secret or on one key.
type RoleAssignment struct {
	ID          string // assignment id; AssignRole fills it in
	PrincipalID string // the principal's object id (token claim oid)
	Role        Role
	// Secret limits the assignment to one secret (scope .../vaults/{vault}/secrets/{name});
	// Key to one key (scope .../vaults/{vault}/keys/{name}). Both empty: the whole vault.
	Secret string
	Key    string
	// EffectiveAt is when the assignment takes effect: Azure role assignments propagate with a
	// delay (Config.Propagation.RoleAssignment).
	EffectiveAt time.Time
}

func (v *Vault) validateAssignment(a RoleAssignment) error {
	if a.PrincipalID == "" {
		return fmt.Errorf("role assignment: PrincipalID is empty")
	}
	if _, ok := roleDataActions[a.Role]; !ok {
		return fmt.Errorf("role assignment: unknown role %q: want one of %q", a.Role, roles)
	}
	if a.Secret != "" && a.Key != "" {
		return fmt.Errorf("role assignment: scope is one secret or one key, not both")
	}
	if a.Secret != "" {
		if kerr := validateName(a.Secret); kerr != nil {
			return fmt.Errorf("role assignment: secret scope %q: not a valid secret name", a.Secret)
		}
	}
	if a.Key != "" {
		if kerr := validateName(a.Key); kerr != nil {
			return fmt.Errorf("role assignment: key scope %q: not a valid key name", a.Key)
		}
	}
	return nil
}

// authorize returns the assignment granting op's action on op's object (none for vault-wide
// operations such as listing) to principal, or false.
func (v *Vault) authorize(principal string, op operation, now time.Time) (RoleAssignment, bool) {
	for _, a := range v.assignments {
		if a.PrincipalID != principal || now.Before(a.EffectiveAt) {
			continue
		}
		if a.Secret != "" && (op.kind.isKey() || !strings.EqualFold(a.Secret, op.name)) {
			continue
		}
		if a.Key != "" && (!op.kind.isKey() || !strings.EqualFold(a.Key, op.name)) {
			continue
		}
		if a.Role.Allows(op.action) {
			return a, true
		}
	}
	return RoleAssignment{}, false
}
