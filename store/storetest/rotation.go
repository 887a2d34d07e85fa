package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func testBinding(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	_, err := s.BindingGet(ctx(t), newID())
	require.ErrorIs(t, err, rotor.ErrNotFound)

	b := &rotor.Binding{ID: newID(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: newID(), AppID: newID(),
		Kind: rotor.KindSecret, Policy: "standard", KeyID: newID(), Source: rotor.BindingManual, RotateOffset: 90 * time.Minute,
		Steps: []rotor.StepSpec{
			{Name: "vault", Type: "keyvault", OnFailure: rotor.Abort, Params: json.RawMessage(`{"vault":"https://kv.example","secret":"payroll"}`)},
			{Name: "hook", Type: "webhook", OnFailure: rotor.Continue},
		},
		CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.BindingInsert(ctx(t), b))
	got, err := s.BindingGet(ctx(t), b.ID)
	require.NoError(t, err)
	require.Equal(t, b, got)

	dup := *b
	dup.ID = newID()
	require.ErrorIs(t, s.BindingInsert(ctx(t), &dup), rotor.ErrConflict, "one binding per credential")

	// Bindings that have no credential yet do not collide with each other.
	fresh1, fresh2 := *b, *b
	fresh1.ID, fresh1.KeyID, fresh1.Steps = newID(), "", nil
	fresh2.ID, fresh2.KeyID = newID(), ""
	require.NoError(t, s.BindingInsert(ctx(t), &fresh1))
	require.NoError(t, s.BindingInsert(ctx(t), &fresh2))
	got, err = s.BindingGet(ctx(t), fresh1.ID)
	require.NoError(t, err)
	require.Nil(t, got.Steps, "nil steps (use the policy's) stay nil")

	list, err := s.BindingList(ctx(t), &rotor.BindingListParams{OwnerID: b.OwnerID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	list, err = s.BindingList(ctx(t), &rotor.BindingListParams{Policy: "other"})
	require.NoError(t, err)
	require.Empty(t, list)

	require.NoError(t, s.BindingDelete(ctx(t), fresh2.ID))
	require.ErrorIs(t, s.BindingDelete(ctx(t), fresh2.ID), rotor.ErrNotFound)

	r := newRotation(b)
	require.NoError(t, s.RotationInsert(ctx(t), r))
	require.ErrorIs(t, s.BindingDelete(ctx(t), b.ID), rotor.ErrConflict, "not while a rotation is in flight")
	claimed, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "w", Now: now, LeaseFor: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	claimed[0].State = rotor.RotationCompleted
	require.NoError(t, s.RotationUpdate(ctx(t), claimed[0]))
	require.NoError(t, s.BindingDelete(ctx(t), b.ID))
	_, err = s.RotationGet(ctx(t), r.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound, "finished rotations go with their binding")
}

func testBindingOptimistic(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	b := mustBinding(t, s, "contoso")
	first, err := s.BindingGet(ctx(t), b.ID)
	require.NoError(t, err)
	second, err := s.BindingGet(ctx(t), b.ID)
	require.NoError(t, err)

	first.Paused = true
	require.NoError(t, s.BindingUpdate(ctx(t), first, now.Add(time.Minute)))
	require.Equal(t, now.Add(time.Minute), first.UpdatedAt)
	second.Policy = "other"
	require.ErrorIs(t, s.BindingUpdate(ctx(t), second, now.Add(2*time.Minute)), rotor.ErrConflict, "a stale read cannot overwrite")

	got, err := s.BindingGet(ctx(t), b.ID)
	require.NoError(t, err)
	require.True(t, got.Paused)
	require.Equal(t, "default", got.Policy)

	missing := *b
	missing.ID = newID()
	require.ErrorIs(t, s.BindingUpdate(ctx(t), &missing, now), rotor.ErrNotFound)
}

func testRotationOneInFlight(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	b := mustBinding(t, s, "contoso")
	r1 := newRotation(b)
	require.NoError(t, s.RotationInsert(ctx(t), r1))
	require.ErrorIs(t, s.RotationInsert(ctx(t), newRotation(b)), rotor.ErrConflict)

	// Concurrent planners: exactly one wins.
	other := mustBinding(t, s, "contoso")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- s.RotationInsert(ctx(t), newRotation(other)) })
	}
	wg.Wait()
	close(errs)
	var ok, conflicts int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		default:
			require.ErrorIs(t, err, rotor.ErrConflict)
			conflicts++
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 7, conflicts)

	// Failed rotations are still in flight: they are retried.
	claimed, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "w", Now: now, LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	var mine *rotor.Rotation
	for _, r := range claimed {
		if r.ID == r1.ID {
			mine = r
		}
	}
	require.NotNil(t, mine)
	mine.State = rotor.RotationFailed
	require.NoError(t, s.RotationUpdate(ctx(t), mine))
	require.ErrorIs(t, s.RotationInsert(ctx(t), newRotation(b)), rotor.ErrConflict)
	mine.State = rotor.RotationCancelled
	require.NoError(t, s.RotationUpdate(ctx(t), mine))
	require.NoError(t, s.RotationInsert(ctx(t), newRotation(b)), "a cancelled rotation frees the binding")
}

