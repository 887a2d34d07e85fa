package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func testTenant(t *testing.T, s rotor.Store) {
	_, err := s.TenantGet(ctx(t), "contoso")
	require.ErrorIs(t, err, rotor.ErrNotFound)

	tn := &rotor.Tenant{Name: "contoso", TenantID: "11111111-1111-1111-1111-111111111111", DisplayName: "Contoso", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.TenantUpsert(ctx(t), tn))
	got, err := s.TenantGet(ctx(t), "contoso")
	require.NoError(t, err)
	require.Equal(t, tn, got)

	later := now.Add(time.Hour)
	require.NoError(t, s.TenantUpsert(ctx(t), &rotor.Tenant{Name: "contoso", TenantID: tn.TenantID, DisplayName: "Contoso Ltd", CreatedAt: later, UpdatedAt: later}))
	got, err = s.TenantGet(ctx(t), "contoso")
	require.NoError(t, err)
	require.Equal(t, "Contoso Ltd", got.DisplayName)
	require.Equal(t, now, got.CreatedAt, "an upsert keeps the creation time")
	require.Equal(t, later, got.UpdatedAt)

	mustTenant(t, s, "adatum")
	list, err := s.TenantList(ctx(t))
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "adatum", list[0].Name)
}

func testSyncCursor(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	_, err := s.SyncCursorGet(ctx(t), "contoso", "applications")
	require.ErrorIs(t, err, rotor.ErrNotFound)
	c := &rotor.SyncCursor{Tenant: "contoso", Collection: "applications", DeltaLink: "https://graph.example/delta?$deltatoken=a", FullSyncAt: now, SyncedAt: now}
	require.NoError(t, s.SyncCursorPut(ctx(t), c))
	c.DeltaLink, c.SyncedAt = "https://graph.example/delta?$deltatoken=b", now.Add(time.Minute)
	require.NoError(t, s.SyncCursorPut(ctx(t), c))
	got, err := s.SyncCursorGet(ctx(t), "contoso", "applications")
	require.NoError(t, err)
	require.Equal(t, c, got)
	require.NoError(t, s.SyncCursorDelete(ctx(t), "contoso", "applications"))
	_, err = s.SyncCursorGet(ctx(t), "contoso", "applications")
	require.ErrorIs(t, err, rotor.ErrNotFound)
}

func testAppUpsertAndFind(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	a := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "Payroll API", SignInAudience: "AzureADMyOrg",
		Tags: []string{"team:hr", "tier:1"}, CreatedAt: now.Add(-400 * day), SyncedAt: now}
	b := &rotor.App{Tenant: "adatum", ID: newID(), AppID: newID(), DisplayName: "payroll api", SyncedAt: now}
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{a, b}))

	got, err := s.AppGet(ctx(t), "contoso", a.ID)
	require.NoError(t, err)
	require.Equal(t, a, got)
	_, err = s.AppGet(ctx(t), "adatum", a.ID)
	require.ErrorIs(t, err, rotor.ErrNotFound)

	for _, q := range []string{a.ID, a.AppID} {
		found, err := s.AppFind(ctx(t), &rotor.AppFindParams{Query: q})
		require.NoError(t, err)
		require.Equal(t, []*rotor.App{a}, found, q)
	}
	found, err := s.AppFind(ctx(t), &rotor.AppFindParams{Query: "PAYROLL API"})
	require.NoError(t, err)
	require.Len(t, found, 2, "display names match case-insensitively across tenants")
	found, err = s.AppFind(ctx(t), &rotor.AppFindParams{Tenant: "adatum", Query: "Payroll API"})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, b.ID, found[0].ID)
	found, err = s.AppFind(ctx(t), &rotor.AppFindParams{Query: "Payroll%"})
	require.NoError(t, err)
	require.Empty(t, found, "no pattern matching in find")

	a.DisplayName, a.Tags, a.SyncedAt = "Payroll API v2", nil, now.Add(time.Hour)
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{a}))
	got, err = s.AppGet(ctx(t), "contoso", a.ID)
	require.NoError(t, err)
	require.Equal(t, "Payroll API v2", got.DisplayName)
	require.Empty(t, got.Tags)
}

