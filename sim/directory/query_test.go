package directory_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/directory"
)

func TestListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	const n = 2500
	for i := 0; i < n; i++ {
		b.app(t, fmt.Sprintf("app-%04d", i))
	}
	tests := []struct {
		name  string
		limit int
		match func(directory.Summary) bool
		want  []int
	}{
		{"999 per page", 999, nil, []int{999, 999, 502}},
		{"exact multiple", 500, nil, []int{500, 500, 500, 500, 500}},
		{"filtered", 999, func(s directory.Summary) bool { return strings.HasSuffix(s.DisplayName, "7") }, []int{250}},
	}
	for _, tc := range tests {
		var sizes []int
		seen := map[string]bool{}
		var after uint64
		for {
			page, err := b.dir.List(directory.ListParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, After: after, Limit: tc.limit, Match: tc.match})
			require.NoError(t, err, tc.name)
			sizes = append(sizes, len(page.Applications))
			for _, a := range page.Applications {
				require.False(t, seen[a.ID], "%s: %s twice", tc.name, a.ID)
				seen[a.ID] = true
			}
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
		require.Equal(t, tc.want, sizes, tc.name)
		count, err := b.dir.Count(directory.ListParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Match: tc.match})
		require.NoError(t, err)
		require.Equal(t, len(seen), count, tc.name)
	}

	// Service principals: one per application plus the two first-party ones.
	count, err := b.dir.Count(directory.ListParams{TenantID: b.tenant.ID, Kind: directory.KindServicePrincipal})
	require.NoError(t, err)
	require.Equal(t, n+2, count)
}

func TestListOwnedBy(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	mgr := b.app(t, "rotor")
	mgrSP, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, mgr.AppID)
	require.NoError(t, err)
	var owned []string
	for i := 0; i < 10; i++ {
		a := b.app(t, fmt.Sprintf("app-%d", i))
		if i%3 == 0 {
			require.NoError(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), mgrSP.Ref()))
			owned = append(owned, a.ID)
		}
	}
	page, err := b.dir.List(directory.ListParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Limit: 100, OwnedBy: mgrSP.ID})
	require.NoError(t, err)
	var got []string
	for _, a := range page.Applications {
		got = append(got, a.ID)
	}
	require.Equal(t, owned, got)
	sps, err := b.dir.List(directory.ListParams{TenantID: b.tenant.ID, Kind: directory.KindServicePrincipal, Limit: 100, OwnedBy: mgrSP.ID})
	require.NoError(t, err)
	require.Len(t, sps.ServicePrincipals, len(owned), "the service principals of owned applications")
}

func collectChanges(t *testing.T, b bundle, kind directory.Kind, since, until uint64, limit int) []directory.Change {
	t.Helper()
	var out []directory.Change
	var after uint64
	for {
		page, err := b.dir.Changes(directory.ChangesParams{TenantID: b.tenant.ID, Kind: kind, Since: since, Until: until, After: after, Limit: limit})
		require.NoError(t, err)
		out = append(out, page.Changes...)
		if page.Next == 0 {
			return out
		}
		after = page.Next
	}
}

func TestChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a1 := b.app(t, "a1")
	a2 := b.app(t, "a2")
	a3 := b.app(t, "a3")
	head, _, err := b.dir.ChangeHead(b.tenant.ID)
	require.NoError(t, err)

	// Changes after the snapshot: a credential on a1 (twice), an owner on a2, a deletion of a3, a
	// new a4.
	for i := 0; i < 2; i++ {
		_, _, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a1.Ref()})
		require.NoError(t, err)
	}
	u, err := b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Sam Baker"})
	require.NoError(t, err)
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, a2.Ref(), u.Ref()))
	require.NoError(t, b.dir.DeleteApplication(b.tenant.ID, a3.ID, "test"))
	a4 := b.app(t, "a4")
	head2, _, err := b.dir.ChangeHead(b.tenant.ID)
	require.NoError(t, err)

	for _, limit := range []int{1, 2, 100} {
		changes := collectChanges(t, b, directory.KindApplication, head, head2, limit)
		var got []string
		for _, c := range changes {
			switch {
			case c.Removed:
				got = append(got, "removed:"+c.ID+fmt.Sprint(c.Restorable))
			default:
				got = append(got, c.Application.DisplayName+fmt.Sprint(len(c.Application.PasswordCredentials)))
			}
		}
		require.Equal(t, []string{"a12", "a20", "removed:" + a3.ID + "true", "a40"}, got, "limit %d", limit)
	}
	require.NotEqual(t, a1.ID, a4.ID)

	// An object changed again after the round's end is left for the next round.
	_, _, err = b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a2.Ref()})
	require.NoError(t, err)
	changes := collectChanges(t, b, directory.KindApplication, head, head2, 100)
	require.Len(t, changes, 3)
	head3, _, err := b.dir.ChangeHead(b.tenant.ID)
	require.NoError(t, err)
	changes = collectChanges(t, b, directory.KindApplication, head2, head3, 100)
	require.Len(t, changes, 1)
	require.Equal(t, a2.ID, changes[0].ID)

	// Purging makes the removal permanent.
	require.NoError(t, b.dir.PurgeApplication(b.tenant.ID, a3.ID))
	head4, _, err := b.dir.ChangeHead(b.tenant.ID)
	require.NoError(t, err)
	changes = collectChanges(t, b, directory.KindApplication, head3, head4, 100)
	require.Len(t, changes, 1)
	require.True(t, changes[0].Removed)
	require.False(t, changes[0].Restorable)

	// Service principal changes are separate.
	spChanges := collectChanges(t, b, directory.KindServicePrincipal, head, head4, 100)
	require.Len(t, spChanges, 2, "a3's service principal removed and a4's created")

	// Filtering by id.
	ids := map[string]bool{a1.ID: true}
	page, err := b.dir.Changes(directory.ChangesParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Since: head, Until: head4, Limit: 100, IDs: ids})
	require.NoError(t, err)
	require.Len(t, page.Changes, 1)
}

