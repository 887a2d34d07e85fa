package entra_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/entra"
)

var (
	keyOnce    sync.Once
	signingKey *rsa.PrivateKey // shared by the servers of all tests: key generation is slow
	clientKey  *rsa.PrivateKey
)

func keys() (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if signingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if clientKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return signingKey, clientKey
}

type bundle struct {
	clock  *clockwork.FakeClock
	dir    *directory.Directory
	server *entra.Server
	https  *httptest.Server
	tenant directory.Tenant
	app    directory.Application
	secret secret.Value
	cert   *x509.Certificate
}

// setup builds a tenant with one application holding a secret and a certificate and the Graph
// permission Application.Read.All, and serves the login endpoints over TLS on loopback. The fake
// clock starts at the wall-clock time because the Azure SDK stamps client assertions with it.
func setup(t *testing.T, opts directory.Options) *bundle {
	t.Helper()
	sk, ck := keys()
	clock := clockwork.NewFakeClockAt(time.Now().Truncate(time.Second))
	opts.Clock = clock
	dir := directory.New(opts)
	ten, err := dir.AddTenant(directory.AddTenantParams{DisplayName: "Contoso"})
	require.NoError(t, err)
	app, err := dir.AddApplication(directory.AddApplicationParams{TenantID: ten.ID, DisplayName: "rotor"})
	require.NoError(t, err)
	_, text, err := dir.AddPassword(directory.AddPasswordParams{TenantID: ten.ID, Object: app.Ref(), DisplayName: "test"})
	require.NoError(t, err)
	cert := newCert(t, ck, clock.Now().Add(-time.Hour), clock.Now().Add(30*24*time.Hour))
	_, err = dir.AddKey(directory.AddKeyParams{TenantID: ten.ID, Object: app.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: cert.Raw}})
	require.NoError(t, err)
	require.NoError(t, dir.GrantAppRole(ten.ID, app.AppID, directory.MicrosoftGraphAppID, "Application.Read.All"))

	srv, err := entra.New(dir, entra.Options{SigningKey: sk})
	require.NoError(t, err)
	https := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(https.Close)
	return &bundle{clock: clock, dir: dir, server: srv, https: https, tenant: ten, app: app, secret: text, cert: cert}
}

func newCert(t *testing.T, key *rsa.PrivateKey, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "rotor test"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func (b *bundle) clientOptions(transport policy.Transporter) azcore.ClientOptions {
	if transport == nil {
		transport = b.https.Client()
	}
	return azcore.ClientOptions{
		Transport: transport,
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: b.https.URL + "/"},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

func (b *bundle) host() string { return strings.TrimPrefix(b.https.URL, "https://") }

func TestAzureSDKClientSecretCredential(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	for _, tenant := range []string{b.tenant.ID, b.tenant.DefaultDomain} {
		cred, err := azidentity.NewClientSecretCredential(tenant, b.app.AppID, b.secret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: b.clientOptions(nil), DisableInstanceDiscovery: true})
		require.NoError(t, err)
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
		require.NoError(t, err, tenant)

		claims, err := b.server.Verifier().Verify(tok.Token, entra.GraphAudiences...)
		require.NoError(t, err)
		sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, b.app.AppID)
		require.NoError(t, err)
		require.Equal(t, b.tenant.ID, claims.TenantID)
		require.Equal(t, sp.ID, claims.ObjectID)
		require.Equal(t, b.app.AppID, claims.AppID)
		require.Equal(t, "https://graph.microsoft.com", claims.Audience)
		require.Equal(t, "https://"+b.host()+"/"+b.tenant.ID+"/", claims.Issuer)
		require.Equal(t, "1.0", claims.Version)
		require.Equal(t, "app", claims.IDType)
		require.Equal(t, "1", claims.AuthMethod)
		require.Equal(t, []string{"Application.Read.All"}, claims.Roles)
		require.WithinDuration(t, b.clock.Now().Add(time.Hour), claims.ExpiresAt, time.Second)
	}
	use, ok, err := b.dir.LastSignIn(b.tenant.ID, b.app.AppID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, directory.CredentialPassword, use.Kind)
}

