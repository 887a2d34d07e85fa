package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestConfigValidateExample(t *testing.T) {
	t.Parallel()
	r := rotorRun(t, nil, "config", "validate", "-f", "../../examples/rotor.yaml")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, "../../examples/rotor.yaml: valid (store sqlite, 3 tenants)\n", r.stdout)
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "bad.yaml", `thresholds:
  warn: 30 days
tenants:
  - name: contoso
    tenant_idd: 72f988bf-86f1-41af-91ab-2d7cd011db47
    auth:
      method: azure_cli
`)
	r := rotorRun(t, nil, "config", "validate", "-f", p)
	require.Equal(t, exitInvalidConfig, r.code)
	require.Empty(t, r.stdout)
	require.Contains(t, r.stderr, "3 problems")
	require.Contains(t, r.stderr, `line 2: thresholds.warn: invalid duration "30 days"`)
	require.Contains(t, r.stderr, `line 4: tenants[0].tenant_id: required field is missing`)
	require.Contains(t, r.stderr, `line 5: tenants[0].tenant_idd: unknown field (did you mean "tenant_id"?)`)
}

func TestConfigValidateDefaultsToConfigFlagAndEnv(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "rotor.yaml", "log:\n  level: debug\n")
	r := rotorRun(t, map[string]string{"ROTOR_CONFIG": p}, "config", "validate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, p+": valid")

	r = rotorRun(t, nil, "--config", filepath.Join(t.TempDir(), "none.yaml"), "config", "validate")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "no such file or directory")
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writeFile(t, "rotor.yaml", "store:\n  path: "+filepath.Join(dir, "rotor.db")+"\n")

	r := rotorRun(t, nil, "-c", p, "migrate", "--status")
	require.Equal(t, 0, r.code, r.stderr)
	status, applied, upToDate := migrationOutput(t, "sqlite")
	require.Equal(t, status, r.stdout)

	r = rotorRun(t, nil, "-c", p, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, applied+upToDate, r.stdout)

	r = rotorRun(t, nil, "-c", p, "migrate")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, upToDate, r.stdout)
}

func TestMigrateInvalidConfig(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "rotor.yaml", "store:\n  driver: oracle\n")
	r := rotorRun(t, nil, "-c", p, "migrate")
	require.Equal(t, exitInvalidConfig, r.code)
	require.Contains(t, r.stderr, `line 2: store.driver: unknown driver "oracle"`)
}
