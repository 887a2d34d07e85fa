package sim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/sim/keyvault"
)

func to[T any](v T) *T { return &v }

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOfficialClientsAgainstTheAssembledSimulator(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Seed: 7, Tenants: 1, AppsPerTenant: 25})
	tenant := s.Seeded.Tenants[0]
	hc := s.CA.HTTPClient()
	cred, err := azidentity.NewClientSecretCredential(tenant.Tenant.ID, tenant.Manager.AppID, tenant.Manager.Secret.Reveal(),
		&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true,
			ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"}, Transport: hc}})
	require.NoError(t, err)

	// rotor's own Graph client lists every seeded application (and the manager app).
	gc, err := graph.New(s.GraphURL(), cred, graph.Options{Transport: hc})
	require.NoError(t, err)
	n := 0
	require.NoError(t, gc.ListApplications(t.Context(), graph.Query{Select: []string{"id", "displayName"}, Top: 10}, func(p []graph.Application) error {
		n += len(p)
		return nil
	}))
	require.Equal(t, 26, n)

	// azsecrets writes to the tenant's vault as the manager application.
	v, ok := s.Vault(VaultName(tenant.Tenant))
	require.True(t, ok)
	kv, err := azsecrets.NewClient(v.URL, cred, &azsecrets.ClientOptions{DisableChallengeResourceVerification: true,
		ClientOptions: azcore.ClientOptions{Transport: hc}})
	require.NoError(t, err)
	value := "value-from-a-test"
	_, err = kv.SetSecret(t.Context(), "payroll", azsecrets.SetSecretParameters{Value: &value}, nil)
	require.NoError(t, err)
	got, err := kv.GetSecret(t.Context(), "payroll", "", nil)
	require.NoError(t, err)
	require.Equal(t, value, *got.Value)

	// azkeys wraps and unwraps with a key of the vault once the manager holds a crypto role.
	_, err = v.KV.AssignRole(keyvault.RoleAssignment{PrincipalID: tenant.Manager.ServicePrincipalID, Role: keyvault.RoleCryptoOfficer})
	require.NoError(t, err)
	keys, err := azkeys.NewClient(v.URL, cred, &azkeys.ClientOptions{DisableChallengeResourceVerification: true,
		ClientOptions: azcore.ClientOptions{Transport: hc}})
	require.NoError(t, err)
	created, err := keys.CreateKey(t.Context(), "rotor-kek", azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeRSA)}, nil)
	require.NoError(t, err)
	alg := azkeys.EncryptionAlgorithmRSAOAEP256
	dataKey := []byte("not-a-real-key-but-32-bytes-long")
	wrapped, err := keys.WrapKey(t.Context(), "rotor-kek", created.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: &alg, Value: dataKey}, nil)
	require.NoError(t, err)
	unwrapped, err := keys.UnwrapKey(t.Context(), "rotor-kek", created.Key.KID.Version(), azkeys.KeyOperationParameters{Algorithm: &alg, Value: wrapped.Result}, nil)
	require.NoError(t, err)
	require.Equal(t, dataKey, unwrapped.Result)

	// The inspection API tells what happened, never a value.
	get := func(path string) string {
		resp, err := hc.Get(s.URL() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		return string(b)
	}
	var idx struct {
		GraphURL string
		Vaults   map[string]string
		Tenants  []struct{ ID, ManagerClientID string }
	}
	require.NoError(t, json.Unmarshal([]byte(get("/_sim/")), &idx))
	require.Equal(t, s.GraphURL(), idx.GraphURL)
	require.Equal(t, v.URL, idx.Vaults[VaultName(tenant.Tenant)])
	require.Equal(t, tenant.Manager.AppID, idx.Tenants[0].ManagerClientID)
	vault := get("/_sim/vaults/" + VaultName(tenant.Tenant))
	require.Contains(t, vault, `"Name": "payroll"`)
	require.NotContains(t, vault, value)
	var vkeys []VaultKey
	require.NoError(t, json.Unmarshal([]byte(get("/_sim/vaults/"+VaultName(tenant.Tenant)+"/keys")), &vkeys))
	require.Len(t, vkeys, 1)
	require.Equal(t, "rotor-kek", vkeys[0].Name)
	require.Equal(t, created.Key.KID.Version(), vkeys[0].Versions[0].ID)
	require.Equal(t, 2048, vkeys[0].Versions[0].Size)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(created.Key.N), vkeys[0].Versions[0].N)
	require.Contains(t, get("/_sim/tenants/"+tenant.Tenant.ID+"/signins/"+tenant.Manager.AppID), tenant.Manager.SecretKeyID)
	require.Contains(t, get("/_sim/ca.pem"), "BEGIN CERTIFICATE")
	history := get("/_sim/tenants/" + tenant.Tenant.ID + "/credentials?app=" + tenant.Manager.AppID)
	require.NotContains(t, history, tenant.Manager.Secret.Reveal())
}

func TestFaultsCanBeChangedAtRunTime(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Seed: 1, Tenants: 1, AppsPerTenant: 3})
	tenant := s.Seeded.Tenants[0]
	hc := s.CA.HTTPClient()
	req, err := http.NewRequest("PUT", s.URL()+"/_sim/faults", strings.NewReader("GET /v1.0/applications 503=1"))
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cred, err := azidentity.NewClientSecretCredential(tenant.Tenant.ID, tenant.Manager.AppID, tenant.Manager.Secret.Reveal(),
		&azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true,
			ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"}, Transport: hc}})
	require.NoError(t, err)
	gc, err := graph.New(s.GraphURL(), cred, graph.Options{Transport: hc, MaxAttempts: 1})
	require.NoError(t, err)
	err = gc.ListApplications(t.Context(), graph.Query{}, func([]graph.Application) error { return nil })
	var ge *graph.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, http.StatusServiceUnavailable, ge.StatusCode)
	require.Equal(t, "serviceNotAvailable", ge.Code, "an injected fault has Graph's error shape")
	require.NotEmpty(t, ge.RequestID)

	req, _ = http.NewRequest("PUT", s.URL()+"/_sim/faults", strings.NewReader("GET /v1.0 429=nope"))
	resp, err = hc.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(b), "429=nope")
}
