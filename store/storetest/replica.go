package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

// The replica tests get two handles on one database, each with its own connections, as two rotor
// processes sharing a store have. What one writes the other must see, and the guarantees that
// hold between goroutines of one process must hold between the processes too.

func testReplicaClaimConcurrent(t *testing.T, a, b rotor.Store) {
	mustTenant(t, a, "contoso")
	const n = 60
	for range n {
		require.NoError(t, a.RotationInsert(ctx(t), newRotation(mustBinding(t, a, "contoso"))))
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for _, replica := range []struct {
		name string
		s    rotor.Store
	}{{"a", a}, {"b", b}} {
		for w := range 4 {
			wg.Go(func() {
				worker := fmt.Sprintf("%s%d", replica.name, w)
				for {
					got, err := replica.s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: worker, Now: now, LeaseFor: time.Hour, Limit: 2})
					if err != nil {
						t.Errorf("claim by %s: %v", worker, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, r := range got {
						if prev, dup := seen[r.ID]; dup {
							t.Errorf("rotation %s claimed by %s and %s", r.ID, prev, worker)
						}
						seen[r.ID] = worker
						if r.Fence != 1 {
							t.Errorf("rotation %s claimed by %s with fence %d: it was claimed before", r.ID, worker, r.Fence)
						}
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	require.Len(t, seen, n, "every runnable rotation claimed exactly once across both replicas")
	for id, worker := range seen {
		r, err := b.RotationGet(ctx(t), id)
		require.NoError(t, err)
		require.Equal(t, worker, r.LeaseOwner, "the stored lease names the one claimer")
	}
}

func testReplicaLeaseTakeover(t *testing.T, a, b rotor.Store) {
	mustTenant(t, a, "contoso")
	r := newRotation(mustBinding(t, a, "contoso"))
	require.NoError(t, a.RotationInsert(ctx(t), r))
	claim := func(s rotor.Store, worker string, at time.Time) []*rotor.Rotation {
		t.Helper()
		got, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: worker, Now: at, LeaseFor: time.Minute, Limit: 5})
		require.NoError(t, err)
		return got
	}

	got := claim(a, "a", now)
	require.Len(t, got, 1)
	mine := got[0]
	require.Empty(t, claim(b, "b", now.Add(30*time.Second)), "another replica does not claim a live lease")
	require.NoError(t, a.RotationRenewLease(ctx(t), mine.ID, mine.Fence, now.Add(2*time.Minute)))
	require.Empty(t, claim(b, "b", now.Add(90*time.Second)), "nor a renewed one")

	// Replica a stalls past its lease: b takes the rotation over with a new fencing token.
	got = claim(b, "b", now.Add(3*time.Minute))
	require.Len(t, got, 1)
	theirs := got[0]
	require.Equal(t, "b", theirs.LeaseOwner)
	require.Equal(t, mine.Fence+1, theirs.Fence)

	mine.State = rotor.RotationCreating
	require.ErrorIs(t, a.RotationUpdate(ctx(t), mine), rotor.ErrLeaseLost, "the stale replica cannot write")
	require.ErrorIs(t, a.RotationRenewLease(ctx(t), mine.ID, mine.Fence, now.Add(4*time.Minute)), rotor.ErrLeaseLost)
	theirs.State, theirs.UpdatedAt = rotor.RotationVerifying, now.Add(3*time.Minute)
	require.NoError(t, b.RotationUpdate(ctx(t), theirs))
	seenByA, err := a.RotationGet(ctx(t), r.ID)
	require.NoError(t, err)
	require.Equal(t, theirs, seenByA, "replica a reads what b wrote")

	// Leader election between the two replicas.
	p := func(holder string, at time.Time) *rotor.LeaseAcquireParams {
		return &rotor.LeaseAcquireParams{Name: "leader", Holder: holder, Now: at, TTL: 30 * time.Second}
	}
	l, err := a.LeaseAcquire(ctx(t), p("replica-a", now))
	require.NoError(t, err)
	require.True(t, l.Held("replica-a", now))
	l, err = b.LeaseAcquire(ctx(t), p("replica-b", now.Add(10*time.Second)))
	require.NoError(t, err)
	require.Equal(t, "replica-a", l.Holder, "b sees a as the leader")
	l, err = a.LeaseAcquire(ctx(t), p("replica-a", now.Add(20*time.Second)))
	require.NoError(t, err)
	require.EqualValues(t, 1, l.Fence, "a renews")
	l, err = b.LeaseAcquire(ctx(t), p("replica-b", now.Add(51*time.Second)))
	require.NoError(t, err)
	require.True(t, l.Held("replica-b", now.Add(51*time.Second)), "b takes over once a's lease expired")
	require.EqualValues(t, 2, l.Fence)
	l, err = a.LeaseAcquire(ctx(t), p("replica-a", now.Add(52*time.Second)))
	require.NoError(t, err)
	require.False(t, l.Held("replica-a", now.Add(52*time.Second)), "a learns it lost the lead")
	require.Equal(t, "replica-b", l.Holder)
	require.NoError(t, a.LeaseRelease(ctx(t), "leader", "replica-a"))
	l, err = b.LeaseAcquire(ctx(t), p("replica-b", now.Add(53*time.Second)))
	require.NoError(t, err)
	require.True(t, l.Held("replica-b", now.Add(53*time.Second)), "a's release did not free b's lease")
	require.EqualValues(t, 2, l.Fence)
}

func testReplicaOneInFlight(t *testing.T, a, b rotor.Store) {
	mustTenant(t, a, "contoso")
	bnd := mustBinding(t, a, "contoso")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		s := []rotor.Store{a, b}[i%2]
		wg.Go(func() { errs <- s.RotationInsert(ctx(t), newRotation(bnd)) })
	}
	wg.Wait()
	close(errs)
	var ok int
	for err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, rotor.ErrConflict)
	}
	require.Equal(t, 1, ok, "one rotation per binding in flight, across replicas")
}

func testReplicaAuditConcurrent(t *testing.T, a, b rotor.Store) {
	mustTenant(t, a, "contoso")
	var wg sync.WaitGroup
	var mu sync.Mutex
	seqs := map[int64]bool{}
	for i := range 8 {
		s := []rotor.Store{a, b}[i%2]
		wg.Go(func() {
			for j := range 10 {
				e := auditEvent(fmt.Sprintf("w%d.e%d", i, j))
				var err error
				if j%2 == 0 {
					err = s.AuditAppend(ctx(t), e)
				} else {
					// As the engine does: a state change and its event in one transaction.
					err = s.InTx(ctx(t), func(tx rotor.Store) error {
						if err := tx.BindingInsert(ctx(t), &rotor.Binding{ID: newID(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication,
							OwnerID: newID(), AppID: newID(), Kind: rotor.KindSecret, Policy: "p", Source: rotor.BindingFromPolicy,
							CreatedAt: now, UpdatedAt: now}); err != nil {
							return err
						}
						return tx.AuditAppend(ctx(t), e)
					})
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				if seqs[e.Seq] {
					t.Errorf("sequence %d assigned twice", e.Seq)
				}
				seqs[e.Seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, s := range []rotor.Store{a, b} {
		all, err := s.AuditList(ctx(t), &rotor.AuditListParams{Limit: 1000})
		require.NoError(t, err)
		require.Len(t, all, 80)
		_, err = rotor.VerifyChain(all, 0, nil)
		require.NoError(t, err, "appends from two replicas form one unbroken chain")
	}
}
