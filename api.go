package rotor

import (
	"context"
	"time"
)

// AccessStore keeps what the HTTP API and the web UI need to authenticate callers: API tokens
// (stored only as hashes) and the sessions that were signed out before their expiry.
//
// Contract, in addition to Store's (checked by store/storetest):
//   - APITokenInsert never leaves two live tokens with one name, across all processes.
//   - APITokenGetByHash finds a token by the hash of its value only; the value is never stored.
type AccessStore interface {
	// APITokenInsert stores a new token. A token with the same name that is neither revoked nor
	// expired at t.CreatedAt is ErrConflict; one that expired is revoked first (by t.CreatedBy),
	// so that names can be reused once a token lapsed.
	APITokenInsert(ctx context.Context, t *APIToken) error
	APITokenGet(ctx context.Context, id string) (*APIToken, error)
	// APITokenGetByHash returns the token whose value hashes to hash (see APIToken.Hash),
	// whatever its state: callers check Active.
	APITokenGetByHash(ctx context.Context, hash string) (*APIToken, error)
	// APITokenList lists tokens by name, then creation time; revoked ones only when asked.
	APITokenList(ctx context.Context, p *APITokenListParams) ([]*APIToken, error)
	// APITokenRevoke revokes a token and returns it; revoking a revoked token changes nothing.
	APITokenRevoke(ctx context.Context, p *APITokenRevokeParams) (*APIToken, error)
	// APITokenTouch records that a token was used at at (LastUsedAt); it never moves it back.
	APITokenTouch(ctx context.Context, id string, at time.Time) error

	// SessionEnd records that the web session id was signed out; it can no longer be used
	// although its cookie has not expired. The record is kept until expiresAt.
	SessionEnd(ctx context.Context, id string, expiresAt time.Time) error
	// SessionEnded reports whether the session id was signed out.
	SessionEnded(ctx context.Context, id string) (bool, error)
	// SessionPrune forgets signed-out sessions whose cookies expired before before.
	SessionPrune(ctx context.Context, before time.Time) (int, error)
}

// APIToken is a bearer token for scripts calling rotor's API. Its value is random, shown once
// when it is created, and stored only as its SHA-256 hash; it has one role and an expiry.
type APIToken struct {
	ID         string
	Name       string
	Role       string // viewer, operator or admin
	Hash       string // lowercase hex SHA-256 of the token value
	CreatedAt  time.Time
	CreatedBy  string
	ExpiresAt  time.Time
	RevokedAt  time.Time
	RevokedBy  string
	LastUsedAt time.Time
}

// Active reports whether the token may be used at now: not revoked and not expired.
func (t *APIToken) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// APITokenListParams filters tokens.
type APITokenListParams struct {
	IncludeRevoked bool
}

// APITokenRevokeParams names a token to revoke and who revokes it.
type APITokenRevokeParams struct {
	ID string
	By string
	At time.Time
}

// QueryStore answers the paged, filtered questions of the API and the web UI without loading a
// whole table: every list is keyset-paged (a cursor, never an offset), and the dashboard's
// figures are aggregated by the database.
//
// Credential states are lifecycle states (package lifecycle), computed by the store from the
// same facts and with the same rules as lifecycle.StateOf: the dates, removal, and the
// rotations replacing a credential. The conformance suite checks that both agree.
type QueryStore interface {
	// AppSearch pages through applications with their credential counts, ordered by (tenant,
	// display name, id).
	AppSearch(ctx context.Context, p *AppSearchParams) ([]*AppSummary, error)
	// CredentialSearch pages through credentials with the facts their state depends on, ordered
	// by (end, tenant, key id).
	CredentialSearch(ctx context.Context, p *CredentialSearchParams) ([]*CredentialRow, error)
	// CredentialStats counts credentials per tenant and state, how many end within 7, 30 and 90
	// days, and how many end in each of the next weeks.
	CredentialStats(ctx context.Context, p *CredentialStatsParams) (*CredentialStats, error)
	// BindingSearch pages through bindings ordered by (tenant, owner id, id).
	BindingSearch(ctx context.Context, p *BindingSearchParams) ([]*Binding, error)
	// RotationSearch pages through rotations newest first (created at, then id, descending).
	RotationSearch(ctx context.Context, p *RotationSearchParams) ([]*Rotation, error)
	// RotationCounts counts rotations per tenant and state.
	RotationCounts(ctx context.Context) ([]RotationCount, error)
	// AuditSearch pages through audit events newest first.
	AuditSearch(ctx context.Context, p *AuditSearchParams) ([]*AuditEvent, error)
}

