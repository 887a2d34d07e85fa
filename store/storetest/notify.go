package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func newNotification(key string) *rotor.Notification {
	return &rotor.Notification{ID: newID(), Key: key, Route: "platform", Notifier: "ops-mail", Event: "rotation.failed",
		Tenant: "contoso", AppID: newID(), KeyID: newID(), RotationID: newID(), AuditSeq: 7,
		Payload: []byte(`{"type":"rotation.failed"}`), Status: rotor.NotificationPending, NextAttemptAt: now,
		CreatedAt: now, UpdatedAt: now}
}

func testNotificationInsertOnce(t *testing.T, s rotor.Store) {
	_, err := s.NotificationGet(ctx(t), newID())
	require.ErrorIs(t, err, rotor.ErrNotFound)

	n := newNotification("audit/7/platform/ops-mail")
	n.Recipients = []string{"owner@example.com"}
	ok, err := s.NotificationInsert(ctx(t), n)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := s.NotificationGet(ctx(t), n.ID)
	require.NoError(t, err)
	require.Equal(t, n, got)

	dup := newNotification(n.Key)
	ok, err = s.NotificationInsert(ctx(t), dup)
	require.NoError(t, err, "a duplicate key is not an error")
	require.False(t, ok, "but it is not stored")
	_, err = s.NotificationGet(ctx(t), dup.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound)

	// Inside a transaction, a duplicate leaves the transaction usable (PostgreSQL aborts a
	// transaction on a unique violation; ON CONFLICT must avoid raising one).
	other := newNotification("audit/8/platform/ops-mail")
	require.NoError(t, s.InTx(ctx(t), func(tx rotor.Store) error {
		if ok, err := tx.NotificationInsert(ctx(t), newNotification(n.Key)); err != nil || ok {
			return fmt.Errorf("duplicate in a transaction: inserted %v, %v", ok, err)
		}
		_, err := tx.NotificationInsert(ctx(t), other)
		return err
	}))
	_, err = s.NotificationGet(ctx(t), other.ID)
	require.NoError(t, err)

	_, err = s.NotificationInsert(ctx(t), &rotor.Notification{ID: newID(), Status: rotor.NotificationPending})
	require.Error(t, err, "a key is required")
}

