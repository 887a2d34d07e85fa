package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
)

func tokenHash(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

func testAPIToken(t *testing.T, s rotor.Store) {
	_, err := s.APITokenGetByHash(ctx(t), tokenHash("nope"))
	require.ErrorIs(t, err, rotor.ErrNotFound)

	ci := &rotor.APIToken{ID: newID(), Name: "ci", Role: "operator", Hash: tokenHash("value-1"), CreatedAt: now,
		CreatedBy: "user:alice@example.com", ExpiresAt: now.Add(90 * day)}
	require.NoError(t, s.APITokenInsert(ctx(t), ci))
	got, err := s.APITokenGetByHash(ctx(t), tokenHash("value-1"))
	require.NoError(t, err)
	require.Equal(t, ci, got)
	require.True(t, got.Active(now))
	require.False(t, got.Active(now.Add(90*day)), "a token expires at ExpiresAt")

	dup := &rotor.APIToken{ID: newID(), Name: "ci", Role: "viewer", Hash: tokenHash("value-2"), CreatedAt: now.Add(time.Hour),
		CreatedBy: "cli:bob@host", ExpiresAt: now.Add(10 * day)}
	require.ErrorIs(t, s.APITokenInsert(ctx(t), dup), rotor.ErrConflict, "one live token per name")

	// Once the first has expired its name can be used again: the expired token is revoked.
	dup.CreatedAt = now.Add(91 * day)
	dup.ExpiresAt = now.Add(100 * day)
	require.NoError(t, s.APITokenInsert(ctx(t), dup))
	old, err := s.APITokenGet(ctx(t), ci.ID)
	require.NoError(t, err)
	require.Equal(t, dup.CreatedAt, old.RevokedAt)
	require.Equal(t, "cli:bob@host", old.RevokedBy)

	other := &rotor.APIToken{ID: newID(), Name: "backup", Role: "viewer", Hash: tokenHash("value-3"), CreatedAt: now,
		CreatedBy: "cli:bob@host", ExpiresAt: now.Add(day)}
	require.NoError(t, s.APITokenInsert(ctx(t), other))
	same := *other
	same.ID, same.Name = newID(), "same-value"
	require.ErrorIs(t, s.APITokenInsert(ctx(t), &same), rotor.ErrConflict, "token hashes are unique")

	list, err := s.APITokenList(ctx(t), &rotor.APITokenListParams{})
	require.NoError(t, err)
	require.Equal(t, []string{"backup", "ci"}, tokenNames(list))
	require.Equal(t, dup.ID, list[1].ID)
	list, err = s.APITokenList(ctx(t), &rotor.APITokenListParams{IncludeRevoked: true})
	require.NoError(t, err)
	require.Len(t, list, 3)

	require.NoError(t, s.APITokenTouch(ctx(t), other.ID, now.Add(time.Hour)))
	require.NoError(t, s.APITokenTouch(ctx(t), other.ID, now.Add(time.Minute)), "an older use does not move it back")
	got, err = s.APITokenGet(ctx(t), other.ID)
	require.NoError(t, err)
	require.Equal(t, now.Add(time.Hour), got.LastUsedAt)

	rev, err := s.APITokenRevoke(ctx(t), &rotor.APITokenRevokeParams{ID: other.ID, By: "token:admin", At: now.Add(2 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, now.Add(2*time.Hour), rev.RevokedAt)
	require.False(t, rev.Active(now.Add(3*time.Hour)))
	again, err := s.APITokenRevoke(ctx(t), &rotor.APITokenRevokeParams{ID: other.ID, By: "someone else", At: now.Add(5 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, rev, again, "revoking twice changes nothing")
	_, err = s.APITokenRevoke(ctx(t), &rotor.APITokenRevokeParams{ID: newID(), By: "x", At: now})
	require.ErrorIs(t, err, rotor.ErrNotFound)
	_, err = s.APITokenGet(ctx(t), newID())
	require.ErrorIs(t, err, rotor.ErrNotFound)
}

func tokenNames(ts []*rotor.APIToken) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func testSessionEnd(t *testing.T, s rotor.Store) {
	ended, err := s.SessionEnded(ctx(t), "session-1")
	require.NoError(t, err)
	require.False(t, ended)
	require.NoError(t, s.SessionEnd(ctx(t), "session-1", now.Add(time.Hour)))
	require.NoError(t, s.SessionEnd(ctx(t), "session-1", now.Add(time.Hour)), "ending twice is fine")
	require.NoError(t, s.SessionEnd(ctx(t), "session-2", now.Add(3*time.Hour)))
	ended, err = s.SessionEnded(ctx(t), "session-1")
	require.NoError(t, err)
	require.True(t, ended)
	n, err := s.SessionPrune(ctx(t), now.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ended, err = s.SessionEnded(ctx(t), "session-1")
	require.NoError(t, err)
	require.False(t, ended, "pruned once its cookie expired")
	ended, err = s.SessionEnded(ctx(t), "session-2")
	require.NoError(t, err)
	require.True(t, ended)
}

// stateFixture holds one credential in every lifecycle state (some in several ways) and the
// state each must be in at now under the default thresholds.
type stateFixture struct {
	want map[string]lifecycle.State // key id -> state
	app  *rotor.App
}

// seedStates stores, in tenant contoso, an application whose credentials cover every state.
func seedStates(t *testing.T, s rotor.Store) *stateFixture {
	t.Helper()
	mustTenant(t, s, "contoso")
	app := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "payments-api-prod", SyncedAt: now}
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{app}))
	warn := lifecycle.DefaultThresholds.Warn
	type spec struct {
		name  string
		end   time.Time
		state lifecycle.State
		// rotation replacing it: its state and, for failed, the phase it resumes in
		rot, resume rotor.RotationState
		removed     string // "rotor" or "sync"
	}
	specs := []spec{
		{name: "active", end: now.Add(warn + time.Microsecond), state: lifecycle.Active},
		{name: "far", end: now.Add(400 * day), state: lifecycle.Active},
		{name: "expiring-edge", end: now.Add(warn), state: lifecycle.Expiring},
		{name: "expiring", end: now.Add(3 * day), state: lifecycle.Expiring},
		{name: "expired-edge", end: now, state: lifecycle.Expired},
		{name: "expired", end: now.Add(-40 * day), state: lifecycle.Expired},
		{name: "rotating", end: now.Add(10 * day), state: lifecycle.Rotating, rot: rotor.RotationVerifying},
		{name: "rotating-far", end: now.Add(200 * day), state: lifecycle.Rotating, rot: rotor.RotationPending},
		{name: "failed-deploying", end: now.Add(5 * day), state: lifecycle.Rotating, rot: rotor.RotationFailed, resume: rotor.RotationDeploying},
		{name: "grace", end: now.Add(20 * day), state: lifecycle.Grace, rot: rotor.RotationGrace},
		{name: "failed-cleaning", end: now.Add(50 * day), state: lifecycle.Grace, rot: rotor.RotationFailed, resume: rotor.RotationCleaning},
		{name: "grace-expired", end: now.Add(-time.Hour), state: lifecycle.Expired, rot: rotor.RotationCleaning},
		{name: "completed-rotation", end: now.Add(60 * day), state: lifecycle.Active, rot: rotor.RotationCompleted},
		{name: "cleaned-up", end: now.Add(9 * day), state: lifecycle.CleanedUp, removed: "rotor"},
		{name: "removed", end: now.Add(9 * day), state: lifecycle.Removed, removed: "sync"},
	}
	f := &stateFixture{want: map[string]lifecycle.State{}, app: app}
	var creds []*rotor.Credential
	ids := map[string]string{}
	for _, sp := range specs {
		id := newID()
		ids[sp.name] = id
		c := secretCred(id, sp.end)
		c.DisplayName = sp.name
		creds = append(creds, c)
		f.want[id] = sp.state
	}
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now,
		Owners: []rotor.OwnerCredentials{{OwnerKind: rotor.OwnerApplication, OwnerID: app.ID, OwnerName: app.DisplayName, AppID: app.AppID,
			Credentials: creds}}})
	require.NoError(t, err)
	for _, sp := range specs {
		id := ids[sp.name]
		switch sp.removed {
		case "rotor":
			require.NoError(t, s.CredentialMarkRemoved(ctx(t), &rotor.CredentialMarkRemovedParams{Tenant: "contoso", KeyID: id, At: now, By: rotor.RemovedByRotor}))
		case "sync":
			require.NoError(t, s.CredentialMarkRemoved(ctx(t), &rotor.CredentialMarkRemovedParams{Tenant: "contoso", KeyID: id, At: now}))
		}
		if sp.rot == "" {
			continue
		}
		b := &rotor.Binding{ID: newID(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: app.ID, AppID: app.AppID,
			Kind: rotor.KindSecret, Policy: "default", KeyID: id, Source: rotor.BindingManual, CreatedAt: now, UpdatedAt: now}
		require.NoError(t, s.BindingInsert(ctx(t), b))
		r := newRotation(b)
		r.OldKeyID, r.State, r.ResumeState = id, sp.rot, sp.resume
		require.NoError(t, s.RotationInsert(ctx(t), r))
	}
	return f
}

// stateOf is lifecycle's verdict on a row, from the facts the store returned.
func stateOf(r *rotor.CredentialRow) lifecycle.State {
	return lifecycle.StateOf(lifecycle.Facts{EndAt: r.EndAt, Removed: r.Removed(), RemovedByRotor: r.RemovedBy == rotor.RemovedByRotor,
		Rotating: r.Rotating, Superseded: r.Superseded}, lifecycle.DefaultThresholds, now)
}

func testCredentialSearchStates(t *testing.T, s rotor.Store) {
	f := seedStates(t, s)
	base := rotor.CredentialSearchParams{Tenant: "contoso", Now: now, Warn: lifecycle.DefaultThresholds.Warn}

	all := base
	all.IncludeRemoved = true
	rows, err := s.CredentialSearch(ctx(t), &all)
	require.NoError(t, err)
	require.Len(t, rows, len(f.want))
	for _, r := range rows {
		require.Equal(t, f.want[r.KeyID], stateOf(r), "credential %s: the facts the store returns give lifecycle's state", r.DisplayName)
		require.Equal(t, f.app.DisplayName, r.OwnerName)
	}
	live := base
	rows, err = s.CredentialSearch(ctx(t), &live)
	require.NoError(t, err)
	require.Len(t, rows, len(f.want)-2, "without states or IncludeRemoved, removed credentials are left out")

	for _, st := range lifecycle.States {
		p := base
		p.States = []string{string(st)}
		rows, err := s.CredentialSearch(ctx(t), &p)
		require.NoError(t, err)
		var want, got []string
		for id, ws := range f.want {
			if ws == st {
				want = append(want, id)
			}
		}
		for _, r := range rows {
			got = append(got, r.KeyID)
			require.Equal(t, st, stateOf(r))
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "the store's filter for %s agrees with lifecycle.StateOf", st)
	}
	p := base
	p.States = []string{"expiring", "grace"}
	rows, err = s.CredentialSearch(ctx(t), &p)
	require.NoError(t, err)
	require.Len(t, rows, 4, "several states: any of them")
	for i := 1; i < len(rows); i++ {
		require.False(t, rows[i].EndAt.Before(rows[i-1].EndAt), "soonest end first")
	}
	for _, r := range rows {
		if r.DisplayName == "grace" {
			require.NotEmpty(t, r.BindingID, "the binding managing it")
		}
	}
	p.States = []string{"sleeping"}
	_, err = s.CredentialSearch(ctx(t), &p)
	require.ErrorContains(t, err, `unknown credential state "sleeping"`)
}

func testCredentialSearchPaging(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	app := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "app", SyncedAt: now}
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{app}))
	sp := &rotor.ServicePrincipal{Tenant: "contoso", ID: newID(), AppID: app.AppID, DisplayName: "app", SyncedAt: now}
	require.NoError(t, s.ServicePrincipalUpsertBatch(ctx(t), []*rotor.ServicePrincipal{sp}))
	var appCreds, spCreds, otherCreds []*rotor.Credential
	for i := range 25 {
		end := now.Add(time.Duration(i%7) * day) // equal ends: the cursor's tie-breakers matter
		appCreds = append(appCreds, secretCred(newID(), end))
		spCreds = append(spCreds, secretCred(newID(), end))
		otherCreds = append(otherCreds, secretCred(newID(), end))
	}
	cert := secretCred(newID(), now.Add(day))
	cert.Kind = rotor.KindCertificate
	appCreds = append(appCreds, cert)
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: app.ID, AppID: app.AppID, Credentials: appCreds},
		{OwnerKind: rotor.OwnerServicePrincipal, OwnerID: sp.ID, AppID: app.AppID, Credentials: spCreds},
	}})
	require.NoError(t, err)
	_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "adatum", Now: now, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: newID(), AppID: newID(), Credentials: otherCreds},
	}})
	require.NoError(t, err)

	page := func(p rotor.CredentialSearchParams) []string {
		t.Helper()
		var ids []string
		p.Now, p.Warn, p.Limit = now, lifecycle.DefaultThresholds.Warn, 7
		for {
			rows, err := s.CredentialSearch(ctx(t), &p)
			require.NoError(t, err)
			for _, r := range rows {
				ids = append(ids, r.KeyID)
			}
			if len(rows) < p.Limit {
				return ids
			}
			last := rows[len(rows)-1]
			p.After = &rotor.CredentialCursor{EndAt: last.EndAt, Tenant: last.Tenant, KeyID: last.KeyID}
		}
	}
	all := page(rotor.CredentialSearchParams{})
	require.Len(t, all, 76)
	seen := map[string]bool{}
	for _, id := range all {
		require.False(t, seen[id], "each credential once")
		seen[id] = true
	}
	require.Len(t, page(rotor.CredentialSearchParams{AppID: app.AppID}), 51, "the app's and its service principal's")
	require.Len(t, page(rotor.CredentialSearchParams{AppID: app.AppID, OwnerKind: rotor.OwnerServicePrincipal}), 25)
	require.Len(t, page(rotor.CredentialSearchParams{OwnerID: app.ID}), 26)
	require.Equal(t, []string{cert.KeyID}, page(rotor.CredentialSearchParams{Kind: rotor.KindCertificate}))
	require.Len(t, page(rotor.CredentialSearchParams{Tenant: "adatum"}), 25)
	// Ends at now + (i mod 7) days; (now+1d, now+3d] holds days 2 and 3: i = 2, 3, 9, 10, 16, 17, 23, 24.
	require.Len(t, page(rotor.CredentialSearchParams{Tenant: "adatum", EndAfter: now.Add(day), EndBefore: now.Add(3 * day)}), 8)
}

