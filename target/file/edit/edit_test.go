package edit

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/secret"
)

// newValue is what every Set test writes: an Entra-like fake client secret.
const newValue = "fake8Q~new.Secret_value-NOT-REAL"

type setCase struct {
	name   string
	format Format
	key    string
	in     string
	want   string // expected output; empty when err is set
	value  string // default newValue
	err    string
}

func runSetCases(t *testing.T, cases []setCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			val := tc.value
			if val == "" {
				val = newValue
			}
			out, err := Set(tc.format, []byte(tc.in), tc.key, secret.New(val))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.NotContains(t, err.Error(), val, "errors never quote the value")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(out))
			got, found, err := Get(tc.format, out, tc.key)
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, val, got.Reveal())
			// Idempotent: setting the same value again changes nothing.
			again, err := Set(tc.format, out, tc.key, secret.New(val))
			require.NoError(t, err)
			require.Equal(t, string(out), string(again))
		})
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	appsettings := `{
  // .NET reads comments and trailing commas
  "Logging": { "LogLevel": { "Default": "Information" } },
  "Entra": {
    "TenantId": "tid", /* inline */
    "ClientSecret": "old-value",   // rotor writes here
    "Scopes": ["a", "b",],
  },
}
`
	runSetCases(t, []setCase{
		{name: "replace keeps everything else", format: JSON, key: "Entra:ClientSecret", in: appsettings,
			want: strings.Replace(appsettings, `"old-value"`, `"`+newValue+`"`, 1)},
		{name: "case-insensitive like .NET", format: JSON, key: "entra:clientsecret", in: appsettings,
			want: strings.Replace(appsettings, `"old-value"`, `"`+newValue+`"`, 1)},
		{name: "escapes", format: JSON, key: "a", in: `{"a": "x"}`, value: `q"u\o<te>&`, want: `{"a": "q\"u\\o<te>&"}`},
		{name: "null placeholder", format: JSON, key: "a", in: "{\"a\": null}\n", want: "{\"a\": \"" + newValue + "\"}\n"},
		{name: "array index", format: JSON, key: "Items:1:Secret", in: `{"Items": [{"Secret": "x"}, {"Secret": "y"}]}`,
			want: `{"Items": [{"Secret": "x"}, {"Secret": "` + newValue + `"}]}`},
		{name: "BOM kept", format: JSON, key: "a", in: "\xef\xbb\xbf{\"a\": \"x\"}", want: "\xef\xbb\xbf{\"a\": \"" + newValue + "\"}"},
		{name: "add to multi-line object", format: JSON, key: "Entra:ClientSecret", in: "{\n    \"Entra\": {\n        \"TenantId\": \"tid\" // t\n    }\n}\n",
			want: "{\n    \"Entra\": {\n        \"TenantId\": \"tid\", // t\n        \"ClientSecret\": \"" + newValue + "\"\n    }\n}\n"},
		{name: "add keeps trailing comma", format: JSON, key: "Entra:ClientSecret", in: "{\n  \"Entra\": {\n    \"TenantId\": \"tid\",\n  },\n}\n",
			want: "{\n  \"Entra\": {\n    \"TenantId\": \"tid\",\n    \"ClientSecret\": \"" + newValue + "\",\n  },\n}\n"},
		{name: "add nested objects", format: JSON, key: "Entra:Auth:ClientSecret", in: "{\n  \"Other\": 1\n}\n",
			want: "{\n  \"Other\": 1,\n  \"Entra\": {\n    \"Auth\": {\n      \"ClientSecret\": \"" + newValue + "\"\n    }\n  }\n}\n"},
		{name: "add to one-line object", format: JSON, key: "b:c", in: `{"a": 1}`, want: `{"a": 1, "b": {"c": "` + newValue + `"}}`},
		{name: "add to empty root", format: JSON, key: "a", in: "{}\n", want: "{\n  \"a\": \"" + newValue + "\"\n}\n"},
		{name: "add to empty nested object", format: JSON, key: "a:b", in: `{"a": {}}`, want: `{"a": {"b": "` + newValue + `"}}`},
		{name: "empty file", format: JSON, key: "Entra:ClientSecret", in: "",
			want: "{\n  \"Entra\": {\n    \"ClientSecret\": \"" + newValue + "\"\n  }\n}\n"},
		{name: "CRLF", format: JSON, key: "a:b", in: "{\r\n  \"x\": 1\r\n}\r\n", want: "{\r\n  \"x\": 1,\r\n  \"a\": {\r\n    \"b\": \"" + newValue + "\"\r\n  }\r\n}\r\n"},
		{name: "not a string", format: JSON, key: "a", in: `{"a": 5}`, err: "a is a number, not a string"},
		{name: "through a string", format: JSON, key: "a:b", in: `{"a": "x"}`, err: "a:b: a is a string, not an object"},
		{name: "duplicate", format: JSON, key: "a", in: `{"a": "x", "a": "y"}`, err: "defined 2 times"},
		{name: "case duplicates", format: JSON, key: "CLIENTSECRET", in: `{"clientSecret": "x", "ClientSecret": "y", "clientsecret ": 1}`, err: "2 keys match when case is ignored"},
		{name: "array out of range", format: JSON, key: "a:3", in: `{"a": []}`, err: "has 0 elements"},
		{name: "root array", format: JSON, key: "a", in: `[]`, err: "the document is an array"},
		{name: "syntax error with position", format: JSON, key: "a", in: "{\n  \"a\": \"old-value\"\n  \"b\": 1\n}", err: "line 3, column 3: invalid JSON: expected , or } after a member"},
		{name: "unterminated string", format: JSON, key: "a", in: "{\"a\": \"old-value", err: "line 1, column 7: invalid JSON: unterminated string"},
		{name: "unterminated comment", format: JSON, key: "a", in: "{} /* x", err: "unterminated /* comment"},
	})
}

