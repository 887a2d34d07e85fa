package rotor

import (
	"context"
	"time"
)

// Store is rotor's durable state. Methods are named Noun+Verb.
//
// Contract for every implementation (checked by store/storetest):
//   - Safe for concurrent use by many goroutines and, for shared stores, many processes.
//   - Honours context cancellation.
//   - Getters return an error wrapping ErrNotFound when the object does not exist.
//   - Times are stored with microsecond precision in UTC; callers pass now explicitly.
//   - InTx runs fn atomically: every write inside it commits, or none does. The Store passed to fn
//     must not be used after fn returns. InTx called on a transaction's Store joins that transaction.
type Store interface {
	InTx(ctx context.Context, fn func(tx Store) error) error
	Close() error

	TenantStore
	InventoryStore
	BindingStore
	RotationStore
	AuditStore
	AgentStore
	LeaseStore
	NotificationStore
	AccessStore
	QueryStore
}

// TenantStore keeps the tenants rotor connects to and their sync cursors.
type TenantStore interface {
	// TenantUpsert creates or updates a tenant by name.
	TenantUpsert(ctx context.Context, t *Tenant) error
	TenantGet(ctx context.Context, name string) (*Tenant, error)
	TenantList(ctx context.Context) ([]*Tenant, error)

	// SyncCursorGet returns the stored delta link of a tenant's collection ("applications",
	// "servicePrincipals"), or ErrNotFound.
	SyncCursorGet(ctx context.Context, tenant, collection string) (*SyncCursor, error)
	SyncCursorPut(ctx context.Context, c *SyncCursor) error
	SyncCursorDelete(ctx context.Context, tenant, collection string) error
}

// SyncCursor is where the last sync of a tenant's collection stopped.
type SyncCursor struct {
	Tenant     string
	Collection string
	DeltaLink  string
	FullSyncAt time.Time // when the last full sync finished
	SyncedAt   time.Time // when the last sync (full or incremental) finished
}

// InventoryStore keeps what rotor discovered in each tenant: metadata only, never secret values.
type InventoryStore interface {
	// AppUpsertBatch stores applications; unchanged ones are not written. A renamed application's
	// credentials carry its new name.
	AppUpsertBatch(ctx context.Context, apps []*App) error
	AppGet(ctx context.Context, tenant, id string) (*App, error)
	// AppFind finds live applications whose object id, client id or display name equals query.
	AppFind(ctx context.Context, p *AppFindParams) ([]*App, error)
	AppList(ctx context.Context, p *AppListParams) ([]*App, error)
	// AppMarkDeleted records that apps disappeared from Entra, and their credentials with them.
	// It returns the credentials it marked removed.
	AppMarkDeleted(ctx context.Context, p *ObjectMarkDeletedParams) ([]*Credential, error)

	// ServicePrincipalUpsertBatch stores service principals; unchanged ones are not written.
	ServicePrincipalUpsertBatch(ctx context.Context, sps []*ServicePrincipal) error
	// InventoryObjectIDs returns the ids of a tenant's live applications or service principals.
	InventoryObjectIDs(ctx context.Context, tenant string, kind OwnerKind) ([]string, error)
	ServicePrincipalGet(ctx context.Context, tenant, id string) (*ServicePrincipal, error)
	ServicePrincipalMarkDeleted(ctx context.Context, p *ObjectMarkDeletedParams) ([]*Credential, error)

	// CredentialSyncOwners makes the stored credentials of each owner equal to the set given: new
	// ones are inserted, changed ones updated (unchanged ones are not written), missing ones marked
	// removed. It returns what was added and removed, so that changes made outside rotor can be
	// recorded.
	CredentialSyncOwners(ctx context.Context, p *CredentialSyncOwnersParams) (*CredentialDiff, error)
	CredentialGet(ctx context.Context, tenant, keyID string) (*Credential, error)
	CredentialList(ctx context.Context, p *CredentialListParams) ([]*Credential, error)
	// CredentialPut records one credential rotor created (with c.OwnerName), leaving the owner's
	// others alone; it sets FirstSeenAt and UpdatedAt to now for a new one.
	CredentialPut(ctx context.Context, c *Credential, now time.Time) error
	// CredentialMarkRemoved records that rotor removed a credential (cleanup).
	CredentialMarkRemoved(ctx context.Context, p *CredentialMarkRemovedParams) error
}