func testRotationClaimAndFence(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	due := newRotation(mustBinding(t, s, "contoso"))
	later := newRotation(mustBinding(t, s, "contoso"))
	later.NextAttemptAt = now.Add(time.Hour)
	done := newRotation(mustBinding(t, s, "contoso"))
	done.State = rotor.RotationCompleted
	for _, r := range []*rotor.Rotation{due, later, done} {
		require.NoError(t, s.RotationInsert(ctx(t), r))
	}

	claimed, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "a", Now: now, LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	a := claimed[0]
	require.Equal(t, due.ID, a.ID)
	require.Equal(t, "a", a.LeaseOwner)
	require.Equal(t, now.Add(time.Minute), a.LeaseExpiresAt)
	require.EqualValues(t, 1, a.Fence)

	again, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "b", Now: now.Add(30 * time.Second), LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, again, "a live lease is not claimed again")

	// Worker a stalls past its lease; b takes over with a new fencing token.
	taken, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "b", Now: now.Add(2 * time.Minute), LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, taken, 1)
	b := taken[0]
	require.Equal(t, "b", b.LeaseOwner)
	require.EqualValues(t, 2, b.Fence)

	a.State = rotor.RotationCreating
	require.ErrorIs(t, s.RotationUpdate(ctx(t), a), rotor.ErrLeaseLost, "the stale worker cannot write")

	b.State, b.NewKeyID, b.Attempt, b.LastError = rotor.RotationVerifying, newID(), 2, "replication"
	b.UpdatedAt = now.Add(2 * time.Minute)
	require.NoError(t, s.RotationUpdate(ctx(t), b))
	got, err := s.RotationGet(ctx(t), b.ID)
	require.NoError(t, err)
	require.Equal(t, b, got)

	// Releasing the lease (empty owner) makes it claimable at its next attempt time.
	b.LeaseOwner, b.LeaseExpiresAt, b.NextAttemptAt = "", time.Time{}, now.Add(5*time.Minute)
	require.NoError(t, s.RotationUpdate(ctx(t), b))
	none, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "c", Now: now.Add(4 * time.Minute), LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, none, "not before its next attempt")
	c, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "c", Now: now.Add(5 * time.Minute), LeaseFor: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, c, 1)
	require.EqualValues(t, 3, c[0].Fence)

	list, err := s.RotationList(ctx(t), &rotor.RotationListParams{States: []rotor.RotationState{rotor.RotationCompleted}})
	require.NoError(t, err)
	require.Equal(t, []string{done.ID}, []string{list[0].ID})
	_, err = s.RotationGet(ctx(t), newID())
	require.ErrorIs(t, err, rotor.ErrNotFound)
	missing := newRotation(mustBinding(t, s, "contoso"))
	require.ErrorIs(t, s.RotationUpdate(ctx(t), missing), rotor.ErrNotFound)
}

