package notify

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultTemplatesRenderEverySample(t *testing.T) {
	t.Parallel()
	for kind := range defaultNames {
		tmpl := DefaultTemplate(kind)
		for _, m := range sampleMessages() {
			out, err := tmpl.Render(NewView(m, kind == TemplateText || kind == TemplateHTML || kind == TemplateSubject))
			require.NoError(t, err, "%s %s", kind, m.ID)
			require.NotEmpty(t, out)
			if kind == TemplateSubject {
				require.NotContains(t, out, "\n")
				require.NotContains(t, out, "sample-secret-value", "a subject never shows the secret")
			}
		}
	}
}

func TestTemplateErrorsNameFileAndLine(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		kind TemplateKind
		src  string
		want string
	}{
		"parse error":        {TemplateText, "hello\n{{.Title}\n", " line 2: bad character U+007D '}'"},
		"unknown function":   {TemplateSubject, "{{.Title}}\n\n{{shout .Title}}", ` line 3: function "shout" not defined`},
		"unknown field":      {TemplateText, "{{.Title}}\n{{.Event.Nope}}\n", " line 2: executing the template at <.Event.Nope>: can't evaluate field Nope"},
		"html parse error":   {TemplateHTML, "<p>\n{{if .Title}}\n</p>", " line 3: unexpected EOF"},
		"teams not JSON":     {TemplateTeams, "{\"type\": \"message\",\n \"text\": {{.Title}}}", ": does not produce JSON: output line 2: invalid character"},
		"slack not a object": {TemplateSlack, "[1, 2]", ": does not produce JSON: the output is not a JSON object"},
		"empty subject":      {TemplateSubject, "{{if false}}x{{end}}", ": the subject is empty"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "custom.tmpl")
			require.NoError(t, os.WriteFile(path, []byte(tt.src), 0o600))
			_, err := LoadTemplate(tt.kind, path)
			require.Error(t, err)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			require.Equal(t, path, te.File)
			require.Contains(t, err.Error(), path+tt.want)
		})
	}
	_, err := LoadTemplate(TemplateText, "/nonexistent/t.tmpl")
	require.ErrorContains(t, err, "/nonexistent/t.tmpl: open")
}

func TestJSONFunctionEscapes(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate(TemplateTeams, "t", `{"text": {{json .Title}}}`)
	require.NoError(t, err)
	out, err := tmpl.Render(NewView(&Message{Event: Event{Type: EventExpired, AppDisplayName: "a\"b\n<c>"}}, false))
	require.NoError(t, err)
	require.Equal(t, `{"text": "Credential of a\"b\n\u003cc\u003e has expired"}`, out)
}

func TestViewLeavesSecretOutUnlessAsked(t *testing.T) {
	t.Parallel()
	m := sampleMessages()[2]
	require.Empty(t, NewView(m, false).Secret)
	require.Equal(t, "sample-secret-value", NewView(m, true).Secret)
}
