package rotor

import (
	"context"
	"time"
)

// NotificationStore keeps the notification outbox and the bookkeeping that makes every
// notification exactly-once: the dispatcher's cursors over the audit trail and the record of
// which expiry thresholds each credential crossed.
//
// Contract, in addition to Store's (checked by store/storetest):
//   - NotificationInsert never stores two notifications with the same Key, across all processes:
//     the database's unique key is the guard, not a read before the write.
//   - NotificationClaim never returns the same notification to two concurrent claimers; a claim
//     increments the fencing token, and NotificationUpdate writes only under the current token.
//   - NotifyCursorAdvance moves a cursor only from the position the caller read (compare and set).
type NotificationStore interface {
	// NotificationInsert stores n (n.ID set by the caller) unless a notification with n.Key exists.
	// It reports whether it stored n.
	NotificationInsert(ctx context.Context, n *Notification) (bool, error)
	NotificationGet(ctx context.Context, id string) (*Notification, error)
	// NotificationList lists notifications newest first (CreatedAt, then ID, descending).
	NotificationList(ctx context.Context, p *NotificationListParams) ([]*Notification, error)
	// NotificationClaim leases up to Limit due notifications (pending or retrying,
	// NextAttemptAt <= Now, no live lease) to Worker until Now+LeaseFor, incrementing each one's
	// fencing token. Two concurrent claims never return the same notification.
	NotificationClaim(ctx context.Context, p *NotificationClaimParams) ([]*Notification, error)
	// NotificationUpdate writes n's delivery state (status, attempt, next attempt, last error,
	// recipients, lease, sent and updated times) if the stored fencing token equals n.Fence, else
	// ErrLeaseLost.
	NotificationUpdate(ctx context.Context, n *Notification) error
	// NotificationRequestRetry makes a failed notification due now with a fresh attempt count;
	// ErrConflict when it is not failed.
	NotificationRequestRetry(ctx context.Context, id string, now time.Time) (*Notification, error)
	// NotificationPrune deletes sent and failed notifications last updated before before, and
	// returns how many it deleted. Cursors and threshold records are kept: they are what prevents
	// a second delivery.
	NotificationPrune(ctx context.Context, before time.Time) (int, error)

	// NotifyCursorInit creates the named cursor at seq unless it exists, and returns its position.
	NotifyCursorInit(ctx context.Context, name string, seq int64, now time.Time) (int64, error)
	// NotifyCursorAdvance moves the named cursor from from to to; ErrConflict when it is not at
	// from (another process moved it), ErrNotFound when it does not exist.
	NotifyCursorAdvance(ctx context.Context, p *NotifyCursorAdvanceParams) error

	// NotificationThresholdPut records that a credential crossed a threshold unless that was
	// recorded before, and reports whether it recorded it.
	NotificationThresholdPut(ctx context.Context, th *NotificationThreshold) (bool, error)
	// NotificationThresholdList returns the recorded crossings of the given credentials of a
	// tenant.
	NotificationThresholdList(ctx context.Context, p *NotificationThresholdListParams) ([]*NotificationThreshold, error)
}

// NotificationStatus is where a notification stands.
type NotificationStatus string

const (
	NotificationPending  NotificationStatus = "pending"  // waiting for its first attempt
	NotificationRetrying NotificationStatus = "retrying" // an attempt failed; another follows at NextAttemptAt
	NotificationSent     NotificationStatus = "sent"     // delivered
	NotificationFailed   NotificationStatus = "failed"   // given up: a permanent error or attempts exhausted
)

// Valid reports whether s is a known status.
func (s NotificationStatus) Valid() bool {
	switch s {
	case NotificationPending, NotificationRetrying, NotificationSent, NotificationFailed:
		return true
	}
	return false
}

// Notification is one message to one notifier, in the outbox. The row is created once (its Key
// is unique), claimed by a sender with a lease, and updated under the claim's fencing token.
type Notification struct {
	ID       string
	Key      string // unique: what makes the notification exactly-once (e.g. "audit/42/route/notifier")
	Route    string // the routing rule that chose it
	Notifier string // the configured notifier that sends it
	Event    string // event type: an audit action, credential.expiring, credential.expired, digest

	Tenant     string
	AppID      string
	KeyID      string
	RotationID string
	AuditSeq   int64 // the audit event it came from; zero for expiry alerts and digests

	// Payload is the event as the notify package encodes it (JSON). It never holds a secret.
	Payload []byte

	Status        NotificationStatus
	Attempt       int       // failed attempts so far; backoff is computed from it
	NextAttemptAt time.Time // when a pending or retrying notification is due
	LastError     string    // the last failure, never a secret
	Recipients    []string  // the addresses of the last attempt (email), for the outbox view

	LeaseOwner     string
	LeaseExpiresAt time.Time
	Fence          int64

	CreatedAt time.Time
	UpdatedAt time.Time
	SentAt    time.Time
}

// NotificationListParams filters notifications. Zero fields do not filter.
type NotificationListParams struct {
	Statuses []NotificationStatus
	Notifier string
	Route    string
	Event    string
	Tenant   string
	Before   *NotificationCursor // continue after this position (newest first)
	Limit    int                 // zero means 100
}

// NotificationCursor is the position after which NotificationList continues.
type NotificationCursor struct {
	CreatedAt time.Time
	ID        string
}

// NotificationClaimParams asks for due notifications.
type NotificationClaimParams struct {
	Worker   string
	Now      time.Time
	LeaseFor time.Duration
	Limit    int
}

// NotifyCursorAdvanceParams moves a cursor over the audit trail.
type NotifyCursorAdvanceParams struct {
	Name     string
	From, To int64
	Now      time.Time
}

// NotificationThreshold records that a credential crossed an expiry threshold (Threshold before
// its end; zero means it expired), so that the crossing is announced once.
type NotificationThreshold struct {
	Tenant    string
	KeyID     string
	Threshold time.Duration
	EndAt     time.Time // the credential's end when it crossed
	CreatedAt time.Time
}

// NotificationThresholdListParams selects crossings of some credentials of a tenant.
type NotificationThresholdListParams struct {
	Tenant string
	KeyIDs []string
}
