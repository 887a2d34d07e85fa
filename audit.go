package rotor

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
)

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

// ChainHash returns the hash of e chained after prev: SHA-256 over prev and a canonical JSON
// encoding of every field except Hash and PrevHash. Stores call it when appending; rotor audit
// verify calls it again to detect an edited, inserted or removed event.
func (e *AuditEvent) ChainHash(prev []byte) []byte {
	canon := struct {
		Seq        int64             `json:"seq"`
		At         string            `json:"at"`
		Actor      string            `json:"actor"`
		Action     string            `json:"action"`
		Tenant     string            `json:"tenant"`
		AppID      string            `json:"app_id"`
		KeyID      string            `json:"key_id"`
		RotationID string            `json:"rotation_id"`
		Outcome    string            `json:"outcome"`
		Reason     string            `json:"reason"`
		Details    map[string]string `json:"details"` // encoding/json sorts map keys
	}{e.Seq, e.At.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), e.Actor, e.Action,
		e.Tenant, e.AppID, e.KeyID, e.RotationID, e.Outcome, e.Reason, e.Details}
	b, err := json.Marshal(canon)
	if err != nil {
		panic(fmt.Sprintf("audit: encode event %d: %v", e.Seq, err)) // strings only: cannot fail
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(b)
	return h.Sum(nil)
}

// VerifyChain checks that events, in Seq order and starting right after an event with sequence
// afterSeq and hash prev (0 and nil for the start of the trail), form an unbroken chain. It
// returns the hash of the last event, to continue with the next batch, or an error naming the
// first event that does not fit.
func VerifyChain(events []*AuditEvent, afterSeq int64, prev []byte) ([]byte, error) {
	want := afterSeq + 1
	for _, e := range events {
		if e.Seq != want {
			return nil, fmt.Errorf("audit event %d: expected sequence %d: an event was removed or inserted", e.Seq, want)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return nil, fmt.Errorf("audit event %d: previous hash does not match event %d", e.Seq, e.Seq-1)
		}
		if !bytes.Equal(e.ChainHash(prev), e.Hash) {
			return nil, fmt.Errorf("audit event %d: hash does not match its content: the event was edited", e.Seq)
		}
		prev = e.Hash
		want++
	}
	return prev, nil
}