func TestChangeRetention(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{ChangeRetention: 7 * 24 * time.Hour})
	a := b.app(t, "a")
	head, _, err := b.dir.ChangeHead(b.tenant.ID)
	require.NoError(t, err)
	b.clock.Advance(8 * 24 * time.Hour)
	_, _, err = b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref()})
	require.NoError(t, err)
	head2, floor, err := b.dir.ChangeHead(b.tenant.ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, floor, head)
	_, err = b.dir.Changes(directory.ChangesParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Since: head - 1, Until: head2, Limit: 10})
	require.ErrorIs(t, err, directory.ErrNotFound)
	_, err = b.dir.Changes(directory.ChangesParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Since: floor, Until: head2, Limit: 10})
	require.NoError(t, err)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	apps := make([]directory.Application, 8)
	for i := range apps {
		apps[i] = b.app(t, fmt.Sprintf("app-%d", i))
	}
	var wg sync.WaitGroup
	for i := range apps {
		wg.Add(2)
		go func(a directory.Application) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				c, text, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref()})
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := b.dir.CheckClientSecret(b.tenant.ID, a.AppID, text.Reveal()); err != nil || got.Status != directory.AuthValid {
					t.Errorf("check: %v %v", got.Status, err)
				}
				if err := b.dir.RemovePassword(b.tenant.ID, a.Ref(), c.KeyID, "t"); err != nil {
					t.Error(err)
				}
			}
		}(apps[i])
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if _, err := b.dir.List(directory.ListParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Limit: 3}); err != nil {
					t.Error(err)
				}
				head, _, _ := b.dir.ChangeHead(b.tenant.ID)
				if _, err := b.dir.Changes(directory.ChangesParams{TenantID: b.tenant.ID, Kind: directory.KindApplication, Until: head, Limit: 5}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	hist, err := b.dir.CredentialHistory(b.tenant.ID, "")
	require.NoError(t, err)
	require.Len(t, hist, 8*50*2)
}

