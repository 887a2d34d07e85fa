package graph_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/entra"
	"github.com/rotorhq/rotor/sim/graph"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	keyOnce           sync.Once
	signingKey, certK *rsa.PrivateKey
)

func keys() (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if signingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if certK, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return signingKey, certK
}

// client is an application of the test tenant that calls Graph.
type client struct {
	app   directory.Application
	sp    directory.ServicePrincipal
	token string
}

type bundle struct {
	clock  *clockwork.FakeClock
	dir    *directory.Directory
	login  *entra.Server
	graph  *graph.Server
	https  *httptest.Server
	tenant directory.Tenant
}

type setupOptions struct {
	dir   directory.Options
	graph graph.Options
}

func setup(t *testing.T, o setupOptions) *bundle {
	t.Helper()
	sk, _ := keys()
	clock := clockwork.NewFakeClockAt(t0)
	o.dir.Clock = clock
	dir := directory.New(o.dir)
	ten, err := dir.AddTenant(directory.AddTenantParams{DisplayName: "Contoso"})
	require.NoError(t, err)
	login, err := entra.New(dir, entra.Options{SigningKey: sk})
	require.NoError(t, err)
	g := graph.New(dir, login.Verifier(), o.graph)
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", g.Handler())
	mux.Handle("/", login.Handler())
	https := httptest.NewTLSServer(mux)
	t.Cleanup(https.Close)
	return &bundle{clock: clock, dir: dir, login: login, graph: g, https: https, tenant: ten}
}

// client creates an application with the given Graph roles and a token for Graph.
func (b *bundle) client(t *testing.T, name string, roles ...string) *client {
	t.Helper()
	a, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: name})
	require.NoError(t, err)
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	for _, r := range roles {
		require.NoError(t, b.dir.GrantAppRole(b.tenant.ID, a.AppID, directory.MicrosoftGraphAppID, r))
	}
	_, text, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref()})
	require.NoError(t, err)
	return &client{app: a, sp: sp, token: b.tokenFor(t, a.AppID, text.Reveal(), "https://graph.microsoft.com/.default")}
}

func (b *bundle) tokenFor(t *testing.T, appID, secretText, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secretText}, "scope": {scope}}
	resp, err := b.https.Client().PostForm(b.https.URL+"/"+b.tenant.ID+"/oauth2/v2.0/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
	return body["access_token"].(string)
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (b *bundle) do(t *testing.T, c *client, method, path string, body any, headers ...string) response {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "https://") {
		target = b.https.URL + path
	}
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(t, err)
	if c != nil {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.https.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.body), string(raw))
	}
	return r
}