// AppSearchParams filters applications. Zero fields do not filter.
type AppSearchParams struct {
	Tenant string
	// Query matches a display name containing it (ignoring case), or a client id or object id
	// equal to it.
	Query string
	// Now is when Expired and ExpiringWithin are judged.
	Now time.Time
	// ExpiringWithin keeps apps with a live credential ending after Now and within this long.
	ExpiringWithin time.Duration
	// Expired keeps apps with a live credential whose end has passed.
	Expired bool
	// Managed keeps apps with a binding (true) or without one (false).
	Managed *bool
	After   *AppCursor
	Limit   int // zero means 50
}

// AppSummary is an application with figures about its live credentials, its own and its service
// principal's.
type AppSummary struct {
	App
	Credentials int       // live credentials
	Expired     int       // live credentials past their end
	NextEndAt   time.Time // the soonest end of a live credential not yet expired; zero if none
	Bindings    int
}

// CredentialSearchParams filters credentials. Zero fields do not filter.
type CredentialSearchParams struct {
	Tenant    string
	AppID     string // client id: the application's and its service principal's credentials
	OwnerKind OwnerKind
	OwnerID   string
	Kind      CredentialKind
	// States keeps credentials in any of these lifecycle states (names of lifecycle.State).
	// Without states, removed credentials are left out unless IncludeRemoved.
	States         []string
	IncludeRemoved bool
	EndAfter       time.Time // EndAt > EndAfter
	EndBefore      time.Time // EndAt <= EndBefore
	// Now and Warn decide states: expired when the end is not after Now, expiring when it is
	// within Warn of Now.
	Now   time.Time
	Warn  time.Duration
	After *CredentialCursor
	Limit int // zero means 100
}

// CredentialRow is a credential with the facts of its state that do not come from its dates.
type CredentialRow struct {
	Credential
	// Rotating: a rotation replacing it is in flight and its successor is not live yet.
	Rotating bool
	// Superseded: its successor is live (the rotation replacing it is in grace or cleaning).
	Superseded bool
	// BindingID is the binding that manages it now, if any.
	BindingID string
}

// CredentialStatsParams selects what CredentialStats counts.
type CredentialStatsParams struct {
	Tenant string // empty: every tenant
	Now    time.Time
	Warn   time.Duration // the expiring threshold (lifecycle.Thresholds.Warn)
	Weeks  int           // how many weeks of upcoming expiries to count; zero means none
}

// CredentialStats are the dashboard's and the metrics' figures.
type CredentialStats struct {
	Tenants []TenantCredentialStats // by tenant name
	// Weeks[i] counts live credentials ending in the i-th week from Now: (Now+i weeks,
	// Now+(i+1) weeks].
	Weeks []int
}

// TenantCredentialStats are one tenant's figures.
type TenantCredentialStats struct {
	Tenant  string
	ByState map[string]int // lifecycle state name -> credentials
	// Live credentials ending after Now and within 7, 30 and 90 days of it.
	Within7, Within30, Within90 int
	// NextEndAt is the soonest end of a live credential not yet expired; zero if none.
	NextEndAt time.Time
}

// BindingSearchParams filters bindings. Zero fields do not filter.
type BindingSearchParams struct {
	Tenant  string
	AppID   string
	OwnerID string
	Policy  string
	Paused  *bool
	After   *BindingCursor
	Limit   int // zero means 100
}

// BindingCursor is the position after which BindingSearch continues.
type BindingCursor struct{ Tenant, OwnerID, ID string }

// RotationSearchParams filters rotations. Zero fields do not filter.
type RotationSearchParams struct {
	Tenant    string
	AppID     string
	BindingID string
	States    []RotationState
	Before    *RotationCursor
	Limit     int // zero means 100
}

// RotationCursor is the position after which RotationSearch continues (newest first).
type RotationCursor struct {
	CreatedAt time.Time
	ID        string
}

// RotationCount is how many rotations of a tenant are in a state.
type RotationCount struct {
	Tenant string
	State  RotationState
	Count  int
}

// AuditSearchParams filters audit events. Zero fields do not filter.
type AuditSearchParams struct {
	Tenant       string
	AppID        string
	RotationID   string
	Actor        string
	ActionPrefix string // "rotation." keeps every rotation event
	Outcome      string
	Since        time.Time // At >= Since
	Until        time.Time // At < Until
	BeforeSeq    int64     // Seq < BeforeSeq
	Limit        int       // zero means 100
}
