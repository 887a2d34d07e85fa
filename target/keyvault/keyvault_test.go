package keyvault_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	simkv "github.com/rotorhq/rotor/sim/keyvault"
	"github.com/rotorhq/rotor/sim/tlsca"
	"github.com/rotorhq/rotor/target/keyvault"
	"github.com/rotorhq/rotor/target/targettest"
)

const tenantID = "72f988bf-0000-4000-8000-00000000c0de" // targettest.Deployment's

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// ca is shared by the tests: creating one costs a key generation.
var ca = sync.OnceValue(func() *tlsca.CA {
	c, err := tlsca.New(tlsca.Options{})
	if err != nil {
		panic(err)
	}
	return c
})

type testBundle struct {
	clock   *clockwork.FakeClock
	auth    *simkv.TestAuthenticator
	vault   *simkv.Vault
	url     string
	cred    *credential
	tenants sync.Map // tenant names the factory asked credentials for
}

var principalSeq atomic.Int64

// setup serves a simulated vault over TLS on loopback, with a principal holding role.
func setup(t *testing.T, role simkv.Role) *testBundle {
	t.Helper()
	b := &testBundle{clock: clockwork.NewFakeClockAt(start)}
	b.auth = simkv.NewTestAuthenticator(b.clock)
	v, err := simkv.New(simkv.Config{
		Name: "rotor-test", TenantID: tenantID, Authority: "https://127.0.0.1:1",
		Authenticator: b.auth, Clock: b.clock, SoftDeleteRetentionDays: 7,
	})
	require.NoError(t, err)
	b.vault = v
	tlsCfg, err := ca().ServerTLSConfig()
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(v)
	srv.TLS = tlsCfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	b.url = srv.URL
	n := principalSeq.Add(1)
	p := simkv.Principal{TenantID: tenantID, ObjectID: fmt.Sprintf("00000000-0000-0000-0000-%012d", n), AppID: fmt.Sprintf("aaaaaaaa-0000-0000-0000-%012d", n)}
	if role != "" {
		_, err := v.AssignRole(simkv.RoleAssignment{PrincipalID: p.ObjectID, Role: role})
		require.NoError(t, err)
	}
	b.cred = &credential{b: b, p: p}
	return b
}

type credential struct {
	b *testBundle
	p simkv.Principal
}

func (c *credential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if opts.TenantID != tenantID {
		return azcore.AccessToken{}, fmt.Errorf("token for tenant %q asked", opts.TenantID)
	}
	tok, err := c.b.auth.IssueToken(c.p, simkv.Audience, time.Hour)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (b *testBundle) factoryCred(tenant string) (azcore.TokenCredential, error) {
	b.tenants.Store(tenant, true)
	return b.cred, nil
}

func (b *testBundle) build(t *testing.T, settings string) rotor.Target {
	t.Helper()
	tg, err := b.tryBuild(settings)
	require.NoError(t, err)
	return tg
}

// tryBuild decodes settings (a YAML flow mapping; %[1]s is the vault URL) into a target.
func (b *testBundle) tryBuild(settings string) (rotor.Target, error) {
	var n yaml.Node
	settings = strings.ReplaceAll(settings, "%[1]s", b.url)
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	tg := keyvault.Factory(b.factoryCred, ca().HTTPClient())(d, n.Content[0], "steps.kv")
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

// client is an azsecrets client acting as the bundle's principal, for arranging tests.
func (b *testBundle) client(t *testing.T) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(b.url, b.cred, &azsecrets.ClientOptions{
		ClientOptions:                        azcore.ClientOptions{Transport: ca().HTTPClient(), Retry: policy.RetryOptions{MaxRetries: -1}},
		DisableChallengeResourceVerification: true,
	})
	require.NoError(t, err)
	return c
}

func (b *testBundle) secret(name string) *simkv.SecretSnapshot {
	for _, s := range b.vault.Snapshot().Secrets {
		if strings.EqualFold(s.Name, name) {
			return &s
		}
	}
	return nil
}

// state renders a secret's state and versions (values included; times excluded).
func (b *testBundle) state(t *testing.T, name string) []byte {
	t.Helper()
	s := b.secret(name)
	if s == nil {
		return nil
	}
	type ver struct {
		ID, Value, ContentType string
		Tags                   map[string]string
		Enabled                bool
		NotBefore, Expires     *time.Time
	}
	out := struct {
		State    string
		Versions []ver
	}{State: s.State}
	for _, v := range s.Versions {
		out.Versions = append(out.Versions, ver{v.ID, v.Value.Reveal(), v.ContentType, v.Tags, v.Enabled, v.NotBefore, v.Expires})
	}
	j, err := json.Marshal(out)
	require.NoError(t, err)
	return j
}

// current is what a consumer reading the latest version gets.
func (b *testBundle) current(name string) (secret.Value, bool) {
	s := b.secret(name)
	if s == nil || s.State != simkv.StateActive || len(s.Versions) == 0 {
		return secret.Value{}, false
	}
	v := s.Versions[len(s.Versions)-1]
	if !v.Enabled {
		return secret.Value{}, false
	}
	return v.Value, true
}

const settings = `{vault_url: %[1]s, secret_name: orders-api, content_type: text/plain, tags: {team: orders},
	disable_previous: true, disable_challenge_resource_verification: true}`

func TestConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, _ *slog.Logger) *targettest.Fixture {
			b := setup(t, simkv.RoleSecretsOfficer)
			return &targettest.Fixture{
				Target:  b.build(t, settings),
				State:   func(t *testing.T) []byte { return b.state(t, "orders-api") },
				Current: func(*testing.T) (secret.Value, bool) { return b.current("orders-api") },
				Foreign: func(t *testing.T) {
					_, err := b.vault.SetSecret("orders-api", secret.New("fake-foreign-value"), simkv.SecretProperties{Tags: map[string]string{"owner": "someone"}})
					require.NoError(t, err)
				},
			}
		},
	})
}