// With instance discovery on (the SDK's default), MSAL asks login.microsoftonline.com to validate
// an authority it does not know. A transport standing for DNS routes that name to the simulator.
func TestAzureSDKInstanceDiscovery(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	var asked []string
	var mu sync.Mutex
	route := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		asked = append(asked, r.URL.Host+r.URL.Path)
		mu.Unlock()
		if r.URL.Host == "login.microsoftonline.com" {
			r = r.Clone(r.Context())
			r.URL.Host, r.Host = b.host(), b.host()
		}
		return b.https.Client().Transport.RoundTrip(r)
	})
	cred, err := azidentity.NewClientSecretCredential(b.tenant.ID, b.app.AppID, b.secret.Reveal(),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: b.clientOptions(&http.Client{Transport: route})})
	require.NoError(t, err)
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	require.NoError(t, err)
	require.Contains(t, asked, "login.microsoftonline.com/common/discovery/instance")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
func (f roundTripFunc) Do(r *http.Request) (*http.Response, error)        { return f(r) }

func TestAzureSDKClientCertificateCredential(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	_, ck := keys()
	cred, err := azidentity.NewClientCertificateCredential(b.tenant.ID, b.app.AppID, []*x509.Certificate{b.cert}, ck,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: b.clientOptions(nil), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	require.NoError(t, err)
	claims, err := b.server.Verifier().Verify(tok.Token, entra.KeyVaultAudiences...)
	require.NoError(t, err)
	require.Equal(t, "https://vault.azure.net", claims.Audience)
	require.Equal(t, "2", claims.AuthMethod)
	require.Empty(t, claims.Roles, "no application permissions on Key Vault")

	use, ok, err := b.dir.LastSignIn(b.tenant.ID, b.app.AppID)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, directory.CredentialKey, use.Kind)
}

func TestAzureSDKReportsEntraErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	cred, err := azidentity.NewClientSecretCredential(b.tenant.ID, b.app.AppID, "not-the-secret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: b.clientOptions(nil), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	var afe *azidentity.AuthenticationFailedError
	require.ErrorAs(t, err, &afe)
	require.Equal(t, http.StatusUnauthorized, afe.RawResponse.StatusCode)
	require.Contains(t, err.Error(), "AADSTS7000215")
}

