// Package notify tells people about credentials before they expire and about every rotation and
// failure, without flooding them, and exactly once per event, route and notifier, across restarts
// and replicas.
//
//	audit trail ──Dispatch──┐                       ┌── email (SMTP)
//	(cursor, CAS)           │                       ├── Teams webhook
//	                        ├──> outbox ──SendDue──>├── Slack webhook
//	credentials ──Scan──────┤   (unique key,        └── signed webhook
//	(thresholds, recorded)  │    lease, backoff)
//	digest cursors ─────────┘
//
// The audit trail is the source of truth for rotations and out-of-band changes: Dispatch reads
// the events after a stored cursor, resolves them (display names, policy, dates), routes them,
// and inserts one outbox row per event, route and notifier, moving the cursor in the same
// transaction. Scan announces credentials crossing expiry thresholds (recorded by tenant, key id
// and threshold in the same transaction as their rows) and makes each route's daily digest.
// SendDue claims due rows with a lease, sends, and records success or the failure with a backoff
// computed from the stored attempt count. A row's unique key makes every insert idempotent; the
// cursor moves only from where a dispatcher read it; so several replicas can run every pass at
// once.
//
// Message delivery is at least once: a crash after the server accepted a message and before the
// outbox recorded it sends it again, with the same Message.ID.
//
// Notifiers live in subpackages (email, teams, slack, webhook) and pass notifytest.
package notify
