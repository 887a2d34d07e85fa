package runner

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func TestBindNeedsAnExplicitChoice(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	require.NoError(t, b.store.BindingDelete(ctx, b.binding.ID))
	p := BindParams{Tenant: "contoso", Owner: b.owner, AppID: b.binding.AppID, Policy: "standard", Actor: "user:alice@example.com"}

	_, err := e.Bind(ctx, p)
	require.ErrorContains(t, err, "already has a live secret")
	require.ErrorContains(t, err, b.old.cred.KeyID)

	bad := p
	bad.Adopt = uuid.NewString()
	_, err = e.Bind(ctx, bad)
	require.ErrorContains(t, err, "has no live secret")

	both := p
	both.Adopt, both.New = b.old.cred.KeyID, true
	_, err = e.Bind(ctx, both)
	require.ErrorContains(t, err, "not both")

	adopt := p
	adopt.Adopt = b.old.cred.KeyID
	bd, err := e.Bind(ctx, adopt)
	require.NoError(t, err)
	require.Equal(t, b.old.cred.KeyID, bd.KeyID)
	_, err = e.Bind(ctx, adopt)
	require.ErrorIs(t, err, rotor.ErrConflict, "a secret is bound once")

	fresh := p
	fresh.New = true
	nb, err := e.Bind(ctx, fresh)
	require.NoError(t, err)
	require.Empty(t, nb.KeyID)

	_, err = e.Bind(ctx, BindParams{Tenant: "contoso", Owner: b.owner, Policy: "missing", New: true})
	require.ErrorIs(t, err, rotor.ErrNotFound)
	events, err := b.store.AuditList(ctx, &rotor.AuditListParams{})
	require.NoError(t, err)
	require.Equal(t, "binding.created", events[len(events)-1].Action)
	require.Equal(t, "user:alice@example.com", events[len(events)-1].Actor)
}

func TestBindSelected(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	require.NoError(t, b.store.BindingDelete(ctx, b.binding.ID))
	other := &rotor.App{Tenant: "contoso", ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "Billing API", SyncedAt: start, Tags: []string{"team:finance"}}
	require.NoError(t, b.store.AppUpsertBatch(ctx, []*rotor.App{other}))

	b.policy.Select = &rotor.Selector{DisplayNames: []string{"Payroll*"}}
	b.policy.Adopt = rotor.AdoptOnly
	res, err := e.BindSelected(ctx, []*rotor.Policy{b.policy}, true)
	require.NoError(t, err)
	require.Len(t, res, 1, "only the payroll app matches")
	require.Equal(t, b.old.cred.KeyID, res[0].Binding.KeyID, "adopt: only takes its single secret")
	list, err := b.store.BindingList(ctx, &rotor.BindingListParams{})
	require.NoError(t, err)
	require.Empty(t, list, "a dry run binds nothing")

	res, err = e.BindSelected(ctx, []*rotor.Policy{b.policy}, false)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NotEmpty(t, res[0].Binding.ID)
	require.Equal(t, rotor.BindingFromPolicy, res[0].Binding.Source)
	res, err = e.BindSelected(ctx, []*rotor.Policy{b.policy}, false)
	require.NoError(t, err)
	require.Empty(t, res, "already bound")

	b.policy.Select = &rotor.Selector{Tags: []string{"team:finance"}}
	res, err = e.BindSelected(ctx, []*rotor.Policy{b.policy}, false)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Equal(t, "adopt: only, and the app has 0 secrets", res[0].Skipped)
	b.policy.Adopt = rotor.AdoptNone
	res, err = e.BindSelected(ctx, []*rotor.Policy{b.policy}, false)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Empty(t, res[0].Binding.KeyID, "adopt: none creates a new secret at the first rotation")
}

// A selector by owner reads each candidate application's owners from the directory (once an hour)
// and matches object ids, user principal names and mail addresses in any case.
func TestBindSelectedByOwner(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	require.NoError(t, b.store.BindingDelete(ctx, b.binding.ID))
	billing := &rotor.App{Tenant: "contoso", ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "Billing API", SyncedAt: start}
	require.NoError(t, b.store.AppUpsertBatch(ctx, []*rotor.App{billing}))
	ada := rotor.Owner{ID: uuid.NewString(), Type: "user", UserPrincipalName: "ada@contoso.onmicrosoft.com", Mail: "Ada.Lovelace@contoso.com"}
	b.dir.appOwners = map[string][]rotor.Owner{b.owner.ID: {ada}, billing.ID: {{ID: uuid.NewString(), Type: "servicePrincipal"}}}
	b.policy.Adopt = rotor.AdoptNone

	for _, who := range []string{"ADA@contoso.onmicrosoft.com", "ada.lovelace@contoso.com", ada.ID} {
		b.policy.Select = &rotor.Selector{Owners: []string{"nobody@contoso.com", who}}
		res, err := e.BindSelected(ctx, []*rotor.Policy{b.policy}, true)
		require.NoError(t, err)
		require.Len(t, res, 1, who)
		require.Equal(t, b.owner.ID, res[0].App.ID, "only the app Ada owns")
	}
	require.Equal(t, 2, b.dir.ownerReads, "each app's owners read once within the hour")
	b.clock.Advance(2 * time.Hour)
	b.policy.Select = &rotor.Selector{Owners: []string{ada.ID}, DisplayNames: []string{"Billing*"}}
	res, err := e.BindSelected(ctx, []*rotor.Policy{b.policy}, true)
	require.NoError(t, err)
	require.Empty(t, res, "every criterion must hold")
	require.Equal(t, 3, b.dir.ownerReads, "read again after an hour, and only for apps the other criteria select")
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	b.dir.restriction = rotor.SecretRestriction{MaxLifetime: 90 * day, Source: "tenant default"}
	checks := e.Preflight(t.Context(), b.binding)
	var names []string
	for _, c := range checks {
		require.True(t, c.OK, "%s: %s", c.Name, c.Message)
		names = append(names, c.Name)
	}
	require.Equal(t, []string{"policy", "tenant", "read", "credential", "room", "lifetime", "step a (fake)", "step b (fake)", "step c (fake)"}, names)
	require.True(t, checks[5].Warning)
	require.Contains(t, checks[5].Message, "capped from 180d to 90d")
	require.Zero(t, b.dir.adds, "preflight changes nothing")
	require.Empty(t, b.log.entries)

	b.binding.Policy = "missing"
	checks = e.Preflight(t.Context(), b.binding)
	require.False(t, checks[0].OK)
}

func TestTwoSecretLimitParksAtOnce(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	app, err := b.store.AppGet(ctx, "contoso", b.owner.ID)
	require.NoError(t, err)
	app.SignInAudience = "AzureADandPersonalMicrosoftAccount"
	require.NoError(t, b.store.AppUpsertBatch(ctx, []*rotor.App{app}))
	b.dir.seed(b.owner, "second", start, start.Add(100*day)) // two secrets now

	checks := e.Preflight(ctx, b.binding)
	var room Check
	for _, c := range checks {
		if c.Name == "room" {
			room = c
		}
	}
	require.False(t, room.OK)
	require.Contains(t, room.Message, "limits it to two client secrets, and it has 2")

	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationFailed, r.State)
	require.True(t, r.NextAttemptAt.IsZero(), "parked: retrying cannot help")
	require.Zero(t, b.dir.adds, "nothing was added")
}