// AppFindParams selects applications by exact object id, client id or display name.
type AppFindParams struct {
	Tenant string // empty: every tenant
	Query  string
}

// AppListParams pages through applications ordered by (tenant, display name, id).
type AppListParams struct {
	Tenant         string
	NamePrefix     string // display names starting with it, ignoring case
	IncludeDeleted bool
	After          *AppCursor
	Limit          int // zero means 100
}

// AppCursor is the position after which AppList continues.
type AppCursor struct{ Tenant, DisplayName, ID string }

// ObjectMarkDeletedParams names directory objects that disappeared.
type ObjectMarkDeletedParams struct {
	Tenant string
	IDs    []string
	At     time.Time
}

// OwnerCredentials is the full current set of one owner's credentials of the given kinds.
type OwnerCredentials struct {
	OwnerKind   OwnerKind
	OwnerID     string
	OwnerName   string // the owner's display name, stored with its credentials
	AppID       string
	Credentials []*Credential
	// Kinds the set is complete for; nil means every kind. A delta that reports only an owner's
	// passwordCredentials leaves its certificates alone.
	Kinds []CredentialKind
}

// CredentialSyncOwnersParams carries the owners seen in one sync batch.
type CredentialSyncOwnersParams struct {
	Tenant string
	Owners []OwnerCredentials
	Now    time.Time
}

// CredentialDiff lists what a sync changed.
type CredentialDiff struct {
	Added   []*Credential
	Removed []*Credential
}

// CredentialListParams filters credentials. Zero fields do not filter.
type CredentialListParams struct {
	Tenant         string
	OwnerKind      OwnerKind
	OwnerID        string
	AppID          string
	Kind           CredentialKind
	KeyIDs         []string  // only these key ids (an empty list means any)
	EndBefore      time.Time // EndAt < EndBefore
	EndAfter       time.Time // EndAt >= EndAfter
	IncludeRemoved bool
	After          *CredentialCursor
	Limit          int // zero means no limit
}

// CredentialCursor is the position after which CredentialList continues; lists are ordered by
// (EndAt, Tenant, KeyID).
type CredentialCursor struct {
	EndAt  time.Time
	Tenant string
	KeyID  string
}

// CredentialMarkRemovedParams names a credential rotor removed.
type CredentialMarkRemovedParams struct {
	Tenant string
	KeyID  string
	At     time.Time
	By     string
}

// BindingStore keeps bindings.
type BindingStore interface {
	// BindingInsert stores a new binding; ErrConflict if the credential owner already has a
	// binding for the same kind and key.
	BindingInsert(ctx context.Context, b *Binding) error
	// BindingUpdate replaces a binding; ErrConflict if b.UpdatedAt does not match the stored row
	// (somebody else changed it since it was read). It sets b.UpdatedAt to now.
	BindingUpdate(ctx context.Context, b *Binding, now time.Time) error
	BindingGet(ctx context.Context, id string) (*Binding, error)
	BindingList(ctx context.Context, p *BindingListParams) ([]*Binding, error)
	BindingDelete(ctx context.Context, id string) error
}

// BindingListParams filters bindings. Zero fields do not filter.
type BindingListParams struct {
	Tenant  string
	OwnerID string
	Policy  string
}