func TestPublishWritesVersionWithTagsAndDates(t *testing.T) {
	t.Parallel()
	b := setup(t, simkv.RoleSecretsOfficer)
	_, err := b.vault.SetSecret("orders-api", secret.New("fake-old-value"), simkv.SecretProperties{
		Tags: map[string]string{"managed-by": "rotor", "cost-center": "42", "rotor-key-id": "old"}, ContentType: "application/x-old"})
	require.NoError(t, err)
	tg := b.build(t, `{vault_url: %[1]s, secret_name: orders-api, tags: {team: orders}, disable_challenge_resource_verification: true}`)
	ctx := context.Background()
	d := targettest.Deployment(1)
	require.NoError(t, tg.Preflight(ctx, rotor.Deployment{TenantName: d.TenantName}))
	o, err := tg.Publish(ctx, d)
	require.NoError(t, err)
	require.True(t, o.Changed)
	s := b.secret("orders-api")
	require.Len(t, s.Versions, 2)
	v := s.Versions[1]
	require.Equal(t, "wrote version "+v.ID[:8]+" of secret orders-api in vault "+strings.TrimPrefix(b.url, "https://"), o.Message)
	require.True(t, v.Value.Equal(d.Value))
	require.Equal(t, map[string]string{
		"managed-by": "rotor", "rotor-app-id": d.AppID, "rotor-key-id": d.KeyID, "rotor-rotation-id": d.RotationID,
		"cost-center": "42", "team": "orders",
	}, v.Tags, "other tags carried over, the step's added, rotor's replaced")
	require.Equal(t, "application/x-old", v.ContentType, "content type carried over")
	require.Equal(t, d.ExpiresAt, *v.Expires)
	require.Equal(t, d.NotBefore, *v.NotBefore)
	require.True(t, v.Enabled)
	_, asked := b.tenants.Load("contoso")
	require.True(t, asked, "the credential is looked up by the deployment's tenant name")
}

func TestSoftDeleted(t *testing.T) {
	t.Parallel()
	b := setup(t, simkv.RoleSecretsOfficer)
	ctx := context.Background()
	c := b.client(t)
	_, err := c.SetSecret(ctx, "orders-api", azsecrets.SetSecretParameters{Value: to("fake-old"), Tags: map[string]*string{"managed-by": to("rotor")}}, nil)
	require.NoError(t, err)
	_, err = c.DeleteSecret(ctx, "orders-api", nil)
	require.NoError(t, err)

	refuse := b.build(t, `{vault_url: %[1]s, secret_name: orders-api, disable_challenge_resource_verification: true}`)
	err = refuse.Preflight(ctx, rotor.Deployment{TenantName: "contoso"})
	require.ErrorContains(t, err, "secret orders-api in vault "+strings.TrimPrefix(b.url, "https://")+" is soft-deleted: set recover_deleted: true to let rotor recover it, or purge it")
	_, err = refuse.Publish(ctx, targettest.Deployment(1))
	require.ErrorContains(t, err, "set recover_deleted: true")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
	require.Equal(t, simkv.StateDeleted, b.secret("orders-api").State)

	recover := b.build(t, `{vault_url: %[1]s, secret_name: orders-api, recover_deleted: true, disable_challenge_resource_verification: true}`)
	require.NoError(t, recover.Preflight(ctx, rotor.Deployment{TenantName: "contoso"}))
	require.Equal(t, simkv.StateDeleted, b.secret("orders-api").State, "preflight recovers nothing")
	_, err = recover.Publish(ctx, targettest.Deployment(1))
	require.ErrorContains(t, err, "rotor started its recovery")
	require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err), "the engine retries once recovery completes")
	o, err := recover.Publish(ctx, targettest.Deployment(1))
	require.NoError(t, err)
	require.True(t, o.Changed)
	cur, ok := b.current("orders-api")
	require.True(t, ok)
	require.True(t, cur.Equal(targettest.Deployment(1).Value))

	// A deleted secret that is not rotor's is not recovered without adopt.
	_, err = c.SetSecret(ctx, "foreign", azsecrets.SetSecretParameters{Value: to("fake-foreign")}, nil)
	require.NoError(t, err)
	_, err = c.DeleteSecret(ctx, "foreign", nil)
	require.NoError(t, err)
	foreign := b.build(t, `{vault_url: %[1]s, secret_name: foreign, recover_deleted: true, disable_challenge_resource_verification: true}`)
	_, err = foreign.Publish(ctx, targettest.Deployment(1))
	require.ErrorIs(t, err, rotor.ErrNotOwned)
	require.Equal(t, simkv.StateDeleted, b.secret("foreign").State)
}

