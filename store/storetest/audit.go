package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func auditEvent(action string) *rotor.AuditEvent {
	return &rotor.AuditEvent{At: now, Actor: "planner", Action: action, Tenant: "contoso", AppID: "client-a",
		Outcome: rotor.OutcomeSuccess, Details: map[string]string{"policy": "standard"}}
}

func testAuditChain(t *testing.T, s rotor.Store) {
	for i := range 5 {
		e := auditEvent(fmt.Sprintf("rotation.step%d", i))
		if i == 3 {
			e.AppID, e.RotationID, e.Details = "client-b", "rot-1", nil
		}
		require.NoError(t, s.AuditAppend(ctx(t), e))
		require.EqualValues(t, i+1, e.Seq, "the store assigns gapless sequence numbers")
		require.NotEmpty(t, e.Hash)
	}
	all, err := s.AuditList(ctx(t), &rotor.AuditListParams{})
	require.NoError(t, err)
	require.Len(t, all, 5)
	_, err = rotor.VerifyChain(all, 0, nil)
	require.NoError(t, err)
	require.Nil(t, all[3].Details)
	require.Equal(t, map[string]string{"policy": "standard"}, all[0].Details)
	require.Equal(t, now, all[0].At)

	byApp, err := s.AuditList(ctx(t), &rotor.AuditListParams{AppID: "client-b"})
	require.NoError(t, err)
	require.Len(t, byApp, 1)
	require.EqualValues(t, 4, byApp[0].Seq)
	byRot, err := s.AuditList(ctx(t), &rotor.AuditListParams{RotationID: "rot-1"})
	require.NoError(t, err)
	require.Len(t, byRot, 1)

	page, err := s.AuditList(ctx(t), &rotor.AuditListParams{AfterSeq: 2, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 4}, []int64{page[0].Seq, page[1].Seq})
	desc, err := s.AuditList(ctx(t), &rotor.AuditListParams{Descending: true, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{5, 4}, []int64{desc[0].Seq, desc[1].Seq})
	desc, err = s.AuditList(ctx(t), &rotor.AuditListParams{Descending: true, AfterSeq: 4, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 2}, []int64{desc[0].Seq, desc[1].Seq})
}

func testAuditConcurrent(t *testing.T, s rotor.Store) {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if err := s.AuditAppend(ctx(t), auditEvent(fmt.Sprintf("w%d.e%d", w, i))); err != nil {
					t.Errorf("append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	all, err := s.AuditList(ctx(t), &rotor.AuditListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, all, 80)
	_, err = rotor.VerifyChain(all, 0, nil)
	require.NoError(t, err, "concurrent appends form one unbroken chain")
}

var errBoom = errors.New("boom")

func testInTxRollback(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	b := mustBinding(t, s, "contoso")
	r := newRotation(b)
	err := s.InTx(ctx(t), func(tx rotor.Store) error {
		if err := tx.RotationInsert(ctx(t), r); err != nil {
			return err
		}
		if err := tx.AuditAppend(ctx(t), auditEvent("rotation.planned")); err != nil {
			return err
		}
		// Nested InTx joins the transaction.
		if err := tx.InTx(ctx(t), func(inner rotor.Store) error {
			return inner.AuditAppend(ctx(t), auditEvent("rotation.nested"))
		}); err != nil {
			return err
		}
		if _, err := tx.RotationGet(ctx(t), r.ID); err != nil {
			return fmt.Errorf("a transaction reads its own writes: %w", err)
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	_, err = s.RotationGet(ctx(t), r.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound, "the insert was rolled back")
	evs, err := s.AuditList(ctx(t), &rotor.AuditListParams{})
	require.NoError(t, err)
	require.Empty(t, evs, "the audit events were rolled back with it")

	// After a rollback the chain continues from where it was.
	require.NoError(t, s.InTx(ctx(t), func(tx rotor.Store) error {
		if err := tx.RotationInsert(ctx(t), r); err != nil {
			return err
		}
		return tx.AuditAppend(ctx(t), auditEvent("rotation.planned"))
	}))
	evs, err = s.AuditList(ctx(t), &rotor.AuditListParams{})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.EqualValues(t, 1, evs[0].Seq)
	_, err = rotor.VerifyChain(evs, 0, nil)
	require.NoError(t, err)
}

func testConcurrentWriters(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 15 {
				var err error
				switch i % 3 {
				case 0:
					err = s.AppUpsertBatch(ctx(t), []*rotor.App{{Tenant: "contoso", ID: fmt.Sprintf("w%d-%d", w, i), AppID: newID(), DisplayName: "x", SyncedAt: now}})
				case 1:
					err = s.InTx(ctx(t), func(tx rotor.Store) error {
						b := &rotor.Binding{ID: newID(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: newID(),
							AppID: newID(), Kind: rotor.KindSecret, Policy: "p", Source: rotor.BindingFromPolicy, CreatedAt: now, UpdatedAt: now}
						if err := tx.BindingInsert(ctx(t), b); err != nil {
							return err
						}
						return tx.AuditAppend(ctx(t), auditEvent("binding.created"))
					})
				default:
					_, err = s.AppList(ctx(t), &rotor.AppListParams{Tenant: "contoso"})
				}
				if err != nil {
					t.Errorf("writer %d op %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	apps, err := s.AppList(ctx(t), &rotor.AppListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, apps, 40)
	bs, err := s.BindingList(ctx(t), &rotor.BindingListParams{})
	require.NoError(t, err)
	require.Len(t, bs, 40)
	evs, err := s.AuditList(ctx(t), &rotor.AuditListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, evs, 40)
}

func testLease(t *testing.T, s rotor.Store) {
	p := func(holder string, at time.Time) *rotor.LeaseAcquireParams {
		return &rotor.LeaseAcquireParams{Name: "leader", Holder: holder, Now: at, TTL: 30 * time.Second}
	}
	l, err := s.LeaseAcquire(ctx(t), p("a", now))
	require.NoError(t, err)
	require.True(t, l.Held("a", now))
	require.EqualValues(t, 1, l.Fence)

	l, err = s.LeaseAcquire(ctx(t), p("b", now.Add(10*time.Second)))
	require.NoError(t, err)
	require.False(t, l.Held("b", now.Add(10*time.Second)))
	require.Equal(t, "a", l.Holder, "the live holder is reported")

	l, err = s.LeaseAcquire(ctx(t), p("a", now.Add(20*time.Second)))
	require.NoError(t, err)
	require.True(t, l.Held("a", now.Add(20*time.Second)))
	require.EqualValues(t, 1, l.Fence, "a renewal keeps the fencing token")
	require.Equal(t, now.Add(50*time.Second), l.ExpiresAt)

	l, err = s.LeaseAcquire(ctx(t), p("b", now.Add(50*time.Second)))
	require.NoError(t, err)
	require.True(t, l.Held("b", now.Add(50*time.Second)), "an expired lease is taken over")
	require.EqualValues(t, 2, l.Fence)

	require.NoError(t, s.LeaseRelease(ctx(t), "leader", "a"), "releasing a lease one does not hold is a no-op")
	l, err = s.LeaseAcquire(ctx(t), p("a", now.Add(51*time.Second)))
	require.NoError(t, err)
	require.Equal(t, "b", l.Holder)
	require.NoError(t, s.LeaseRelease(ctx(t), "leader", "b"))
	l, err = s.LeaseAcquire(ctx(t), p("a", now.Add(52*time.Second)))
	require.NoError(t, err)
	require.True(t, l.Held("a", now.Add(52*time.Second)))
	require.EqualValues(t, 3, l.Fence)

	// Many candidates at once: exactly one holds it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	holders := map[string]bool{}
	at := now.Add(time.Hour)
	for i := range 8 {
		wg.Go(func() {
			me := fmt.Sprintf("c%d", i)
			l, err := s.LeaseAcquire(ctx(t), &rotor.LeaseAcquireParams{Name: "race", Holder: me, Now: at, TTL: time.Minute})
			if err != nil {
				t.Errorf("acquire: %v", err)
				return
			}
			if l.Held(me, at) {
				mu.Lock()
				holders[me] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, holders, 1)
}

func testAgent(t *testing.T, s rotor.Store) {
	a := &rotor.Agent{ID: newID(), Name: "web-01", Hostname: "web-01.internal", Version: "v1.0.0",
		Labels: map[string]string{"role": "web"}, CreatedAt: now, LastSeenAt: now}
	require.NoError(t, s.AgentUpsert(ctx(t), a))
	got, err := s.AgentGet(ctx(t), a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	a.LastSeenAt, a.Labels = now.Add(time.Minute), nil
	require.NoError(t, s.AgentUpsert(ctx(t), a))
	got, err = s.AgentGet(ctx(t), a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	other := &rotor.Agent{ID: newID(), Name: "web-01", CreatedAt: now}
	require.ErrorIs(t, s.AgentUpsert(ctx(t), other), rotor.ErrConflict, "agent names are unique")
	list, err := s.AgentList(ctx(t))
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = s.AgentGet(ctx(t), newID())
	require.ErrorIs(t, err, rotor.ErrNotFound)
}

func testTimePrecision(t *testing.T, s rotor.Store) {
	at := time.Date(2026, 3, 29, 1, 30, 0, 123456789, time.FixedZone("CEST", 2*3600))
	require.NoError(t, s.TenantUpsert(ctx(t), &rotor.Tenant{Name: "t", TenantID: "x", CreatedAt: at, UpdatedAt: at}))
	got, err := s.TenantGet(ctx(t), "t")
	require.NoError(t, err)
	require.Equal(t, at.UTC().Truncate(time.Microsecond), got.CreatedAt, "microseconds, in UTC")
	require.Equal(t, time.UTC, got.CreatedAt.Location())

	far := time.Date(2299, 12, 31, 0, 0, 0, 0, time.UTC) // certificates can end that late
	owner := newID()
	_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "t", Now: at,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x",
			Credentials: []*rotor.Credential{{KeyID: "k", Kind: rotor.KindCertificate, StartAt: at, EndAt: far}}}}})
	require.NoError(t, err)
	c, err := s.CredentialGet(ctx(t), "t", "k")
	require.NoError(t, err)
	require.Equal(t, far, c.EndAt)
	require.True(t, c.RemovedAt.IsZero(), "unset times read back as the zero time")
}
