package keyvault_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/keyvault"
)

// keysClient returns an azkeys client acting as p, trusting the test server's certificate.
func (b *testBundle) keysClient(t *testing.T, p keyvault.Principal) (*azkeys.Client, *credential) {
	t.Helper()
	cred := &credential{b: b, p: p}
	c, err := azkeys.NewClient(b.srv.URL, cred, &azkeys.ClientOptions{
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

func wrapParams(alg azkeys.EncryptionAlgorithm, v []byte) azkeys.KeyOperationParameters {
	return azkeys.KeyOperationParameters{Algorithm: &alg, Value: v}
}

// 32 bytes standing for a data key; not a real key.
var testDataKey = []byte("0123456789abcdef0123456789abcdef")

// TestAzkeysClient drives the official azkeys client, unchanged, through the simulated key
// operations over TLS: create, get, wrapKey and unwrapKey, and the roles that allow them.
func TestAzkeysClient(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	officer, cred := b.keysClient(t, b.principal(t, keyvault.RoleCryptoOfficer))
	const name = "rotor-kek"

	// Create: the first request elicits the 401 challenge, from which azkeys learns the tenant
	// and the scope.
	created, err := officer.CreateKey(ctx, name, azkeys.CreateKeyParameters{
		Kty:    to(azkeys.KeyTypeRSA),
		KeyOps: []*azkeys.KeyOperation{to(azkeys.KeyOperationWrapKey), to(azkeys.KeyOperationUnwrapKey)},
		Tags:   map[string]*string{"purpose": to("rotor key encryption key")},
	}, nil)
	require.NoError(t, err)
	require.Equal(t, testTenant, cred.tenants.Load())
	require.Equal(t, "https://vault.azure.net/.default", cred.scopes.Load())
	kid := created.Key.KID
	require.Equal(t, name, kid.Name())
	v1 := kid.Version()
	require.Regexp(t, versionIDRe, v1)
	require.True(t, strings.HasPrefix(string(*kid), b.srv.URL+"/keys/"+name+"/"))
	require.Equal(t, azkeys.KeyTypeRSA, *created.Key.Kty)
	require.Len(t, created.Key.N, 256, "RSA 2048 by default")
	require.Equal(t, []byte{1, 0, 1}, created.Key.E)
	require.Equal(t, []*azkeys.KeyOperation{to(azkeys.KeyOperationWrapKey), to(azkeys.KeyOperationUnwrapKey)}, created.Key.KeyOps)
	require.True(t, *created.Attributes.Enabled)
	require.False(t, *created.Attributes.Exportable)
	require.True(t, testStart.Equal(*created.Attributes.Created))
	require.Equal(t, "CustomizedRecoverable+Purgeable", *created.Attributes.RecoveryLevel)
	require.Equal(t, "rotor key encryption key", *created.Tags["purpose"])

	// Get: latest and a given version.
	got, err := officer.GetKey(ctx, name, "", nil)
	require.NoError(t, err)
	require.Equal(t, v1, got.Key.KID.Version())
	require.Equal(t, created.Key.N, got.Key.N)
	got, err = officer.GetKey(ctx, name, v1, nil)
	require.NoError(t, err)
	require.Equal(t, v1, got.Key.KID.Version())

	// A Crypto User wraps and unwraps with the version, with every RSA algorithm.
	user, _ := b.keysClient(t, b.principal(t, keyvault.RoleCryptoUser))
	for _, alg := range []azkeys.EncryptionAlgorithm{azkeys.EncryptionAlgorithmRSAOAEP256, azkeys.EncryptionAlgorithmRSAOAEP, azkeys.EncryptionAlgorithmRSA15} {
		wrapped, err := user.WrapKey(ctx, name, v1, wrapParams(alg, testDataKey), nil)
		require.NoError(t, err, alg)
		require.Equal(t, v1, wrapped.KID.Version())
		require.Len(t, wrapped.Result, 256, alg)
		require.False(t, bytes.Contains(wrapped.Result, testDataKey))
		unwrapped, err := user.UnwrapKey(ctx, name, v1, wrapParams(alg, wrapped.Result), nil)
		require.NoError(t, err, alg)
		require.Equal(t, testDataKey, unwrapped.Result, alg)
	}
	// The wrapped value is RSA-OAEP-256 under the key's public half, as Key Vault's is.
	wrapped, err := user.WrapKey(ctx, name, v1, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, testDataKey), nil)
	require.NoError(t, err)
	plain, err := b.vault.UnwrapKey(name, v1, keyvault.AlgRSAOAEP256, wrapped.Result)
	require.NoError(t, err)
	require.Equal(t, testDataKey, plain)
	snap := b.vault.Snapshot()
	require.Len(t, snap.Keys, 1)
	pub := snap.Keys[0].Versions[0].PublicKey
	require.Equal(t, new(big.Int).SetBytes(created.Key.N), pub.N)
	require.Equal(t, 2048, snap.Keys[0].Versions[0].Size)

	// A new version: the versionless path uses it, the old version still unwraps what it wrapped.
	b.clock.Advance(1)
	created2, err := officer.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA), KeySize: to(int32(3072))}, nil)
	require.NoError(t, err)
	v2 := created2.Key.KID.Version()
	require.NotEqual(t, v1, v2)
	require.Len(t, created2.Key.N, 384)
	require.Len(t, created2.Key.KeyOps, 6, "every RSA operation by default")
	latest, err := user.WrapKey(ctx, name, "", wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, testDataKey), nil)
	require.NoError(t, err)
	require.Equal(t, v2, latest.KID.Version())
	_, err = user.UnwrapKey(ctx, name, "", wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, wrapped.Result), nil)
	re := respErr(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode, "a value wrapped by another version")
	require.Equal(t, "BadParameter", re.ErrorCode)
	require.Contains(t, re.Error(), "Error occurred while decoding OAEP padding.")
	again, err := user.UnwrapKey(ctx, name, v1, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, wrapped.Result), nil)
	require.NoError(t, err)
	require.Equal(t, testDataKey, again.Result)

	// Not found: a version that does not exist, a key that does not exist.
	_, err = user.UnwrapKey(ctx, name, "0123456789abcdef0123456789abcdef", wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, wrapped.Result), nil)
	re = respErr(t, err)
	require.Equal(t, http.StatusNotFound, re.StatusCode)
	require.Equal(t, "KeyNotFound", re.ErrorCode)
	require.Contains(t, re.Error(), "A key with (name/id) rotor-kek/0123456789abcdef0123456789abcdef was not found in this key vault.")
	_, err = user.GetKey(ctx, "no-such-key", "", nil)
	re = respErr(t, err)
	require.Equal(t, http.StatusNotFound, re.StatusCode)
	require.Equal(t, "KeyNotFound", re.ErrorCode)

	// A wrong algorithm.
	_, err = user.WrapKey(ctx, name, v1, wrapParams(azkeys.EncryptionAlgorithmA256KW, testDataKey), nil)
	re = respErr(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)
	require.Equal(t, "BadParameter", re.ErrorCode)
}