func testInventoryObjectIDs(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	a1 := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "one", SyncedAt: now}
	a2 := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "two", SyncedAt: now}
	a3 := &rotor.App{Tenant: "adatum", ID: newID(), AppID: newID(), DisplayName: "three", SyncedAt: now}
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{a1, a2}))
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{a3}))
	sp := &rotor.ServicePrincipal{Tenant: "contoso", ID: newID(), AppID: a1.AppID, DisplayName: "one", SyncedAt: now}
	require.NoError(t, s.ServicePrincipalUpsertBatch(ctx(t), []*rotor.ServicePrincipal{sp}))
	_, err := s.AppMarkDeleted(ctx(t), &rotor.ObjectMarkDeletedParams{Tenant: "contoso", IDs: []string{a2.ID}, At: now})
	require.NoError(t, err)

	ids, err := s.InventoryObjectIDs(ctx(t), "contoso", rotor.OwnerApplication)
	require.NoError(t, err)
	require.Equal(t, []string{a1.ID}, ids, "live applications of the tenant only")
	ids, err = s.InventoryObjectIDs(ctx(t), "contoso", rotor.OwnerServicePrincipal)
	require.NoError(t, err)
	require.Equal(t, []string{sp.ID}, ids)

	// Upserting what is already stored writes nothing.
	same := *a1
	same.SyncedAt = now.Add(time.Hour)
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{&same}))
	got, err := s.AppGet(ctx(t), "contoso", a1.ID)
	require.NoError(t, err)
	require.Equal(t, now, got.SyncedAt)
	same.DisplayName = "one renamed"
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{&same}))
	got, err = s.AppGet(ctx(t), "contoso", a1.ID)
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Hour), got.SyncedAt)
	require.Equal(t, "one renamed", got.DisplayName)
}

func testAppListPaging(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	var apps []*rotor.App
	for i := range 25 {
		apps = append(apps, &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: name(i), SyncedAt: now})
	}
	apps = append(apps, &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "app_%_literal", SyncedAt: now})
	require.NoError(t, s.AppUpsertBatch(ctx(t), apps))

	var seen []string
	var cursor *rotor.AppCursor
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10, "paging does not end")
		page, err := s.AppList(ctx(t), &rotor.AppListParams{Tenant: "contoso", NamePrefix: "app-", After: cursor, Limit: 7})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		seen = append(seen, appNames(page)...)
		last := page[len(page)-1]
		cursor = &rotor.AppCursor{Tenant: last.Tenant, DisplayName: last.DisplayName, ID: last.ID}
	}
	require.Len(t, seen, 25, "every app once, the literal _ and %% are not wildcards")
	for i, n := range seen {
		require.Equal(t, name(i), n)
	}
	lit, err := s.AppList(ctx(t), &rotor.AppListParams{NamePrefix: "app_%"})
	require.NoError(t, err)
	require.Equal(t, []string{"app_%_literal"}, appNames(lit))
}

