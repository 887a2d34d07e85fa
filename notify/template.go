package notify

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"os"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/rotorhq/rotor/secret"
)

// TemplateKind names one of the templates notifiers render.
type TemplateKind string

const (
	// TemplateSubject is an email subject (text/template); it is folded onto one line.
	TemplateSubject TemplateKind = "subject"
	// TemplateText is an email's plain text body (text/template).
	TemplateText TemplateKind = "text"
	// TemplateHTML is an email's HTML body (html/template: values are escaped).
	TemplateHTML TemplateKind = "html"
	// TemplateTeams is a Teams incoming webhook message with an Adaptive Card (text/template that
	// must produce JSON; write values with {{json .X}}).
	TemplateTeams TemplateKind = "teams"
	// TemplateSlack is a Slack incoming webhook message with Block Kit blocks (text/template that
	// must produce JSON).
	TemplateSlack TemplateKind = "slack"
)

//go:embed templates/*.tmpl
var defaultFiles embed.FS

var defaultNames = map[TemplateKind]string{
	TemplateSubject: "subject.txt.tmpl",
	TemplateText:    "body.txt.tmpl",
	TemplateHTML:    "body.html.tmpl",
	TemplateTeams:   "teams.json.tmpl",
	TemplateSlack:   "slack.json.tmpl",
}

// Template renders one part of a message from a View.
type Template struct {
	kind TemplateKind
	file string // where it came from, for errors
	text *texttemplate.Template
	html *htmltemplate.Template
}

// TemplateError says where a template is wrong: its file and line (zero when unknown).
type TemplateError struct {
	File string
	Line int
	Msg  string
}

func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// DefaultTemplate returns the built-in template of kind.
func DefaultTemplate(kind TemplateKind) *Template {
	name, ok := defaultNames[kind]
	if !ok {
		panic(fmt.Sprintf("notify: unknown template kind %q", kind))
	}
	b, err := defaultFiles.ReadFile("templates/" + name)
	if err != nil {
		panic(err)
	}
	t, err := ParseTemplate(kind, "(built-in) "+name, string(b))
	if err != nil {
		panic(fmt.Sprintf("notify: built-in template: %v", err))
	}
	return t
}

// LoadTemplate reads and parses the template file of kind at path. A template that does not
// parse, or fails on rotor's sample events (an unknown field, a JSON template that does not
// produce JSON), is a *TemplateError naming the file and line.
func LoadTemplate(kind TemplateKind, path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &TemplateError{File: path, Msg: err.Error()}
	}
	return ParseTemplate(kind, path, string(b))
}

// templateName is the name templates are parsed under; errors are rewritten to name the file.
const templateName = "t"

// ParseTemplate parses src as a template of kind; file names it in errors. It also renders the
// template for a set of sample events, so that mistakes surface when the configuration is loaded,
// not when an alert is due.
func ParseTemplate(kind TemplateKind, file, src string) (*Template, error) {
	t := &Template{kind: kind, file: file}
	var err error
	switch kind {
	case TemplateHTML:
		t.html, err = htmltemplate.New(templateName).Option("missingkey=error").Funcs(funcs).Parse(src)
	case TemplateSubject, TemplateText, TemplateTeams, TemplateSlack:
		t.text, err = texttemplate.New(templateName).Option("missingkey=error").Funcs(funcs).Parse(src)
	default:
		return nil, fmt.Errorf("unknown template kind %q", kind)
	}
	if err != nil {
		return nil, templateError(file, err)
	}
	for _, m := range sampleMessages() {
		if _, err := t.Render(NewView(m, true)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Kind returns the template's kind.
func (t *Template) Kind() TemplateKind { return t.kind }

// Render executes the template for v. Subjects come back on one line; JSON templates are checked
// to produce JSON.
func (t *Template) Render(v *View) (string, error) {
	var b bytes.Buffer
	var err error
	if t.html != nil {
		err = t.html.Execute(&b, v)
	} else {
		err = t.text.Execute(&b, v)
	}
	if err != nil {
		return "", templateError(t.file, err)
	}
	out := b.String()
	switch t.kind {
	case TemplateSubject:
		out = strings.Join(strings.Fields(out), " ")
		if len(out) > 250 {
			out = truncate(250, out)
		}
		if out == "" {
			return "", &TemplateError{File: t.file, Msg: "the subject is empty"}
		}
	case TemplateTeams, TemplateSlack:
		if err := checkJSON(b.Bytes()); err != nil {
			return "", &TemplateError{File: t.file, Msg: "does not produce JSON: " + err.Error()}
		}
	}
	return out, nil
}

func checkJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n")) + 1
			return fmt.Errorf("output line %d: %v", line, err)
		}
		return err
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("the output is not a JSON object")
	}
	return nil
}

var templateErrRE = regexp.MustCompile(`^(?:html/)?template: ?` + templateName + `:(\d+)(?::\d+)?: (.*)$`)

// templateError rewrites a text/template or html/template error to name the file and line.
func templateError(file string, err error) error {
	msg := err.Error()
	if m := templateErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &TemplateError{File: file, Line: line, Msg: strings.ReplaceAll(m[2], `"`+templateName+`"`, "the template")}
	}
	return &TemplateError{File: file, Msg: msg}
}