func testRotationClaimConcurrent(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	const n = 40
	for range n {
		require.NoError(t, s.RotationInsert(ctx(t), newRotation(mustBinding(t, s, "contoso"))))
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			worker := string(rune('a' + w))
			for {
				got, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: worker, Now: now, LeaseFor: time.Hour, Limit: 3})
				if err != nil {
					t.Errorf("claim: %v", err)
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
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n, "every runnable rotation claimed exactly once")
}

func testRotationSteps(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	r := newRotation(mustBinding(t, s, "contoso"))
	require.NoError(t, s.RotationInsert(ctx(t), r))
	create := &rotor.RotationStep{RotationID: r.ID, Name: "create", Ordinal: 0, Type: "create", OnFailure: rotor.Abort,
		State: rotor.StepRunning, Attempt: 1, StartedAt: now}
	deploy := &rotor.RotationStep{RotationID: r.ID, Name: "deploy:vault", Ordinal: 2, Type: "keyvault", OnFailure: rotor.Abort, State: rotor.StepPending}
	verify := &rotor.RotationStep{RotationID: r.ID, Name: "verify", Ordinal: 1, Type: "verify", OnFailure: rotor.Abort, State: rotor.StepPending}
	for _, st := range []*rotor.RotationStep{deploy, create, verify} {
		require.NoError(t, s.RotationStepPut(ctx(t), st))
	}
	create.State, create.FinishedAt, create.Message = rotor.StepSucceeded, now.Add(time.Second), "created key 1234"
	create.Undo = []byte{1, 2, 3, 255}
	require.NoError(t, s.RotationStepPut(ctx(t), create))
	steps, err := s.RotationStepList(ctx(t), r.ID)
	require.NoError(t, err)
	require.Len(t, steps, 3)
	require.Equal(t, []string{"create", "verify", "deploy:vault"}, []string{steps[0].Name, steps[1].Name, steps[2].Name})
	require.Equal(t, create, steps[0])
}

func testSealedSecret(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	r := newRotation(mustBinding(t, s, "contoso"))
	require.NoError(t, s.RotationInsert(ctx(t), r))
	_, err := s.SealedSecretGet(ctx(t), r.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound)
	ss := &rotor.SealedSecret{RotationID: r.ID, Tenant: "contoso", KeyID: newID(), KeyRef: "kek-1",
		Ciphertext: []byte{0, 1, 2, 250, 251, 252}, CreatedAt: now}
	require.NoError(t, s.SealedSecretPut(ctx(t), ss))
	got, err := s.SealedSecretGet(ctx(t), r.ID)
	require.NoError(t, err)
	require.Equal(t, ss, got)
	again := *ss
	again.Ciphertext = []byte{9}
	require.ErrorIs(t, s.SealedSecretPut(ctx(t), &again), rotor.ErrConflict, "a stored value is never replaced")
}