func testCredentialStats(t *testing.T, s rotor.Store) {
	f := seedStates(t, s)
	mustTenant(t, s, "adatum")
	mustTenant(t, s, "empty")
	var other []*rotor.Credential
	ends := []time.Duration{-day, day, 6 * day, 7 * day, 7*day + time.Microsecond, 29 * day, 31 * day, 89 * day, 91 * day, 700 * day}
	for _, d := range ends {
		other = append(other, secretCred(newID(), now.Add(d)))
	}
	_, err := s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: "adatum", Now: now, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: newID(), AppID: newID(), Credentials: other},
	}})
	require.NoError(t, err)

	st, err := s.CredentialStats(ctx(t), &rotor.CredentialStatsParams{Now: now, Warn: lifecycle.DefaultThresholds.Warn, Weeks: 4})
	require.NoError(t, err)
	require.Len(t, st.Tenants, 2, "tenants without credentials have no row")
	require.Equal(t, "adatum", st.Tenants[0].Tenant)
	contoso := st.Tenants[1]

	want := map[string]int{}
	for _, s := range lifecycle.States {
		want[string(s)] = 0
	}
	for _, s := range f.want {
		want[string(s)]++
	}
	require.Equal(t, want, contoso.ByState, "counts agree with lifecycle.StateOf")

	ad := st.Tenants[0]
	require.Equal(t, map[string]int{"active": 4, "expiring": 5, "expired": 1, "rotating": 0, "grace": 0, "cleaned_up": 0, "removed": 0}, ad.ByState)
	require.Equal(t, 3, ad.Within7, "7 days inclusive")
	require.Equal(t, 5, ad.Within30)
	require.Equal(t, 7, ad.Within90)
	require.Equal(t, now.Add(day), ad.NextEndAt)
	// contoso's and adatum's live credentials ending in weeks (now, +1w], (+1w, +2w], ...
	require.Equal(t, []int{2 + 3, 1 + 1, 1 + 0, 0 + 0}, st.Weeks)

	one, err := s.CredentialStats(ctx(t), &rotor.CredentialStatsParams{Tenant: "adatum", Now: now, Warn: lifecycle.DefaultThresholds.Warn, Weeks: 2})
	require.NoError(t, err)
	require.Len(t, one.Tenants, 1)
	require.Equal(t, ad, one.Tenants[0])
	require.Equal(t, []int{3, 1}, one.Weeks)
}