func testAppMarkDeleted(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	a := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "gone", SyncedAt: now}
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{a}))
	c1, c2 := secretCred(newID(), now.Add(10*day)), secretCred(newID(), now.Add(20*day))
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: a.ID, AppID: a.AppID, Credentials: []*rotor.Credential{c1, c2}}}})
	require.NoError(t, err)

	at := now.Add(time.Hour)
	removed, err := s.AppMarkDeleted(ctx(t), &rotor.ObjectMarkDeletedParams{Tenant: "contoso", IDs: []string{a.ID}, At: at})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{c1.KeyID, c2.KeyID}, keyIDs(removed))
	for _, c := range removed {
		require.Equal(t, at, c.RemovedAt)
	}
	got, err := s.AppGet(ctx(t), "contoso", a.ID)
	require.NoError(t, err)
	require.Equal(t, at, got.DeletedAt)
	found, err := s.AppFind(ctx(t), &rotor.AppFindParams{Query: a.ID})
	require.NoError(t, err)
	require.Empty(t, found, "deleted apps are not found")
	live, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{OwnerID: a.ID})
	require.NoError(t, err)
	require.Empty(t, live)

	again, err := s.AppMarkDeleted(ctx(t), &rotor.ObjectMarkDeletedParams{Tenant: "contoso", IDs: []string{a.ID}, At: at.Add(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, again, "marking twice removes nothing more")
	got, err = s.AppGet(ctx(t), "contoso", a.ID)
	require.NoError(t, err)
	require.Equal(t, at, got.DeletedAt, "the first deletion time stays")

	a.SyncedAt = at.Add(2 * time.Hour)
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{a}))
	got, err = s.AppGet(ctx(t), "contoso", a.ID)
	require.NoError(t, err)
	require.True(t, got.DeletedAt.IsZero(), "an app seen again is live again")
}

func testServicePrincipal(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	sp := &rotor.ServicePrincipal{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "Payroll API",
		AppOwnerOrganizationID: newID(), ServicePrincipalType: "Application", Tags: []string{"WindowsAzureActiveDirectoryIntegratedApp"}, SyncedAt: now}
	require.NoError(t, s.ServicePrincipalUpsertBatch(ctx(t), []*rotor.ServicePrincipal{sp}))
	got, err := s.ServicePrincipalGet(ctx(t), "contoso", sp.ID)
	require.NoError(t, err)
	require.Equal(t, sp, got)
	_, err = s.ServicePrincipalGet(ctx(t), "contoso", newID())
	require.ErrorIs(t, err, rotor.ErrNotFound)

	c := secretCred(newID(), now.Add(day))
	_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerServicePrincipal, OwnerID: sp.ID, AppID: sp.AppID, Credentials: []*rotor.Credential{c}}}})
	require.NoError(t, err)
	removed, err := s.ServicePrincipalMarkDeleted(ctx(t), &rotor.ObjectMarkDeletedParams{Tenant: "contoso", IDs: []string{sp.ID}, At: now})
	require.NoError(t, err)
	require.Equal(t, []string{c.KeyID}, keyIDs(removed))
	require.Equal(t, rotor.OwnerServicePrincipal, removed[0].OwnerKind)
}

