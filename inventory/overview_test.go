package inventory_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// The dashboard's aggregate queries agree with the full scan of Summarise.
func TestOverviewAgreesWithSummarise(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "rotor.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tn := range []string{"contoso", "fabrikam"} {
		require.NoError(t, st.TenantUpsert(ctx, &rotor.Tenant{Name: tn, TenantID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}))
		var owners []rotor.OwnerCredentials
		for range 60 {
			o := rotor.OwnerCredentials{OwnerKind: rotor.OwnerApplication, OwnerID: uuid.NewString(), AppID: uuid.NewString()}
			for range 1 + rng.IntN(3) {
				end := now.Add(time.Duration(rng.Int64N(int64(400*day))) - 60*day)
				o.Credentials = append(o.Credentials, &rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret, StartAt: end.Add(-365 * day), EndAt: end})
			}
			owners = append(owners, o)
		}
		_, err := st.CredentialSyncOwners(ctx, &rotor.CredentialSyncOwnersParams{Tenant: tn, Now: now, Owners: owners})
		require.NoError(t, err)
		// Rotations replacing some credentials, in every phase.
		states := []rotor.RotationState{rotor.RotationPending, rotor.RotationVerifying, rotor.RotationGrace, rotor.RotationCleaning, rotor.RotationFailed, rotor.RotationCompleted}
		for i, o := range owners[:24] {
			c := o.Credentials[0]
			b := &rotor.Binding{ID: uuid.NewString(), Tenant: tn, OwnerKind: o.OwnerKind, OwnerID: o.OwnerID, AppID: o.AppID, Kind: rotor.KindSecret,
				Policy: "p", KeyID: c.KeyID, Source: rotor.BindingManual, CreatedAt: now, UpdatedAt: now}
			require.NoError(t, st.BindingInsert(ctx, b))
			r := &rotor.Rotation{ID: uuid.NewString(), BindingID: b.ID, Tenant: tn, OwnerKind: o.OwnerKind, OwnerID: o.OwnerID, AppID: o.AppID,
				Trigger: rotor.TriggerManual, State: states[i%len(states)], OldKeyID: c.KeyID, CreatedAt: now, UpdatedAt: now}
			if r.State == rotor.RotationFailed {
				r.ResumeState = []rotor.RotationState{rotor.RotationDeploying, rotor.RotationCleaning}[i%2]
			}
			require.NoError(t, st.RotationInsert(ctx, r))
		}
		require.NoError(t, st.CredentialMarkRemoved(ctx, &rotor.CredentialMarkRemovedParams{Tenant: tn, KeyID: owners[40].Credentials[0].KeyID, At: now, By: rotor.RemovedByRotor}))
	}
	v := &inventory.View{Store: st, Thresholds: lifecycle.DefaultThresholds}
	for _, tn := range []string{"", "contoso"} {
		want, err := v.Summarise(ctx, tn, now)
		require.NoError(t, err)
		got, err := v.Overview(ctx, tn, now, 8, 10)
		require.NoError(t, err)
		s := got.Summary
		require.Equal(t, want.Total, s.Total, tn)
		require.Equal(t, want.Within7, s.Within7)
		require.Equal(t, want.Within30, s.Within30)
		require.Equal(t, want.Within90, s.Within90)
		require.Equal(t, want.InGrace, s.InGrace)
		require.Equal(t, want.Expired, s.Expired)
		require.Equal(t, want.Rotating, s.Rotating)
		for state, n := range want.ByState {
			require.Equal(t, n, s.ByState[state], "%s %s", tn, state)
		}
		require.Len(t, s.MostUrgent, 10)
		for i, r := range s.MostUrgent {
			require.True(t, r.EndAt.After(now), "most urgent: not expired yet")
			require.NotEqual(t, lifecycle.Grace, r.State)
			if i > 0 {
				require.False(t, r.EndAt.Before(s.MostUrgent[i-1].EndAt))
			}
		}
		require.Len(t, got.Weeks, 8)
		require.Equal(t, want.Within7, got.Weeks[0], "the first week is the next 7 days")
		require.LessOrEqual(t, got.Weeks[0]+got.Weeks[1]+got.Weeks[2]+got.Weeks[3], want.Within30, "four weeks are within 30 days")
	}
}
