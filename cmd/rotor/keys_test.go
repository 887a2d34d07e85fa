package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/keyvault"
)

// TestKeyEncryptionKeyInKeyVault runs rotor with its key encryption key wrapped by a Key Vault
// key of the simulator: the key is made and wrapped by rotor keys generate, a plain key moves
// under Key Vault's protection with rotor keys wrap keeping its id, a rotation seals and opens
// its secret with the unwrapped key, and each thing that can be wrong says what it is.
func TestKeyEncryptionKeyInKeyVault(t *testing.T) {
	t.Parallel()
	s, err := sim.Start(t.Context(), sim.Options{Seed: 11, Tenants: 1, AppsPerTenant: 1})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	seeded := s.Seeded.Tenants[0]
	tenantName := strings.ToLower(strings.Split(seeded.Tenant.DefaultDomain, ".")[0])
	vault, ok := s.Vault(sim.VaultName(seeded.Tenant))
	require.True(t, ok)
	version, err := vault.KV.CreateKey("rotor-kek", keyvault.KeyProperties{})
	require.NoError(t, err)
	kid := strings.TrimSuffix(vault.URL, "/") + "/keys/rotor-kek/" + version
	dir := t.TempDir()
	base, err := writeSimConfig(dir, s, simConfigOptions{})
	require.NoError(t, err)
	rotorc := func(config string, stdin string, args ...string) result {
		t.Helper()
		var out, errb strings.Builder
		code := run(t.Context(), append([]string{"-c", config}, args...), strings.NewReader(stdin), &out, &errb,
			func(string) (string, bool) { return "", false })
		return result{code, out.String(), errb.String()}
	}
	keyFlags := []string{"--key-vault-key", kid, "--disable-challenge-resource-verification"}

	// Without a crypto role the identity may not wrap: the error names the role to assign.
	r := rotorc(base, "", append([]string{"keys", "generate"}, keyFlags...)...)
	require.Equal(t, 1, r.code, r.stdout)
	require.Contains(t, r.stderr, "wrapKey with Key Vault key "+kid)
	require.Contains(t, r.stderr, "Key Vault Crypto User")
	require.Empty(t, r.stdout)

	_, err = vault.KV.AssignRole(keyvault.RoleAssignment{PrincipalID: seeded.Manager.ServicePrincipalID, Role: keyvault.RoleCryptoUser})
	require.NoError(t, err)

	// generate prints the wrapped key only; Key Vault unwraps it into 32 bytes.
	r = rotorc(base, "", append([]string{"keys", "generate"}, keyFlags...)...)
	require.Equal(t, 0, r.code, r.stderr)
	wrapped := strings.TrimSpace(r.stdout)
	ct, err := base64.RawURLEncoding.DecodeString(wrapped)
	require.NoError(t, err)
	require.Len(t, ct, 256, "an RSA-2048 key wraps into 256 bytes")
	plain, err := vault.KV.UnwrapKey("rotor-kek", version, "RSA-OAEP-256", ct)
	require.NoError(t, err)
	require.Len(t, plain, 32)
	require.Regexp(t, `^rotor: key kek-[0-9a-f]{16} wrapped by `+regexp.QuoteMeta(kid), r.stderr)

	// wrap moves a plain key under Key Vault's protection and keeps its id: nothing to rewrap.
	plainKEK, err := os.ReadFile(filepath.Join(dir, "kek"))
	require.NoError(t, err)
	k, err := seal.ParseKEK(secret.FromBytes(plainKEK))
	require.NoError(t, err)
	r = rotorc(base, string(plainKEK), append([]string{"keys", "wrap"}, keyFlags...)...)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "key "+k.ID()+" wrapped by "+kid)
	require.NotContains(t, r.stdout+r.stderr, strings.TrimSpace(string(plainKEK)))
	wrappedFile := filepath.Join(dir, "kek.wrapped")
	require.NoError(t, os.WriteFile(wrappedFile, []byte(r.stdout), 0o600))
	r = rotorc(base, "", append([]string{"keys", "wrap"}, keyFlags...)...)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no key on standard input")

	// A configuration whose key is the wrapped one rotates: the rotation seals the new secret
	// with the key Key Vault unwrapped, and deploys it (which opens it).
	app, err := s.Directory.AddApplication(directory.AddApplicationParams{TenantID: seeded.Tenant.ID, DisplayName: "kek-orders"})
	require.NoError(t, err)
	old, _, err := s.Directory.AddPassword(directory.AddPasswordParams{TenantID: seeded.Tenant.ID,
		Object:      directory.ObjectRef{Kind: directory.KindApplication, ID: app.ID},
		EndDateTime: time.Now().Add(3 * 24 * time.Hour), Actor: "test", Replicated: true})
	require.NoError(t, err)
	envFile := filepath.Join(dir, "orders.env")
	kvConfig := func(name, key string) string {
		extra := fmt.Sprintf(`encryption:
  key: file:%s
  key_vault_key: %s
  tenant: %s
  disable_challenge_resource_verification: true
policies:
  - name: kek
    lifetime: 30d
    rotate_before: 7d
    grace_period: 1h
    verify: {successes: 1, interval: 100ms, timeout: 1m}
    steps:
      - name: env
        type: file
        path: %s
        format: env
        key: ORDERS_CLIENT_SECRET
        create: true
`, key, kid, tenantName, envFile)
		sub := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(sub, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(sub, "kek"), plainKEK, 0o600)) // not used: encryption.key names the wrapped one
		p, err := writeSimConfig(sub, s, simConfigOptions{extra: extra})
		require.NoError(t, err)
		// One store for every configuration below.
		cfg, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, []byte(strings.ReplaceAll(string(cfg), filepath.Join(sub, "rotor.db"), filepath.Join(dir, "rotor.db"))), 0o600))
		return p
	}
	good := kvConfig("good", wrappedFile)
	r = rotorc(good, "", "config", "validate")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = rotorc(good, "", "sync")
	require.Equal(t, 0, r.code, r.stderr)
	r = rotorc(good, "", "bind", "kek-orders", "--policy", "kek", "--adopt", old.KeyID)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = rotorc(good, "", "rotate", "kek-orders")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	env, err := os.ReadFile(envFile)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^ORDERS_CLIENT_SECRET=\S{30,}$`, string(env))

	// Moving to a new version of the Key Vault key: wrap unwraps the input with the configured
	// key and wraps the same KEK (same id) with the new version.
	version2, err := vault.KV.CreateKey("rotor-kek", keyvault.KeyProperties{})
	require.NoError(t, err)
	kid2 := strings.TrimSuffix(vault.URL, "/") + "/keys/rotor-kek/" + version2
	wrappedNow, err := os.ReadFile(wrappedFile)
	require.NoError(t, err)
	r = rotorc(good, string(wrappedNow), "keys", "wrap", "--key-vault-key", kid2, "--disable-challenge-resource-verification")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stderr, "key "+k.ID()+" wrapped by "+kid2)
	ct2, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(r.stdout))
	require.NoError(t, err)
	plain2, err := vault.KV.UnwrapKey("rotor-kek", version2, "RSA-OAEP-256", ct2)
	require.NoError(t, err)
	raw, err := seal.DecodeKEK(secret.FromBytes(plainKEK))
	require.NoError(t, err)
	require.Equal(t, raw, plain2, "the new version wraps the same key encryption key")
	// Without encryption.key_vault_key, a wrapped input cannot be unwrapped: said so.
	r = rotorc(base, string(wrappedNow), append([]string{"keys", "wrap"}, keyFlags...)...)
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "a wrapped key is unwrapped with encryption.key_vault_key, which is not configured")

	// What is wrong is said: a plain key where a wrapped one belongs, a damaged wrapped key.
	r = rotorc(kvConfig("plain", filepath.Join(dir, "kek")), "", "rotate", "kek-orders")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "encryption.key: holds a plain key encryption key, not one wrapped by Key Vault")
	damaged := filepath.Join(dir, "kek.damaged")
	ct[10] ^= 0xff
	require.NoError(t, os.WriteFile(damaged, []byte(base64.RawURLEncoding.EncodeToString(ct)), 0o600))
	r = rotorc(kvConfig("damaged", damaged), "", "rotate", "kek-orders")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "encryption.key: unwrapKey with Key Vault key "+kid+": the vault could not unwrap the value")

	// Commands that never open a sealed value do not call Key Vault: the damaged key is no matter.
	r = rotorc(kvConfig("damaged", damaged), "", "ls")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "kek-orders")
}
