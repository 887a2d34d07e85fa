package edit

import (
	"bytes"
	"testing"

	"github.com/rotorhq/rotor/secret"
)

// FuzzSet: whatever the input, Set either refuses or returns a file that holds the value at the
// key and is otherwise equal (Set checks that itself); it never panics, and an edit of an
// existing value changes only bytes between a common prefix and suffix.
func FuzzSet(f *testing.F) {
	for _, s := range []string{
		`{"a": {"b": "x"}}`, "{\n  // c\n  \"a\": 1,\n}", "a:\n  b: x # c\n", "a: {b: 'x'}\n",
		"A=1\nexport B='x'\n", "[a]\nb = 1\n", "", "a: |\n  x\n", `{"a": [1, {"b": null}]}`,
	} {
		for _, f2 := range []string{"json", "yaml", "env", "ini"} {
			f.Add(f2, s, "a:b", "fake~value")
		}
	}
	f.Fuzz(func(t *testing.T, format, in, key, val string) {
		fm, err := ParseFormat(format)
		if err != nil || fm == Raw {
			return
		}
		if fm == YAML || fm == INI {
			key = string(bytes.ReplaceAll([]byte(key), []byte(":"), []byte(".")))
		}
		if fm == Env {
			key = "A"
		}
		if len(in) > 4096 {
			return
		}
		out, err := Set(fm, []byte(in), key, secret.New(val))
		if err != nil {
			return
		}
		got, found, err := Get(fm, out, key)
		if err != nil || !found || got.Reveal() != val {
			t.Fatalf("Set succeeded but Get = %v, %v, %v", found, err, got.Reveal() == val)
		}
	})
}