// post sends a raw token request.
func (b *bundle) post(t *testing.T, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.https.URL+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", "6f2b5c1e-1111-4222-8333-444455556666")
	resp, err := b.https.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func (b *bundle) assertion(t *testing.T, mutate func(h map[string]any, c jwt.MapClaims), key *rsa.PrivateKey, cert *x509.Certificate) string {
	t.Helper()
	now := b.clock.Now()
	claims := jwt.MapClaims{
		"aud": b.https.URL + "/" + b.tenant.ID + "/oauth2/v2.0/token",
		"iss": b.app.AppID, "sub": b.app.AppID, "jti": "a1b2c3",
		"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	s256 := sha256.Sum256(cert.Raw)
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, claims)
	tok.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(s256[:])
	if mutate != nil {
		mutate(tok.Header, claims)
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	_, ck := keys()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ok := func(extra url.Values) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.app.AppID}, "scope": {"https://graph.microsoft.com/.default"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	withSecret := func(s string) url.Values { return ok(url.Values{"client_secret": {s}}) }
	withAssertion := func(a string) url.Values {
		return ok(url.Values{"client_assertion": {a}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}})
	}
	noSP, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "no-sp", NoServicePrincipal: true})
	require.NoError(t, err)
	expiredApp, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "expired"})
	require.NoError(t, err)
	_, expiredSecret, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: expiredApp.Ref(),
		StartDateTime: b.clock.Now().Add(-48 * time.Hour), EndDateTime: b.clock.Now().Add(-time.Hour)})
	require.NoError(t, err)
	expiredCertApp, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "expired-cert"})
	require.NoError(t, err)
	oldCert := newCert(t, ck, b.clock.Now().Add(-48*time.Hour), b.clock.Now().Add(-time.Hour))
	_, err = b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: expiredCertApp.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: oldCert.Raw}})
	require.NoError(t, err)
	unknownCert := newCert(t, ck, b.clock.Now().Add(-time.Hour), b.clock.Now().Add(time.Hour))
	expiredCertForm := withAssertion(b.assertion(t, func(h map[string]any, c jwt.MapClaims) {
		c["iss"], c["sub"] = expiredCertApp.AppID, expiredCertApp.AppID
	}, ck, oldCert))
	expiredCertForm.Set("client_id", expiredCertApp.AppID)

	tests := []struct {
		name   string
		tenant string
		form   url.Values
		status int
		err    string
		code   int
	}{
		{"unknown tenant", "fabrikam.onmicrosoft.com", withSecret(b.secret.Reveal()), 400, "invalid_request", 90002},
		{"common tenant", "common", withSecret(b.secret.Reveal()), 400, "invalid_request", 50059},
		{"missing grant type", b.tenant.ID, url.Values{"client_id": {b.app.AppID}}, 400, "invalid_request", 900144},
		{"unsupported grant type", b.tenant.ID, url.Values{"grant_type": {"password"}, "client_id": {b.app.AppID}}, 400, "unsupported_grant_type", 70003},
		{"missing client id", b.tenant.ID, url.Values{"grant_type": {"client_credentials"}}, 400, "invalid_request", 900144},
		{"unknown app", b.tenant.ID, func() url.Values {
			v := withSecret("x")
			v.Set("client_id", "11111111-2222-4333-8444-555555555555")
			return v
		}(), 400, "unauthorized_client", 700016},
		{"app without service principal", b.tenant.ID, func() url.Values { v := withSecret("x"); v.Set("client_id", noSP.AppID); return v }(), 401, "invalid_client", 7000229},
		{"no credential", b.tenant.ID, ok(nil), 401, "invalid_client", 7000218},
		{"wrong secret", b.tenant.ID, withSecret("wrong"), 401, "invalid_client", 7000215},
		{"expired secret", b.tenant.ID, func() url.Values {
			v := withSecret(expiredSecret.Reveal())
			v.Set("client_id", expiredApp.AppID)
			return v
		}(), 401, "invalid_client", 7000222},
		{"missing scope", b.tenant.ID, func() url.Values { v := withSecret(b.secret.Reveal()); v.Del("scope"); return v }(), 400, "invalid_request", 900144},
		{"scope without /.default", b.tenant.ID, func() url.Values {
			v := withSecret(b.secret.Reveal())
			v.Set("scope", "https://graph.microsoft.com/Application.Read.All")
			return v
		}(), 400, "invalid_scope", 1002012},
		{"several scopes", b.tenant.ID, func() url.Values {
			v := withSecret(b.secret.Reveal())
			v.Set("scope", "https://graph.microsoft.com/.default https://vault.azure.net/.default openid")
			return v
		}(), 400, "invalid_scope", 70011},
		{"unknown resource", b.tenant.ID, func() url.Values {
			v := withSecret(b.secret.Reveal())
			v.Set("scope", "https://unknown.example/.default")
			return v
		}(), 400, "invalid_resource", 500011},
		{"malformed assertion", b.tenant.ID, withAssertion("not.a.jwt"), 400, "invalid_request", 50027},
		{"wrong assertion type", b.tenant.ID, func() url.Values {
			v := withAssertion(b.assertion(t, nil, ck, b.cert))
			v.Set("client_assertion_type", "urn:example:other")
			return v
		}(), 400, "invalid_request", 70002},
		{"assertion for another client", b.tenant.ID, withAssertion(b.assertion(t, func(h map[string]any, c jwt.MapClaims) { c["iss"] = "someone-else" }, ck, b.cert)), 401, "invalid_client", 700021},
		{"assertion audience", b.tenant.ID, withAssertion(b.assertion(t, func(h map[string]any, c jwt.MapClaims) { c["aud"] = "https://login.example/x/oauth2/v2.0/token" }, ck, b.cert)), 401, "invalid_client", 700023},
		{"expired assertion", b.tenant.ID, withAssertion(b.assertion(t, func(h map[string]any, c jwt.MapClaims) {
			c["nbf"], c["exp"] = b.clock.Now().Add(-time.Hour).Unix(), b.clock.Now().Add(-50*time.Minute).Unix()
		}, ck, b.cert)), 401, "invalid_client", 700024},
		{"assertion with an unknown key", b.tenant.ID, withAssertion(b.assertion(t, nil, ck, unknownCert)), 401, "invalid_client", 700027},
		{"assertion with a bad signature", b.tenant.ID, withAssertion(b.assertion(t, nil, other, b.cert)), 401, "invalid_client", 700027},
		{"assertion with an expired certificate", b.tenant.ID, expiredCertForm, 401, "invalid_client", 700027},
	}
	for _, tc := range tests {
		status, body := b.post(t, tc.tenant, tc.form)
		require.Equal(t, tc.status, status, tc.name)
		require.Equal(t, tc.err, body["error"], tc.name)
		desc, _ := body["error_description"].(string)
		require.True(t, strings.HasPrefix(desc, "AADSTS"+itoa(tc.code)+": "), "%s: %s", tc.name, desc)
		require.Contains(t, desc, "\r\nTrace ID: ", tc.name)
		require.Equal(t, []any{float64(tc.code)}, body["error_codes"], tc.name)
		require.Equal(t, "6f2b5c1e-1111-4222-8333-444455556666", body["correlation_id"], tc.name)
		require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`, body["timestamp"], tc.name)
		require.NotEmpty(t, body["trace_id"], tc.name)
		require.Equal(t, b.https.URL+"/error?code="+itoa(tc.code), body["error_uri"], tc.name)
	}

	// And the happy paths of the raw protocol: RS256 with x5t (SHA-1) is accepted too.
	s1 := sha1.Sum(b.cert.Raw) //nolint:gosec
	rs := b.assertion(t, func(h map[string]any, c jwt.MapClaims) {
		delete(h, "x5t#S256")
		h["x5t"] = base64.RawURLEncoding.EncodeToString(s1[:])
	}, ck, b.cert)
	status, body := b.post(t, b.tenant.DefaultDomain, withAssertion(rs))
	require.Equal(t, 200, status, "%v", body)
	require.Equal(t, "Bearer", body["token_type"])
	require.Equal(t, float64(3599), body["expires_in"])
	require.Equal(t, float64(3599), body["ext_expires_in"])
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestV2TokensForResourcesThatAskForThem(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	api, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "orders-api",
		IdentifierURIs: []string{"api://orders"}, RequestedTokenVersion: 2,
		AppRoles: []directory.AppRole{{Value: "Orders.Read", AllowedMemberTypes: []string{"Application"}, IsEnabled: true}}})
	require.NoError(t, err)
	require.NoError(t, b.dir.GrantAppRole(b.tenant.ID, b.app.AppID, api.AppID, "Orders.Read"))
	for _, scope := range []string{"api://orders/.default", api.AppID + "/.default"} {
		status, body := b.post(t, b.tenant.ID, url.Values{"grant_type": {"client_credentials"}, "client_id": {b.app.AppID},
			"client_secret": {b.secret.Reveal()}, "scope": {scope}})
		require.Equal(t, 200, status, "%v", body)
		claims, err := b.server.Verifier().Verify(body["access_token"].(string), api.AppID)
		require.NoError(t, err)
		require.Equal(t, "2.0", claims.Version)
		require.Equal(t, "https://"+b.host()+"/"+b.tenant.ID+"/v2.0", claims.Issuer)
		require.Equal(t, b.app.AppID, claims.AppID)
		require.Equal(t, []string{"Orders.Read"}, claims.Roles)
	}
}

func TestReplicationDelay(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{Seed: 3, ReplicationDelay: 5 * time.Minute})
	_, fresh, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: b.app.Ref()})
	require.NoError(t, err)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.app.AppID}, "client_secret": {fresh.Reveal()}, "scope": {"https://graph.microsoft.com/.default"}}
	var statuses []int
	for i := 0; i < 20; i++ {
		status, _ := b.post(t, b.tenant.ID, form)
		statuses = append(statuses, status)
	}
	require.Contains(t, statuses, 200)
	require.Contains(t, statuses, 401)
	b.clock.Advance(5 * time.Minute)
	for i := 0; i < 10; i++ {
		status, body := b.post(t, b.tenant.ID, form)
		require.Equal(t, 200, status, "%v", body)
	}
}

func TestDiscoveryDocuments(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	get := func(path string) (int, map[string]any) {
		resp, err := b.https.Client().Get(b.https.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	status, doc := get("/" + b.tenant.DefaultDomain + "/v2.0/.well-known/openid-configuration")
	require.Equal(t, 200, status)
	require.Equal(t, "https://"+b.host()+"/"+b.tenant.ID+"/v2.0", doc["issuer"])
	require.Equal(t, "https://"+b.host()+"/"+b.tenant.ID+"/oauth2/v2.0/token", doc["token_endpoint"])
	require.Equal(t, "https://"+b.host()+"/"+b.tenant.ID+"/discovery/v2.0/keys", doc["jwks_uri"])

	status, doc = get("/common/v2.0/.well-known/openid-configuration")
	require.Equal(t, 200, status)
	require.Equal(t, "https://"+b.host()+"/{tenantid}/v2.0", doc["issuer"])

	status, doc = get("/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration")
	require.Equal(t, 400, status)
	require.Equal(t, "invalid_tenant", doc["error"])

	for _, path := range []string{"/common/discovery/v2.0/keys", "/" + b.tenant.ID + "/discovery/v2.0/keys", "/" + b.tenant.ID + "/discovery/keys"} {
		status, jwks := get(path)
		require.Equal(t, 200, status)
		ks := jwks["keys"].([]any)
		require.Len(t, ks, 1)
		k := ks[0].(map[string]any)
		require.Equal(t, "RSA", k["kty"])
		require.Equal(t, b.server.SigningKeys()[0].ID, k["kid"])
		require.Equal(t, k["kid"], k["x5t"])
	}

	status, inst := get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape("https://"+b.host()+"/"+b.tenant.ID+"/oauth2/v2.0/authorize"))
	require.Equal(t, 200, status)
	require.Equal(t, "https://"+b.host()+"/"+b.tenant.ID+"/v2.0/.well-known/openid-configuration", inst["tenant_discovery_endpoint"])
	status, inst = get("/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url.QueryEscape("https://elsewhere.example/t/oauth2/v2.0/authorize"))
	require.Equal(t, 400, status)
	require.Equal(t, "invalid_instance", inst["error"])
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	status, body := b.post(t, b.tenant.ID, url.Values{"grant_type": {"client_credentials"}, "client_id": {b.app.AppID},
		"client_secret": {b.secret.Reveal()}, "scope": {"https://graph.microsoft.com/.default"}})
	require.Equal(t, 200, status)
	tok := body["access_token"].(string)
	v := b.server.Verifier()

	_, err := v.Verify(tok, entra.KeyVaultAudiences...)
	require.ErrorIs(t, err, entra.ErrTokenAudience)
	_, err = v.Verify("garbage")
	require.ErrorIs(t, err, entra.ErrTokenMalformed)
	parts := strings.Split(tok, ".")
	_, err = v.Verify(parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("forged")))
	require.ErrorIs(t, err, entra.ErrTokenSignature)

	// A token from another simulator instance (another key) is not trusted.
	other, err := entra.New(b.dir, entra.Options{})
	require.NoError(t, err)
	_, err = other.Verifier().Verify(tok)
	require.ErrorIs(t, err, entra.ErrTokenSignature)

	b.clock.Advance(time.Hour + time.Second)
	_, err = v.Verify(tok, entra.GraphAudiences...)
	require.ErrorIs(t, err, entra.ErrTokenExpired)
}