func testAppSearch(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	var apps []*rotor.App
	for i := range 30 {
		tn := "contoso"
		if i%3 == 0 {
			tn = "adatum"
		}
		apps = append(apps, &rotor.App{Tenant: tn, ID: newID(), AppID: newID(), DisplayName: fmt.Sprintf("Billing-%02d", i), SyncedAt: now})
	}
	apps[5].DisplayName = "payroll_API 100%"
	require.NoError(t, s.AppUpsertBatch(ctx(t), apps))
	gone := &rotor.App{Tenant: "contoso", ID: newID(), AppID: newID(), DisplayName: "Billing-gone", SyncedAt: now}
	require.NoError(t, s.AppUpsertBatch(ctx(t), []*rotor.App{gone}))
	_, err := s.AppMarkDeleted(ctx(t), &rotor.ObjectMarkDeletedParams{Tenant: "contoso", IDs: []string{gone.ID}, At: now})
	require.NoError(t, err)

	// apps[1]: one expired, one expiring in 3 days, one removed; its service principal one in 60 days.
	a := apps[1]
	_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: a.Tenant, Now: now, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: a.ID, AppID: a.AppID, Credentials: []*rotor.Credential{
			secretCred(newID(), now.Add(-day)), secretCred(newID(), now.Add(3*day)), secretCred(newID(), now.Add(2*day))}},
		{OwnerKind: rotor.OwnerServicePrincipal, OwnerID: newID(), AppID: a.AppID, Credentials: []*rotor.Credential{secretCred(newID(), now.Add(60*day))}},
	}})
	require.NoError(t, err)
	creds, err := s.CredentialList(ctx(t), &rotor.CredentialListParams{AppID: a.AppID, EndAfter: now.Add(2 * day), EndBefore: now.Add(2*day + time.Microsecond)})
	require.NoError(t, err)
	require.Len(t, creds, 1)
	require.NoError(t, s.CredentialMarkRemoved(ctx(t), &rotor.CredentialMarkRemovedParams{Tenant: a.Tenant, KeyID: creds[0].KeyID, At: now}))
	// apps[2]: bound, one secret in 100 days.
	b := apps[2]
	_, err = s.CredentialSyncOwners(ctx(t), &rotor.CredentialSyncOwnersParams{Tenant: b.Tenant, Now: now, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: b.ID, AppID: b.AppID, Credentials: []*rotor.Credential{secretCred(newID(), now.Add(100*day))}}}})
	require.NoError(t, err)
	require.NoError(t, s.BindingInsert(ctx(t), &rotor.Binding{ID: newID(), Tenant: b.Tenant, OwnerKind: rotor.OwnerApplication, OwnerID: b.ID,
		AppID: b.AppID, Kind: rotor.KindSecret, Policy: "default", Source: rotor.BindingManual, CreatedAt: now, UpdatedAt: now}))

	search := func(p rotor.AppSearchParams) []*rotor.AppSummary {
		t.Helper()
		var out []*rotor.AppSummary
		p.Now, p.Limit = now, 4
		for {
			page, err := s.AppSearch(ctx(t), &p)
			require.NoError(t, err)
			out = append(out, page...)
			if len(page) < p.Limit {
				return out
			}
			last := page[len(page)-1]
			p.After = &rotor.AppCursor{Tenant: last.Tenant, DisplayName: last.DisplayName, ID: last.ID}
		}
	}
	all := search(rotor.AppSearchParams{})
	require.Len(t, all, 30, "deleted applications are left out")
	require.Equal(t, "adatum", all[0].Tenant)
	require.Equal(t, "contoso", all[29].Tenant)
	for i := 1; i < len(all); i++ {
		if all[i].Tenant == all[i-1].Tenant {
			require.Less(t, all[i-1].DisplayName, all[i].DisplayName)
		}
	}
	var got *rotor.AppSummary
	for _, x := range all {
		if x.ID == a.ID {
			got = x
		}
	}
	require.Equal(t, 3, got.Credentials, "live credentials of the app and its service principal")
	require.Equal(t, 1, got.Expired)
	require.Equal(t, now.Add(3*day), got.NextEndAt)
	require.Equal(t, 0, got.Bindings)

	require.Len(t, search(rotor.AppSearchParams{Tenant: "adatum"}), 10)
	found := search(rotor.AppSearchParams{Query: "PAYROLL_api 100%"})
	require.Len(t, found, 1, "substring, any case; _ and %% are literal")
	require.Equal(t, apps[5].ID, found[0].ID)
	require.Empty(t, search(rotor.AppSearchParams{Query: "payroll%api"}))
	require.Len(t, search(rotor.AppSearchParams{Query: "billing-1"}), 10)
	require.Equal(t, a.ID, search(rotor.AppSearchParams{Query: a.AppID})[0].ID, "a client id")
	require.Equal(t, a.ID, search(rotor.AppSearchParams{Query: a.ID})[0].ID, "an object id")
	require.Equal(t, []string{a.ID}, summaryIDs(search(rotor.AppSearchParams{ExpiringWithin: 7 * day})))
	require.Equal(t, []string{a.ID}, summaryIDs(search(rotor.AppSearchParams{ExpiringWithin: 60 * day})), "each app once")
	require.Len(t, search(rotor.AppSearchParams{ExpiringWithin: 2 * day}), 0, "the credential ending in 2 days was removed")
	require.Equal(t, []string{a.ID}, summaryIDs(search(rotor.AppSearchParams{Expired: true})))
	yes, no := true, false
	require.Equal(t, []string{b.ID}, summaryIDs(search(rotor.AppSearchParams{Managed: &yes})))
	require.Len(t, search(rotor.AppSearchParams{Managed: &no}), 29)
}