func TestYAML(t *testing.T) {
	t.Parallel()
	doc := `# application.yml
spring:
  datasource:
    url: jdbc:postgresql://db/app   # the database
    password: old-value # rotor writes here
azure:
  activedirectory:
    client-secret: "old\"value"
    other: 'it''s'
flat.key.name: old-value
list:
  - a
  - b
`
	runSetCases(t, []setCase{
		{name: "plain", format: YAML, key: "spring.datasource.password", in: doc,
			want: strings.Replace(doc, "password: old-value", "password: "+newValue, 1)},
		{name: "double quoted", format: YAML, key: "azure.activedirectory.client-secret", in: doc,
			want: strings.Replace(doc, `"old\"value"`, `"`+newValue+`"`, 1)},
		{name: "single quoted", format: YAML, key: "azure.activedirectory.other", in: doc, value: "it's new",
			want: strings.Replace(doc, `'it''s'`, `'it''s new'`, 1)},
		{name: "flat key with dots", format: YAML, key: "flat.key.name", in: doc,
			want: strings.Replace(doc, "flat.key.name: old-value", "flat.key.name: "+newValue, 1)},
		{name: "plain value needing quotes", format: YAML, key: "spring.datasource.password", in: doc, value: "true",
			want: strings.Replace(doc, "password: old-value", `password: "true"`, 1)},
		{name: "plain value with colon space", format: YAML, key: "a", in: "a: x\n", value: "b: c # d", want: "a: \"b: c # d\"\n"},
		{name: "unicode before value", format: YAML, key: "é.k", in: "é:\n  k: 'x' # ü\n", want: "é:\n  k: '" + newValue + "' # ü\n"},
		{name: "flow mapping", format: YAML, key: "a.b", in: "a: {b: x, c: y}\n", want: "a: {b: " + newValue + ", c: y}\n"},
		{name: "empty value", format: YAML, key: "a.b", in: "a:\n  b:\n  c: 1\n", want: "a:\n  b: " + newValue + "\n  c: 1\n"},
		{name: "tilde", format: YAML, key: "a", in: "a: ~ # none\n", want: "a: " + newValue + " # none\n"},
		{name: "add to root", format: YAML, key: "new.secret", in: "a: 1", want: "a: 1\nnew:\n  secret: " + newValue + "\n"},
		{name: "add to nested uses file indent", format: YAML, key: "azure.activedirectory.client-id", in: "azure:\n    activedirectory:\n        tenant: t\n",
			want: "azure:\n    activedirectory:\n        client-id: " + newValue + "\n        tenant: t\n"},
		{name: "add under empty key", format: YAML, key: "a.b.c", in: "a:\nz: 1\n", want: "a:\n  b:\n    c: " + newValue + "\nz: 1\n"},
		{name: "empty file", format: YAML, key: "a.b", in: "", want: "a:\n  b: " + newValue + "\n"},
		{name: "comments only", format: YAML, key: "a", in: "# nothing yet\n", want: "# nothing yet\na: " + newValue + "\n"},
		{name: "CRLF", format: YAML, key: "a.b", in: "a:\r\n  x: 1\r\n", want: "a:\r\n  b: " + newValue + "\r\n  x: 1\r\n"},
		{name: "block scalar", format: YAML, key: "a", in: "a: |\n  x\n", err: "block scalar"},
		{name: "multi-line plain", format: YAML, key: "a", in: "a: x\n  y\nb: 1\n", err: "plain scalar over several lines"},
		{name: "anchor", format: YAML, key: "a", in: "a: &x v\nb: *x\n", err: "anchor"},
		{name: "alias path", format: YAML, key: "b.c", in: "a: &x {c: 1}\nb: *x\n", err: "alias"},
		{name: "not a mapping", format: YAML, key: "list.x", in: doc, err: "list is a list, not a mapping"},
		{name: "mapping value", format: YAML, key: "spring", in: doc, err: "spring is a mapping, not a scalar"},
		{name: "list item mapping", format: YAML, key: "l.0", in: "l:\n- a: 1\n", err: "list, not a mapping"},
		{name: "duplicate", format: YAML, key: "a", in: "a: 1\na: 2\n", err: "a: the key is defined 2 times"},
		{name: "two documents", format: YAML, key: "a", in: "a: 1\n---\nb: 2\n", err: "several YAML documents"},
		{name: "syntax error", format: YAML, key: "a", in: "a: [\n", err: "line 1, column 1: invalid YAML"},
	})
}

