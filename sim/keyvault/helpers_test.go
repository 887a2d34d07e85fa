package keyvault_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/keyvault"
)

const (
	testTenant      = "11111111-2222-3333-4444-555555555555"
	otherTenant     = "99999999-8888-7777-6666-555555555555"
	testAuthorityIP = "https://127.0.0.1:1"
)

var testStart = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

type testBundle struct {
	clock *clockwork.FakeClock
	auth  *keyvault.TestAuthenticator
	vault *keyvault.Vault
	srv   *httptest.Server
}

// setup starts a vault over TLS on loopback. mutate adjusts the configuration.
func setup(t *testing.T, mutate func(*keyvault.Config)) *testBundle {
	t.Helper()
	clock := clockwork.NewFakeClockAt(testStart)
	auth := keyvault.NewTestAuthenticator(clock)
	cfg := keyvault.Config{
		Name:                    "rotor-test",
		TenantID:                testTenant,
		Authority:               testAuthorityIP,
		Authenticator:           auth,
		Clock:                   clock,
		SoftDeleteRetentionDays: 7,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := keyvault.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewTLSServer(v)
	t.Cleanup(srv.Close)
	return &testBundle{clock: clock, auth: auth, vault: v, srv: srv}
}

var principalSeq atomic.Int64

// principal returns a new principal of the test tenant holding role (none when role is empty).
func (b *testBundle) principal(t *testing.T, role keyvault.Role) keyvault.Principal {
	t.Helper()
	n := principalSeq.Add(1)
	p := keyvault.Principal{
		TenantID: testTenant,
		ObjectID: fmt.Sprintf("00000000-0000-0000-0000-%012d", n),
		AppID:    fmt.Sprintf("aaaaaaaa-0000-0000-0000-%012d", n),
	}
	if role != "" {
		_, err := b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: p.ObjectID, Role: role})
		require.NoError(t, err)
	}
	return p
}

// credential is an azcore.TokenCredential issuing test tokens for one principal.
type credential struct {
	b *testBundle
	p keyvault.Principal
	// requests records the tenant and scopes azsecrets asked for.
	tenants atomic.Value
	scopes  atomic.Value
}

func (c *credential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.tenants.Store(opts.TenantID)
	c.scopes.Store(strings.Join(opts.Scopes, " "))
	if len(opts.Scopes) != 1 || opts.Scopes[0] != keyvault.Audience+"/.default" {
		return azcore.AccessToken{}, fmt.Errorf("unexpected scopes %v", opts.Scopes)
	}
	tok, err := c.b.auth.IssueToken(c.p, keyvault.Audience, time.Hour)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	// ExpiresOn is in the fake clock's time; azcore compares it with the wall clock and simply
	// asks again when it looks stale.
	return azcore.AccessToken{Token: tok, ExpiresOn: c.b.clock.Now().Add(time.Hour)}, nil
}

// client returns an azsecrets client acting as p, trusting the test server's certificate.
func (b *testBundle) client(t *testing.T, p keyvault.Principal) (*azsecrets.Client, *credential) {
	t.Helper()
	cred := &credential{b: b, p: p}
	c, err := azsecrets.NewClient(b.srv.URL, cred, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: b.srv.Client(),
			Retry:     policy.RetryOptions{MaxRetries: -1},
		},
		// The simulator is not *.vault.azure.net.
		DisableChallengeResourceVerification: true,
	})
	require.NoError(t, err)
	return c, cred
}

func (b *testBundle) token(t *testing.T, p keyvault.Principal) string {
	t.Helper()
	tok, err := b.auth.IssueToken(p, keyvault.Audience, time.Hour)
	require.NoError(t, err)
	return tok
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r rawResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

func (r rawResponse) errorCode(t *testing.T) (code, inner string) {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	require.True(t, ok, "error body: %s", r.body)
	code, _ = e["code"].(string)
	if ie, ok := e["innererror"].(map[string]any); ok {
		inner, _ = ie["code"].(string)
	}
	return code, inner
}

// raw sends one request with token (none when empty). pathQuery is relative to the vault URL;
// body is JSON-encoded unless it is a string or nil.
func (b *testBundle) raw(t *testing.T, method, pathQuery, token string, body any) rawResponse {
	t.Helper()
	var rd io.Reader
	switch x := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(x)
	default:
		data, err := json.Marshal(x)
		require.NoError(t, err)
		rd = strings.NewReader(string(data))
	}
	req, err := http.NewRequest(method, b.srv.URL+pathQuery, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: data}
}

func respErr(t *testing.T, err error) *azcore.ResponseError {
	t.Helper()
	require.Error(t, err)
	var re *azcore.ResponseError
	require.ErrorAs(t, err, &re)
	return re
}

func to[T any](v T) *T { return &v }

func jsonDecode(resp *http.Response, dst any) error {
	return json.NewDecoder(resp.Body).Decode(dst)
}
