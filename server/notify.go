package server

import (
	"context"
	"time"
)

// Notifications is the notification outbox as the API and the web UI show it: the configured
// notifiers, the messages in the outbox with their delivery state, and retrying a failed one.
// cmd/rotor adapts package notify's store and configuration to it.
//
// Implementations must be safe for concurrent use and honour context cancellation. Nothing they
// return may hold a secret value.
type Notifications interface {
	Notifiers(ctx context.Context) ([]NotifierInfo, error)
	// Outbox lists notifications newest first.
	Outbox(ctx context.Context, q OutboxQuery) ([]OutboxItem, error)
	// Retry makes a failed notification due now, recording actor in the audit trail.
	Retry(ctx context.Context, id, actor string) (*OutboxItem, error)
}

// NotifierInfo describes one configured notifier (never its credentials).
type NotifierInfo struct {
	Name string `json:"name"`
	Type string `json:"type"` // email, teams, slack, webhook
	// Target says where it sends, without secrets: a mail domain, a host.
	Target string   `json:"target,omitempty"`
	Routes []string `json:"routes"`
}

// OutboxQuery filters the outbox. Zero fields do not filter.
type OutboxQuery struct {
	Statuses []string
	Notifier string
	Tenant   string
	Event    string
	Before   *OutboxCursor
	Limit    int
}

// OutboxCursor is the position after which Outbox continues (newest first).
type OutboxCursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

// OutboxItem is one notification and where its delivery stands.
type OutboxItem struct {
	ID            string     `json:"id"`
	Route         string     `json:"route"`
	Notifier      string     `json:"notifier"`
	Event         string     `json:"event"`
	Tenant        string     `json:"tenant,omitempty"`
	AppID         string     `json:"app_id,omitempty"`
	KeyID         string     `json:"key_id,omitempty"`
	RotationID    string     `json:"rotation_id,omitempty"`
	Status        string     `json:"status"` // pending, retrying, sent, failed
	Attempt       int        `json:"attempt"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	Recipients    []string   `json:"recipients,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}
