package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/graph"
)

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
