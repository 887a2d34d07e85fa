package notify

import (
	"time"
)

// View is what message templates see. Everything in it is safe to show, except Secret, which is
// set only for email routes that include the new secret (include_secret) on events that carry one.
type View struct {
	Event    *Event
	Title    string
	Severity Severity
	// Color is a hex colour for the severity (email, Slack attachments); TeamsColor the Adaptive
	// Card colour name (Accent, Warning, Attention).
	Color      string
	TeamsColor string
	// Facts are the event's details as label/value pairs, in a sensible order, empty ones left out.
	Facts []Fact
	// Digest is the daily summary for digest events, nil otherwise.
	Digest *Digest
	// Secret is the new secret value in clear. Only email templates render it, and only when set.
	Secret string
	// MessageID is the stable id of the outbox row.
	MessageID string
}

// Fact is one label/value pair of a message.
type Fact struct {
	Name  string
	Value string
}

// NewView prepares m for the templates. withSecret says whether the notifier renders secrets
// (email); for every other notifier Secret stays empty whatever m holds.
func NewView(m *Message, withSecret bool) *View {
	e := m.Event
	v := &View{Event: &e, Title: e.Title(), Severity: e.Severity, Digest: e.Digest, MessageID: m.ID}
	if v.Severity == "" {
		v.Severity = SeverityInfo
	}
	switch v.Severity {
	case SeverityCritical:
		v.Color, v.TeamsColor = "#c62828", "Attention"
	case SeverityWarning:
		v.Color, v.TeamsColor = "#ef6c00", "Warning"
	default:
		v.Color, v.TeamsColor = "#1565c0", "Accent"
	}
	if withSecret && !m.Secret.IsZero() {
		v.Secret = m.Secret.Reveal()
	}
	add := func(name, value string) {
		if value != "" {
			v.Facts = append(v.Facts, Fact{name, value})
		}
	}
	add("Tenant", e.Tenant)
	add("Application", e.AppDisplayName)
	add("Application (client) ID", e.AppID)
	if e.OwnerKind == "servicePrincipal" {
		add("Held by", "service principal "+e.OwnerID)
	}
	if e.KeyID != "" || e.CredentialName != "" {
		add("Credential", credentialLabel(e.CredentialKind, e.CredentialName, e.KeyID))
	}
	if !e.EndAt.IsZero() {
		add("Expires", FormatTime(e.EndAt))
	}
	if e.Type == EventExpiring {
		add("Threshold", FormatDays(e.Threshold)+" before expiry")
	}
	add("Policy", e.Policy)
	add("Rotation", e.RotationID)
	if e.OldKeyID != "" && e.OldKeyID != e.KeyID {
		add("Replaces credential", e.OldKeyID)
	}
	if e.NewKeyID != "" && e.NewKeyID != e.KeyID {
		add("New credential", e.NewKeyID)
	}
	if e.Details != nil {
		add("Phase", e.Details["phase"])
		add("Trigger", e.Details["trigger"])
	}
	add("Reason", e.Reason)
	if e.Type != EventDigest && e.Type != EventTest {
		add("By", e.Actor)
	}
	if !e.At.IsZero() {
		add("When", FormatTime(e.At))
	}
	return v
}

func credentialLabel(kind, name, keyID string) string {
	s := kindLabel(kind)
	if name != "" {
		s += " \u201c" + name + "\u201d"
	}
	if keyID != "" {
		s += " (key " + keyID + ")"
	}
	return s
}

// FormatTime writes t in UTC to the minute: 2026-12-01 09:30 UTC.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
