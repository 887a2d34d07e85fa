package graph_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/graph"
)

// round follows nextLinks from first until a deltaLink and returns the items and the deltaLink.
func (b *bundle) round(t *testing.T, c *client, first string) ([]map[string]any, string, int) {
	t.Helper()
	var items []map[string]any
	r := b.do(t, c, "GET", first, nil)
	pages := 0
	for {
		require.Equal(t, 200, r.status, string(r.raw))
		pages++
		items = append(items, values(r)...)
		if next, ok := r.body["@odata.nextLink"].(string); ok {
			require.NotContains(t, r.body, "@odata.deltaLink")
			require.True(t, strings.HasPrefix(next, b.https.URL+"/v1.0/"), next)
			r = b.do(t, c, "GET", next, nil)
			continue
		}
		link, ok := r.body["@odata.deltaLink"].(string)
		require.True(t, ok, "a round ends with a deltaLink: %s", r.raw)
		require.True(t, strings.HasPrefix(link, b.https.URL+"/v1.0/applications/delta?$deltatoken="), link)
		return items, link, pages
	}
}

func TestDelta(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{graph: graph.Options{DeltaPageSize: 10}})
	reader := b.client(t, "reader", "Application.Read.All")
	apps := b.apps(t, 25, "inventory")
	total, _, err := b.dir.Counts(b.tenant.ID)
	require.NoError(t, err)

	items, link, pages := b.round(t, reader, "/v1.0/applications/delta")
	require.Len(t, items, total)
	require.Equal(t, 3, pages)

	// Nothing changed: an empty round.
	items, link, _ = b.round(t, reader, link)
	require.Empty(t, items)

	// A credential added, an owner added, an application deleted and one created.
	_, _, err = b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: apps[3].Ref()})
	require.NoError(t, err)
	u, err := b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Quinn Diaz"})
	require.NoError(t, err)
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, apps[4].Ref(), u.Ref()))
	require.NoError(t, b.dir.DeleteApplication(b.tenant.ID, apps[5].ID, "test"))
	created := b.apps(t, 1, "late")[0]

	items, link, _ = b.round(t, reader, link)
	require.Len(t, items, 4)
	byID := map[string]map[string]any{}
	for _, it := range items {
		byID[it["id"].(string)] = it
	}
	require.Len(t, byID[apps[3].ID]["passwordCredentials"], 1)
	require.Equal(t, map[string]any{"reason": "changed"}, byID[apps[5].ID]["@removed"])
	require.Len(t, byID[apps[5].ID], 2, "a removed object is its id and @removed")
	require.Equal(t, "late-000", byID[created.ID]["displayName"])
	require.Contains(t, byID, apps[4].ID)

	// Permanent deletion is reported as "deleted".
	require.NoError(t, b.dir.PurgeApplication(b.tenant.ID, apps[5].ID))
	items, link, _ = b.round(t, reader, link)
	require.Len(t, items, 1)
	require.Equal(t, map[string]any{"reason": "deleted"}, items[0]["@removed"])

	// Tokens outlive neither seven days nor a forged byte.
	r := b.do(t, reader, "GET", link+"x", nil)
	requireError(t, r, 410, "syncStateNotFound")
	require.Equal(t, b.https.URL+"/v1.0/applications/delta", r.header.Get("Location"))
	b.clock.Advance(8 * 24 * time.Hour)
	reader = b.client(t, "reader-2", "Application.Read.All")
	r = b.do(t, reader, "GET", link, nil)
	requireError(t, r, 410, "syncStateNotFound")
	require.Equal(t, "syncStateNotFound", r.body["error"].(map[string]any)["code"])
}

func TestDeltaOptions(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{graph: graph.Options{DeltaPageSize: 10}})
	reader := b.client(t, "reader", "Application.Read.All")
	apps := b.apps(t, 5, "loyalty")

	// $select is kept across the round (id always comes along); $filter by id scopes it.
	filter := url.QueryEscape("id eq '" + apps[1].ID + "' or id eq '" + apps[2].ID + "'")
	items, link, _ := b.round(t, reader, "/v1.0/applications/delta?$select=displayName&$filter="+filter)
	require.Len(t, items, 2)
	for _, it := range items {
		require.Len(t, it, 2)
		require.Contains(t, it, "id")
		require.Contains(t, it, "displayName")
	}
	require.NoError(t, b.dir.Update(directory.UpdateParams{TenantID: b.tenant.ID, Object: apps[2].Ref(), DisplayName: ptr("loyalty-renamed")}))
	require.NoError(t, b.dir.Update(directory.UpdateParams{TenantID: b.tenant.ID, Object: apps[3].Ref(), DisplayName: ptr("not-tracked")}))
	items, _, _ = b.round(t, reader, link)
	require.Equal(t, []map[string]any{{"id": apps[2].ID, "displayName": "loyalty-renamed"}}, items)

	// "Sync from now".
	r := b.do(t, reader, "GET", "/v1.0/applications/delta?$deltatoken=latest", nil)
	require.Equal(t, 200, r.status)
	require.Empty(t, values(r))
	link = r.body["@odata.deltaLink"].(string)
	b.apps(t, 1, "after")
	items, _, _ = b.round(t, reader, link)
	require.Len(t, items, 1)

	// Only id filters are supported.
	r = b.do(t, reader, "GET", "/v1.0/applications/delta?$filter="+url.QueryEscape("displayName eq 'x'"), nil)
	requireError(t, r, 400, "Request_UnsupportedQuery")

	// Service principals have their own delta.
	r = b.do(t, reader, "GET", "/v1.0/servicePrincipals/delta()", nil)
	require.Equal(t, 200, r.status, string(r.raw))
	require.Contains(t, r.body["@odata.deltaLink"], b.https.URL+"/v1.0/servicePrincipals/delta?$deltatoken=")
	_, sps, err := b.dir.Counts(b.tenant.ID)
	require.NoError(t, err)
	require.Len(t, values(r), sps)
}

func TestDeltaOwnedBy(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	owner := b.client(t, "owner", "Application.ReadWrite.OwnedBy")
	apps := b.apps(t, 3, "hr")
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, apps[0].Ref(), owner.sp.Ref()))
	items, _, _ := b.round(t, owner, "/v1.0/applications/delta")
	require.Len(t, items, 1)
	require.Equal(t, apps[0].ID, items[0]["id"])
}

func ptr[T any](v T) *T { return &v }