func TestKeyRoles(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	const name = "rotor-kek"
	v1, err := b.vault.CreateKey(name, keyvault.KeyProperties{})
	require.NoError(t, err)
	_, err = b.vault.CreateKey("other-key", keyvault.KeyProperties{})
	require.NoError(t, err)
	params := wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, testDataKey)

	forbidden := func(err error, action string) {
		t.Helper()
		re := respErr(t, err)
		require.Equal(t, http.StatusForbidden, re.StatusCode)
		require.Equal(t, "Forbidden", re.ErrorCode)
		require.Contains(t, re.Error(), "ForbiddenByRbac")
		require.Contains(t, re.Error(), "Action: '"+action+"'")
	}

	// No role at all.
	none, _ := b.keysClient(t, b.principal(t, ""))
	_, err = none.WrapKey(ctx, name, v1, params, nil)
	forbidden(err, keyvault.ActionKeyWrap)
	_, err = none.UnwrapKey(ctx, name, v1, params, nil)
	forbidden(err, keyvault.ActionKeyUnwrap)

	// Secrets roles grant nothing on keys.
	secrets, _ := b.keysClient(t, b.principal(t, keyvault.RoleSecretsOfficer))
	_, err = secrets.WrapKey(ctx, name, v1, params, nil)
	forbidden(err, keyvault.ActionKeyWrap)

	// A Crypto User uses keys but cannot create them.
	user, _ := b.keysClient(t, b.principal(t, keyvault.RoleCryptoUser))
	_, err = user.CreateKey(ctx, "new-key", azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA)}, nil)
	forbidden(err, keyvault.ActionKeyCreate)
	w, err := user.WrapKey(ctx, name, v1, params, nil)
	require.NoError(t, err)
	_, err = user.UnwrapKey(ctx, name, v1, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, w.Result), nil)
	require.NoError(t, err)
	_, err = user.GetKey(ctx, name, v1, nil)
	require.NoError(t, err)

	// The Crypto Service Encryption User reads, wraps and unwraps, and nothing else.
	svc, _ := b.keysClient(t, b.principal(t, keyvault.RoleCryptoServiceEncryptionUser))
	w, err = svc.WrapKey(ctx, name, v1, params, nil)
	require.NoError(t, err)
	_, err = svc.UnwrapKey(ctx, name, v1, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, w.Result), nil)
	require.NoError(t, err)
	_, err = svc.CreateKey(ctx, "new-key", azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA)}, nil)
	forbidden(err, keyvault.ActionKeyCreate)

	// A Reader gets the public key, never uses it.
	reader, _ := b.keysClient(t, b.principal(t, keyvault.RoleReader))
	_, err = reader.GetKey(ctx, name, "", nil)
	require.NoError(t, err)
	_, err = reader.UnwrapKey(ctx, name, v1, params, nil)
	forbidden(err, keyvault.ActionKeyUnwrap)

	// The Administrator does everything.
	admin, _ := b.keysClient(t, b.principal(t, keyvault.RoleAdministrator))
	_, err = admin.CreateKey(ctx, "admin-key", azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSAHSM)}, nil)
	require.NoError(t, err)
	_, err = admin.WrapKey(ctx, "admin-key", "", params, nil)
	require.NoError(t, err)

	// An assignment on one key covers that key only, and no secret of the same name.
	scoped := b.principal(t, "")
	_, err = b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: scoped.ObjectID, Role: keyvault.RoleCryptoUser, Key: name})
	require.NoError(t, err)
	sc, _ := b.keysClient(t, scoped)
	_, err = sc.WrapKey(ctx, name, v1, params, nil)
	require.NoError(t, err)
	_, err = sc.WrapKey(ctx, "other-key", "", params, nil)
	forbidden(err, keyvault.ActionKeyWrap)
	_, err = b.vault.AssignRole(keyvault.RoleAssignment{PrincipalID: scoped.ObjectID, Role: keyvault.RoleCryptoUser, Key: name, Secret: name})
	require.ErrorContains(t, err, "not both")
}

func TestKeyOperationsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	p := b.principal(t, keyvault.RoleAdministrator)
	client, _ := b.keysClient(t, p)
	tok := b.token(t, p)

	// A key whose operations do not include unwrapKey.
	encOnly, err := b.vault.CreateKey("encrypt-only", keyvault.KeyProperties{Ops: []string{keyvault.KeyOpEncrypt, keyvault.KeyOpWrapKey}})
	require.NoError(t, err)
	w, err := client.WrapKey(ctx, "encrypt-only", encOnly, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, testDataKey), nil)
	require.NoError(t, err)
	_, err = client.UnwrapKey(ctx, "encrypt-only", encOnly, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, w.Result), nil)
	re := respErr(t, err)
	require.Equal(t, http.StatusForbidden, re.StatusCode)
	require.Contains(t, re.Error(), "Operation unwrapKey is not permitted on this key.")
	require.Contains(t, re.Error(), "KeyOperationForbidden")

	// A disabled key: get works, using it does not.
	disabled, err := b.vault.CreateKey("disabled", keyvault.KeyProperties{Enabled: to(false)})
	require.NoError(t, err)
	got, err := client.GetKey(ctx, "disabled", disabled, nil)
	require.NoError(t, err)
	require.False(t, *got.Attributes.Enabled)
	_, err = client.WrapKey(ctx, "disabled", disabled, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, testDataKey), nil)
	re = respErr(t, err)
	require.Equal(t, http.StatusForbidden, re.StatusCode)
	require.Contains(t, re.Error(), "KeyDisabled")

	v, err := b.vault.CreateKey("kek", keyvault.KeyProperties{})
	require.NoError(t, err)
	wrapPath := "/keys/kek/" + v + "/unwrapkey?api-version=2025-07-01"
	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]string{"alg": "RSA-OAEP-256", "value": "not*base64url"}, "Content of 'value' is not base64url."},
		{map[string]string{"alg": "RSA-OAEP-256"}, "Property 'value' is required."},
		{map[string]string{"value": "AAAA"}, "Property 'alg' is required."},
		{map[string]string{"alg": "RSA-OAEP-512", "value": "AAAA"}, "Algorithm 'RSA-OAEP-512' is not supported"},
		{map[string]string{"alg": "RSA-OAEP-256", "value": "AAAA"}, "Error occurred while decoding OAEP padding."},
		{"{", "not valid JSON"},
	} {
		r := b.raw(t, http.MethodPost, wrapPath, tok, tc.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%v: %s", tc.body, r.body)
		code, _ := r.errorCode(t)
		require.Equal(t, "BadParameter", code)
		require.Contains(t, string(r.body), tc.want)
	}

	// Too long a value for the key and algorithm.
	_, err = client.WrapKey(ctx, "kek", v, wrapParams(azkeys.EncryptionAlgorithmRSAOAEP256, make([]byte, 191)), nil)
	re = respErr(t, err)
	require.Equal(t, http.StatusBadRequest, re.StatusCode)

	// Creation refuses what Key Vault refuses, and says what the simulator does not simulate.
	for _, tc := range []struct {
		params azkeys.CreateKeyParameters
		status int
	}{
		{azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA), KeySize: to(int32(1024))}, http.StatusBadRequest},
		{azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA), PublicExponent: to(int32(3))}, http.StatusBadRequest},
		{azkeys.CreateKeyParameters{Kty: to(azkeys.KeyType("RSB"))}, http.StatusBadRequest},
		{azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA), KeyOps: []*azkeys.KeyOperation{to(azkeys.KeyOperation("fly"))}}, http.StatusBadRequest},
		{azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeEC), Curve: to(azkeys.CurveNameP256)}, http.StatusNotImplemented},
	} {
		_, err := client.CreateKey(ctx, "refused", tc.params, nil)
		re := respErr(t, err)
		require.Equal(t, tc.status, re.StatusCode, "%+v", tc.params)
	}
	require.Len(t, b.vault.Snapshot().Keys, 3, "nothing was created by a refused request")

	// Key operations the simulator does not reproduce answer 501; unknown paths 404.
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/keys", http.StatusNotImplemented},
		{http.MethodPost, "/keys/kek/" + v + "/encrypt", http.StatusNotImplemented},
		{http.MethodDelete, "/keys/kek", http.StatusNotImplemented},
		{http.MethodGet, "/keys/kek/versions", http.StatusNotImplemented},
		{http.MethodGet, "/deletedkeys", http.StatusNotImplemented},
		{http.MethodPost, "/keys/kek/" + v + "/frobnicate", http.StatusNotFound},
		{http.MethodGet, "/keys/kek/create", http.StatusMethodNotAllowed},
	} {
		r := b.raw(t, tc.method, tc.path+"?api-version=2025-07-01", tok, nil)
		require.Equal(t, tc.status, r.status, "%s %s: %s", tc.method, tc.path, r.body)
	}

	// Unauthenticated: the same challenge as for secrets.
	r := b.raw(t, http.MethodPost, wrapPath, "", map[string]string{"alg": "RSA-OAEP-256", "value": "AAAA"})
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Contains(t, r.header.Get("WWW-Authenticate"), `resource="https://vault.azure.net"`)
}

// The public key a snapshot shows is the key's: a value wrapped locally with it unwraps in the
// vault.
func TestKeySnapshotPublicKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	v, err := b.vault.CreateKey("kek", keyvault.KeyProperties{Tags: map[string]string{"a": "b"}})
	require.NoError(t, err)
	snap := b.vault.Snapshot().Keys
	require.Len(t, snap, 1)
	require.Equal(t, "kek", snap[0].Name)
	require.Equal(t, v, snap[0].Versions[0].ID)
	require.Equal(t, map[string]string{"a": "b"}, snap[0].Versions[0].Tags)
	var pub *rsa.PublicKey = snap[0].Versions[0].PublicKey
	require.Equal(t, 65537, pub.E)
	_, err = b.vault.CreateKey("bad name!", keyvault.KeyProperties{})
	require.Error(t, err)
	_, err = b.vault.CreateKey("big", keyvault.KeyProperties{Size: 1000})
	require.ErrorContains(t, err, "Invalid key size 1000")
	_, err = b.vault.UnwrapKey("kek", "", keyvault.AlgRSAOAEP256, []byte("short"))
	require.ErrorContains(t, err, "OAEP padding")
}
