package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func parseErrs(t *testing.T, src string, lookup func(string) (string, bool)) []rotor.FieldError {
	t.Helper()
	_, err := Parse("test.yaml", []byte(src), Options{LookupEnv: lookup})
	require.Error(t, err)
	var ce *Error
	require.True(t, errors.As(err, &ce), "want *config.Error, got %T: %v", err, err)
	return ce.Errs
}

func TestExampleValidates(t *testing.T) {
	t.Parallel()
	c, err := Load("../examples/rotor.yaml", Options{LookupEnv: env()})
	require.NoError(t, err)
	require.Len(t, c.Tenants, 3)
	require.Equal(t, "/var/lib/rotor/rotor.db", c.Store.Path, "${ROTOR_DATA_DIR:-...} falls back to its default")
	require.Equal(t, "https://login.microsoftonline.us/", c.Tenants[1].AuthorityHost)
	require.Equal(t, "https://graph.microsoft.com/v1.0", c.Tenants[0].GraphURL)
	require.Equal(t, secret.Ref("env:ROTOR_CONTOSO_CLIENT_SECRET"), c.Tenants[0].Auth.ClientSecret)
	require.Equal(t, DefaultSyncInterval, c.Tenants[1].Sync.Interval.D())
	require.Len(t, c.Notifiers, 4)
	require.Len(t, c.Notifications.Routes, 4)
	routes, err := c.NotifyRoutes()
	require.NoError(t, err)
	require.NotNil(t, routes[3].Digest)
}

// The acceptance case: a typo'd key, a bad duration and a missing required field are all
// reported, each with its line.
func TestTypoBadDurationAndMissingFieldReportedTogether(t *testing.T) {
	t.Parallel()
	src := `store:
  driver: sqlite
thresholds:
  warn: 30 days
tenants:
  - name: contoso
    tenant_idd: 72f988bf-86f1-41af-91ab-2d7cd011db47
    auth:
      method: client_secret
      client_id: 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c
      client_secret: env:SECRET
`
	errs := parseErrs(t, src, env())
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	require.Equal(t, []string{
		`line 4: thresholds.warn: invalid duration "30 days": unknown unit " days" (use ms, s, m, h, d or w)`,
		`line 6: tenants[0].tenant_id: required field is missing`,
		`line 7: tenants[0].tenant_idd: unknown field (did you mean "tenant_id"?)`,
	}, msgs)
}

