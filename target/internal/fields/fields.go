// Package fields exposes the parts of a deployment that are not secret, in the forms the step
// types pass them on: template data, environment variables and an event's JSON.
package fields

import (
	"bytes"
	"errors"
	"fmt"
	"text/template"
	"time"

	"github.com/rotorhq/rotor"
)

// Data is what a template may refer to. It deliberately has no field for the secret value.
type Data struct {
	RotationID     string
	StepName       string
	TenantName     string
	TenantID       string
	OwnerKind      string
	OwnerID        string
	AppID          string
	AppDisplayName string
	KeyID          string
	PreviousKeyID  string
	NotBefore      time.Time
	ExpiresAt      time.Time
}

// Of returns the non-secret fields of d.
func Of(d rotor.Deployment) Data {
	return Data{
		RotationID: d.RotationID, StepName: d.StepName, TenantName: d.TenantName, TenantID: d.TenantID,
		OwnerKind: string(d.OwnerKind), OwnerID: d.OwnerID, AppID: d.AppID, AppDisplayName: d.AppDisplayName,
		KeyID: d.KeyID, PreviousKeyID: d.PreviousKeyID, NotBefore: d.NotBefore, ExpiresAt: d.ExpiresAt,
	}
}

// Template is a parsed text/template over Data, such as "{{.AppID}}".
type Template struct {
	src string
	t   *template.Template
}

// ParseTemplate parses s and checks that it only names fields of Data. The error says which
// fields exist; it never carries a secret (templates cannot reach one).
func ParseTemplate(s string) (*Template, error) {
	t, err := template.New("value").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if err := t.Execute(&bytes.Buffer{}, Data{}); err != nil {
		return nil, fmt.Errorf("template: %w (fields: .RotationID .StepName .TenantName .TenantID .OwnerKind .OwnerID .AppID .AppDisplayName .KeyID .PreviousKeyID .NotBefore .ExpiresAt)", err)
	}
	return &Template{src: s, t: t}, nil
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Render executes the template on d's fields.
func (t *Template) Render(d rotor.Deployment) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, Of(d)); err != nil {
		return "", fmt.Errorf("template %q: %w", t.src, err)
	}
	return b.String(), nil
}

// Env returns the deployment's fields as environment variables, ROTOR_*=value.
func Env(d rotor.Deployment) []string {
	f := Of(d)
	env := []string{
		"ROTOR_ROTATION_ID=" + f.RotationID,
		"ROTOR_STEP=" + f.StepName,
		"ROTOR_TENANT=" + f.TenantName,
		"ROTOR_TENANT_ID=" + f.TenantID,
		"ROTOR_OWNER_KIND=" + f.OwnerKind,
		"ROTOR_OWNER_ID=" + f.OwnerID,
		"ROTOR_APP_ID=" + f.AppID,
		"ROTOR_APP_NAME=" + f.AppDisplayName,
		"ROTOR_KEY_ID=" + f.KeyID,
		"ROTOR_PREVIOUS_KEY_ID=" + f.PreviousKeyID,
		"ROTOR_NOT_BEFORE=" + formatTime(f.NotBefore),
		"ROTOR_EXPIRES_AT=" + formatTime(f.ExpiresAt),
	}
	return env
}

// IdempotencyKey identifies one step of one rotation: "<rotation id>:<step name>".
func IdempotencyKey(d rotor.Deployment) string { return d.RotationID + ":" + d.StepName }

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// FormatTime formats t as RFC 3339 in UTC, or "" for the zero time.
func FormatTime(t time.Time) string { return formatTime(t) }

// ErrNoValue is returned by steps asked to publish a deployment without a secret value.
var ErrNoValue = errors.New("the deployment carries no secret value")