// requireError checks Graph's error shape and headers.
func requireError(t *testing.T, r response, status int, code string) {
	t.Helper()
	require.Equal(t, status, r.status, string(r.raw))
	e, ok := r.body["error"].(map[string]any)
	require.True(t, ok, string(r.raw))
	require.Equal(t, code, e["code"], string(r.raw))
	require.NotEmpty(t, e["message"])
	inner := e["innerError"].(map[string]any)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`, inner["date"])
	require.Equal(t, r.header.Get("request-id"), inner["request-id"])
	require.Equal(t, "c0ffee00-0000-4000-8000-000000000001", inner["client-request-id"])
	require.Equal(t, "c0ffee00-0000-4000-8000-000000000001", r.header.Get("client-request-id"))
	require.True(t, directory.IsGUID(r.header.Get("request-id")))
}

func message(r response) string { return r.body["error"].(map[string]any)["message"].(string) }

func values(r response) []map[string]any {
	var out []map[string]any
	for _, v := range r.body["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func (b *bundle) apps(t *testing.T, n int, prefix string) []directory.Application {
	t.Helper()
	var out []directory.Application
	for i := 0; i < n; i++ {
		a, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: fmt.Sprintf("%s-%03d", prefix, i)})
		require.NoError(t, err)
		out = append(out, a)
	}
	return out
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")
	b.apps(t, 250, "payments")
	total, _, err := b.dir.Counts(b.tenant.ID)
	require.NoError(t, err)

	r := b.do(t, reader, "GET", "/v1.0/applications?$top=100&$select=id,displayName", nil)
	require.Equal(t, 200, r.status, string(r.raw))
	require.Equal(t, "https://"+b.https.Listener.Addr().String()+"/v1.0/$metadata#applications(id,displayName)", r.body["@odata.context"])
	seen := map[string]bool{}
	pages := 0
	for {
		pages++
		for _, v := range values(r) {
			require.Len(t, v, 2, "only the selected properties")
			seen[v["id"].(string)] = true
		}
		next, ok := r.body["@odata.nextLink"].(string)
		if !ok {
			break
		}
		require.True(t, strings.HasPrefix(next, b.https.URL+"/v1.0/applications?$top=100&$select=id,displayName&$skiptoken="), next)
		r = b.do(t, reader, "GET", next, nil)
		require.Equal(t, 200, r.status, string(r.raw))
	}
	require.Equal(t, total, len(seen))
	require.Equal(t, 3, pages)

	// Default page size is 100, and every property is there.
	r = b.do(t, reader, "GET", "/v1.0/applications", nil)
	require.Len(t, values(r), 100)
	first := values(r)[0]
	for _, k := range []string{"id", "appId", "displayName", "createdDateTime", "signInAudience", "passwordCredentials", "keyCredentials", "tags", "api"} {
		require.Contains(t, first, k)
	}
	require.Equal(t, jsonContentTypePrefix, r.header.Get("Content-Type")[:len(jsonContentTypePrefix)])

	// A skip token from elsewhere is refused.
	r = b.do(t, reader, "GET", "/v1.0/applications?$skiptoken=bm9wZQ", nil)
	requireError(t, r, 400, "Directory_ExpiredPageToken")
}

const jsonContentTypePrefix = "application/json;odata.metadata=minimal"

func TestQueryOptionErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")
	tests := []struct {
		query  string
		code   string
		prefix string
	}{
		{"$top=0", "Request_UnsupportedQuery", "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."},
		{"$top=1000", "Request_UnsupportedQuery", "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."},
		{"$top=many", "Request_UnsupportedQuery", "Invalid page size specified: 'many'."},
		{"$filter=displayName eq 'x", "BadRequest", "Invalid filter clause: Syntax error at position 15"},
		{"$filter=displayName eq", "BadRequest", "Invalid filter clause: Syntax error"},
		{"$filter=displayName eq 'a' and", "BadRequest", "Invalid filter clause: Syntax error"},
		{"$filter=frobnicate(displayName,'a')", "BadRequest", "Invalid filter clause: An unknown function with name 'frobnicate'"},
		{"$filter=notes eq 'x'", "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'notes' of resource 'Application'."},
		{"$filter=displayName ne 'x'", "Request_UnsupportedQuery", "Operator 'ne' is not supported because the required parameters might be missing."},
		{"$filter=endswith(displayName,'x')", "Request_UnsupportedQuery", "Operator 'endsWith' is not supported"},
		{"$select=id,frobnicate", "Request_BadRequest", "Could not find a property named 'frobnicate' on type 'microsoft.graph.application'."},
		{"$search=\"displayName:pay\"", "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"},
		{"$count=maybe", "Request_BadRequest", "Invalid value 'maybe' for the $count query option."},
	}
	for _, tc := range tests {
		r := b.do(t, reader, "GET", "/v1.0/applications?"+strings.ReplaceAll(url.PathEscape(tc.query), "&", "%26"), nil)
		requireError(t, r, 400, tc.code)
		require.True(t, strings.HasPrefix(message(r), tc.prefix), "%s: %s", tc.query, message(r))
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")
	apps := b.apps(t, 12, "orders")
	b.apps(t, 3, "billing")
	names := func(filter string, headers ...string) []string {
		t.Helper()
		r := b.do(t, reader, "GET", "/v1.0/applications?$select=displayName&"+filter, nil, headers...)
		require.Equal(t, 200, r.status, "%s: %s", filter, r.raw)
		var out []string
		for _, v := range values(r) {
			out = append(out, v["displayName"].(string))
		}
		return out
	}
	q := url.QueryEscape
	require.Equal(t, []string{"orders-003"}, names("$filter="+q("displayName eq 'ORDERS-003'")))
	require.Len(t, names("$filter="+q("startswith(displayName,'billing')")), 3)
	require.Equal(t, []string{"orders-001"}, names("$filter="+q("appId eq '"+apps[1].AppID+"'")))
	require.Equal(t, []string{"orders-002"}, names("$filter="+q("id eq '"+apps[2].ID+"'")))
	require.Equal(t, []string{"orders-001", "orders-002"}, names("$filter="+q("appId in ('"+apps[1].AppID+"','"+apps[2].AppID+"')")))
	require.Equal(t, []string{"orders-000", "billing-000"}, names("$filter="+q("displayName eq 'orders-000' or (startswith(displayName,'bill') and endswith(displayName,'000'))")+"&$count=true", "ConsistencyLevel", "eventual"))
	require.Equal(t, []string{"orders-010", "orders-011"}, names("$filter="+q("startswith(displayName,'orders-01') and displayName ne 'orders-012'")+"&$count=true", "ConsistencyLevel", "eventual"))
	require.Empty(t, names("$filter="+q("displayName eq 'it''s'")))
}

func TestCount(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")
	b.apps(t, 5, "search")
	total, _, err := b.dir.Counts(b.tenant.ID)
	require.NoError(t, err)

	r := b.do(t, reader, "GET", "/v1.0/applications?$count=true&$top=2", nil, "ConsistencyLevel", "eventual")
	require.Equal(t, float64(total), r.body["@odata.count"])
	require.Len(t, values(r), 2)
	r = b.do(t, reader, "GET", "/v1.0/applications?$count=true", nil)
	require.NotContains(t, r.body, "@odata.count", "ignored without ConsistencyLevel, as Graph does")

	r = b.do(t, reader, "GET", "/v1.0/applications/$count", nil, "ConsistencyLevel", "eventual")
	require.Equal(t, 200, r.status)
	require.Equal(t, fmt.Sprint(total), string(r.raw))
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain"))
	r = b.do(t, reader, "GET", "/v1.0/applications/$count?$filter="+url.QueryEscape("startswith(displayName,'search')"), nil, "ConsistencyLevel", "eventual")
	require.Equal(t, "5", string(r.raw))
	r = b.do(t, reader, "GET", "/v1.0/applications/$count", nil)
	requireError(t, r, 400, "Request_UnsupportedQuery")
	require.True(t, strings.HasPrefix(message(r), "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing."))
}

func TestGetObjectsAndOwners(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")
	a := b.apps(t, 1, "shipping")[0]
	u, err := b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Riley Chen"})
	require.NoError(t, err)
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), u.Ref()))
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), reader.sp.Ref()))
	cert := newCert(t, "shipping", t0.Add(-time.Hour), t0.Add(24*time.Hour))
	_, err = b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: a.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: cert.Raw}})
	require.NoError(t, err)
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)

	for _, path := range []string{"/v1.0/applications/" + a.ID, "/v1.0/applications(appId='" + a.AppID + "')", "/v1.0/Applications/" + strings.ToUpper(a.ID)} {
		r := b.do(t, reader, "GET", path, nil)
		require.Equal(t, 200, r.status, "%s: %s", path, r.raw)
		require.Equal(t, a.ID, r.body["id"])
		require.True(t, strings.HasSuffix(r.body["@odata.context"].(string), "$metadata#applications/$entity"))
		keys := r.body["keyCredentials"].([]any)
		require.Len(t, keys, 1)
		require.Nil(t, keys[0].(map[string]any)["key"], "the key is returned only when keyCredentials is selected")
	}
	r := b.do(t, reader, "GET", "/v1.0/applications/"+a.ID+"?$select=id,keyCredentials", nil)
	require.Equal(t, 200, r.status)
	k := r.body["keyCredentials"].([]any)[0].(map[string]any)
	require.Equal(t, base64.StdEncoding.EncodeToString(cert.Raw), k["key"])
	s1 := sha1.Sum(cert.Raw) //nolint:gosec
	require.Equal(t, base64.StdEncoding.EncodeToString(s1[:]), k["customKeyIdentifier"])
	require.Equal(t, "AsymmetricX509Cert", k["type"])
	require.Equal(t, "Verify", k["usage"])

	for _, path := range []string{"/v1.0/servicePrincipals/" + sp.ID, "/v1.0/servicePrincipals(appId='" + a.AppID + "')"} {
		r := b.do(t, reader, "GET", path, nil)
		require.Equal(t, 200, r.status, string(r.raw))
		require.Equal(t, sp.ID, r.body["id"])
		require.Equal(t, b.tenant.ID, r.body["appOwnerOrganizationId"])
		require.Equal(t, "Application", r.body["servicePrincipalType"])
	}

	r = b.do(t, reader, "GET", "/v1.0/applications/"+a.ID+"/owners", nil)
	require.Equal(t, 200, r.status)
	require.True(t, strings.HasSuffix(r.body["@odata.context"].(string), "$metadata#directoryObjects"))
	owners := values(r)
	require.Len(t, owners, 2)
	require.Equal(t, "#microsoft.graph.user", owners[0]["@odata.type"])
	require.Equal(t, u.Mail, owners[0]["mail"])
	require.Equal(t, u.UserPrincipalName, owners[0]["userPrincipalName"])
	require.Equal(t, "#microsoft.graph.servicePrincipal", owners[1]["@odata.type"])
	require.Equal(t, reader.app.AppID, owners[1]["appId"])

	missing := "7f6d5c4b-3a29-4187-8695-a4b3c2d1e0f9"
	r = b.do(t, reader, "GET", "/v1.0/applications/"+missing, nil)
	requireError(t, r, 404, "Request_ResourceNotFound")
	require.Equal(t, "Resource '"+missing+"' does not exist or one of its queried reference-property objects are not present.", message(r))

	r = b.do(t, reader, "GET", "/v1.0/applications/not-an-id", nil)
	requireError(t, r, 400, "Request_BadRequest")
	require.Equal(t, "Invalid object identifier 'not-an-id'.", message(r))

	r = b.do(t, reader, "GET", "/v1.0/frobnicators", nil)
	requireError(t, r, 400, "BadRequest")
	r = b.do(t, reader, "DELETE", "/v1.0/applications/"+a.ID, nil)
	requireError(t, r, 405, "Request_BadRequest")
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")

	r := b.do(t, nil, "GET", "/v1.0/applications", nil)
	requireError(t, r, 401, "InvalidAuthenticationToken")
	require.Equal(t, "Access token is empty.", message(r))
	require.Contains(t, r.header.Get("WWW-Authenticate"), `Bearer realm=""`)

	r = b.do(t, &client{token: "not-a-jwt"}, "GET", "/v1.0/applications", nil)
	requireError(t, r, 401, "InvalidAuthenticationToken")

	// A token for Key Vault is not a token for Graph.
	_, text, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: reader.app.Ref()})
	require.NoError(t, err)
	kv := &client{token: b.tokenFor(t, reader.app.AppID, text.Reveal(), "https://vault.azure.net/.default")}
	r = b.do(t, kv, "GET", "/v1.0/applications", nil)
	requireError(t, r, 401, "InvalidAuthenticationToken")
	require.Equal(t, "Access token validation failure. Invalid audience.", message(r))

	b.clock.Advance(2 * time.Hour)
	r = b.do(t, reader, "GET", "/v1.0/applications", nil)
	requireError(t, r, 401, "InvalidAuthenticationToken")
	require.Equal(t, "Lifetime validation failed, the token is expired.", message(r))
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	nobody := b.client(t, "nobody")
	reader := b.client(t, "reader", "Application.Read.All")
	owner := b.client(t, "owner", "Application.ReadWrite.OwnedBy")
	writer := b.client(t, "writer", "Application.ReadWrite.All")
	apps := b.apps(t, 4, "team")
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, apps[1].Ref(), owner.sp.Ref()))
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, apps[3].Ref(), owner.sp.Ref()))
	sp3, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, apps[3].AppID)
	require.NoError(t, err)

	r := b.do(t, nobody, "GET", "/v1.0/applications", nil)
	requireError(t, r, 403, "Authorization_RequestDenied")
	require.Equal(t, "Insufficient privileges to complete the operation.", message(r))

	// OwnedBy lists and reads only what it owns.
	r = b.do(t, owner, "GET", "/v1.0/applications?$select=id", nil)
	require.Equal(t, 200, r.status)
	require.Len(t, values(r), 2)
	r = b.do(t, owner, "GET", "/v1.0/applications/"+apps[0].ID, nil)
	requireError(t, r, 403, "Authorization_RequestDenied")
	r = b.do(t, owner, "GET", "/v1.0/servicePrincipals?$select=id", nil)
	require.Len(t, values(r), 2, "the service principals of the owned applications")

	add := func(c *client, ref string) response {
		return b.do(t, c, "POST", ref+"/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "rotor:test"}})
	}
	requireError(t, add(reader, "/v1.0/applications/"+apps[0].ID), 403, "Authorization_RequestDenied")
	requireError(t, add(owner, "/v1.0/applications/"+apps[0].ID), 403, "Authorization_RequestDenied")
	require.Equal(t, 200, add(owner, "/v1.0/applications/"+apps[1].ID).status)
	require.Equal(t, 200, add(owner, "/v1.0/servicePrincipals/"+sp3.ID).status, "the service principal of an owned application")
	require.Equal(t, 200, add(writer, "/v1.0/applications/"+apps[0].ID).status)
	requireError(t, add(writer, "/v1.0/applications/7f6d5c4b-3a29-4187-8695-a4b3c2d1e0f9"), 404, "Request_ResourceNotFound")
}

func TestPasswordActions(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	writer := b.client(t, "writer", "Application.ReadWrite.All")
	a := b.apps(t, 1, "billing")[0]
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)

	end := t0.Add(90 * 24 * time.Hour)
	r := b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", map[string]any{
		"passwordCredential": map[string]any{"displayName": "rotor:r-1", "endDateTime": end.Format(time.RFC3339)}})
	require.Equal(t, 200, r.status, string(r.raw))
	require.True(t, strings.HasSuffix(r.body["@odata.context"].(string), "$metadata#microsoft.graph.passwordCredential"))
	secretText := r.body["secretText"].(string)
	require.Len(t, secretText, 40)
	require.Equal(t, secretText[:3], r.body["hint"])
	require.Equal(t, "rotor:r-1", r.body["displayName"])
	require.Equal(t, "2026-03-01T12:00:00Z", r.body["startDateTime"])
	require.Equal(t, "2026-05-30T12:00:00Z", r.body["endDateTime"])
	keyID := r.body["keyId"].(string)

	// The new secret signs the application in; a listing never shows it again.
	b.tokenFor(t, a.AppID, secretText, "https://graph.microsoft.com/.default")
	got := b.do(t, writer, "GET", "/v1.0/applications/"+a.ID+"?$select=passwordCredentials", nil)
	pc := got.body["passwordCredentials"].([]any)[0].(map[string]any)
	require.Nil(t, pc["secretText"])
	require.Equal(t, keyID, pc["keyId"])

	// Defaults: no body at all gives a two-year secret; the same works on service principals and with
	// the namespace-qualified action name.
	r = b.do(t, writer, "POST", "/v1.0/servicePrincipals/"+sp.ID+"/microsoft.graph.addPassword", nil)
	require.Equal(t, 200, r.status, string(r.raw))
	require.Equal(t, "2028-02-29T12:00:00Z", r.body["endDateTime"])

	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": "next tuesday"}})
	requireError(t, r, 400, "Request_BadRequest")

	r = b.do(t, writer, "POST", "/v1.0/applications(appId='"+a.AppID+"')/removePassword", map[string]any{"keyId": keyID})
	require.Equal(t, 204, r.status, string(r.raw))
	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/removePassword", map[string]any{"keyId": keyID})
	requireError(t, r, 404, "Request_ResourceNotFound")
	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/removePassword", map[string]any{"keyId": "nope"})
	requireError(t, r, 400, "Request_BadRequest")

	hist, err := b.dir.CredentialHistory(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	require.Len(t, hist, 3)
	require.Equal(t, writer.app.AppID, hist[0].By)
	require.Equal(t, directory.ActionRemoved, hist[2].Action)
}

func TestPoliciesAndLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	writer := b.client(t, "writer", "Application.ReadWrite.All", "Policy.Read.All")
	reader := b.client(t, "reader", "Application.Read.All")
	a := b.apps(t, 1, "fraud")[0]
	require.NoError(t, b.dir.SetDefaultAppManagementPolicy(b.tenant.ID, directory.TenantAppManagementPolicy{IsEnabled: true,
		ApplicationRestrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordLifetime, MaxLifetime: "P30D"}}}}))

	r := b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": t0.Add(60 * 24 * time.Hour).Format(time.RFC3339)}})
	requireError(t, r, 400, "CredentialInvalidLifetimeAsPerAppPolicy")
	require.Equal(t, "Credential lifetime exceeds the max value allowed as per assigned policy '00000000-0000-0000-0000-000000000000'.", message(r))
	details := r.body["error"].(map[string]any)["details"].([]any)
	require.Equal(t, map[string]any{"code": "InvalidKeyEndDate", "message": message(r), "target": "EndDate"}, details[0])
	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", nil)
	requireError(t, r, 400, "CredentialInvalidLifetimeAsPerAppPolicy") // the default two years are too long
	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": t0.Add(30 * 24 * time.Hour).Format(time.RFC3339)}})
	require.Equal(t, 200, r.status, string(r.raw))

	p, err := b.dir.AddAppManagementPolicy(b.tenant.ID, directory.AppManagementPolicy{DisplayName: "no secrets", Description: "certificates only", IsEnabled: true,
		Restrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordAddition}}}})
	require.NoError(t, err)
	require.NoError(t, b.dir.AssignAppManagementPolicy(b.tenant.ID, p.ID, a.Ref()))
	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": t0.Add(24 * time.Hour).Format(time.RFC3339)}})
	requireError(t, r, 400, "CredentialTypeNotAllowedAsPerAppPolicy")
	require.Equal(t, "Credential type not allowed as per assigned policy '"+p.ID+"'.", message(r))

	// The policy documents.
	r = b.do(t, writer, "GET", "/v1.0/policies/defaultAppManagementPolicy", nil)
	require.Equal(t, 200, r.status, string(r.raw))
	require.Equal(t, true, r.body["isEnabled"])
	restr := r.body["applicationRestrictions"].(map[string]any)["passwordCredentials"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"restrictionType": "passwordLifetime", "state": "enabled", "maxLifetime": "P30D", "restrictForAppsCreatedAfterDateTime": nil}, restr)
	r = b.do(t, writer, "GET", "/v1.0/policies/appManagementPolicies", nil)
	require.Len(t, values(r), 1)
	require.Equal(t, "no secrets", values(r)[0]["displayName"])
	r = b.do(t, writer, "GET", "/v1.0/policies/appManagementPolicies/"+p.ID, nil)
	require.Equal(t, p.ID, r.body["id"])
	r = b.do(t, writer, "GET", "/v1.0/applications/"+a.ID+"/appManagementPolicies", nil)
	require.Len(t, values(r), 1)
	r = b.do(t, reader, "GET", "/v1.0/policies/defaultAppManagementPolicy", nil)
	requireError(t, r, 403, "Authorization_RequestDenied")

	// Applications that support personal Microsoft accounts hold two secrets at most.
	msa, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "consumer", SignInAudience: directory.AudienceMultipleOrgsAndPerson,
		CreatedDateTime: t0.AddDate(-3, 0, 0)})
	require.NoError(t, err)
	require.NoError(t, b.dir.SetDefaultAppManagementPolicy(b.tenant.ID, directory.TenantAppManagementPolicy{}))
	for i := 0; i < 2; i++ {
		r = b.do(t, writer, "POST", "/v1.0/applications/"+msa.ID+"/addPassword", nil)
		require.Equal(t, 200, r.status, string(r.raw))
	}
	r = b.do(t, writer, "POST", "/v1.0/applications/"+msa.ID+"/addPassword", nil)
	requireError(t, r, 400, "Request_BadRequest")
	require.Equal(t, "You can only add a maximum of 2 encrypted credentials.", message(r))
}

var (
	certMu sync.Mutex
)

func newCert(t *testing.T, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	_, k := keys()
	certMu.Lock()
	defer certMu.Unlock()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// proof builds an addKey/removeKey proof of possession for object id, signed with the shared
// certificate key and naming cert in its x5t header.
func proof(t *testing.T, objectID string, cert *x509.Certificate, now time.Time, mutate func(jwt.MapClaims)) string {
	t.Helper()
	_, k := keys()
	claims := jwt.MapClaims{"aud": "00000002-0000-0000-c000-000000000000", "iss": objectID, "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	if mutate != nil {
		mutate(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	s1 := sha1.Sum(cert.Raw) //nolint:gosec
	tok.Header["x5t"] = base64.RawURLEncoding.EncodeToString(s1[:])
	s, err := tok.SignedString(k)
	require.NoError(t, err)
	return s
}

func TestKeyActions(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	writer := b.client(t, "writer", "Application.ReadWrite.All")
	a := b.apps(t, 1, "catalog")[0]
	first := newCert(t, "catalog-1", t0.Add(-time.Hour), t0.Add(90*24*time.Hour))
	second := newCert(t, "catalog-2", t0, t0.Add(180*24*time.Hour))

	// addKey needs a valid certificate to prove possession of: the first one goes in with PATCH.
	r := b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addKey", map[string]any{
		"keyCredential": map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(second.Raw)},
		"proof":         proof(t, a.ID, first, t0, nil)})
	requireError(t, r, 401, "Authentication_MissingOrMalformed")

	r = b.do(t, writer, "PATCH", "/v1.0/applications/"+a.ID, map[string]any{"keyCredentials": []any{
		map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(first.Raw), "displayName": "CN=catalog-1"}}})
	require.Equal(t, 204, r.status, string(r.raw))
	got, err := b.dir.Application(b.tenant.ID, a.ID)
	require.NoError(t, err)
	require.Len(t, got.KeyCredentials, 1)
	firstKeyID := got.KeyCredentials[0].KeyID

	add := func(p string) response {
		return b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addKey", map[string]any{
			"keyCredential":      map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(second.Raw)},
			"passwordCredential": nil, "proof": p})
	}
	bad := map[string]string{
		"wrong audience": proof(t, a.ID, first, t0, func(c jwt.MapClaims) { c["aud"] = "00000003-0000-0000-c000-000000000000" }),
		"wrong issuer":   proof(t, writer.app.ID, first, t0, nil),
		"too long":       proof(t, a.ID, first, t0, func(c jwt.MapClaims) { c["exp"] = t0.Add(time.Hour).Unix() }),
		"expired":        proof(t, a.ID, first, t0, func(c jwt.MapClaims) { c["nbf"], c["exp"] = t0.Add(-time.Hour).Unix(), t0.Add(-50*time.Minute).Unix() }),
		"unknown cert":   proof(t, a.ID, second, t0, nil),
		"not a jwt":      "proof",
	}
	for name, p := range bad {
		requireError(t, add(p), 401, "Authentication_MissingOrMalformed")
		_ = name
	}
	r = add(proof(t, a.ID, first, t0, nil))
	require.Equal(t, 200, r.status, string(r.raw))
	require.True(t, strings.HasSuffix(r.body["@odata.context"].(string), "$metadata#microsoft.graph.keyCredential"))
	require.Equal(t, "CN=catalog-2", r.body["displayName"])
	secondKeyID := r.body["keyId"].(string)

	// removeKey with a proof signed by the remaining certificate.
	r = b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/removeKey", map[string]any{"keyId": firstKeyID, "proof": proof(t, a.ID, second, t0, nil)})
	require.Equal(t, 204, r.status, string(r.raw))
	got, err = b.dir.Application(b.tenant.ID, a.ID)
	require.NoError(t, err)
	require.Len(t, got.KeyCredentials, 1)
	require.Equal(t, secondKeyID, got.KeyCredentials[0].KeyID)

	// An application rolls its own keys without any permission.
	self := b.client(t, "self-roller")
	selfCert := newCert(t, "self", t0.Add(-time.Hour), t0.Add(30*24*time.Hour))
	_, err = b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: self.app.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: selfCert.Raw}})
	require.NoError(t, err)
	next := newCert(t, "self-next", t0, t0.Add(60*24*time.Hour))
	r = b.do(t, self, "POST", "/v1.0/applications/"+self.app.ID+"/addKey", map[string]any{
		"keyCredential": map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(next.Raw)},
		"proof":         proof(t, self.app.ID, selfCert, t0, nil)})
	require.Equal(t, 200, r.status, string(r.raw))
	r = b.do(t, self, "POST", "/v1.0/applications/"+a.ID+"/addKey", map[string]any{
		"keyCredential": map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(next.Raw)},
		"proof":         proof(t, a.ID, second, t0, nil)})
	requireError(t, r, 403, "Authorization_RequestDenied")

	// PATCH: unknown and unsupported properties.
	r = b.do(t, writer, "PATCH", "/v1.0/applications/"+a.ID, map[string]any{"frobnicate": true})
	requireError(t, r, 400, "Request_BadRequest")
	r = b.do(t, writer, "PATCH", "/v1.0/applications/"+a.ID, map[string]any{"displayName": "catalog-renamed", "tags": []string{"team:catalog"}})
	require.Equal(t, 204, r.status, string(r.raw))
	got, err = b.dir.Application(b.tenant.ID, a.ID)
	require.NoError(t, err)
	require.Equal(t, "catalog-renamed", got.DisplayName)
	require.Equal(t, []string{"team:catalog"}, got.Tags)
}
