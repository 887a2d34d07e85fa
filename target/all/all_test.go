package all_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/target/all"
	"github.com/rotorhq/rotor/target/exec"
	"github.com/rotorhq/rotor/target/file"
	"github.com/rotorhq/rotor/target/httpcheck"
	"github.com/rotorhq/rotor/target/keyvault"
	"github.com/rotorhq/rotor/target/kubernetes"
	"github.com/rotorhq/rotor/target/springrefresh"
	"github.com/rotorhq/rotor/target/webhook"
)

// A policy using every step type, as docs/targets.md shows them.
const cfg = `
tenants:
  - name: contoso
    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47
    auth: {method: client_secret, client_id: 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c, client_secret: env:ROTOR_CONTOSO_CLIENT_SECRET}
policies:
  - name: orders
    steps:
      - {name: kv, type: keyvault, vault_url: "https://contoso-prod.vault.azure.net", secret_name: orders-api-client-secret, disable_previous: true}
      - name: k8s
        type: kubernetes
        namespace: orders
        secret_name: orders-entra
        key: AZURE_CLIENT_SECRET
        extra_keys: {AZURE_CLIENT_ID: "{{.AppID}}", AZURE_TENANT_ID: "{{.TenantID}}"}
        restart: [deployment/orders-api]
      - {name: restart-workers, type: kubernetes_restart, namespace: orders, workloads: [statefulset/orders-worker]}
      - {name: appsettings, type: file, path: /srv/orders/appsettings.json, key: "Entra:ClientSecret", on_failure: continue}
      - {name: legacy, type: exec, command: [/usr/local/bin/push-secret, --app, orders], timeout: 2m, unchanged_exit_code: 3}
      - {name: refresh, type: spring_refresh, url: "https://orders.internal.example/actuator/refresh", username: rotor, password: env:ORDERS_ACTUATOR_PASSWORD, allow_private: true}
      - {name: healthy, type: http_check, url: "https://orders.internal.example/actuator/health", json_field: status, json_value: UP, allow_hosts: ["*.internal.example"]}
      - {name: notify, type: webhook, url: "https://hooks.example.com/rotor", signing_key: env:ROTOR_WEBHOOK_KEY}
encryption:
  key: env:ROTOR_KEK
`

func TestRegistryChecksEveryType(t *testing.T) {
	t.Parallel()
	reg := all.Registry(all.Deps{})
	require.Equal(t, []string{"exec", "file", "http_check", "keyvault", "kubernetes", "kubernetes_restart", "spring_refresh", "webhook"}, reg.Types())
	env := func(string) (string, bool) { return "", false }
	c, err := config.Parse("rotor.yaml", []byte(cfg), config.Options{LookupEnv: env, Steps: reg.Check})
	require.NoError(t, err)

	// Settings stored as data build targets without I/O.
	for _, st := range c.Policies[0].Steps {
		spec, err := st.Spec()
		require.NoError(t, err)
		tg, err := reg.Build(spec)
		require.NoError(t, err, spec.Name)
		require.NotNil(t, tg)
	}

	// Problems are reported with the field and line.
	bad := `
policies:
  - name: p
    steps:
      - {name: kv, type: keyvault, vault_url: "http://kv.example", secret_name: x}
      - {name: f, type: file, path: relative.json, key: a}
      - {name: w, type: webhook, url: "http://10.0.0.1/hook", signing_key: plain}
encryption:
  key: env:K
`
	_, err = config.Parse("rotor.yaml", []byte(bad), config.Options{LookupEnv: env, Steps: reg.Check})
	require.ErrorContains(t, err, `line 5: policies[0].steps[0].vault_url: "http://kv.example": Key Vault is reached over https`)
	require.ErrorContains(t, err, `line 6: policies[0].steps[1].path: "relative.json": must be an absolute path`)
	require.ErrorContains(t, err, `line 7: policies[0].steps[2].signing_key: must be a reference`)
	require.ErrorContains(t, err, `line 7: policies[0].steps[2].url: http://10.0.0.1/hook: plain http sends everything in clear`)
}

func TestKeyVaultWithoutCredential(t *testing.T) {
	t.Parallel()
	reg := all.Registry(all.Deps{})
	tg, err := reg.Build(rotor.StepSpec{Name: "kv", Type: "keyvault", Params: []byte(`{"vault_url":"https://kv.example","secret_name":"x"}`)})
	require.NoError(t, err)
	err = tg.Preflight(context.Background(), rotor.Deployment{TenantName: "contoso"})
	require.ErrorContains(t, err, "key vault credential for tenant contoso: no Key Vault credential configured")
}

// TestNoSettingShadowsStepFields: a step's own settings sit next to name, type and on_failure.
func TestNoSettingShadowsStepFields(t *testing.T) {
	t.Parallel()
	for _, c := range []any{keyvault.Config{}, kubernetes.Config{}, kubernetes.RestartConfig{}, file.Config{}, exec.Config{},
		webhook.Config{}, springrefresh.Config{}, httpcheck.Config{}} {
		typ := reflect.TypeOf(c)
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			require.NotContains(t, []string{"name", "type", "on_failure"}, name, "%s.%s", typ, typ.Field(i).Name)
		}
	}
}