func summaryIDs(as []*rotor.AppSummary) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func testBindingSearch(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	var all []*rotor.Binding
	for i := range 23 {
		tn := "contoso"
		if i%2 == 0 {
			tn = "adatum"
		}
		b := mustBinding(t, s, tn)
		if i%5 == 0 {
			b.Policy, b.Paused = "gold", true
			require.NoError(t, s.BindingUpdate(ctx(t), b, now))
		}
		all = append(all, b)
	}
	page := func(p rotor.BindingSearchParams) []*rotor.Binding {
		t.Helper()
		var out []*rotor.Binding
		p.Limit = 5
		for {
			bs, err := s.BindingSearch(ctx(t), &p)
			require.NoError(t, err)
			out = append(out, bs...)
			if len(bs) < p.Limit {
				return out
			}
			last := bs[len(bs)-1]
			p.After = &rotor.BindingCursor{Tenant: last.Tenant, OwnerID: last.OwnerID, ID: last.ID}
		}
	}
	require.Len(t, page(rotor.BindingSearchParams{}), 23)
	require.Len(t, page(rotor.BindingSearchParams{Tenant: "adatum"}), 12)
	require.Len(t, page(rotor.BindingSearchParams{Policy: "gold"}), 5)
	yes := true
	require.Len(t, page(rotor.BindingSearchParams{Paused: &yes}), 5)
	got := page(rotor.BindingSearchParams{AppID: all[3].AppID})
	require.Len(t, got, 1)
	require.Equal(t, all[3].ID, got[0].ID)
	got = page(rotor.BindingSearchParams{OwnerID: all[4].OwnerID})
	require.Len(t, got, 1)
	require.Equal(t, all[4], got[0])
}