func TestEnv(t *testing.T) {
	t.Parallel()
	file := "# app\nexport AZURE_CLIENT_ID=cid\nAZURE_CLIENT_SECRET=old-value # rotated by rotor\nQUOTED=\"old value\"\nSINGLE='old'\n\nLAST=1"
	runSetCases(t, []setCase{
		{name: "plain", format: Env, key: "AZURE_CLIENT_SECRET", in: file, want: strings.Replace(file, "=old-value", "="+newValue, 1)},
		{name: "export", format: Env, key: "AZURE_CLIENT_ID", in: file, want: strings.Replace(file, "=cid", "="+newValue, 1)},
		{name: "double quoted keeps style", format: Env, key: "QUOTED", in: file, value: `a "b" $HOME`, want: strings.Replace(file, `"old value"`, `"a \"b\" \$HOME"`, 1)},
		{name: "single quoted keeps style", format: Env, key: "SINGLE", in: file, want: strings.Replace(file, `'old'`, `'`+newValue+`'`, 1)},
		{name: "plain becomes quoted when needed", format: Env, key: "AZURE_CLIENT_SECRET", in: file, value: "has space#",
			want: strings.Replace(file, "=old-value", "='has space#'", 1)},
		{name: "append", format: Env, key: "NEW", in: file, want: file + "\nNEW=" + newValue + "\n"},
		{name: "empty", format: Env, key: "NEW", in: "", want: "NEW=" + newValue + "\n"},
		{name: "duplicate", format: Env, key: "A", in: "A=1\nA=2\n", err: "defined twice (lines 1 and 2)"},
		{name: "bad line", format: Env, key: "A", in: "A=1\nnot an assignment\n", err: "line 2, column 5: invalid env file: expected = after the name"},
		{name: "unterminated", format: Env, key: "A", in: "A=\"old-value\n", err: "line 1, column 3: invalid env file: unterminated quoted value"},
		{name: "bad key", format: Env, key: "1A", in: "", err: "not an environment variable name"},
	})
}

