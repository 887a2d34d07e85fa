package rotor

import "time"

// AuditEvent records one state change. Events form a hash chain: each carries the hash of the one
// before it, so an edited or removed event is detected (rotor audit verify).
type AuditEvent struct {
	Seq        int64 // assigned by the store, gapless and increasing
	At         time.Time
	Actor      string // who or what: "planner", "sync", "user:alice@example.com", "token:ci"
	Action     string // "rotation.created", "credential.added_out_of_band", ...
	Tenant     string
	AppID      string
	KeyID      string
	RotationID string
	Outcome    string // "success", "failure", "info"
	Reason     string
	Details    map[string]string
	PrevHash   []byte // hash of the event before; empty for the first
	Hash       []byte // SHA-256 over PrevHash and this event's canonical encoding
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeInfo    = "info"
)