func testRotationParkRenewCancelRetry(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	r := newRotation(mustBinding(t, s, "contoso"))
	r.ResumeState = rotor.RotationVerifying
	require.NoError(t, s.RotationInsert(ctx(t), r))
	got, err := s.RotationGet(ctx(t), r.ID)
	require.NoError(t, err)
	require.Equal(t, rotor.RotationVerifying, got.ResumeState)

	claimed, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "a", Now: now, LeaseFor: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	mine := claimed[0]

	// Renewing keeps the claim alive; a stale fence cannot renew.
	require.NoError(t, s.RotationRenewLease(ctx(t), mine.ID, mine.Fence, now.Add(10*time.Minute)))
	none, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "b", Now: now.Add(5 * time.Minute), LeaseFor: time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Empty(t, none, "the renewed lease still holds")
	require.ErrorIs(t, s.RotationRenewLease(ctx(t), mine.ID, mine.Fence+1, now), rotor.ErrLeaseLost)
	require.ErrorIs(t, s.RotationRenewLease(ctx(t), newID(), 1, now), rotor.ErrNotFound)

	// Attempts exhausted: parked (no next attempt), never claimed.
	mine.State, mine.LastError, mine.Attempt = rotor.RotationFailed, "verification timed out", 10
	mine.NextAttemptAt, mine.LeaseOwner, mine.LeaseExpiresAt = time.Time{}, "", time.Time{}
	require.NoError(t, s.RotationUpdate(ctx(t), mine))
	none, err = s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "b", Now: now.Add(24 * time.Hour), LeaseFor: time.Minute, Limit: 5})
	require.NoError(t, err)
	require.Empty(t, none, "a parked rotation is not claimed")

	// An operator retries: runnable now with a fresh attempt count.
	retried, err := s.RotationRequestRetry(ctx(t), mine.ID, now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 0, retried.Attempt)
	require.Equal(t, now.Add(time.Hour), retried.NextAttemptAt)
	again, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "b", Now: now.Add(time.Hour), LeaseFor: time.Minute, Limit: 5})
	require.NoError(t, err)
	require.Len(t, again, 1)

	// Retry applies to failed rotations only.
	other := newRotation(mustBinding(t, s, "contoso"))
	require.NoError(t, s.RotationInsert(ctx(t), other))
	_, err = s.RotationRequestRetry(ctx(t), other.ID, now)
	require.ErrorIs(t, err, rotor.ErrConflict)

	// Cancel: flagged and runnable now, even when parked; refused once terminal.
	cancelled, err := s.RotationRequestCancel(ctx(t), other.ID, now.Add(2*time.Hour))
	require.NoError(t, err)
	require.True(t, cancelled.CancelRequested)
	require.Equal(t, now.Add(2*time.Hour), cancelled.NextAttemptAt)
	claimedNow, err := s.RotationClaim(ctx(t), &rotor.RotationClaimParams{Worker: "c", Now: now.Add(2 * time.Hour), LeaseFor: time.Minute, Limit: 5})
	require.NoError(t, err)
	var flagged *rotor.Rotation
	for _, c := range claimedNow {
		if c.ID == other.ID {
			flagged = c
		}
	}
	require.NotNil(t, flagged, "a rotation asked to cancel is runnable at once")
	require.True(t, flagged.CancelRequested)
	flagged.State = rotor.RotationCancelled
	require.NoError(t, s.RotationUpdate(ctx(t), flagged))
	_, err = s.RotationRequestCancel(ctx(t), other.ID, now)
	require.ErrorIs(t, err, rotor.ErrConflict)
	_, err = s.RotationRequestCancel(ctx(t), newID(), now)
	require.ErrorIs(t, err, rotor.ErrNotFound)
}

func testSealedRewrap(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	r := newRotation(mustBinding(t, s, "contoso"))
	require.NoError(t, s.RotationInsert(ctx(t), r))
	require.NoError(t, s.SealedSecretPut(ctx(t), &rotor.SealedSecret{RotationID: r.ID, Tenant: "contoso", KeyID: newID(), KeyRef: "old", Ciphertext: []byte("old:a"), CreatedAt: now}))
	require.NoError(t, s.RotationStepPut(ctx(t), &rotor.RotationStep{RotationID: r.ID, Name: "deploy:x", Type: "t", OnFailure: rotor.Abort, State: rotor.StepSucceeded, Undo: []byte("old:b")}))
	require.NoError(t, s.RotationStepPut(ctx(t), &rotor.RotationStep{RotationID: r.ID, Name: "deploy:y", Type: "t", OnFailure: rotor.Abort, State: rotor.StepSucceeded}))
	rewrap := func(ct []byte) ([]byte, error) { return []byte(strings.Replace(string(ct), "old:", "new:", 1)), nil }
	n, err := s.SealedRewrap(ctx(t), "new", rewrap)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	ss, err := s.SealedSecretGet(ctx(t), r.ID)
	require.NoError(t, err)
	require.Equal(t, "new:a", string(ss.Ciphertext))
	require.Equal(t, "new", ss.KeyRef)
	steps, err := s.RotationStepList(ctx(t), r.ID)
	require.NoError(t, err)
	require.Equal(t, "new:b", string(steps[0].Undo))
	require.Empty(t, steps[1].Undo)
	n, err = s.SealedRewrap(ctx(t), "new", rewrap)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to rewrap")
	_, err = s.SealedRewrap(ctx(t), "x", func([]byte) ([]byte, error) { return nil, errors.New("key not loaded") })
	require.ErrorContains(t, err, "key not loaded")
}