func TestINI(t *testing.T) {
	t.Parallel()
	file := "; global\nmode = prod\n\n[Entra.Auth]\nTenantId = tid\nClientSecret = old-value\n\n[db]\npassword: \"old\"\n"
	runSetCases(t, []setCase{
		{name: "replace", format: INI, key: "Entra.Auth.ClientSecret", in: file, want: strings.Replace(file, "= old-value", "= "+newValue, 1)},
		{name: "case-insensitive", format: INI, key: "entra.auth.clientsecret", in: file, want: strings.Replace(file, "= old-value", "= "+newValue, 1)},
		{name: "quoted", format: INI, key: "db.password", in: file, want: strings.Replace(file, `"old"`, `"`+newValue+`"`, 1)},
		{name: "global", format: INI, key: "mode", in: file, want: strings.Replace(file, "= prod", "= "+newValue, 1)},
		{name: "add to section", format: INI, key: "db.user", in: file, want: file + "user: " + newValue + "\n"},
		{name: "add to section keeps its place", format: INI, key: "Entra.Auth.ClientId", in: file,
			want: strings.Replace(file, "ClientSecret = old-value\n", "ClientSecret = old-value\nClientId = "+newValue+"\n", 1)},
		{name: "add section", format: INI, key: "new.secret", in: file, want: file + "\n[new]\nsecret = " + newValue + "\n"},
		{name: "add global", format: INI, key: "g", in: "[s]\na = 1\n", want: "g = " + newValue + "\n[s]\na = 1\n"},
		{name: "no newline at end", format: INI, key: "s.b", in: "[s]\na = 1", want: "[s]\na = 1\nb = " + newValue + "\n"},
		{name: "multi-line value", format: INI, key: "a", in: "a = 1\n", value: "x\ny", err: "cannot span lines"},
		{name: "duplicate", format: INI, key: "s.a", in: "[s]\na = 1\nA = 2\n", err: "defined twice"},
		{name: "duplicate section", format: INI, key: "s.a", in: "[s]\na = 1\n[s]\nb = 2\n", err: "appears twice"},
		{name: "bad header", format: INI, key: "s.a", in: "[s\na = 1\n", err: "line 1, column 1: invalid INI"},
		{name: "bad line", format: INI, key: "s.a", in: "[s]\njunk\n", err: "line 2, column 1: invalid INI: expected key = value"},
	})
}

func TestRaw(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":          newValue,
		"old\n":     newValue + "\n",
		"old\r\n":   newValue + "\r\n",
		"old-no-nl": newValue,
	} {
		out, err := Set(Raw, []byte(in), "", secret.New(newValue))
		require.NoError(t, err)
		require.Equal(t, want, string(out))
		got, found, err := Get(Raw, out, "")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, newValue, got.Reveal())
	}
	_, found, err := Get(Raw, nil, "")
	require.NoError(t, err)
	require.False(t, found)
	require.ErrorContains(t, CheckKey(Raw, "x"), "no key")
}

func TestGetAbsent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f   Format
		key string
		in  string
	}{
		{JSON, "a:b", `{"a": {}}`}, {JSON, "a", ``}, {JSON, "a", `{"a": null}`},
		{YAML, "a.b", "a:\n"}, {YAML, "a", ""}, {YAML, "x", "a: 1\n"},
		{Env, "A", "B=1\n"}, {INI, "s.a", "[t]\na = 1\n"},
	} {
		_, found, err := Get(tc.f, []byte(tc.in), tc.key)
		require.NoError(t, err, "%s %s", tc.f, tc.key)
		require.False(t, found, "%s %s", tc.f, tc.key)
	}
}

// TestErrorsNeverQuoteContent: the file may hold other secrets; errors give positions only.
func TestErrorsNeverQuoteContent(t *testing.T) {
	t.Parallel()
	const other = "other-secret-IN-FILE"
	for _, tc := range []struct {
		f   Format
		in  string
		key string
	}{
		{JSON, `{"a": "` + other + `" "b"}`, "a"},
		{JSON, `{"a": ` + other + `}`, "a"},
		{YAML, "a: \"" + other + "\n  b: [", "a"},
		{YAML, "a: " + other + "\nb: [", "a"},
		{Env, "A=\"" + other, "A"},
		{Env, other + " x", "A"},
		{INI, "[" + other, "a"},
		{INI, other, "a"},
	} {
		_, err := Set(tc.f, []byte(tc.in), tc.key, secret.New(newValue))
		require.Error(t, err, "%s %q", tc.f, tc.in)
		require.NotContains(t, err.Error(), other)
		require.NotContains(t, err.Error(), newValue)
		var se *SyntaxError
		require.ErrorAs(t, err, &se, "%s: %v", tc.f, err)
		require.Positive(t, se.Line)
	}
}

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]Format{
		"/app/appsettings.json": JSON, "/app/application.yml": YAML, "/app/x.YAML": YAML,
		"/app/.env": Env, "/app/.env.production": Env, "/app/prod.env": Env,
		"/etc/app.ini": INI, "/etc/app.conf": INI, "/etc/secret": "",
	} {
		got, ok := FormatOf(path)
		require.Equal(t, want, got, path)
		require.Equal(t, want != "", ok, path)
	}
	_, err := ParseFormat("toml")
	require.ErrorContains(t, err, `unknown format "toml"`)
}
