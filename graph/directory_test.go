package graph

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

func TestParseISODuration(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{"P90D": 90 * day, "P1Y": 365 * day, "P2W": 14 * day, "PT12H": 12 * time.Hour,
		"P1DT2H30M": day + 150*time.Minute, "P6M": 180 * day} {
		got, err := ParseISODuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "P", "PT", "90D", "P1.5D", "P-1D"} {
		_, err := ParseISODuration(bad)
		require.Error(t, err, bad)
	}
}

func TestRestriction(t *testing.T) {
	t.Parallel()
	cut := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rs := []CredentialRestriction{
		{RestrictionType: "passwordLifetime", MaxLifetime: "P180D"},
		{RestrictionType: "passwordLifetime", MaxLifetime: "P90D", RestrictForAppsCreatedAfterDateTime: &cut},
		{RestrictionType: "passwordAddition", State: "disabled"},
	}
	old, err := restriction(rs, cut.Add(-time.Hour), "tenant default")
	require.NoError(t, err)
	require.Equal(t, rotor.SecretRestriction{MaxLifetime: 180 * 24 * time.Hour, Source: "tenant default"}, old, "apps created before the cut-off keep the looser rule")
	young, err := restriction(rs, cut.Add(time.Hour), "tenant default")
	require.NoError(t, err)
	require.Equal(t, 90*24*time.Hour, young.MaxLifetime, "the strictest applicable lifetime wins")
	require.False(t, young.Blocked, "a disabled restriction does not apply")

	blocked, err := restriction([]CredentialRestriction{{RestrictionType: "passwordAddition", State: "enabled"}}, time.Time{}, "p")
	require.NoError(t, err)
	require.True(t, blocked.Blocked)
	_, err = restriction([]CredentialRestriction{{RestrictionType: "passwordLifetime", MaxLifetime: "ninety days"}}, time.Time{}, "p")
	require.ErrorContains(t, err, `p: passwordLifetime: "ninety days" is not an ISO 8601 duration`)
}

func TestDirectorySecrets(t *testing.T) {
	t.Parallel()
	removed := false
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/addPassword"):
			writeJSON(w, map[string]any{"keyId": keyGUID, "displayName": "rotor:r1", "hint": "fak", "secretText": fakeText,
				"startDateTime": "2026-11-21T09:00:00Z", "endDateTime": "2027-05-20T09:00:00Z"})
		case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/removePassword"):
			graphError(w, http.StatusBadRequest, "Request_BadRequest", nil)
		case r.Method == "GET":
			require.Equal(t, "id,appId,passwordCredentials", r.URL.Query().Get("$select"))
			creds := []any{}
			if !removed {
				creds = append(creds, map[string]any{"keyId": "22222222-2222-4222-8222-222222222222", "displayName": "other", "endDateTime": "2027-01-01T00:00:00Z"})
			}
			writeJSON(w, map[string]any{"id": appObj, "appId": "33333333-3333-4333-8333-333333333333", "passwordCredentials": creds})
		}
	})
	d := NewDirectory(b.client)
	owner := rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: appObj}
	ns, err := d.AddSecret(t.Context(), owner, "rotor:r1", time.Date(2027, 5, 20, 9, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, keyGUID, ns.KeyID)
	require.Equal(t, fakeText, ns.Value.Reveal())
	require.Equal(t, time.Date(2027, 5, 20, 9, 0, 0, 0, time.UTC), ns.EndAt)

	list, err := d.ListSecrets(t.Context(), owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "33333333-3333-4333-8333-333333333333", list[0].AppID)
	require.Equal(t, rotor.KindSecret, list[0].Kind)

	// A 400 for a keyId that is present stands; for one that is absent it means "gone already".
	err = d.RemoveSecret(t.Context(), owner, "22222222-2222-4222-8222-222222222222")
	require.Error(t, err)
	require.NotErrorIs(t, err, rotor.ErrNotFound)
	err = d.RemoveSecret(t.Context(), owner, keyGUID)
	require.ErrorIs(t, err, rotor.ErrNotFound)
}

func TestDirectoryAppOwners(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request, n int) {
		require.Equal(t, "/v1.0/applications/"+appObj+"/owners", r.URL.Path)
		writeJSON(w, map[string]any{"value": []any{
			map[string]any{"@odata.type": "#microsoft.graph.user", "id": "44444444-4444-4444-8444-444444444444", "displayName": "Ada Lovelace",
				"mail": "ada@contoso.com", "userPrincipalName": "ada@contoso.onmicrosoft.com"},
			map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": "55555555-5555-4555-8555-555555555555", "displayName": "rotor",
				"appId": "66666666-6666-4666-8666-666666666666"},
		}})
	})
	owners, err := NewDirectory(b.client).AppOwners(t.Context(), appObj)
	require.NoError(t, err)
	require.Equal(t, []rotor.Owner{
		{ID: "44444444-4444-4444-8444-444444444444", Type: "user", DisplayName: "Ada Lovelace", Mail: "ada@contoso.com", UserPrincipalName: "ada@contoso.onmicrosoft.com"},
		{ID: "55555555-5555-4555-8555-555555555555", Type: "servicePrincipal", DisplayName: "rotor"},
	}, owners)
}