func TestRevertKeepsConsumersWorking(t *testing.T) {
	t.Parallel()
	b := setup(t, simkv.RoleSecretsOfficer)
	tg := b.build(t, settings)
	ctx := context.Background()
	d1, d2 := targettest.Deployment(1), targettest.Deployment(2)
	_, err := tg.Publish(ctx, d1)
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	o, err := tg.Publish(ctx, d2)
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	require.NoError(t, tg.(rotor.Reverter).Revert(ctx, rotor.Deployment{RotationID: d2.RotationID, PreviousKeyID: d2.PreviousKeyID, TenantName: "contoso"}, o.Undo))
	s := b.secret("orders-api")
	require.Len(t, s.Versions, 3)
	require.True(t, s.Versions[0].Enabled)
	require.False(t, s.Versions[1].Enabled, "the rotation's version is disabled")
	latest := s.Versions[2]
	require.True(t, latest.Enabled)
	require.True(t, latest.Value.Equal(d1.Value), "the previous value is the current version again")
	require.Equal(t, d1.RotationID, latest.Tags["rotor-rotation-id"])
	require.Equal(t, *s.Versions[0].Expires, *latest.Expires)
}

func TestRetireDisablesPreviousOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, simkv.RoleSecretsOfficer)
	ctx := context.Background()
	keep := b.build(t, `{vault_url: %[1]s, secret_name: orders-api, disable_challenge_resource_verification: true}`)
	tg := b.build(t, settings)
	d1, d2 := targettest.Deployment(1), targettest.Deployment(2)
	for _, d := range []rotor.Deployment{d1, d1, d2} {
		_, err := tg.Publish(ctx, d)
		require.NoError(t, err)
		b.clock.Advance(time.Second)
	}
	require.NoError(t, keep.(rotor.Retirer).Retire(ctx, d2), "without disable_previous, retire does nothing")
	require.True(t, b.secret("orders-api").Versions[0].Enabled)
	require.NoError(t, tg.(rotor.Retirer).Retire(ctx, d2))
	s := b.secret("orders-api")
	require.Len(t, s.Versions, 2)
	require.False(t, s.Versions[0].Enabled)
	require.True(t, s.Versions[1].Enabled)
}

func TestNotAuthorised(t *testing.T) {
	t.Parallel()
	b := setup(t, simkv.RoleSecretsUser) // may read, not write
	tg := b.build(t, settings)
	ctx := context.Background()
	require.NoError(t, tg.Preflight(ctx, rotor.Deployment{TenantName: "contoso"}))
	_, err := tg.Publish(ctx, targettest.Deployment(1))
	require.ErrorContains(t, err, "set secret orders-api in vault "+strings.TrimPrefix(b.url, "https://")+": Key Vault answered 403 Forbidden (ForbiddenByRbac): rotor's identity needs the Key Vault Secrets Officer role")
	require.NotContains(t, err.Error(), "\n")
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))

	none := setup(t, "")
	err = none.build(t, settings).Preflight(ctx, rotor.Deployment{TenantName: "contoso"})
	require.ErrorContains(t, err, "get secret orders-api")
	require.ErrorContains(t, err, "403")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	b := &testBundle{url: "https://kv.example"}
	for settings, want := range map[string]string{
		`{secret_name: x}`: "steps.kv.vault_url: required field is missing",
		`{vault_url: "http://kv.example", secret_name: x}`:          "Key Vault is reached over https",
		`{vault_url: "https://kv.example/x", secret_name: x}`:       "without a path",
		`{vault_url: %[1]s, secret_name: "a_b"}`:                    `steps.kv.secret_name: "a_b": 1-127 letters, digits and hyphens`,
		`{vault_url: %[1]s, secret_name: a, tags: {rotor-x: y}}`:    "steps.kv.tags.rotor-x: is rotor's own tag",
		`{vault_url: %[1]s, secret_name: a, tags: {managed-by: y}}`: "steps.kv.tags.managed-by: is rotor's own tag",
		`{vault_url: %[1]s, secret_name: a, adopt: yes}`:            `steps.kv.adopt: "yes" is not a boolean`,
	} {
		_, err := b.tryBuild(settings)
		require.ErrorContains(t, err, want, settings)
	}
}

func to[T any](v T) *T { return &v }
