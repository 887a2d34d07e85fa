package file_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/file"
	"github.com/rotorhq/rotor/target/file/edit"
	"github.com/rotorhq/rotor/target/targettest"
)

// build decodes settings (YAML flow mapping) into a file target.
func build(t *testing.T, settings string) rotor.Target {
	t.Helper()
	tg, err := tryBuild(settings)
	require.NoError(t, err)
	return tg
}

func tryBuild(settings string) (rotor.Target, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	tg := file.Factory()(d, n.Content[0], "steps.f")
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

// dirState lists every file in dir with its mode and content: the file and its backups.
func dirState(t *testing.T, dir string) []byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var b strings.Builder
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, n))
		require.NoError(t, err)
		c, _ := os.ReadFile(filepath.Join(dir, n))
		fmt.Fprintf(&b, "%s %v\n%s\n", n, fi.Mode(), c)
	}
	if b.Len() == 0 {
		return nil
	}
	return []byte(b.String())
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, key string }{
		{"appsettings.json", "Entra:ClientSecret"},
		{"application.yaml", "azure.client-secret"},
		{"app.env", "AZURE_CLIENT_SECRET"},
		{"app.ini", "entra.client_secret"},
		{"client-secret", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			targettest.Run(t, targettest.Harness{
				New: func(t *testing.T, _ *slog.Logger) *targettest.Fixture {
					dir := t.TempDir()
					path := filepath.Join(dir, tc.name)
					f, ok := edit.FormatOf(path)
					if !ok {
						f = edit.Raw
					}
					tg := build(t, fmt.Sprintf("{path: %q, format: %s, key: %q, create: true}", path, f, tc.key))
					return &targettest.Fixture{
						Target: tg,
						State:  func(t *testing.T) []byte { return dirState(t, dir) },
						Current: func(t *testing.T) (secret.Value, bool) {
							b, err := os.ReadFile(path)
							if os.IsNotExist(err) {
								return secret.Value{}, false
							}
							require.NoError(t, err)
							v, found, err := edit.Get(f, b, tc.key)
							require.NoError(t, err)
							return v, found
						},
					}
				},
			})
		})
	}
}

func deployment(n int) rotor.Deployment { return targettest.Deployment(n) }

func TestPublishKeepsFileAndMakesBackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "appsettings.json")
	orig := "{\n  // production settings\n  \"Entra\": {\n    \"ClientSecret\": \"old-fake-value\"\n  },\n  \"Other\": [1, 2]\n}\n"
	require.NoError(t, os.WriteFile(path, []byte(orig), 0o640))
	tg := build(t, fmt.Sprintf(`{path: %q, key: "Entra:ClientSecret", extra: {"Entra:ClientId": "{{.AppID}}"}}`, path))
	ctx := context.Background()
	d := deployment(1)

	require.NoError(t, tg.Preflight(ctx, rotor.Deployment{RotationID: d.RotationID}))
	o, err := tg.Publish(ctx, d)
	require.NoError(t, err)
	require.True(t, o.Changed)
	require.Equal(t, "wrote Entra:ClientSecret in "+path+" (backup appsettings.json.rotor-backup.rot-conformance-0001)", o.Message)

	got, err := os.ReadFile(path)
	require.NoError(t, err)
	want := strings.Replace(orig, `"old-fake-value"`, `"`+d.Value.Reveal()+`",`+"\n    \"ClientId\": \""+d.AppID+`"`, 1)
	require.Equal(t, want, string(got), "only the value's bytes and the added key differ")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "mode kept")

	backup := file.BackupPath(path, d.RotationID)
	b, err := os.ReadFile(backup)
	require.NoError(t, err)
	require.Equal(t, orig, string(b))
	fi, err = os.Stat(backup)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// No temporary files left behind.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2)

	// Retire removes the backup (it holds the credential Entra no longer accepts).
	require.NoError(t, tg.(rotor.Retirer).Retire(ctx, d))
	_, err = os.Stat(backup)
	require.True(t, os.IsNotExist(err))
}

func TestFollowsSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real := filepath.Join(dir, "..data", "secret.env")
	require.NoError(t, os.MkdirAll(filepath.Dir(real), 0o700))
	require.NoError(t, os.WriteFile(real, []byte("A=1\nSECRET=old\n"), 0o600))
	link := filepath.Join(dir, "secret.env")
	require.NoError(t, os.Symlink(real, link))
	tg := build(t, fmt.Sprintf(`{path: %q, key: SECRET, backup: false}`, link))
	_, err := tg.Publish(context.Background(), deployment(1))
	require.NoError(t, err)
	fi, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&os.ModeSymlink, "the link stays a link")
	b, err := os.ReadFile(real)
	require.NoError(t, err)
	require.Equal(t, "A=1\nSECRET="+deployment(1).Value.Reveal()+"\n", string(b))
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte("{\n  \"Entra\": {\n    \"ClientSecret\": \"fake-old\"\n  \n}\n"), 0o600))
	noKey := filepath.Join(dir, "nokey.yaml")
	require.NoError(t, os.WriteFile(noKey, []byte("azure:\n  tenant: t\n"), 0o600))
	missing := filepath.Join(dir, "missing.env")
	for _, tc := range []struct {
		settings string
		err      string
	}{
		{fmt.Sprintf(`{path: %q, key: "Entra:ClientSecret"}`, broken), "file " + broken + " (json): line 6, column 1: invalid JSON: unexpected end of file in object"},
		{fmt.Sprintf(`{path: %q, key: "Entra:ClientSecret"}`, broken), "file " + broken + " (json): line 6, column 1"},
		{fmt.Sprintf(`{path: %q, key: azure.client-secret}`, noKey), "key azure.client-secret not found; check the key or set create: true to add it"},
		{fmt.Sprintf(`{path: %q, key: SECRET}`, missing), "file " + missing + " does not exist; set create: true to create it"},
	} {
		tg := build(t, tc.settings)
		before := dirState(t, dir)
		err := tg.Preflight(context.Background(), rotor.Deployment{})
		require.ErrorContains(t, err, tc.err)
		require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
		if strings.Contains(tc.settings, "broken") {
			_, err = tg.Publish(context.Background(), deployment(1))
			require.ErrorContains(t, err, tc.err)
			require.NotContains(t, err.Error(), "fake-old")
		}
		require.Equal(t, before, dirState(t, dir), "nothing written")
	}
}

func TestCreateWithMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.yaml")
	tg := build(t, fmt.Sprintf(`{path: %q, key: azure.client-secret, create: true, mode: "0640", extra: {azure.client-id: "{{.AppID}}"}}`, path))
	o, err := tg.Publish(context.Background(), deployment(1))
	require.NoError(t, err)
	require.Equal(t, "created "+path+" with azure.client-secret", o.Message)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "azure:\n  client-id: "+deployment(1).AppID+"\n  client-secret: "+deployment(1).Value.Reveal()+"\n", string(b))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}

func TestRevertAfterOtherEdits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.ini")
	require.NoError(t, os.WriteFile(path, []byte("[entra]\nsecret = fake-old\n"), 0o600))
	tg := build(t, fmt.Sprintf(`{path: %q, key: entra.secret}`, path))
	ctx := context.Background()
	d := deployment(1)
	o, err := tg.Publish(ctx, d)
	require.NoError(t, err)

	// Someone else edits another key: revert restores only the value, keeping their edit.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(b, "[other]\nk = v\n"...), 0o600))
	require.NoError(t, tg.(rotor.Reverter).Revert(ctx, d, o.Undo))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "[entra]\nsecret = fake-old\n[other]\nk = v\n", string(b))

	// Someone else changes the value itself: revert refuses to clobber it.
	o, err = tg.Publish(ctx, d)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("[entra]\nsecret = fake-manual\n"), 0o600))
	err = tg.(rotor.Reverter).Revert(ctx, d, o.Undo)
	require.ErrorContains(t, err, "changed since rotor wrote it; not reverting")
	require.NotContains(t, err.Error(), "fake-manual")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for settings, want := range map[string]string{
		`{path: relative.json, key: a}`:                       `steps.f.path: "relative.json": must be an absolute path`,
		`{path: /x/secret}`:                                   `steps.f.format: cannot tell the format from the file name "secret"`,
		`{path: /x/a.json}`:                                   `steps.f.key: required for format json`,
		`{path: /x/a.env, key: "1X"}`:                         `steps.f.key: "1X" is not an environment variable name`,
		`{path: /x/a, format: toml}`:                          `steps.f.format: unknown format "toml"`,
		`{path: /x/a, format: raw, key: k}`:                   `steps.f.key: a raw file has no key`,
		`{path: /x/a.json, key: a, mode: "0644"}`:             `steps.f.mode: 0644: a file holding a secret must not be readable or writable by others`,
		`{path: /x/a.json, key: a, mode: "rw"}`:               `steps.f.mode: "rw": want an octal permission`,
		`{path: /x/a.json, key: a, extra: {b: "{{.Value}}"}}`: `steps.f.extra.b: template: `,
		`{path: /x/a.json, key: a, extra: {a: "{{.AppID}}"}}`: `steps.f.extra.a: is the secret's own key`,
		`{path: /x/a.json, key: a, extar: {}}`:                `steps.f.extar: unknown field (did you mean "extra"?)`,
	} {
		_, err := tryBuild(settings)
		require.ErrorContains(t, err, want, settings)
	}
}

func TestKeepsOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	require.NoError(t, os.WriteFile(path, []byte("SECRET=old\n"), 0o640))
	require.NoError(t, os.Chown(path, 4321, 4322))
	tg := build(t, fmt.Sprintf(`{path: %q, key: SECRET}`, path))
	require.NoError(t, tg.Preflight(context.Background(), rotor.Deployment{}))
	_, err := tg.Publish(context.Background(), deployment(1))
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, []uint32{4321, 4322}, []uint32{st.Uid, st.Gid})
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}

var _ target.Factory = file.Factory()