var funcs = map[string]any{
	// json writes v as a JSON value (a quoted, escaped string for strings).
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"date":     FormatTime,
	"days":     FormatDays,
	"kind":     kindLabel,
	"truncate": truncate,
	"add":      func(a, b int) int { return a + b },
	// Slack mrkdwn helpers: the text of a section, escaped (&, <, >).
	"slackesc":      slackEscape,
	"slackfacts":    slackFacts,
	"slackexpiring": slackExpiring,
	"slackevents":   slackEvents,
}

// truncate shortens s to at most n bytes (valid UTF-8), marking the cut with an ellipsis.
func truncate(n int, s string) string {
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		return strings.ToValidUTF8(s[:n], "")
	}
	return strings.ToValidUTF8(s[:n-3], "") + "…"
}

var slackReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackReplacer.Replace(s) }

func slackFacts(facts []Fact) string {
	var b strings.Builder
	for _, f := range facts {
		fmt.Fprintf(&b, "*%s:* %s\n", slackEscape(f.Name), slackEscape(f.Value))
	}
	return b.String()
}

func slackExpiring(d *Digest) string {
	var b strings.Builder
	b.WriteString("*Expiring soon*")
	if d.MoreExpiring > 0 {
		fmt.Fprintf(&b, " (first %d of %d)", len(d.Expiring), len(d.Expiring)+d.MoreExpiring)
	}
	b.WriteString("\n")
	if len(d.Expiring) == 0 {
		b.WriteString("Nothing expires within the thresholds.\n")
	}
	for _, c := range d.Expiring {
		app := c.AppDisplayName
		if app == "" {
			app = c.AppID
		}
		fmt.Fprintf(&b, "• %s  %s / %s: %s %s\n", FormatTime(c.EndAt), slackEscape(c.Tenant), slackEscape(app), kindLabel(c.CredentialKind), c.KeyID)
	}
	return b.String()
}

func slackEvents(d *Digest) string {
	var b strings.Builder
	b.WriteString("*What happened*")
	if !d.Since.IsZero() {
		b.WriteString(" since " + FormatTime(d.Since))
	}
	b.WriteString("\n")
	if len(d.Counts) == 0 {
		b.WriteString("Nothing.\n")
	}
	for _, c := range d.Counts {
		fmt.Fprintf(&b, "• %d × %s\n", c.Count, slackEscape(c.Type))
	}
	return b.String()
}

// sampleMessages are the events templates are tried on when they are loaded.
func sampleMessages() []*Message {
	at := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	base := Event{At: at, Tenant: "contoso", AppID: "3f4c2a9e-1b7d-4e0a-9c55-8d2e6f1a0b3c", AppObjectID: "9d0c8b7a-6e5f-4d3c-2b1a-0f9e8d7c6b5a",
		AppDisplayName: "payroll-api <prod>", OwnerKind: "application", OwnerID: "9d0c8b7a-6e5f-4d3c-2b1a-0f9e8d7c6b5a",
		KeyID: "6b1f0c2e-8d3a-4f5b-9c7e-1a2b3c4d5e6f", CredentialKind: "secret", CredentialName: "rotor:2f1e", EndAt: at.Add(7 * 24 * time.Hour),
		Policy: "standard", Actor: "runner:rotor-0", Details: map[string]string{"phase": "deploying"}}
	expiring := base
	expiring.Type, expiring.Severity, expiring.Threshold = EventExpiring, SeverityCritical, 7*24*time.Hour
	failed := base
	failed.Type, failed.Severity, failed.Outcome = ActionRotationFailed, SeverityWarning, "failure"
	failed.RotationID, failed.Reason = "0f5e7d9c-2b4a-4c6e-8f0a-1b3d5f7a9c2e", `deploying failed (attempt 1 of 8): step "kv": 403 & <Forbidden>`
	deployed := failed
	deployed.Type, deployed.Severity, deployed.Reason, deployed.NewKeyID, deployed.OldKeyID = ActionRotationDeployed, SeverityInfo, "", base.KeyID, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
	digest := Event{Type: EventDigest, Severity: SeverityWarning, At: at, Digest: &Digest{Route: "platform", Date: "2026-11-21", Since: at.Add(-24 * time.Hour),
		Expiring:     []DigestCredential{{Tenant: "contoso", AppID: base.AppID, AppDisplayName: base.AppDisplayName, KeyID: base.KeyID, CredentialKind: "secret", EndAt: base.EndAt, Severity: SeverityCritical}},
		MoreExpiring: 3,
		Events:       []DigestEvent{{At: at, Type: ActionRotationFailed, Severity: SeverityWarning, Title: failed.Title(), Tenant: "contoso", AppID: base.AppID, Reason: failed.Reason}},
		MoreEvents:   2,
		Counts:       []DigestCount{{Type: ActionRotationFailed, Count: 3}}}}
	emptyDigest := Event{Type: EventDigest, Severity: SeverityInfo, At: at, Digest: &Digest{Route: "platform", Date: "2026-11-21"}}
	test := Event{Type: EventTest, Severity: SeverityInfo, At: at}
	return []*Message{
		{ID: "sample-1", Event: expiring},
		{ID: "sample-2", Event: failed},
		{ID: "sample-3", Event: deployed, Secret: secret.New("sample-secret-value")},
		{ID: "sample-4", Event: digest},
		{ID: "sample-5", Event: emptyDigest},
		{ID: "sample-6", Event: test},
		{ID: "sample-7", Event: Event{Type: "rotation.something_new"}},
	}
}