func TestErrorsNameFieldAndLine(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		src  string
		want string
	}{
		"inline secret": {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  auth:\n    method: client_secret\n    client_id: 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c\n    client_secret: s3cr3t\n",
			`line 7: tenants[0].auth.client_secret: must be a reference "env:NAME" or "file:/path", not a value`},
		"unknown driver":   {"store:\n  driver: mysql\n", `line 2: store.driver: unknown driver "mysql"`},
		"postgres no dsn":  {"store:\n  driver: postgres\n", `store.dsn: required for driver postgres`},
		"postgres path":    {"store:\n  driver: postgres\n  dsn: env:PG\n  path: /var/lib/rotor/rotor.db\n", `line 4: store.path: only for driver sqlite (postgres uses store.dsn)`},
		"wrong kind":       {"tenants: contoso\n", `line 1: tenants: expected a list, got "contoso"`},
		"not a bool":       {"tenants: []\nlog:\n  level: [debug]\n", `line 3: log.level: expected a string, got a list`},
		"bad guid":         {"tenants:\n- name: a\n  tenant_id: contoso.onmicrosoft.com\n  auth: {method: azure_cli}\n", `line 3: tenants[0].tenant_id: "contoso.onmicrosoft.com" is not a directory (tenant) id`},
		"duplicate tenant": {"tenants:\n- {name: a, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, auth: {method: azure_cli}}\n- {name: a, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, auth: {method: azure_cli}}\n", `line 3: tenants[1].name: "a" is already the name of tenants[0]`},
		"method needs":     {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  auth:\n    method: client_certificate\n    client_id: 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c\n", `line 5: tenants[0].auth.certificate: required for method client_certificate`},
		"method forbids":   {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  auth:\n    method: azure_cli\n    client_secret: env:X\n", `line 6: tenants[0].auth.client_secret: not used by method azure_cli`},
		"unknown method":   {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  auth:\n    method: password\n", `line 5: tenants[0].auth.method: unknown method "password"`},
		"http graph":       {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  graph_url: http://graph.example.com/v1.0\n  auth: {method: azure_cli}\n", `line 4: tenants[0].graph_url: "http://graph.example.com/v1.0": use https`},
		"sync too often":   {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  auth: {method: azure_cli}\n  sync: {interval: 10s}\n", `line 5: tenants[0].sync.interval: 10s is too short`},
		"critical > warn":  {"thresholds:\n  warn: 7d\n  critical: 30d\n", `line 3: thresholds.critical: 30d is longer than thresholds.warn (7d)`},
		"duplicate key":    {"log:\n  level: info\n  level: debug\n", `line 3: log.level: duplicate key`},
		"unset env":        {"store:\n  path: ${ROTOR_NOPE}/x.db\n", `line 2: store.path: environment variable ROTOR_NOPE is not set`},
		"empty env":        {"store:\n  path: ${ROTOR_EMPTY}/x.db\n", `line 2: store.path: environment variable ROTOR_EMPTY is empty`},
		"bad owner":        {"policies:\n- name: p\n  select:\n    owners: [ada]\n", `line 4: policies[0].select.owners[0]: "ada" is neither an object id`},
		"select anything":  {"policies:\n- name: p\n  select: {}\n", `line 3: policies[0].select: selects nothing in particular`},
		"verify too often": {"policies:\n- name: p\n  verify: {interval: 10ms}\n", `line 3: policies[0].verify.interval: 10ms is too short`},
		"silent route":     {"notifications:\n  routes:\n  - name: r\n    notifiers: []\n", `line 4: notifications.routes[0].notifiers: names no notifier`},
		"unclosed env":     {"store:\n  path: ${HOME/x.db\n", `line 2: store.path: unclosed ${`},
		"yaml syntax":      {"store:\n  driver: [sqlite\n", `(file): yaml: line 1: did not find expected`},
		"two documents":    {"log: {}\n---\nlog: {}\n", `several YAML documents`},
		"missing ca file":  {"tenants:\n- name: a\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  ca_file: /nonexistent/ca.pem\n  auth: {method: azure_cli}\n", `line 4: tenants[0].ca_file: stat /nonexistent/ca.pem: no such file or directory`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("test.yaml", []byte(tt.src), Options{LookupEnv: env("HOME", "/root", "ROTOR_EMPTY", "")})
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	src := "store:\n  path: ${DATA}/rotor-$$1.db\nlog:\n  level: ${LEVEL:-warn}\n"
	c, err := Parse("t.yaml", []byte(src), Options{LookupEnv: env("DATA", "/srv/rotor")})
	require.NoError(t, err)
	require.Equal(t, "/srv/rotor/rotor-$1.db", c.Store.Path)
	require.Equal(t, "warn", c.Log.Level)

	// Expansion applies to values, including secret references, never to keys.
	src = "tenants:\n- name: a\n  tenant_id: ${TID}\n  auth:\n    method: client_secret\n    client_id: 3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c\n    client_secret: env:${VAR}\n"
	c, err = Parse("t.yaml", []byte(src), Options{LookupEnv: env("TID", "72f988bf-86f1-41af-91ab-2d7cd011db47", "VAR", "A_SECRET")})
	require.NoError(t, err)
	require.Equal(t, secret.Ref("env:A_SECRET"), c.Tenants[0].Auth.ClientSecret)
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("empty.yaml", nil, Options{LookupEnv: env()})
	require.NoError(t, err)
	require.Equal(t, "sqlite", c.Store.Driver)
	require.Equal(t, DefaultSQLitePath, c.Store.Path)
	require.Equal(t, 30*24*time.Hour, c.Thresholds.Warn.D())
	require.Equal(t, 7*24*time.Hour, c.Thresholds.Critical.D())
	require.Equal(t, "info", c.Log.Level)
}

// Each cloud's tenants get tokens for that cloud's Graph, whatever graph_url says.
func TestGraphScopeFollowsTheCloud(t *testing.T) {
	t.Parallel()
	c, err := Parse("clouds.yaml", []byte(`tenants:
  - {name: a, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47, auth: {method: azure_cli}}
  - {name: b, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db48, cloud: usgovernment, auth: {method: azure_cli}}
  - {name: c, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db49, cloud: china, auth: {method: azure_cli}}
  - {name: d, tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db4a, graph_url: "https://127.0.0.1:8443/v1.0", auth: {method: azure_cli}}
`), Options{LookupEnv: env()})
	require.NoError(t, err)
	var scopes []string
	for _, tn := range c.Tenants {
		scopes = append(scopes, tn.GraphScope())
	}
	require.Equal(t, []string{"https://graph.microsoft.com/.default", "https://graph.microsoft.us/.default",
		"https://microsoftgraph.chinacloudapi.cn/.default", "https://graph.microsoft.com/.default"}, scopes)
}

func TestLoadReadsFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "rotor.yaml")
	require.NoError(t, os.WriteFile(p, []byte("log:\n  level: debug\n"), 0o600))
	c, err := Load(p, Options{LookupEnv: env()})
	require.NoError(t, err)
	require.Equal(t, "debug", c.Log.Level)
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"), Options{})
	require.ErrorContains(t, err, "no such file")
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	ok := map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second,
		"1h30m": 90 * time.Minute, "1.5d": 36 * time.Hour, "250ms": 250 * time.Millisecond, "0s": 0,
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "30", "d", "-5m", "5 m", "1y", "1.2.3h"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
	require.Equal(t, "30d", FormatDuration(30*24*time.Hour))
	require.Equal(t, "36h", FormatDuration(36*time.Hour))
	require.Equal(t, "1h0m0.5s", FormatDuration(time.Hour+500*time.Millisecond))
}

// A polymorphic section: known keys decode into the struct, the rest is kept for the section's
// type to decode, with paths and lines intact.
func TestDecoderRest(t *testing.T) {
	t.Parallel()
	type step struct {
		Name   string     `yaml:"name,required"`
		Type   string     `yaml:"type,required"`
		Params *yaml.Node `yaml:",rest"`
	}
	type params struct {
		Vault  string   `yaml:"vault,required"`
		Expiry Duration `yaml:"expiry"`
	}
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("steps:\n- name: a\n  type: kv\n  vault: v1\n  expiry: 3x\n  extra: 1\n"), &root))
	d := NewDecoder(env())
	var cfg struct {
		Steps []step `yaml:"steps"`
	}
	d.Decode(&root, &cfg, "")
	require.Empty(t, d.Errs())
	require.NotNil(t, cfg.Steps[0].Params)
	var p params
	d.Decode(cfg.Steps[0].Params, &p, "steps[0]")
	errs := d.Errs()
	require.Len(t, errs, 2)
	require.Equal(t, "line 5: steps[0].expiry: invalid duration \"3x\": unknown unit \"x\" (use ms, s, m, h, d or w)", errs[0].Error())
	require.True(t, strings.HasPrefix(errs[1].Error(), "line 6: steps[0].extra: unknown field"))
	require.Equal(t, "v1", p.Vault)
}

func TestEncryptionKeyVaultKey(t *testing.T) {
	t.Parallel()
	const tenants = "tenants:\n- name: contoso\n  tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n  auth: {method: azure_cli}\n"
	const kid = "https://contoso-kek.vault.azure.net/keys/rotor-kek/0123456789abcdef0123456789abcdef"
	c, err := Parse("t.yaml", []byte(tenants+"encryption:\n  key: file:/etc/rotor/kek.wrapped\n  old_keys: [env:ROTOR_OLD_KEK]\n  key_vault_key: "+kid+
		"\n  tenant: contoso\n  disable_challenge_resource_verification: true\n"), Options{LookupEnv: env()})
	require.NoError(t, err)
	require.Equal(t, kid, c.Encryption.KeyVaultKey)
	require.Equal(t, "contoso", c.Encryption.Tenant)
	require.True(t, c.Encryption.DisableChallengeResourceVerification)
	require.Equal(t, secret.Ref("file:/etc/rotor/kek.wrapped"), c.Encryption.Key)

	tests := map[string]struct {
		encryption string
		want       []string
	}{
		"no version": {"  key: file:/k\n  key_vault_key: https://contoso-kek.vault.azure.net/keys/rotor-kek\n  tenant: contoso\n",
			[]string{`line 7: encryption.key_vault_key: "https://contoso-kek.vault.azure.net/keys/rotor-kek" has no version: give the key's version (https://<vault>/keys/<name>/<version>) so that a new version of the key never changes what unwraps rotor's key`}},
		"http": {"  key: file:/k\n  key_vault_key: http://127.0.0.1:8444/keys/rotor-kek/0123456789abcdef0123456789abcdef\n  tenant: contoso\n",
			[]string{`line 7: encryption.key_vault_key: "http://127.0.0.1:8444/keys/rotor-kek/0123456789abcdef0123456789abcdef": Key Vault is reached over https`}},
		"not a key": {"  key: file:/k\n  key_vault_key: https://contoso-kek.vault.azure.net/secrets/s/0123456789abcdef0123456789abcdef\n  tenant: contoso\n",
			[]string{`line 7: encryption.key_vault_key: "https://contoso-kek.vault.azure.net/secrets/s/0123456789abcdef0123456789abcdef" is not a Key Vault key identifier (https://<vault>/keys/<name>/<version>)`}},
		"bad version": {"  key: file:/k\n  key_vault_key: https://contoso-kek.vault.azure.net/keys/rotor-kek/v1\n  tenant: contoso\n",
			[]string{`line 7: encryption.key_vault_key: "https://contoso-kek.vault.azure.net/keys/rotor-kek/v1": key version "v1": a version id is 32 hexadecimal characters`}},
		"no tenant": {"  key: file:/k\n  key_vault_key: " + kid + "\n",
			[]string{`line 6: encryption.tenant: required with encryption.key_vault_key: the tenant whose identity calls Key Vault`}},
		"unknown tenant": {"  key: file:/k\n  key_vault_key: " + kid + "\n  tenant: fabrikam\n",
			[]string{`line 8: encryption.tenant: no tenant "fabrikam" in tenants`}},
		"no key": {"  key_vault_key: " + kid + "\n  tenant: contoso\n",
			[]string{`line 6: encryption.key: required with encryption.key_vault_key: the key encryption key wrapped by it (rotor keys generate --key-vault-key)`}},
		"inline wrapped key": {"  key: bm90LWEtd3JhcHBlZC1rZXk\n  key_vault_key: " + kid + "\n  tenant: contoso\n",
			[]string{`line 6: encryption.key: must be a reference "env:NAME" or "file:/path", not a value`}},
		"tenant alone": {"  key: file:/k\n  tenant: contoso\n",
			[]string{`line 7: encryption.tenant: only with encryption.key_vault_key: it names whose identity calls Key Vault`}},
		"verification alone": {"  key: file:/k\n  disable_challenge_resource_verification: true\n",
			[]string{`line 7: encryption.disable_challenge_resource_verification: only with encryption.key_vault_key`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tenants+"encryption:\n"+tt.encryption, env())
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			require.Equal(t, tt.want, msgs)
		})
	}
}