// RotationStore keeps rotations, their steps and the sealed secrets they created.
type RotationStore interface {
	// RotationInsert stores a new rotation; ErrConflict if the binding already has one that is not
	// terminal (at most one rotation per binding in flight, across all processes).
	RotationInsert(ctx context.Context, r *Rotation) error
	RotationGet(ctx context.Context, id string) (*Rotation, error)
	RotationList(ctx context.Context, p *RotationListParams) ([]*Rotation, error)

	// RotationClaim leases up to Limit runnable rotations (not terminal, not parked,
	// NextAttemptAt <= Now, no live lease) to Worker until Now+LeaseFor, incrementing each one's fencing token. Two
	// concurrent claims never return the same rotation.
	RotationClaim(ctx context.Context, p *RotationClaimParams) ([]*Rotation, error)
	// RotationUpdate writes r if the stored fencing token still equals r.Fence, else ErrLeaseLost.
	RotationUpdate(ctx context.Context, r *Rotation) error
	// RotationRenewLease extends the lease of the claim with fencing token fence, else
	// ErrLeaseLost.
	RotationRenewLease(ctx context.Context, id string, fence int64, until time.Time) error
	// RotationRequestCancel sets CancelRequested on a rotation that is not terminal and makes it
	// runnable now (a parked rotation included), without taking its lease.
	RotationRequestCancel(ctx context.Context, id string, now time.Time) (*Rotation, error)
	// RotationRequestRetry makes a failed rotation runnable now with a fresh attempt count.
	RotationRequestRetry(ctx context.Context, id string, now time.Time) (*Rotation, error)

	RotationStepPut(ctx context.Context, s *RotationStep) error
	RotationStepList(ctx context.Context, rotationID string) ([]*RotationStep, error)

	// SealedSecretPut stores the sealed value of a credential a rotation created. Overwriting an
	// existing value is ErrConflict: a value Entra returned is never replaced.
	SealedSecretPut(ctx context.Context, s *SealedSecret) error
	SealedSecretGet(ctx context.Context, rotationID string) (*SealedSecret, error)
	// SealedRewrap passes every sealed value (secrets and steps' undo state) through rewrap and
	// stores what it returns, recording keyRef as the key secrets are now sealed with. It
	// returns how many values changed. A rewrap error stops it; what was done stays done.
	SealedRewrap(ctx context.Context, keyRef string, rewrap func(ct []byte) ([]byte, error)) (int, error)
}

// RotationListParams filters rotations, newest first. Zero fields do not filter.
type RotationListParams struct {
	Tenant    string
	BindingID string
	OwnerID   string
	States    []RotationState
	Limit     int // zero means 100
}

// RotationClaimParams asks for runnable rotations.
type RotationClaimParams struct {
	Worker   string
	Now      time.Time
	LeaseFor time.Duration
	Limit    int
}

// SealedSecret is a credential value encrypted at rest (see package seal).
type SealedSecret struct {
	RotationID string
	Tenant     string
	KeyID      string
	KeyRef     string // the key encryption key that wrapped it
	Ciphertext []byte
	CreatedAt  time.Time
}

// AuditStore keeps the append-only, hash-chained audit trail.
type AuditStore interface {
	// AuditAppend assigns e.Seq, e.PrevHash and e.Hash and stores e. Appends are serialised so
	// that the chain has no gaps or forks.
	AuditAppend(ctx context.Context, e *AuditEvent) error
	AuditList(ctx context.Context, p *AuditListParams) ([]*AuditEvent, error)
}

// AuditListParams pages through events in Seq order. Zero fields do not filter.
type AuditListParams struct {
	Tenant     string
	AppID      string
	RotationID string
	AfterSeq   int64
	Limit      int // zero means 100
	Descending bool
}

// AgentStore keeps registered agents.
type AgentStore interface {
	AgentUpsert(ctx context.Context, a *Agent) error
	AgentGet(ctx context.Context, id string) (*Agent, error)
	AgentList(ctx context.Context) ([]*Agent, error)
}

// LeaseStore keeps named leases, for leader election among replicas.
type LeaseStore interface {
	// LeaseAcquire takes or renews the named lease for Holder until Now+TTL when it is free,
	// expired, or already Holder's. A takeover increments the fencing token; a renewal keeps it.
	// It returns the lease as stored, whoever holds it.
	LeaseAcquire(ctx context.Context, p *LeaseAcquireParams) (*Lease, error)
	// LeaseRelease frees the lease if Holder holds it.
	LeaseRelease(ctx context.Context, name, holder string) error
}

// LeaseAcquireParams asks for a lease.
type LeaseAcquireParams struct {
	Name   string
	Holder string
	Now    time.Time
	TTL    time.Duration
}

// Lease is a named, expiring claim.
type Lease struct {
	Name      string
	Holder    string
	Fence     int64
	ExpiresAt time.Time
}

// Held reports whether holder holds the lease at now.
func (l *Lease) Held(holder string, now time.Time) bool {
	return l.Holder == holder && now.Before(l.ExpiresAt)
}
