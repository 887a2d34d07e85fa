package kvkey_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/seal/kvkey"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim/keyvault"
)

const (
	tenantID    = "11111111-2222-3333-4444-555555555555"
	otherTenant = "99999999-8888-7777-6666-555555555555"
)

type testBundle struct {
	auth  *keyvault.TestAuthenticator
	vault *keyvault.Vault
	srv   *httptest.Server
}

// setup runs a simulated vault over TLS on loopback.
func setup(t *testing.T) *testBundle {
	t.Helper()
	auth := keyvault.NewTestAuthenticator(nil)
	v, err := keyvault.New(keyvault.Config{Name: "rotor-kek-test", TenantID: tenantID, Authority: "https://127.0.0.1:1", Authenticator: auth})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(v)
	t.Cleanup(srv.Close)
	return &testBundle{auth: auth, vault: v, srv: srv}
}

var seq atomic.Int64

// principal returns a new principal of tenant holding role on the vault (none when empty).
func (b *testBundle) principal(t *testing.T, tenant string, role keyvault.Role) keyvault.Principal {
	t.Helper()
	n := seq.Add(1)
	p := keyvault.Principal{TenantID: tenant, ObjectID: fmt.Sprintf("00000000-0000-0000-0000-%012d", n), AppID: fmt.Sprintf("aaaaaaaa-0000-0000-0000-%012d", n)}
	if role != "" {
		_, err := b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: p.ObjectID, Role: role})
		require.NoError(t, err)
	}
	return p
}

type credential struct {
	b *testBundle
	p keyvault.Principal
}

func (c credential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.b.auth.IssueToken(c.p, keyvault.Audience, time.Hour)
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, err
}

// key returns the vault's key name at version, used as p.
func (b *testBundle) key(t *testing.T, p keyvault.Principal, name, version string) *kvkey.Key {
	t.Helper()
	id, err := kvkey.ParseID(b.srv.URL + "/keys/" + name + "/" + version)
	require.NoError(t, err)
	k, err := kvkey.New(id, kvkey.Options{Credential: credential{b, p}, Transport: b.srv.Client(), DisableChallengeResourceVerification: true,
		Identity: "tenant test", Retry: policy.RetryOptions{MaxRetries: -1}})
	require.NoError(t, err)
	return k
}

func generate(t *testing.T) secret.Value {
	t.Helper()
	v, err := seal.GenerateKEK()
	require.NoError(t, err)
	return v
}

func TestParseID(t *testing.T) {
	t.Parallel()
	id, err := kvkey.ParseID("https://contoso-kek.vault.azure.net/keys/rotor-kek/0123456789abcdef0123456789ABCDEF")
	require.NoError(t, err)
	require.Equal(t, kvkey.ID{Vault: "https://contoso-kek.vault.azure.net", Name: "rotor-kek", Version: "0123456789abcdef0123456789ABCDEF"}, id)
	require.Equal(t, "https://contoso-kek.vault.azure.net/keys/rotor-kek/0123456789abcdef0123456789ABCDEF", id.String())
	id, err = kvkey.ParseID("https://127.0.0.1:8444/keys/k/0123456789abcdef0123456789abcdef/")
	require.NoError(t, err, "a trailing slash is fine")
	require.Equal(t, "https://127.0.0.1:8444", id.Vault)

	for in, want := range map[string]string{
		"https://contoso-kek.vault.azure.net/keys/rotor-kek":                                  "has no version",
		"https://contoso-kek.vault.azure.net/keys/rotor-kek/":                                 "has no version",
		"http://127.0.0.1:8444/keys/k/0123456789abcdef0123456789abcdef":                       "reached over https",
		"https://contoso-kek.vault.azure.net/secrets/s/0123456789abcdef0123456789abcdef":      "is not a Key Vault key identifier",
		"https://contoso-kek.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef/wrapkey": "is not a Key Vault key identifier",
		"https://contoso-kek.vault.azure.net/keys/k_1/0123456789abcdef0123456789abcdef":       `key name "k_1"`,
		"https://contoso-kek.vault.azure.net/keys/k/latest":                                   "32 hexadecimal characters",
		"https://contoso-kek.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef?x=1":     "without credentials, query or fragment",
		"https://user:pw@contoso-kek.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef": "without credentials",
		"contoso-kek.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef":                 "is not a Key Vault key identifier",
		"": "is not a Key Vault key identifier",
	} {
		_, err := kvkey.ParseID(in)
		require.ErrorContains(t, err, want, in)
	}
}

func TestWrapUnwrapRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	version, err := b.vault.CreateKey("rotor-kek", keyvault.KeyProperties{Ops: []string{keyvault.KeyOpWrapKey, keyvault.KeyOpUnwrapKey}})
	require.NoError(t, err)
	k := b.key(t, b.principal(t, tenantID, keyvault.RoleCryptoUser), "rotor-kek", version)

	plain := generate(t)
	want, err := seal.ParseKEK(plain)
	require.NoError(t, err)
	wrapped, err := k.Wrap(ctx, plain)
	require.NoError(t, err)
	require.False(t, secret.Contains(wrapped, plain), "the wrapped value does not show the key")
	require.NotContains(t, wrapped, "=", "base64url without padding, as Key Vault writes it")

	kek, err := k.UnwrapKEK(ctx, secret.New(wrapped+"\n"))
	require.NoError(t, err)
	require.Equal(t, want.ID(), kek.ID(), "the same key, so the same id: wrapping needs no rewrap of sealed values")
	back, err := k.Unwrap(ctx, secret.New(wrapped))
	require.NoError(t, err)
	require.True(t, back.Equal(plain))
	require.Equal(t, secret.Redacted, fmt.Sprint(back))

	// It is RSA-OAEP-256 under the vault's key.
	raw, err := seal.DecodeKEK(plain)
	require.NoError(t, err)
	ct, ok := seal.DecodeBase64(secret.New(wrapped))
	require.True(t, ok)
	got, err := b.vault.UnwrapKey("rotor-kek", version, keyvault.AlgRSAOAEP256, ct)
	require.NoError(t, err)
	require.Equal(t, raw, got)

	// Wrapping checks its input.
	_, err = k.Wrap(ctx, secret.New("c2hvcnQ="))
	require.ErrorContains(t, err, "must be 32 bytes")
}

func TestErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	version, err := b.vault.CreateKey("rotor-kek", keyvault.KeyProperties{})
	require.NoError(t, err)
	other, err := b.vault.CreateKey("other-kek", keyvault.KeyProperties{})
	require.NoError(t, err)
	user := b.principal(t, tenantID, keyvault.RoleCryptoUser)
	k := b.key(t, user, "rotor-kek", version)
	plain := generate(t)
	wrapped, err := k.Wrap(ctx, plain)
	require.NoError(t, err)
	otherWrapped, err := b.key(t, user, "other-kek", other).Wrap(ctx, plain)
	require.NoError(t, err)

	check := func(err error, want ...string) {
		t.Helper()
		require.Error(t, err)
		for _, w := range want {
			require.Contains(t, err.Error(), w)
		}
		require.False(t, secret.Contains(err.Error(), plain), "no key material in errors: %v", err)
		require.NotContains(t, err.Error(), wrapped)
	}

	// No role: 403, and the role to give.
	_, err = b.key(t, b.principal(t, tenantID, ""), "rotor-kek", version).UnwrapKEK(ctx, secret.New(wrapped))
	check(err, "unwrapKey with Key Vault key "+b.srv.URL+"/keys/rotor-kek/"+version, "tenant test may not unwrap with it",
		"Key Vault Crypto User", "Microsoft.KeyVault/vaults/keys/unwrap/action", "ForbiddenByRbac")
	var ke *kvkey.Error
	require.ErrorAs(t, err, &ke)
	require.Equal(t, 403, ke.Status)
	require.Equal(t, "Forbidden/ForbiddenByRbac", ke.Code)
	_, err = b.key(t, b.principal(t, tenantID, keyvault.RoleSecretsOfficer), "rotor-kek", version).Wrap(ctx, plain)
	check(err, "may not wrap with it", "Microsoft.KeyVault/vaults/keys/wrap/action")

	// Wrong version, wrong key name.
	_, err = b.key(t, user, "rotor-kek", strings.Repeat("0", 32)).UnwrapKEK(ctx, secret.New(wrapped))
	check(err, "the vault has no key rotor-kek with version "+strings.Repeat("0", 32), "KeyNotFound")
	_, err = b.key(t, user, "no-such-key", version).UnwrapKEK(ctx, secret.New(wrapped))
	check(err, "the vault has no key no-such-key")

	// Wrapped by another key.
	_, err = k.UnwrapKEK(ctx, secret.New(otherWrapped))
	check(err, "wrapped by another key or version, or it is damaged", "BadParameter")

	// Malformed values never reach the vault.
	_, err = k.UnwrapKEK(ctx, secret.New("not base64 at all!"))
	check(err, "not base64url")
	_, err = k.UnwrapKEK(ctx, plain)
	check(err, "holds a plain key encryption key, not one wrapped by Key Vault")
	_, err = k.UnwrapKEK(ctx, secret.New(wrapped[:100]))
	check(err, "not a value wrapped by Key Vault: 75 bytes")

	// A key that may not unwrap, a disabled key.
	wrapOnly, err := b.vault.CreateKey("wrap-only", keyvault.KeyProperties{Ops: []string{keyvault.KeyOpWrapKey}})
	require.NoError(t, err)
	w2, err := b.key(t, user, "wrap-only", wrapOnly).Wrap(ctx, plain)
	require.NoError(t, err)
	_, err = b.key(t, user, "wrap-only", wrapOnly).UnwrapKEK(ctx, secret.New(w2))
	check(err, "permitted operations do not include unwrapKey")
	disabled, err := b.vault.CreateKey("disabled", keyvault.KeyProperties{Enabled: new(bool)})
	require.NoError(t, err)
	_, err = b.key(t, user, "disabled", disabled).Wrap(ctx, plain)
	check(err, "this version of the key is disabled")

	// A token of another tenant.
	_, err = b.key(t, b.principal(t, otherTenant, ""), "rotor-kek", version).UnwrapKEK(ctx, secret.New(wrapped))
	check(err, "the vault refused the token of tenant test", "AKV10032")

	// The vault cannot be reached.
	gone := setup(t)
	gone.srv.Close()
	_, err = gone.key(t, user, "rotor-kek", version).UnwrapKEK(ctx, secret.New(wrapped))
	check(err, "cannot reach the vault "+gone.srv.URL)
	require.ErrorAs(t, err, &ke)
	require.Zero(t, ke.Status)
}