func testCredentialSyncOwners(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	appA, appB := newID(), newID()
	a1, a2 := secretCred(newID(), now.Add(5*day)), secretCred(newID(), now.Add(50*day))
	cert := &rotor.Credential{KeyID: newID(), Kind: rotor.KindCertificate, DisplayName: "CN=payroll", StartAt: now.Add(-day),
		EndAt: now.Add(300 * day), Thumbprint: "0a1b2c3d", Usage: "Verify", KeyType: "AsymmetricX509Cert"}
	b1 := secretCred(newID(), now.Add(70*day))
	owners := func(a, b []*rotor.Credential) []rotor.OwnerCredentials {
		return []rotor.OwnerCredentials{
			{OwnerKind: rotor.OwnerApplication, OwnerID: appA, OwnerName: "Payroll", AppID: "client-a", Credentials: a},
			{OwnerKind: rotor.OwnerApplication, OwnerID: appB, OwnerName: "Billing", AppID: "client-b", Credentials: b},
		}
	}
	diff, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: owners([]*rotor.Credential{a1, a2, cert}, []*rotor.Credential{b1})})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{a1.KeyID, a2.KeyID, cert.KeyID, b1.KeyID}, keyIDs(diff.Added))
	require.Empty(t, diff.Removed)
	for _, c := range diff.Added {
		require.Equal(t, "contoso", c.Tenant)
		require.Equal(t, now, c.FirstSeenAt)
	}

	got, err := s.CredentialGet(ctx(t), "contoso", cert.KeyID)
	require.NoError(t, err)
	require.Equal(t, "Payroll", got.OwnerName, "the owner's name is kept with its credentials")
	require.Equal(t, rotor.KindCertificate, got.Kind)

	// Renaming the owner renames it on its credentials.
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{{Tenant: "contoso", ID: appA, AppID: "client-a", DisplayName: "Payroll", SyncedAt: now}}))
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{{Tenant: "contoso", ID: appA, AppID: "client-a", DisplayName: "Payroll v2", SyncedAt: now}}))
	got, err = s.CredentialGet(ctx(t), "contoso", cert.KeyID)
	require.NoError(t, err)
	require.Equal(t, "Payroll v2", got.OwnerName)
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{{Tenant: "contoso", ID: appA, AppID: "client-a", DisplayName: "Payroll", SyncedAt: now}}))
	got, err = s.CredentialGet(ctx(t), "contoso", cert.KeyID)
	require.NoError(t, err)
	require.Equal(t, "Payroll", got.OwnerName)
	require.Equal(t, "0a1b2c3d", got.Thumbprint)
	require.Equal(t, appA, got.OwnerID)
	require.Equal(t, "client-a", got.AppID)
	require.Equal(t, now.Add(300*day), got.EndAt)

	// The same set again changes nothing.
	later := now.Add(time.Hour)
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later,
		Owners: owners([]*rotor.Credential{a1, a2, cert}, []*rotor.Credential{b1})})
	require.NoError(t, err)
	require.Empty(t, diff.Added)
	require.Empty(t, diff.Removed)
	got, err = s.CredentialGet(ctx(t), "contoso", a1.KeyID)
	require.NoError(t, err)
	require.Equal(t, now, got.FirstSeenAt)
	require.Equal(t, now, got.UpdatedAt, "an unchanged credential is not written")

	// A changed credential is updated.
	a1.EndAt, a1.DisplayName = a1.EndAt.Add(day), "renamed"
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later,
		Owners: owners([]*rotor.Credential{a1, a2, cert}, []*rotor.Credential{b1})})
	require.NoError(t, err)
	require.Empty(t, diff.Added)
	got, err = s.CredentialGet(ctx(t), "contoso", a1.KeyID)
	require.NoError(t, err)
	require.Equal(t, later, got.UpdatedAt)
	require.Equal(t, "renamed", got.DisplayName)
	require.Equal(t, a1.EndAt, got.EndAt)

	// A set complete only for secrets leaves the certificate alone.
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: appA, AppID: "client-a",
			Credentials: []*rotor.Credential{a1, a2}, Kinds: []rotor.CredentialKind{rotor.KindSecret}}}})
	require.NoError(t, err)
	require.Empty(t, diff.Removed)
	got, err = s.CredentialGet(ctx(t), "contoso", cert.KeyID)
	require.NoError(t, err)
	require.False(t, got.Removed())

	// a2 removed and a3 added on A; B untouched.
	a3 := secretCred(newID(), now.Add(90*day))
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later,
		Owners: owners([]*rotor.Credential{a1, a3, cert}, []*rotor.Credential{b1})})
	require.NoError(t, err)
	require.Equal(t, []string{a3.KeyID}, keyIDs(diff.Added))
	require.Equal(t, []string{a2.KeyID}, keyIDs(diff.Removed))
	require.Equal(t, later, diff.Removed[0].RemovedAt)
	require.Empty(t, diff.Removed[0].RemovedBy, "removed outside rotor")

	// A credential that reappears is live again and reported as added.
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later.Add(time.Hour),
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: appA, AppID: "client-a", Credentials: []*rotor.Credential{a1, a2, a3, cert}}}})
	require.NoError(t, err)
	require.Equal(t, []string{a2.KeyID}, keyIDs(diff.Added))
	got, err = s.CredentialGet(ctx(t), "contoso", a2.KeyID)
	require.NoError(t, err)
	require.True(t, got.RemovedAt.IsZero())

	// An owner with no credentials any more.
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later.Add(2 * time.Hour),
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: appB, AppID: "client-b"}}})
	require.NoError(t, err)
	require.Equal(t, []string{b1.KeyID}, keyIDs(diff.Removed))

	// Many owners in one call (more than one internal batch).
	var many []rotor.OwnerCredentials
	for range 1200 {
		many = append(many, rotor.OwnerCredentials{OwnerKind: rotor.OwnerApplication, OwnerID: newID(), AppID: newID(),
			Credentials: []*rotor.Credential{secretCred(newID(), now.Add(day))}})
	}
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now, Owners: many})
	require.NoError(t, err)
	require.Len(t, diff.Added, 1200)
	diff, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now, Owners: many})
	require.NoError(t, err)
	require.Empty(t, diff.Added)
	require.Empty(t, diff.Removed)
}

