package rotor

import (
	"context"
	"time"

	"github.com/rotorhq/rotor/secret"
)

// Deployment is what a deployment step receives: the new credential and whose it is.
type Deployment struct {
	RotationID     string
	StepName       string
	TenantName     string
	TenantID       string // directory GUID
	OwnerKind      OwnerKind
	OwnerID        string
	AppID          string // client id
	AppDisplayName string
	Kind           CredentialKind
	KeyID          string // the new credential
	PreviousKeyID  string // the credential being replaced; empty on a first rotation
	Value          secret.Value
	NotBefore      time.Time
	ExpiresAt      time.Time
}

// Target is one deployment step type: it puts a rotation's new credential where it is consumed,
// or makes a consumer pick it up (a restart, a refresh call, a health check).
//
// Implementations must be safe for concurrent use and honour context cancellation. They must never
// log, return in errors, or put in Outcome.Message the secret value.
type Target interface {
	// Preflight checks, without any side effect, that Publish could succeed: the destination is
	// reachable, rotor is authorised, what is there parses and is rotor's (or adoption is allowed).
	// d.Value is empty during preflight.
	Preflight(ctx context.Context, d Deployment) error

	// Publish performs the step. It must be idempotent: publishing the same deployment again
	// (after a crash, say) leaves the same result and reports Changed false when nothing changed.
	// It returns an error wrapping ErrNotOwned, without writing, when the destination exists and
	// is not rotor's and the step was not told to adopt it.
	Publish(ctx context.Context, d Deployment) (Outcome, error)
}

// Outcome is what a step did.
type Outcome struct {
	Changed bool
	Message string // short, human; recorded in the step's history; never a secret
	// Undo is opaque state a Reverter needs to roll the step back (a previous value, a backup
	// path). It may hold a secret: the engine seals it before storing it.
	Undo secret.Value
}

// Reverter is a Target that can roll back a publish when a rotation is cancelled.
type Reverter interface {
	Revert(ctx context.Context, d Deployment, undo secret.Value) error
}

// Retirer is a Target with something to do once the grace period has passed and the old
// credential is removed (e.g. disable the previous Key Vault secret version).
type Retirer interface {
	Retire(ctx context.Context, d Deployment) error
}