func testNotificationInsertConcurrent(t *testing.T, s rotor.Store) {
	const writers = 8
	var inserted atomic.Int32
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range 10 {
				ok, err := s.NotificationInsert(ctx(t), newNotification(fmt.Sprintf("threshold/%d", i)))
				if err != nil {
					t.Errorf("insert: %v", err)
					return
				}
				if ok {
					inserted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 10, inserted.Load(), "each key stored by exactly one writer")
	list, err := s.NotificationList(ctx(t), &rotor.NotificationListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, list, 10)
}

func testNotificationClaimAndFence(t *testing.T, s rotor.Store) {
	due := newNotification("a")
	later := newNotification("b")
	later.NextAttemptAt = now.Add(time.Hour)
	sent := newNotification("c")
	sent.Status, sent.SentAt = rotor.NotificationSent, now
	retrying := newNotification("d")
	retrying.Status, retrying.Attempt, retrying.NextAttemptAt = rotor.NotificationRetrying, 2, now.Add(-time.Minute)
	for _, n := range []*rotor.Notification{due, later, sent, retrying} {
		_, err := s.NotificationInsert(ctx(t), n)
		require.NoError(t, err)
	}

	got, err := s.NotificationClaim(ctx(t), &rotor.NotificationClaimParams{Worker: "w1", Now: now, LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, got, 2, "only due, unsent notifications")
	require.Equal(t, retrying.ID, got[0].ID, "oldest due first")
	require.Equal(t, due.ID, got[1].ID)
	first := got[1]
	require.Equal(t, "w1", first.LeaseOwner)
	require.Equal(t, now.Add(time.Minute), first.LeaseExpiresAt)
	require.EqualValues(t, 1, first.Fence)

	got, err = s.NotificationClaim(ctx(t), &rotor.NotificationClaimParams{Worker: "w2", Now: now.Add(30 * time.Second), LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, got, "a live lease is not claimed again")

	// The lease expires; another worker takes over and the first one's writes are refused.
	got, err = s.NotificationClaim(ctx(t), &rotor.NotificationClaimParams{Worker: "w2", Now: now.Add(2 * time.Minute), LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, got, 2)
	var second *rotor.Notification
	for _, n := range got {
		if n.ID == due.ID {
			second = n
		}
	}
	require.NotNil(t, second)
	require.EqualValues(t, 2, second.Fence)
	first.Status, first.SentAt = rotor.NotificationSent, now
	require.ErrorIs(t, s.NotificationUpdate(ctx(t), first), rotor.ErrLeaseLost)

	second.Status, second.Attempt, second.LastError = rotor.NotificationRetrying, 1, "dial tcp: connection refused"
	second.NextAttemptAt, second.LeaseOwner, second.LeaseExpiresAt = now.Add(10*time.Minute), "", time.Time{}
	second.Recipients, second.UpdatedAt = []string{"a@example.com", "b@example.com"}, now.Add(2*time.Minute)
	require.NoError(t, s.NotificationUpdate(ctx(t), second))
	stored, err := s.NotificationGet(ctx(t), due.ID)
	require.NoError(t, err)
	require.Equal(t, second, stored)

	missing := newNotification("z")
	require.ErrorIs(t, s.NotificationUpdate(ctx(t), missing), rotor.ErrNotFound)
}

func testNotificationClaimConcurrent(t *testing.T, s rotor.Store) {
	const n = 40
	for i := range n {
		_, err := s.NotificationInsert(ctx(t), newNotification(fmt.Sprintf("k%d", i)))
		require.NoError(t, err)
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			worker := string(rune('a' + w))
			for {
				got, err := s.NotificationClaim(ctx(t), &rotor.NotificationClaimParams{Worker: worker, Now: now, LeaseFor: time.Hour, Limit: 3})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					if prev, dup := seen[n.ID]; dup {
						t.Errorf("notification %s claimed by %s and %s", n.ID, prev, worker)
					}
					seen[n.ID] = worker
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n, "every due notification claimed exactly once")
}

func testNotificationList(t *testing.T, s rotor.Store) {
	for i := range 7 {
		n := newNotification(fmt.Sprintf("k%d", i))
		n.CreatedAt = now.Add(time.Duration(i/2) * time.Minute) // pairs share a creation time
		if i%3 == 0 {
			n.Status, n.Notifier, n.Tenant = rotor.NotificationFailed, "teams", "fabrikam"
		}
		_, err := s.NotificationInsert(ctx(t), n)
		require.NoError(t, err)
	}
	// Newest first, through pages of 3.
	var ids []string
	var before *rotor.NotificationCursor
	for {
		page, err := s.NotificationList(ctx(t), &rotor.NotificationListParams{Before: before, Limit: 3})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, n := range page {
			ids = append(ids, n.ID)
		}
		last := page[len(page)-1]
		before = &rotor.NotificationCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	require.Len(t, ids, 7)
	for i := 1; i < len(ids); i++ {
		a, err := s.NotificationGet(ctx(t), ids[i-1])
		require.NoError(t, err)
		b, err := s.NotificationGet(ctx(t), ids[i])
		require.NoError(t, err)
		require.True(t, a.CreatedAt.After(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID, "ordered newest first")
	}

	tests := map[string]struct {
		p    rotor.NotificationListParams
		want int
	}{
		"failed":         {rotor.NotificationListParams{Statuses: []rotor.NotificationStatus{rotor.NotificationFailed}}, 3},
		"two statuses":   {rotor.NotificationListParams{Statuses: []rotor.NotificationStatus{rotor.NotificationFailed, rotor.NotificationPending}}, 7},
		"notifier":       {rotor.NotificationListParams{Notifier: "ops-mail"}, 4},
		"tenant":         {rotor.NotificationListParams{Tenant: "fabrikam"}, 3},
		"route":          {rotor.NotificationListParams{Route: "nope"}, 0},
		"event":          {rotor.NotificationListParams{Event: "rotation.failed"}, 7},
		"limit":          {rotor.NotificationListParams{Limit: 2}, 2},
		"combined match": {rotor.NotificationListParams{Notifier: "teams", Statuses: []rotor.NotificationStatus{rotor.NotificationPending}}, 0},
	}
	for name, tt := range tests {
		got, err := s.NotificationList(ctx(t), &tt.p)
		require.NoError(t, err, name)
		require.Len(t, got, tt.want, name)
	}
}

func testNotificationRetryAndPrune(t *testing.T, s rotor.Store) {
	failed := newNotification("f")
	failed.Status, failed.Attempt, failed.LastError, failed.NextAttemptAt = rotor.NotificationFailed, 10, "550 mailbox unavailable", time.Time{}
	sent := newNotification("s")
	sent.Status, sent.SentAt = rotor.NotificationSent, now
	pending := newNotification("p")
	for _, n := range []*rotor.Notification{failed, sent, pending} {
		_, err := s.NotificationInsert(ctx(t), n)
		require.NoError(t, err)
	}
	_, err := s.NotificationRequestRetry(ctx(t), pending.ID, now)
	require.ErrorIs(t, err, rotor.ErrConflict, "only a failed notification is retried")
	_, err = s.NotificationRequestRetry(ctx(t), newID(), now)
	require.ErrorIs(t, err, rotor.ErrNotFound)

	later := now.Add(time.Hour)
	got, err := s.NotificationRequestRetry(ctx(t), failed.ID, later)
	require.NoError(t, err)
	require.Equal(t, rotor.NotificationPending, got.Status)
	require.Zero(t, got.Attempt)
	require.Equal(t, later, got.NextAttemptAt)
	require.Equal(t, "550 mailbox unavailable", got.LastError, "the last error stays visible until the next attempt")

	n, err := s.NotificationPrune(ctx(t), now.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the sent one is old and finished")
	_, err = s.NotificationGet(ctx(t), sent.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound)
	_, err = s.NotificationGet(ctx(t), pending.ID)
	require.NoError(t, err)

	// A pruned key is still not sent twice as long as the caller's own record (cursor, threshold)
	// says so; the outbox alone does not remember pruned keys.
	ok, err := s.NotificationInsert(ctx(t), newNotification("s"))
	require.NoError(t, err)
	require.True(t, ok)
}

func testNotifyCursor(t *testing.T, s rotor.Store) {
	err := s.NotifyCursorAdvance(ctx(t), &rotor.NotifyCursorAdvanceParams{Name: "dispatch", From: 0, To: 1, Now: now})
	require.ErrorIs(t, err, rotor.ErrNotFound)

	pos, err := s.NotifyCursorInit(ctx(t), "dispatch", 40, now)
	require.NoError(t, err)
	require.EqualValues(t, 40, pos)
	pos, err = s.NotifyCursorInit(ctx(t), "dispatch", 3, now)
	require.NoError(t, err)
	require.EqualValues(t, 40, pos, "an existing cursor is not moved by init")

	require.NoError(t, s.NotifyCursorAdvance(ctx(t), &rotor.NotifyCursorAdvanceParams{Name: "dispatch", From: 40, To: 55, Now: now}))
	err = s.NotifyCursorAdvance(ctx(t), &rotor.NotifyCursorAdvanceParams{Name: "dispatch", From: 40, To: 60, Now: now})
	require.ErrorIs(t, err, rotor.ErrConflict, "a stale reader cannot move the cursor")
	pos, err = s.NotifyCursorInit(ctx(t), "dispatch", 0, now)
	require.NoError(t, err)
	require.EqualValues(t, 55, pos)

	// Cursor and outbox change together or not at all.
	n := newNotification("audit/56/platform/ops-mail")
	errBoom := errors.New("boom")
	err = s.InTx(ctx(t), func(tx rotor.Store) error {
		if _, err := tx.NotificationInsert(ctx(t), n); err != nil {
			return err
		}
		if err := tx.NotifyCursorAdvance(ctx(t), &rotor.NotifyCursorAdvanceParams{Name: "dispatch", From: 55, To: 56, Now: now}); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	pos, err = s.NotifyCursorInit(ctx(t), "dispatch", 0, now)
	require.NoError(t, err)
	require.EqualValues(t, 55, pos)
	_, err = s.NotificationGet(ctx(t), n.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound)

	// Concurrent advances from the same position: exactly one wins.
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			err := s.NotifyCursorAdvance(ctx(t), &rotor.NotifyCursorAdvanceParams{Name: "dispatch", From: 55, To: 60 + int64(i), Now: now})
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, rotor.ErrConflict):
				t.Errorf("advance: %v", err)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, won.Load())
}

func testNotificationThreshold(t *testing.T, s rotor.Store) {
	k1, k2 := newID(), newID()
	end := now.Add(20 * day)
	th := &rotor.NotificationThreshold{Tenant: "contoso", KeyID: k1, Threshold: 30 * day, EndAt: end, CreatedAt: now}
	ok, err := s.NotificationThresholdPut(ctx(t), th)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.NotificationThresholdPut(ctx(t), &rotor.NotificationThreshold{Tenant: "contoso", KeyID: k1, Threshold: 30 * day, EndAt: end, CreatedAt: now.Add(time.Hour)})
	require.NoError(t, err)
	require.False(t, ok, "a crossing is recorded once")
	for _, o := range []*rotor.NotificationThreshold{
		{Tenant: "contoso", KeyID: k1, Threshold: 7 * day, EndAt: end, CreatedAt: now},
		{Tenant: "contoso", KeyID: k1, Threshold: 0, EndAt: end, CreatedAt: now},
		{Tenant: "fabrikam", KeyID: k1, Threshold: 30 * day, EndAt: end, CreatedAt: now},
		{Tenant: "contoso", KeyID: k2, Threshold: 30 * day, EndAt: end, CreatedAt: now},
	} {
		ok, err := s.NotificationThresholdPut(ctx(t), o)
		require.NoError(t, err)
		require.True(t, ok, "another threshold, tenant or key is another crossing")
	}
	list, err := s.NotificationThresholdList(ctx(t), &rotor.NotificationThresholdListParams{Tenant: "contoso", KeyIDs: []string{k1, newID()}})
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, th, list[0], "largest threshold first")
	require.Equal(t, time.Duration(0), list[2].Threshold)

	// Many keys at once.
	keys := make([]string, 1200)
	for i := range keys {
		keys[i] = newID()
	}
	keys[1100] = k2
	list, err = s.NotificationThresholdList(ctx(t), &rotor.NotificationThresholdListParams{Tenant: "contoso", KeyIDs: keys})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, k2, list[0].KeyID)
}
