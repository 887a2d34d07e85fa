package keyvault_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim/keyvault"
)

const av = "?api-version=7.4"

func TestUnauthenticatedRequestGetsTheChallenge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp := b.raw(t, http.MethodPut, "/secrets/anything"+av, "", nil)
	require.Equal(t, http.StatusUnauthorized, resp.status)
	require.Equal(t, `Bearer authorization="https://127.0.0.1:1/`+testTenant+`", resource="https://vault.azure.net"`,
		resp.header.Get("WWW-Authenticate"))
	require.JSONEq(t, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`, string(resp.body))
	require.Equal(t, "application/json; charset=utf-8", resp.header.Get("Content-Type"))
	require.Equal(t, testStart.Format(http.TimeFormat), resp.header.Get("Date"), "Date follows the vault's clock")
	for _, h := range []string{"x-ms-request-id", "x-ms-keyvault-service-version", "x-ms-keyvault-region", "x-ms-keyvault-network-info"} {
		require.NotEmpty(t, resp.header.Get(h), h)
	}
	require.Contains(t, resp.header.Get("x-ms-keyvault-network-info"), "addr=127.0.0.1")
}

func TestTokenRejections(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := b.principal(t, keyvault.RoleAdministrator)
	expired := b.token(t, p)
	b.clock.Advance(2 * time.Hour)

	graphToken, err := b.auth.IssueToken(p, "https://graph.microsoft.com", time.Hour)
	require.NoError(t, err)
	stranger := p
	stranger.TenantID = otherTenant
	foreign := b.token(t, stranger)
	otherKey, err := keyvault.NewTestAuthenticator(b.clock).IssueToken(p, keyvault.Audience, time.Hour)
	require.NoError(t, err)

	tests := []struct {
		name, auth, wantMsg string
	}{
		{"expired token", "Bearer " + expired, "Token expired."},
		{"token for Microsoft Graph", "Bearer " + graphToken, "AKV10022: Invalid audience. Expected https://vault.azure.net."},
		{"token of another tenant", "Bearer " + foreign, "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/" + testTenant + "/, found https://sts.windows.net/" + otherTenant + "/."},
		{"token signed by someone else", "Bearer " + otherKey, "Token validation failed."},
		{"basic authentication", "Basic dXNlcjpwYXNz", "AKV10000: Request is missing a Bearer or PoP token."},
		{"empty bearer", "Bearer ", "AKV10000: Request is missing a Bearer or PoP token."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/secrets"+av, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", tt.auth)
			resp, err := b.srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
			var body struct {
				Error struct{ Code, Message string }
			}
			require.NoError(t, jsonDecode(resp, &body))
			require.Equal(t, "Unauthorized", body.Error.Code)
			require.Equal(t, tt.wantMsg, body.Error.Message)
		})
	}
}

func TestAPIVersion(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleReader))
	tests := []struct {
		query      string
		wantStatus int
		wantMsg    string
	}{
		{"", http.StatusBadRequest, "The 'api-version' query parameter is missing"},
		{"?api-version=", http.StatusBadRequest, "The 'api-version' query parameter is missing"},
		{"?api-version=7.9", http.StatusBadRequest, "The specified version (7.9) is not recognized. Consider using the latest supported version (2026-04-01)."},
		{"?api-version=latest", http.StatusBadRequest, "The specified version (latest) is not recognized"},
		{"?api-version=7.3", http.StatusOK, ""},
		{"?api-version=7.4", http.StatusOK, ""},
		{"?api-version=7.6", http.StatusOK, ""},
		{"?api-version=2025-07-01", http.StatusOK, ""},
		{"?api-version=2026-04-01", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			resp := b.raw(t, http.MethodGet, "/secrets"+tt.query, tok, nil)
			require.Equal(t, tt.wantStatus, resp.status, "%s", resp.body)
			if tt.wantMsg != "" {
				code, _ := resp.errorCode(t)
				require.Equal(t, "BadParameter", code)
				require.Contains(t, string(resp.body), tt.wantMsg)
			}
		})
	}
}

func TestDocumentedLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	tags := func(n, keyLen, valLen int) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%03d", i) + strings.Repeat("k", max(keyLen-3, 0))
			m[k] = strings.Repeat("v", valLen)
		}
		return m
	}
	tests := []struct {
		name   string
		secret string
		body   any
		want   int
	}{
		{"25 KB value", "ok", map[string]any{"value": strings.Repeat("x", 25*1024)}, http.StatusOK},
		{"value one byte over 25 KB", "big", map[string]any{"value": strings.Repeat("x", 25*1024+1)}, http.StatusBadRequest},
		{"15 tags", "ok", map[string]any{"value": "v", "tags": tags(15, 3, 1)}, http.StatusOK},
		{"16 tags", "ok", map[string]any{"value": "v", "tags": tags(16, 3, 1)}, http.StatusBadRequest},
		{"512-character tag name and value", "ok", map[string]any{"value": "v", "tags": tags(1, 512, 512)}, http.StatusOK},
		{"513-character tag name", "ok", map[string]any{"value": "v", "tags": tags(1, 513, 1)}, http.StatusBadRequest},
		{"513-character tag value", "ok", map[string]any{"value": "v", "tags": tags(1, 3, 513)}, http.StatusBadRequest},
		{"255-character content type", "ok", map[string]any{"value": "v", "contentType": strings.Repeat("c", 255)}, http.StatusOK},
		{"256-character content type", "ok", map[string]any{"value": "v", "contentType": strings.Repeat("c", 256)}, http.StatusBadRequest},
		{"127-character name", strings.Repeat("n", 127), map[string]any{"value": "v"}, http.StatusOK},
		{"128-character name", strings.Repeat("n", 128), map[string]any{"value": "v"}, http.StatusBadRequest},
		{"underscore in name", "bad_name", map[string]any{"value": "v"}, http.StatusBadRequest},
		{"dot in name", "bad.name", map[string]any{"value": "v"}, http.StatusBadRequest},
		{"missing value", "ok", map[string]any{"contentType": "x"}, http.StatusBadRequest},
		{"empty body", "ok", "", http.StatusBadRequest},
		{"not JSON", "ok", "{value:", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := b.raw(t, http.MethodPut, "/secrets/"+tt.secret+av, tok, tt.body)
			require.Equal(t, tt.want, resp.status, "%s", resp.body)
			if tt.want == http.StatusBadRequest {
				code, _ := resp.errorCode(t)
				require.Equal(t, "BadParameter", code)
			}
		})
	}

	t.Run("update with 16 tags", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/upd"+av, tok, map[string]any{"value": "v"}).status)
		resp := b.raw(t, http.MethodPatch, "/secrets/upd/"+av, tok, map[string]any{"tags": tags(16, 3, 1)})
		require.Equal(t, http.StatusBadRequest, resp.status)
	})
}

func TestPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	for _, n := range []string{"e", "c", "a", "d", "b"} {
		require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/"+n+av, tok, map[string]any{"value": n}).status)
	}

	var names []string
	next := "/secrets" + av + "&maxresults=2"
	pages := 0
	for next != "" {
		resp := b.raw(t, http.MethodGet, next, tok, nil)
		require.Equal(t, http.StatusOK, resp.status, "%s", resp.body)
		m := resp.json(t)
		require.Contains(t, m, "nextLink", "nextLink is always present, null on the last page")
		items := m["value"].([]any)
		require.LessOrEqual(t, len(items), 2)
		for _, it := range items {
			id := it.(map[string]any)["id"].(string)
			names = append(names, id[strings.LastIndex(id, "/")+1:])
		}
		pages++
		next = ""
		if link, ok := m["nextLink"].(string); ok {
			require.True(t, strings.HasPrefix(link, b.srv.URL+"/secrets?api-version=7.4&$skiptoken="), link)
			require.True(t, strings.HasSuffix(link, "&maxresults=2"), link)
			next = strings.TrimPrefix(link, b.srv.URL)
		}
	}
	require.Equal(t, 3, pages)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, names)

	for _, q := range []string{"&maxresults=0", "&maxresults=26", "&maxresults=two", "&$skiptoken=garbage"} {
		resp := b.raw(t, http.MethodGet, "/secrets"+av+q, tok, nil)
		require.Equal(t, http.StatusBadRequest, resp.status, q)
	}

	resp := b.raw(t, http.MethodGet, "/secrets/never-set/versions"+av, tok, nil)
	require.Equal(t, http.StatusOK, resp.status)
	require.JSONEq(t, `{"value":[],"nextLink":null}`, string(resp.body))
}

func TestAsynchronousDeleteRecoverPurge(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *keyvault.Config) { c.Propagation = keyvault.RealisticPropagation })
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	put := func() rawResponse {
		return b.raw(t, http.MethodPut, "/secrets/s"+av, tok, map[string]any{"value": "v"})
	}
	status := func(method, path string) int { return b.raw(t, method, path+av, tok, nil).status }
	conflict := func(wantInner string) {
		t.Helper()
		resp := put()
		require.Equal(t, http.StatusConflict, resp.status)
		code, inner := resp.errorCode(t)
		require.Equal(t, "Conflict", code)
		require.Equal(t, wantInner, inner)
	}

	require.Equal(t, http.StatusOK, put().status)
	require.Equal(t, http.StatusOK, status(http.MethodDelete, "/secrets/s"))
	require.Equal(t, http.StatusNotFound, status(http.MethodGet, "/secrets/s/"), "gone from /secrets at once")
	require.Equal(t, http.StatusNotFound, status(http.MethodGet, "/deletedsecrets/s"), "not yet in /deletedsecrets")
	require.Equal(t, http.StatusNotFound, status(http.MethodDelete, "/secrets/s"))
	conflict("ObjectIsBeingDeleted")

	b.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusOK, status(http.MethodGet, "/deletedsecrets/s"))
	conflict("ObjectIsDeletedButRecoverable")

	require.Equal(t, http.StatusOK, status(http.MethodPost, "/deletedsecrets/s/recover"))
	require.Equal(t, http.StatusNotFound, status(http.MethodGet, "/deletedsecrets/s"))
	require.Equal(t, http.StatusNotFound, status(http.MethodGet, "/secrets/s/"), "recovery not yet visible")
	b.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusOK, status(http.MethodGet, "/secrets/s/"))

	require.Equal(t, http.StatusOK, status(http.MethodDelete, "/secrets/s"))
	b.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusNoContent, status(http.MethodDelete, "/deletedsecrets/s"))
	require.Equal(t, http.StatusNotFound, status(http.MethodGet, "/deletedsecrets/s"))
	conflict("ObjectIsBeingDeleted")
	b.clock.Advance(5 * time.Second)
	require.Equal(t, http.StatusOK, put().status)
}

func TestRetentionEndsInAutomaticPurge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/s"+av, tok, map[string]any{"value": "v"}).status)
	del := b.raw(t, http.MethodDelete, "/secrets/s"+av, tok, nil)
	require.Equal(t, http.StatusOK, del.status)
	require.Equal(t, float64(testStart.Add(7*24*time.Hour).Unix()), del.json(t)["scheduledPurgeDate"])

	b.clock.Advance(7*24*time.Hour - time.Second)
	tok = b.token(t, b.principal(t, keyvault.RoleSecretsOfficer)) // the first token has expired
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodGet, "/deletedsecrets/s"+av, tok, nil).status)
	b.clock.Advance(time.Second)
	require.Equal(t, http.StatusNotFound, b.raw(t, http.MethodGet, "/deletedsecrets/s"+av, tok, nil).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/s"+av, tok, map[string]any{"value": "v"}).status)
}

func TestRecoveryLevelAndPurgeProtection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		retention  int
		protection bool
		wantLevel  string
	}{
		{90, false, "Recoverable+Purgeable"},
		{90, true, "Recoverable"},
		{7, false, "CustomizedRecoverable+Purgeable"},
		{30, true, "CustomizedRecoverable"},
	}
	for _, tt := range tests {
		t.Run(tt.wantLevel, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *keyvault.Config) {
				c.SoftDeleteRetentionDays = tt.retention
				c.PurgeProtection = tt.protection
			})
			tok := b.token(t, b.principal(t, keyvault.RoleAdministrator))
			set := b.raw(t, http.MethodPut, "/secrets/s"+av, tok, map[string]any{"value": "v"})
			attrs := set.json(t)["attributes"].(map[string]any)
			require.Equal(t, tt.wantLevel, attrs["recoveryLevel"])
			require.Equal(t, float64(tt.retention), attrs["recoverableDays"])

			require.Equal(t, http.StatusOK, b.raw(t, http.MethodDelete, "/secrets/s"+av, tok, nil).status)
			purge := b.raw(t, http.MethodDelete, "/deletedsecrets/s"+av, tok, nil)
			if tt.protection {
				require.Equal(t, http.StatusForbidden, purge.status)
				code, _ := purge.errorCode(t)
				require.Equal(t, "Forbidden", code)
				require.Equal(t, http.StatusOK, b.raw(t, http.MethodGet, "/deletedsecrets/s"+av, tok, nil).status)
			} else {
				require.Equal(t, http.StatusNoContent, purge.status)
			}
		})
	}
}

func TestRoleAssignments(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *keyvault.Config) { c.Propagation.RoleAssignment = time.Minute })
	admin := b.principal(t, "")
	_, err := b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: admin.ObjectID, Role: keyvault.RoleAdministrator, EffectiveAt: testStart})
	require.NoError(t, err)
	adminTok := b.token(t, admin)
	for _, n := range []string{"mine", "theirs"} {
		require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/"+n+av, adminTok, map[string]any{"value": n}).status)
	}

	user := b.principal(t, "")
	a, err := b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: user.ObjectID, Role: keyvault.RoleSecretsUser, Secret: "MINE"})
	require.NoError(t, err)
	require.NotEmpty(t, a.ID)
	require.Equal(t, testStart.Add(time.Minute), a.EffectiveAt)
	tok := b.token(t, user)

	denied := b.raw(t, http.MethodGet, "/secrets/mine/"+av, tok, nil)
	require.Equal(t, http.StatusForbidden, denied.status, "assignments take time to propagate")
	code, inner := denied.errorCode(t)
	require.Equal(t, "Forbidden", code)
	require.Equal(t, "ForbiddenByRbac", inner)
	msg := denied.json(t)["error"].(map[string]any)["message"].(string)
	require.True(t, strings.HasPrefix(msg, "Caller is not authorized to perform action on resource.\r\n"), msg)
	require.Contains(t, msg, "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n")
	require.Contains(t, msg, "oid="+user.ObjectID)
	require.Contains(t, msg, "/providers/microsoft.keyvault/vaults/rotor-test/secrets/mine'")

	b.clock.Advance(time.Minute)
	tok = b.token(t, user)
	ok := b.raw(t, http.MethodGet, "/secrets/mine/"+av, tok, nil)
	require.Equal(t, http.StatusOK, ok.status, "secret scope is case-insensitive")
	require.Equal(t, a.ID, ok.header.Get("x-ms-keyvault-rbac-assignment-id"))
	require.Equal(t, http.StatusForbidden, b.raw(t, http.MethodGet, "/secrets/theirs/"+av, tok, nil).status, "scoped to one secret")
	require.Equal(t, http.StatusForbidden, b.raw(t, http.MethodGet, "/secrets"+av, tok, nil).status, "listing needs a vault-wide role")

	require.NoError(t, b.vault.RemoveRoleAssignment(a.ID))
	require.Equal(t, http.StatusForbidden, b.raw(t, http.MethodGet, "/secrets/mine/"+av, tok, nil).status)
	require.Error(t, b.vault.RemoveRoleAssignment(a.ID))

	_, err = b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: user.ObjectID, Role: "Owner"})
	require.ErrorContains(t, err, `unknown role "Owner"`)
	_, err = b.vault.AssignRole(keyvault.RoleAssignment{Role: keyvault.RoleReader})
	require.ErrorContains(t, err, "PrincipalID is empty")
}

func TestRoleDataActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role    keyvault.Role
		allowed []string
		denied  []string
	}{
		{keyvault.RoleAdministrator, []string{keyvault.ActionGetSecret, keyvault.ActionSetSecret, keyvault.ActionPurge, keyvault.ActionRestore}, nil},
		{keyvault.RoleSecretsOfficer, []string{keyvault.ActionGetSecret, keyvault.ActionSetSecret, keyvault.ActionUpdate, keyvault.ActionDelete, keyvault.ActionRecover, keyvault.ActionPurge, keyvault.ActionBackup, keyvault.ActionRestore, keyvault.ActionReadMetadata}, []string{"Microsoft.KeyVault/vaults/keys/read"}},
		{keyvault.RoleSecretsUser, []string{keyvault.ActionGetSecret, keyvault.ActionReadMetadata}, []string{keyvault.ActionSetSecret, keyvault.ActionUpdate, keyvault.ActionDelete, keyvault.ActionPurge}},
		{keyvault.RoleReader, []string{keyvault.ActionReadMetadata, "Microsoft.KeyVault/vaults/keys/read"}, []string{keyvault.ActionGetSecret, keyvault.ActionSetSecret, keyvault.ActionDelete}},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, tt.role.ID())
			for _, a := range tt.allowed {
				require.True(t, tt.role.Allows(a), a)
			}
			for _, a := range tt.denied {
				require.False(t, tt.role.Allows(a), a)
			}
		})
	}
}

func TestDisabledCurrentVersionIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	set := b.raw(t, http.MethodPut, "/secrets/s"+av, tok, map[string]any{"value": "v", "attributes": map[string]any{"enabled": false}})
	require.Equal(t, http.StatusOK, set.status)
	require.Equal(t, false, set.json(t)["attributes"].(map[string]any)["enabled"])

	get := b.raw(t, http.MethodGet, "/secrets/s/"+av, tok, nil)
	require.Equal(t, http.StatusForbidden, get.status)
	code, inner := get.errorCode(t)
	require.Equal(t, "Forbidden", code)
	require.Equal(t, "SecretDisabled", inner)

	// Metadata stays readable, and enabling it again restores access.
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodGet, "/secrets/s/versions"+av, tok, nil).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPatch, "/secrets/s/"+av, tok, map[string]any{"attributes": map[string]any{"enabled": true}}).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodGet, "/secrets/s/"+av, tok, nil).status)
}

func TestExpiredAndNotYetValidSecretsCanBeRead(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	past, future := testStart.Add(-time.Hour).Unix(), testStart.Add(time.Hour).Unix()
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/expired"+av, tok, map[string]any{"value": "v", "attributes": map[string]any{"exp": past}}).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/early"+av, tok, map[string]any{"value": "v", "attributes": map[string]any{"nbf": future}}).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodGet, "/secrets/expired/"+av, tok, nil).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodGet, "/secrets/early/"+av, tok, nil).status)
}

func TestNamesAreCaseInsensitive(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/MySecret"+av, tok, map[string]any{"value": "one"}).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/mysecret"+av, tok, map[string]any{"value": "two"}).status)
	get := b.raw(t, http.MethodGet, "/secrets/MYSECRET/"+av, tok, nil)
	require.Equal(t, http.StatusOK, get.status)
	m := get.json(t)
	require.Equal(t, "two", m["value"])
	require.Contains(t, m["id"], "/secrets/MySecret/", "the name keeps the case it was created with")
	list := b.raw(t, http.MethodGet, "/secrets/mySECRET/versions"+av, tok, nil)
	require.Len(t, list.json(t)["value"], 2)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleAdministrator))
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/keys", http.StatusNotImplemented},
		{http.MethodPut, "/certificates/c", http.StatusNotImplemented},
		{http.MethodGet, "/nothing/here", http.StatusNotFound},
		{http.MethodDelete, "/secrets", http.StatusMethodNotAllowed},
		{http.MethodPost, "/secrets/s", http.StatusMethodNotAllowed},
		{http.MethodGet, "/secrets/s/0123456789abcdef0123456789abcdef", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			resp := b.raw(t, tt.method, tt.path+av, tok, nil)
			require.Equal(t, tt.want, resp.status, "%s", resp.body)
			code, _ := resp.errorCode(t)
			require.NotEmpty(t, code)
		})
	}
}

func TestSecretNamedRestoreAndBackup(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/restore"+av, tok, map[string]any{"value": "r"}).status)
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodPut, "/secrets/backup"+av, tok, map[string]any{"value": "b"}).status)
	require.Equal(t, "r", b.raw(t, http.MethodGet, "/secrets/restore"+av, tok, nil).json(t)["value"])
	require.Equal(t, "b", b.raw(t, http.MethodGet, "/secrets/backup/"+av, tok, nil).json(t)["value"])
	bad := b.raw(t, http.MethodPost, "/secrets/restore"+av, tok, map[string]any{"value": "bm90LWEtYmFja3Vw"})
	require.Equal(t, http.StatusBadRequest, bad.status)
}

func TestSnapshotAndSeeding(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	nbf := testStart.Add(-time.Hour)
	v1, err := b.vault.SetSecret("seeded", secret.New("seed-value-1"), keyvault.SecretProperties{
		ContentType: "text/plain", Tags: map[string]string{"env": "dev"}, NotBefore: &nbf,
	})
	require.NoError(t, err)
	b.clock.Advance(time.Second)
	v2, err := b.vault.SetSecret("seeded", secret.New("seed-value-2"), keyvault.SecretProperties{Enabled: to(false)})
	require.NoError(t, err)
	_, err = b.vault.SetSecret("gone", secret.New("x"), keyvault.SecretProperties{})
	require.NoError(t, err)
	_, err = b.vault.SetSecret("not valid!", secret.New("x"), keyvault.SecretProperties{})
	require.ErrorContains(t, err, "invalid name")

	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	require.Equal(t, http.StatusOK, b.raw(t, http.MethodDelete, "/secrets/gone"+av, tok, nil).status)

	s := b.vault.Snapshot()
	require.Equal(t, "rotor-test", s.Name)
	require.Equal(t, "CustomizedRecoverable+Purgeable", s.RecoveryLevel)
	require.Len(t, s.RoleAssignments, 1)
	require.Len(t, s.Secrets, 2)
	gone, seeded := s.Secrets[0], s.Secrets[1]
	require.Equal(t, "gone", gone.Name)
	require.Equal(t, keyvault.StateDeleted, gone.State)
	require.Equal(t, testStart.Add(time.Second), gone.DeletedDate)
	require.Equal(t, testStart.Add(time.Second+7*24*time.Hour), gone.ScheduledPurgeDate)

	require.Equal(t, keyvault.StateActive, seeded.State)
	require.Len(t, seeded.Versions, 2)
	first, second := seeded.Versions[0], seeded.Versions[1]
	require.Equal(t, v1, first.ID)
	require.Equal(t, "seed-value-1", first.Value.Reveal())
	require.Equal(t, "text/plain", first.ContentType)
	require.Equal(t, map[string]string{"env": "dev"}, first.Tags)
	require.True(t, first.Enabled)
	require.Equal(t, nbf, *first.NotBefore)
	require.Equal(t, testStart, first.Created)
	require.Equal(t, v2, second.ID)
	require.False(t, second.Enabled)
	require.NotContains(t, fmt.Sprintf("%v %+v", s, s), "seed-value", "snapshot values never print")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	auth := keyvault.NewTestAuthenticator(nil)
	valid := keyvault.Config{Name: "rotor-vault", TenantID: testTenant, Authority: "https://127.0.0.1:8443", Authenticator: auth}
	_, err := keyvault.New(valid)
	require.NoError(t, err)
	tests := []struct {
		name    string
		mutate  func(*keyvault.Config)
		wantErr string
	}{
		{"name too short", func(c *keyvault.Config) { c.Name = "kv" }, `name "kv"`},
		{"name with consecutive hyphens", func(c *keyvault.Config) { c.Name = "rotor--vault" }, "name"},
		{"name starting with a digit", func(c *keyvault.Config) { c.Name = "1vault" }, "name"},
		{"no tenant", func(c *keyvault.Config) { c.TenantID = "" }, "tenant_id: required"},
		{"no authority", func(c *keyvault.Config) { c.Authority = "" }, "authority"},
		{"authority with a path", func(c *keyvault.Config) { c.Authority = "https://127.0.0.1:8443/entra" }, "without a path"},
		{"plain http authority", func(c *keyvault.Config) { c.Authority = "http://127.0.0.1:8443" }, "authority"},
		{"no authenticator", func(c *keyvault.Config) { c.Authenticator = nil }, "authenticator: required"},
		{"retention too short", func(c *keyvault.Config) { c.SoftDeleteRetentionDays = 6 }, "soft_delete_retention_days 6"},
		{"retention too long", func(c *keyvault.Config) { c.SoftDeleteRetentionDays = 91 }, "soft_delete_retention_days 91"},
		{"negative delay", func(c *keyvault.Config) { c.Propagation.Delete = -time.Second }, "propagation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.mutate(&c)
			_, err := keyvault.New(c)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestFaultErrorWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status     int
		retryAfter time.Duration
		wantCode   string
		wantRetry  string
	}{
		{http.StatusTooManyRequests, 1500 * time.Millisecond, "Throttled", "2"},
		{http.StatusServiceUnavailable, 0, "ServiceUnavailable", ""},
		{http.StatusInternalServerError, 0, "InternalServerError", ""},
	}
	for _, tt := range tests {
		t.Run(tt.wantCode, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			keyvault.FaultErrorWriter(rec, httptest.NewRequest(http.MethodGet, "/secrets", nil), tt.status, tt.retryAfter)
			require.Equal(t, tt.status, rec.Code)
			require.Equal(t, tt.wantRetry, rec.Header().Get("Retry-After"))
			require.NotEmpty(t, rec.Header().Get("x-ms-request-id"))
			require.Contains(t, rec.Body.String(), `"code":"`+tt.wantCode+`"`)
		})
	}
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tok := b.token(t, b.principal(t, keyvault.RoleSecretsOfficer))
	const writers, each = 8, 10
	errs := make(chan error, writers*each*2)
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for _, req := range []struct{ method, path, body string }{
					{http.MethodPut, "/secrets/shared" + av, `{"value":"v"}`},
					{http.MethodGet, "/secrets/shared/" + av, ""},
				} {
					r, err := http.NewRequest(req.method, b.srv.URL+req.path, strings.NewReader(req.body))
					if err != nil {
						errs <- err
						continue
					}
					r.Header.Set("Authorization", "Bearer "+tok)
					resp, err := b.srv.Client().Do(r)
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("%s %s: status %d", req.method, req.path, resp.StatusCode)
						}
					}
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	s := b.vault.Snapshot()
	require.Len(t, s.Secrets, 1)
	require.Len(t, s.Secrets[0].Versions, writers*each)
}