func testCredentialList(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	owner := newID()
	var all []*rotor.Credential
	for i := range 20 {
		c := secretCred(newID(), now.Add(time.Duration(i*5)*day))
		if i%4 == 0 {
			c.Kind = rotor.KindCertificate
		}
		all = append(all, c)
	}
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "client", Credentials: all}}})
	require.NoError(t, err)
	other := secretCred(newID(), now.Add(day))
	_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "adatum", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: newID(), AppID: "other", Credentials: []*rotor.Credential{other}}}})
	require.NoError(t, err)

	list, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{Tenant: "contoso", EndBefore: now.Add(30 * day)})
	require.NoError(t, err)
	require.Len(t, list, 6, "ends at 0, 5, ..., 25 days")
	for i := 1; i < len(list); i++ {
		require.False(t, list[i].EndAt.Before(list[i-1].EndAt), "ordered by end date")
	}
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{EndAfter: now.Add(90 * day)})
	require.NoError(t, err)
	require.Len(t, list, 2, "ends at 90 and 95 days")
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{Kind: rotor.KindCertificate})
	require.NoError(t, err)
	require.Len(t, list, 5)
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{AppID: "other"})
	require.NoError(t, err)
	require.Equal(t, []string{other.KeyID}, keyIDs(list))
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{Tenant: "adatum", KeyIDs: []string{other.KeyID, "no-such-key"}})
	require.NoError(t, err)
	require.Equal(t, []string{other.KeyID}, keyIDs(list), "only the key ids asked for")
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{Tenant: "contoso", KeyIDs: []string{other.KeyID}})
	require.NoError(t, err)
	require.Empty(t, list, "key ids are per tenant")
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{OwnerID: owner})
	require.NoError(t, err)
	require.Len(t, list, 20)
	list, err = s.CredentialList(ctx(t), &rotor.CredentialListParams{OwnerKind: rotor.OwnerServicePrincipal})
	require.NoError(t, err)
	require.Empty(t, list)

	var paged []string
	var cur *rotor.CredentialCursor
	for {
		page, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{After: cur, Limit: 6})
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, keyIDs(page)...)
		l := page[len(page)-1]
		cur = &rotor.CredentialCursor{EndAt: l.EndAt, Tenant: l.Tenant, KeyID: l.KeyID}
	}
	require.Len(t, paged, 21)
	seen := map[string]bool{}
	for _, k := range paged {
		require.False(t, seen[k], "no duplicates across pages")
		seen[k] = true
	}

	_, err = s.CredentialGet(ctx(t), "contoso", other.KeyID)
	require.ErrorIs(t, err, rotor.ErrNotFound, "credentials are per tenant")
}

