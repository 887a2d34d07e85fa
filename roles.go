package rotor

import (
	"context"
	"time"

	"github.com/rotorhq/rotor/secret"
)

// OwnerRef names a credential owner in a tenant.
type OwnerRef struct {
	Kind OwnerKind
	ID   string // object id
}

// NewSecret is a client secret Entra just created; Value is returned only this once.
type NewSecret struct {
	KeyID       string
	DisplayName string
	Hint        string
	StartAt     time.Time
	EndAt       time.Time
	Value       secret.Value
}

// SecretRestriction is what the tenant's app management policy allows for new secrets on one
// owner (its own policy, else the tenant default).
type SecretRestriction struct {
	Blocked     bool          // passwordAddition is enforced: no new secrets at all
	MaxLifetime time.Duration // zero when unrestricted
	Source      string        // which policy said so, for messages
}

// Directory is what rotation needs of one tenant's Entra directory.
//
// Implementations must be safe for concurrent use and honour context cancellation. AddSecret is
// not idempotent and must not be retried by the implementation: after any error the caller
// lists the owner's secrets to find out what happened (display names carry rotor's marker).
type Directory interface {
	// AddSecret adds a client secret called displayName ending at end.
	AddSecret(ctx context.Context, owner OwnerRef, displayName string, end time.Time) (*NewSecret, error)
	// RemoveSecret removes a client secret; an error wrapping ErrNotFound when it is gone already.
	RemoveSecret(ctx context.Context, owner OwnerRef, keyID string) error
	// ListSecrets returns the owner's client secrets (metadata only).
	ListSecrets(ctx context.Context, owner OwnerRef) ([]*Credential, error)
	// SecretRestriction returns what the app management policy allows for new secrets on owner.
	SecretRestriction(ctx context.Context, owner OwnerRef) (SecretRestriction, error)
}

// Verifier proves that a credential works by acquiring a token with it.
type Verifier interface {
	// Verify acquires a token for scope as client clientID in tenant tenantID with the secret
	// value. Errors are classified: transient (including a credential not replicated yet) or
	// permanent.
	Verify(ctx context.Context, tenantID, clientID, scope string, value secret.Value) error
}

// OwnerLister is a Directory that lists an application's owners (users and service principals),
// for policies that select applications by owner.
type OwnerLister interface {
	AppOwners(ctx context.Context, appObjectID string) ([]Owner, error)
}

// WriteChecker is a Directory that can tell, without writing, whether rotor may change an
// owner's credentials (permissions, ownership). Preflights use it.
type WriteChecker interface {
	CheckWrite(ctx context.Context, owner OwnerRef) error
}
