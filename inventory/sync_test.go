package inventory

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/store/sqlstore"
)

type bundle struct {
	sim    *sim.Server
	store  *sqlstore.Store
	syncer *Syncer
	tenant string
}

func setup(t testing.TB, apps int) *bundle {
	t.Helper()
	s, err := sim.Start(t.Context(), sim.Options{Seed: 21, Tenants: 1, AppsPerTenant: apps})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "rotor.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	tn := s.Seeded.Tenants[0]
	require.NoError(t, st.TenantUpsert(t.Context(), &rotor.Tenant{Name: "contoso", TenantID: tn.Tenant.ID}))
	cred, err := azidentity.NewClientSecretCredential(tn.Tenant.ID, tn.Manager.AppID, tn.Manager.Secret.Reveal(),
		&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true,
			ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"}, Transport: s.CA.HTTPClient()}})
	require.NoError(t, err)
	gc, err := graph.New(s.GraphURL(), cred, graph.Options{Transport: s.CA.HTTPClient()})
	require.NoError(t, err)
	return &bundle{sim: s, store: st, tenant: "contoso", syncer: &Syncer{Store: st, Clock: clockwork.NewRealClock(),
		Reader: func(string) (Reader, error) { return gc, nil }}}
}

func (b *bundle) counts(t *testing.T) (objects, creds int) {
	t.Helper()
	for _, k := range []rotor.OwnerKind{rotor.OwnerApplication, rotor.OwnerServicePrincipal} {
		ids, err := b.store.InventoryObjectIDs(t.Context(), b.tenant, k)
		require.NoError(t, err)
		objects += len(ids)
	}
	cs, err := b.store.CredentialList(t.Context(), &rotor.CredentialListParams{Tenant: b.tenant})
	require.NoError(t, err)
	return objects, len(cs)
}

func TestInterruptedSyncLosesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, 2200) // three pages per collection
	ref := setup(t, 2200)
	_, err := ref.syncer.Sync(t.Context(), ref.tenant, false)
	require.NoError(t, err)
	wantObjects, wantCreds := ref.counts(t)

	ctx, cancel := context.WithCancel(t.Context())
	b.syncer.Progress = func(p Progress) {
		if p.Pages == 1 {
			cancel() // the process dies after storing its first page
		}
	}
	_, err = b.syncer.Sync(ctx, b.tenant, false)
	require.ErrorIs(t, err, context.Canceled)
	objects, _ := b.counts(t)
	require.Less(t, objects, wantObjects, "the interrupted sync stored part of the tenant")
	_, err = b.store.SyncCursorGet(t.Context(), b.tenant, CollectionApplications)
	require.ErrorIs(t, err, rotor.ErrNotFound, "an interrupted full sync leaves no cursor behind")

	b.syncer.Progress = nil
	res, err := b.syncer.Sync(t.Context(), b.tenant, false)
	require.NoError(t, err)
	require.True(t, res.Full)
	objects, creds := b.counts(t)
	require.Equal(t, wantObjects, objects)
	require.Equal(t, wantCreds, creds)
	require.Equal(t, res.Credentials, creds, "every credential read is stored once")
}

func TestUnknownDeltaLinkFallsBackToFullSync(t *testing.T) {
	t.Parallel()
	b := setup(t, 50)
	_, err := b.syncer.Sync(t.Context(), b.tenant, false)
	require.NoError(t, err)
	cur, err := b.store.SyncCursorGet(t.Context(), b.tenant, CollectionApplications)
	require.NoError(t, err)
	cur.DeltaLink = b.sim.GraphURL() + "/applications/delta?$deltatoken=forgotten"
	require.NoError(t, b.store.SyncCursorPut(t.Context(), cur))

	res, err := b.syncer.Sync(t.Context(), b.tenant, false)
	require.NoError(t, err)
	require.True(t, res.Full, "the applications were listed again")
	cur, err = b.store.SyncCursorGet(t.Context(), b.tenant, CollectionApplications)
	require.NoError(t, err)
	require.NotContains(t, cur.DeltaLink, "forgotten")

	res, err = b.syncer.Sync(t.Context(), b.tenant, false)
	require.NoError(t, err)
	require.False(t, res.Full)
	require.LessOrEqual(t, res.Pages, 2, "an incremental sync with nothing new reads one page per collection")
}

func TestViewExpiringWithinLeavesExpiredOut(t *testing.T) {
	t.Parallel()
	b := setup(t, 60)
	_, err := b.syncer.Sync(t.Context(), b.tenant, false)
	require.NoError(t, err)
	v := &View{Store: b.store, Thresholds: lifecycle.DefaultThresholds}
	now := time.Now()
	rows, err := v.List(t.Context(), Filter{ExpiringWithin: 30 * 24 * time.Hour}, now)
	require.NoError(t, err)
	require.NotEmpty(t, rows, "the seed has secrets expiring soon")
	for _, r := range rows {
		require.True(t, r.EndAt.After(now) && r.EndAt.Before(now.Add(30*24*time.Hour)), "%s ends %s", r.KeyID, r.EndAt)
		require.NotEqual(t, lifecycle.Expired, r.State)
	}
	expired, err := v.List(t.Context(), Filter{States: []lifecycle.State{lifecycle.Expired}}, now)
	require.NoError(t, err)
	require.NotEmpty(t, expired, "the seed has expired secrets")
	sum, err := v.Summarise(t.Context(), b.tenant, now)
	require.NoError(t, err)
	require.Equal(t, len(expired), sum.Expired)
	require.Equal(t, len(rows), sum.Within30, "the dashboard and rotor ls agree")
}