func testCredentialPut(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	owner := newID()
	other := secretCred(newID(), now.Add(day))
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x", Credentials: []*rotor.Credential{other}}}})
	require.NoError(t, err)
	c := secretCred(newID(), now.Add(180*day))
	c.Tenant, c.OwnerKind, c.OwnerID, c.AppID, c.DisplayName = "contoso", rotor.OwnerApplication, owner, "x", "rotor:r1"
	later := now.Add(time.Minute)
	require.NoError(t, s.CredentialPut(ctx(t), c, later))
	got, err := s.CredentialGet(ctx(t), "contoso", c.KeyID)
	require.NoError(t, err)
	require.Equal(t, "rotor:r1", got.DisplayName)
	require.Equal(t, later, got.FirstSeenAt)
	list, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{OwnerID: owner})
	require.NoError(t, err)
	require.Len(t, list, 2, "the owner's other credentials stay")

	// A sync that sees it later reports nothing new.
	diff, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: later.Add(time.Hour),
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x", Credentials: []*rotor.Credential{other, c}}}})
	require.NoError(t, err)
	require.Empty(t, diff.Added)
	require.Empty(t, diff.Removed)
}

func testCredentialMarkRemoved(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	owner := newID()
	c := secretCred(newID(), now.Add(day))
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x", Credentials: []*rotor.Credential{c}}}})
	require.NoError(t, err)
	require.NoError(t, s.CredentialMarkRemoved(ctx(t), &rotor.CredentialMarkRemovedParams{Tenant: "contoso", KeyID: c.KeyID, At: now, By: rotor.RemovedByRotor}))
	got, err := s.CredentialGet(ctx(t), "contoso", c.KeyID)
	require.NoError(t, err)
	require.Equal(t, rotor.RemovedByRotor, got.RemovedBy)
	require.Equal(t, now, got.RemovedAt)

	// The next sync, which no longer sees it, reports nothing: rotor removed it, not someone else.
	diff, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now.Add(time.Hour),
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x"}}})
	require.NoError(t, err)
	require.Empty(t, diff.Removed)

	list, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{IncludeRemoved: true})
	require.NoError(t, err)
	require.Len(t, list, 1)
	err = s.CredentialMarkRemoved(ctx(t), &rotor.CredentialMarkRemovedParams{Tenant: "contoso", KeyID: newID(), At: now, By: rotor.RemovedByRotor})
	require.ErrorIs(t, err, rotor.ErrNotFound)
	require.True(t, strings.Contains(err.Error(), "contoso/"), "the error names the credential: %v", err)
}

func testAppListNamePrefixCase(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	var apps []*rotor.App
	for _, n := range []string{"Payroll API", "payroll-batch", "PAYROLL admin", "Billing payroll"} {
		apps = append(apps, &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: n, SyncedAt: now})
	}
	require.NoError(t, s.AppUpsertBatch(ctx(t), apps))
	for _, prefix := range []string{"payroll", "PAYROLL", "PayRoll"} {
		got, err := s.AppList(ctx(t), &rotor.AppListParams{Tenant: "contoso", NamePrefix: prefix})
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"Payroll API", "payroll-batch", "PAYROLL admin"}, appNames(got),
			"the prefix %q matches ignoring case, as AppFind does", prefix)
	}
}

func testCredentialSyncOwnersRepeatedKey(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	owner := newID()
	first, again := secretCred(newID(), now.Add(day)), secretCred(newID(), now.Add(day))
	again.KeyID, again.DisplayName = first.KeyID, "renamed"
	var many []*rotor.Credential
	for range 120 { // several upsert statements' worth, the repeat in a later one
		many = append(many, secretCred(newID(), now.Add(2*day)))
	}
	creds := append([]*rotor.Credential{first}, append(many, again)...)
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x", Credentials: creds[:2]}}})
	require.NoError(t, err)
	// A key id listed twice in one sync (next to each other, or far apart) is stored once, as last
	// listed.
	for _, list := range [][]*rotor.Credential{{first, again}, creds} {
		_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
			Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: owner, AppID: "x", Credentials: list}}})
		require.NoError(t, err)
		got, err := s.CredentialGet(ctx(t), "contoso", first.KeyID)
		require.NoError(t, err)
		require.Equal(t, "renamed", got.DisplayName)
	}
	list, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{OwnerID: owner})
	require.NoError(t, err)
	require.Len(t, list, 121)
}
