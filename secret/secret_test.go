package secret

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const clear = "hunter2-not-a-real-secret"

func TestValueNeverPrints(t *testing.T) {
	t.Parallel()
	v := New(clear)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-20v"} {
		got := fmt.Sprintf(verb, v)
		require.NotContains(t, got, clear, verb)
		require.Contains(t, got, Redacted, verb)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, struct {
			Name string
			S    Value
			P    *Value
		}{"x", v, &v})
		require.NotContains(t, got, clear, verb)
	}
	require.Equal(t, Redacted, v.String())
	require.Equal(t, Redacted, v.LogValue().String())

	j, err := json.Marshal(map[string]any{"v": v, "p": &v})
	require.NoError(t, err)
	require.NotContains(t, string(j), clear)

	y, err := yaml.Marshal(struct{ V Value }{v})
	require.NoError(t, err)
	require.NotContains(t, string(y), clear)
	require.Equal(t, fmt.Sprint(fmt.Errorf("wrap: %v", v)), "wrap: "+Redacted)
}

func TestValueReveal(t *testing.T) {
	t.Parallel()
	b := []byte(clear)
	v := FromBytes(b)
	b[0] = 'X' // New and FromBytes copy
	require.Equal(t, clear, v.Reveal())
	out := v.RevealBytes()
	out[0] = 'Y'
	require.Equal(t, clear, v.Reveal())
	require.True(t, v.Equal(New(clear)))
	require.False(t, v.Equal(New(clear+"x")))
	require.True(t, Value{}.IsZero())
	require.Equal(t, len(clear), v.Len())
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"env:ROTOR_SECRET", "env:_x1", "file:/run/secrets/x"} {
		_, err := ParseRef(ok)
		require.NoError(t, err, ok)
	}
	for in, msg := range map[string]string{
		"plaintext-value": "must be a reference",
		"env:":            "must be a reference",
		"env:1BAD":        "not a valid environment variable name",
		"env:A-B":         "not a valid environment variable name",
		"file:rel/path":   "path must be absolute",
		"vault:x":         `unknown reference scheme "vault"`,
	} {
		_, err := ParseRef(in)
		require.ErrorContains(t, err, msg, in)
	}
}

func TestRefResolve(t *testing.T) {
	t.Parallel()
	env := func(k string) (string, bool) {
		if k == "SET" {
			return clear, true
		}
		return "", false
	}
	v, err := Ref("env:SET").Resolve(env)
	require.NoError(t, err)
	require.Equal(t, clear, v.Reveal())
	_, err = Ref("env:UNSET").Resolve(env)
	require.ErrorContains(t, err, "environment variable UNSET is not set")

	dir := t.TempDir()
	p := filepath.Join(dir, "s")
	require.NoError(t, os.WriteFile(p, []byte(clear+"\n"), 0o600))
	v, err = Ref("file:" + p).Resolve(env)
	require.NoError(t, err)
	require.Equal(t, clear, v.Reveal())

	require.NoError(t, os.WriteFile(p, []byte("\n"), 0o600))
	_, err = Ref("file:" + p).Resolve(env)
	require.ErrorContains(t, err, "file is empty")
	_, err = Ref("file:" + filepath.Join(dir, "missing")).Resolve(env)
	require.ErrorContains(t, err, "no such file")
}

func TestValueUnmarshalJSON(t *testing.T) {
	t.Parallel()
	var got struct {
		SecretText Value `json:"secretText"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"secretText":"`+clear+`"}`), &got))
	require.Equal(t, clear, got.SecretText.Reveal())
	err := json.Unmarshal([]byte(`{"secretText":12345}`), &got)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "12345")
}