func testRotationSearch(t *testing.T, s rotor.Store) {
	mustTenant(t, s, "contoso")
	mustTenant(t, s, "adatum")
	var made []*rotor.Rotation
	for i := range 12 {
		tn := "contoso"
		if i%3 == 0 {
			tn = "adatum"
		}
		b := mustBinding(t, s, tn)
		r := newRotation(b)
		r.CreatedAt = now.Add(time.Duration(i/2) * time.Minute) // pairs share a creation time
		if i%4 == 0 {
			r.State = rotor.RotationCompleted
		}
		require.NoError(t, s.RotationInsert(ctx(t), r))
		made = append(made, r)
	}
	page := func(p rotor.RotationSearchParams) []*rotor.Rotation {
		t.Helper()
		var out []*rotor.Rotation
		p.Limit = 5
		for {
			rs, err := s.RotationSearch(ctx(t), &p)
			require.NoError(t, err)
			out = append(out, rs...)
			if len(rs) < p.Limit {
				return out
			}
			last := rs[len(rs)-1]
			p.Before = &rotor.RotationCursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
	}
	all := page(rotor.RotationSearchParams{})
	require.Len(t, all, 12)
	for i := 1; i < len(all); i++ {
		prev, cur := all[i-1], all[i]
		require.True(t, prev.CreatedAt.After(cur.CreatedAt) || prev.CreatedAt.Equal(cur.CreatedAt) && prev.ID > cur.ID, "newest first")
	}
	require.Len(t, page(rotor.RotationSearchParams{Tenant: "adatum"}), 4)
	require.Len(t, page(rotor.RotationSearchParams{States: []rotor.RotationState{rotor.RotationCompleted}}), 3)
	require.Len(t, page(rotor.RotationSearchParams{States: []rotor.RotationState{rotor.RotationCompleted, rotor.RotationPending}}), 12)
	got := page(rotor.RotationSearchParams{AppID: made[7].AppID})
	require.Len(t, got, 1)
	require.Equal(t, made[7].ID, got[0].ID)
	require.Len(t, page(rotor.RotationSearchParams{BindingID: made[8].BindingID}), 1)

	counts, err := s.RotationCounts(ctx(t))
	require.NoError(t, err)
	require.Equal(t, []rotor.RotationCount{
		{Tenant: "adatum", State: rotor.RotationCompleted, Count: 1},
		{Tenant: "adatum", State: rotor.RotationPending, Count: 3},
		{Tenant: "contoso", State: rotor.RotationCompleted, Count: 2},
		{Tenant: "contoso", State: rotor.RotationPending, Count: 6},
	}, counts)
}

func testAuditSearch(t *testing.T, s rotor.Store) {
	for i := range 30 {
		e := auditEvent("rotation.planned")
		e.At = now.Add(time.Duration(i) * time.Minute)
		e.Tenant, e.AppID, e.Actor = "contoso", "app-a", "planner"
		switch i % 3 {
		case 1:
			e.Action, e.Actor, e.Tenant = "binding.created", "user:alice@example.com", "adatum"
		case 2:
			e.Action, e.Outcome, e.RotationID = "rotation.failed", rotor.OutcomeFailure, "rot-1"
		}
		require.NoError(t, s.AuditAppend(ctx(t), e))
	}
	page := func(p rotor.AuditSearchParams) []*rotor.AuditEvent {
		t.Helper()
		var out []*rotor.AuditEvent
		p.Limit = 4
		for {
			evs, err := s.AuditSearch(ctx(t), &p)
			require.NoError(t, err)
			out = append(out, evs...)
			if len(evs) < p.Limit {
				return out
			}
			p.BeforeSeq = evs[len(evs)-1].Seq
		}
	}
	all := page(rotor.AuditSearchParams{})
	require.Len(t, all, 30)
	require.Equal(t, int64(30), all[0].Seq, "newest first")
	require.Equal(t, int64(1), all[29].Seq)
	require.Len(t, page(rotor.AuditSearchParams{ActionPrefix: "rotation."}), 20)
	require.Len(t, page(rotor.AuditSearchParams{ActionPrefix: "rotation.failed"}), 10)
	require.Len(t, page(rotor.AuditSearchParams{ActionPrefix: "rotation_"}), 0, "_ is literal")
	require.Len(t, page(rotor.AuditSearchParams{Actor: "user:alice@example.com"}), 10)
	require.Len(t, page(rotor.AuditSearchParams{Tenant: "adatum"}), 10)
	require.Len(t, page(rotor.AuditSearchParams{Outcome: rotor.OutcomeFailure}), 10)
	require.Len(t, page(rotor.AuditSearchParams{RotationID: "rot-1"}), 10)
	require.Len(t, page(rotor.AuditSearchParams{AppID: "app-a"}), 30)
	require.Len(t, page(rotor.AuditSearchParams{Since: now.Add(10 * time.Minute), Until: now.Add(20 * time.Minute)}), 10)
	require.Len(t, page(rotor.AuditSearchParams{Tenant: "contoso", Outcome: rotor.OutcomeSuccess}), 10)
}
