package rotor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func chain(n int) []*AuditEvent {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var prev []byte
	var out []*AuditEvent
	for i := 1; i <= n; i++ {
		e := &AuditEvent{Seq: int64(i), At: at.Add(time.Duration(i) * time.Second), Actor: "planner",
			Action: "rotation.created", Tenant: "contoso", Outcome: OutcomeSuccess, Details: map[string]string{"b": "2", "a": "1"}}
		e.PrevHash = prev
		e.Hash = e.ChainHash(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestVerifyChain(t *testing.T) {
	t.Parallel()
	events := chain(5)
	last, err := VerifyChain(events, 0, nil)
	require.NoError(t, err)
	require.Equal(t, events[4].Hash, last)

	// Verifying in two batches gives the same result.
	mid, err := VerifyChain(events[:2], 0, nil)
	require.NoError(t, err)
	_, err = VerifyChain(events[2:], 2, mid)
	require.NoError(t, err)
}

func TestVerifyChainDetectsTampering(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		tamper func([]*AuditEvent) []*AuditEvent
		want   string
	}{
		"edited reason": {func(e []*AuditEvent) []*AuditEvent { e[2].Reason = "nothing to see"; return e },
			"audit event 3: hash does not match its content"},
		"edited details": {func(e []*AuditEvent) []*AuditEvent { e[1].Details["a"] = "9"; return e },
			"audit event 2: hash does not match"},
		"removed event": {func(e []*AuditEvent) []*AuditEvent { return append(e[:2], e[3:]...) },
			"audit event 4: expected sequence 3"},
		"removed and renumbered": {func(e []*AuditEvent) []*AuditEvent {
			e = append(e[:2], e[3:]...)
			e[2].Seq, e[3].Seq = 3, 4
			return e
		}, "audit event 3: previous hash does not match event 2"},
		"rehashed after edit but chain broken": {func(e []*AuditEvent) []*AuditEvent {
			e[1].Actor = "mallory"
			e[1].Hash = e[1].ChainHash(e[1].PrevHash)
			return e
		}, "audit event 3: previous hash does not match event 2"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := VerifyChain(tt.tamper(chain(5)), 0, nil)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestChainHashIgnoresMapOrderAndTimeZone(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)
	a := &AuditEvent{Seq: 1, At: at, Details: map[string]string{"x": "1", "y": "2"}}
	b := &AuditEvent{Seq: 1, At: at.In(time.FixedZone("CET", 3600)).Truncate(time.Microsecond), Details: map[string]string{"y": "2", "x": "1"}}
	require.Equal(t, a.ChainHash(nil), b.ChainHash(nil))
}