func TestSeed(t *testing.T) {
	t.Parallel()
	seed := func() (*directory.Directory, directory.SeedResult) {
		dir := directory.New(directory.Options{Seed: 7, Clock: clockwork.NewFakeClockAt(t0)})
		res, err := dir.Seed(directory.SeedParams{Seed: 99, Tenants: 2, AppsPerTenant: 300})
		require.NoError(t, err)
		return dir, res
	}
	dir, res := seed()
	require.Len(t, res.Tenants, 2)
	require.Equal(t, "Contoso", res.Tenants[0].Tenant.DisplayName)
	require.Equal(t, "fabrikam.onmicrosoft.com", res.Tenants[1].Tenant.DefaultDomain)

	ten := res.Tenants[0]
	now := dir.Clock().Now()
	var expired, soon, several, certs, spSecrets, withOwners, personal, ownedByMgr int
	var after uint64
	for {
		page, err := dir.List(directory.ListParams{TenantID: ten.Tenant.ID, Kind: directory.KindApplication, After: after, Limit: 999})
		require.NoError(t, err)
		for _, a := range page.Applications {
			if a.AppID == ten.Manager.AppID {
				continue
			}
			require.Regexp(t, `^[a-z]+-[a-z]+-(prod|staging|dev|test)$`, a.DisplayName)
			for _, c := range a.PasswordCredentials {
				switch {
				case c.EndDateTime.Before(now):
					expired++
				case c.EndDateTime.Before(now.Add(30 * 24 * time.Hour)):
					soon++
				}
			}
			if len(a.PasswordCredentials) > 1 {
				several++
			}
			certs += len(a.KeyCredentials)
			if len(a.Owners) > 0 {
				withOwners++
			}
			if a.SignInAudience == directory.AudienceMultipleOrgsAndPerson {
				personal++
			}
			if dir.IsOwner(ten.Tenant.ID, a.Ref(), ten.Manager.ServicePrincipalID) {
				ownedByMgr++
			}
			sp, err := dir.ServicePrincipalByAppID(ten.Tenant.ID, a.AppID)
			require.NoError(t, err)
			if len(sp.PasswordCredentials) > 0 {
				spSecrets++
			}
		}
		if page.Next == 0 {
			break
		}
		after = page.Next
	}
	for name, n := range map[string]int{"expired": expired, "expiring soon": soon, "several secrets": several, "certificates": certs,
		"secrets on service principals": spSecrets, "owned": withOwners, "personal accounts": personal, "owned by the manager": ownedByMgr} {
		require.Positive(t, n, name)
	}

	// The manager signs in with its secret and certificate and holds its Graph permissions.
	got, err := dir.CheckClientSecret(ten.Tenant.ID, ten.Manager.AppID, ten.Manager.Secret.Reveal())
	require.NoError(t, err)
	require.Equal(t, directory.AuthValid, got.Status)
	graph, err := dir.ResolveResource(ten.Tenant.ID, "https://graph.microsoft.com")
	require.NoError(t, err)
	roles, err := dir.GrantedRoles(ten.Tenant.ID, ten.Manager.ServicePrincipalID, graph.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"Application.ReadWrite.All", "Policy.Read.All"}, roles)
	require.NotNil(t, ten.Manager.PrivateKey)

	// Deterministic: the same seed gives the same tenants, applications and credential dates.
	dir2, res2 := seed()
	require.Equal(t, res.Tenants[0].Tenant.ID, res2.Tenants[0].Tenant.ID)
	p1, err := dir.List(directory.ListParams{TenantID: ten.Tenant.ID, Kind: directory.KindApplication, Limit: 50})
	require.NoError(t, err)
	p2, err := dir2.List(directory.ListParams{TenantID: ten.Tenant.ID, Kind: directory.KindApplication, Limit: 50})
	require.NoError(t, err)
	for i := range p1.Applications {
		a, b := p1.Applications[i], p2.Applications[i]
		require.Equal(t, a.ID, b.ID)
		require.Equal(t, a.DisplayName, b.DisplayName)
		require.Equal(t, len(a.PasswordCredentials), len(b.PasswordCredentials))
		for j := range a.PasswordCredentials {
			require.Equal(t, a.PasswordCredentials[j].KeyID, b.PasswordCredentials[j].KeyID)
			require.Equal(t, a.PasswordCredentials[j].EndDateTime, b.PasswordCredentials[j].EndDateTime)
		}
	}
}

func TestSeededCredentialsAreReplicated(t *testing.T) {
	t.Parallel()
	dir := directory.New(directory.Options{Clock: clockwork.NewFakeClockAt(t0), ReplicationDelay: time.Hour, ReplicationFailureRate: 1})
	res, err := dir.Seed(directory.SeedParams{Seed: 5, AppsPerTenant: 3})
	require.NoError(t, err)
	mgr := res.Tenants[0].Manager
	for i := 0; i < 20; i++ {
		got, err := dir.CheckClientSecret(res.Tenants[0].Tenant.ID, mgr.AppID, mgr.Secret.Reveal())
		require.NoError(t, err)
		require.Equal(t, directory.AuthValid, got.Status, "seeded state is already replicated")
	}
	// A credential added afterwards waits for replication (failure rate 1: always fails before).
	a, err := dir.ApplicationByAppID(res.Tenants[0].Tenant.ID, mgr.AppID)
	require.NoError(t, err)
	_, text, err := dir.AddPassword(directory.AddPasswordParams{TenantID: a.TenantID, Object: a.Ref()})
	require.NoError(t, err)
	got, err := dir.CheckClientSecret(a.TenantID, a.AppID, text.Reveal())
	require.NoError(t, err)
	require.Equal(t, directory.AuthNotReplicated, got.Status)
}
