package notify

import (
	"fmt"
	"path"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
)

// Event types the notify package makes itself; every other event type is an audit action.
const (
	// EventExpiring: a credential crossed one of the configured expiry thresholds.
	EventExpiring = "credential.expiring"
	// EventExpired: a credential's end date passed while it still exists.
	EventExpired = "credential.expired"
	// EventDigest: a route's daily summary.
	EventDigest = "digest"
	// EventTest: a message sent by rotor notify test.
	EventTest = "test"
)

// Audit actions that notifications are usually about (see runner and the inventory sync).
const (
	ActionRotationDeployed         = "rotation.deployed"
	ActionRotationCompleted        = "rotation.completed"
	ActionRotationNeedsAttention   = "rotation.completed_needs_attention"
	ActionRotationFailed           = "rotation.failed"
	ActionRotationParked           = "rotation.parked"
	ActionRotationCancelled        = "rotation.cancelled"
	ActionStepFailed               = "step.failed"
	ActionCredentialCreated        = "credential.created"
	ActionCredentialAddedOutOfBand = "credential.added_out_of_band"
	ActionCredentialRemovedOutOfBd = "credential.removed_out_of_band"
)

// DefaultEvents are what a route without an events list is about: everything people must know,
// nothing routine (no step.succeeded, no rotation.planned).
var DefaultEvents = []string{
	EventExpiring, EventExpired,
	ActionRotationCompleted, ActionRotationNeedsAttention, ActionRotationFailed, ActionRotationParked,
	ActionStepFailed, ActionRotationCancelled,
	ActionCredentialAddedOutOfBand, ActionCredentialRemovedOutOfBd,
}

// KnownEvents lists every event type rotor emits, for validating routes. Routes may also use glob
// patterns (rotation.*).
var KnownEvents = []string{
	EventExpiring, EventExpired,
	"rotation.planned", "rotation.cancel_requested", "rotation.retry_requested", "rotation.cancel_refused",
	ActionCredentialCreated, "credential.verified", "credential.removed", "credential.removed_unrecorded",
	"step.succeeded", ActionStepFailed, ActionRotationDeployed,
	ActionRotationCompleted, ActionRotationNeedsAttention, ActionRotationFailed, ActionRotationParked, ActionRotationCancelled,
	ActionCredentialAddedOutOfBand, ActionCredentialRemovedOutOfBd,
}

// SecretEvents are the events whose email may carry the rotation's new secret, when a route says
// include_secret: the new credential is verified, deployed and current.
var SecretEvents = []string{ActionRotationDeployed, ActionRotationCompleted, ActionRotationNeedsAttention}

// Severity grades an event for people: colours, subjects and filters use it.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Event is what a notification is about, resolved from the audit trail or the credential
// inventory into what people recognise (display names, policy, dates). It is stored, encoded as
// JSON, in the outbox, so it must never hold a secret.
type Event struct {
	Type     string    `json:"type"`
	Severity Severity  `json:"severity"`
	At       time.Time `json:"at"`
	AuditSeq int64     `json:"audit_seq,omitempty"`
	Actor    string    `json:"actor,omitempty"`
	Outcome  string    `json:"outcome,omitempty"`
	Reason   string    `json:"reason,omitempty"`

	Tenant         string `json:"tenant,omitempty"`
	AppID          string `json:"app_id,omitempty"`        // client id
	AppObjectID    string `json:"app_object_id,omitempty"` // the application object, for its owners
	AppDisplayName string `json:"app_display_name,omitempty"`
	OwnerKind      string `json:"owner_kind,omitempty"` // application or servicePrincipal
	OwnerID        string `json:"owner_id,omitempty"`

	KeyID          string    `json:"key_id,omitempty"`
	CredentialKind string    `json:"credential_kind,omitempty"` // secret or certificate
	CredentialName string    `json:"credential_name,omitempty"`
	EndAt          time.Time `json:"end_at,omitzero"`
	// Threshold is the crossed expiry threshold (credential.expiring).
	Threshold time.Duration `json:"threshold,omitempty"`

	RotationID string `json:"rotation_id,omitempty"`
	BindingID  string `json:"binding_id,omitempty"`
	Policy     string `json:"policy,omitempty"`
	OldKeyID   string `json:"old_key_id,omitempty"`
	NewKeyID   string `json:"new_key_id,omitempty"`

	Details map[string]string `json:"details,omitempty"`

	Digest *Digest `json:"digest,omitempty"`
}

// Digest is a route's daily summary: what expires soon and what happened since the last one.
type Digest struct {
	Route        string             `json:"route"`
	Date         string             `json:"date"` // YYYY-MM-DD in the route's time zone
	Since        time.Time          `json:"since,omitzero"`
	Expiring     []DigestCredential `json:"expiring,omitempty"`
	MoreExpiring int                `json:"more_expiring,omitempty"` // not listed
	Events       []DigestEvent      `json:"events,omitempty"`
	MoreEvents   int                `json:"more_events,omitempty"`
	Counts       []DigestCount      `json:"counts,omitempty"` // events per type, every event counted
}

// DigestCredential is one credential that expires soon (or just expired) in a digest.
type DigestCredential struct {
	Tenant         string    `json:"tenant"`
	AppID          string    `json:"app_id"`
	AppDisplayName string    `json:"app_display_name,omitempty"`
	KeyID          string    `json:"key_id"`
	CredentialKind string    `json:"credential_kind"`
	CredentialName string    `json:"credential_name,omitempty"`
	EndAt          time.Time `json:"end_at"`
	Severity       Severity  `json:"severity"`
}

// DigestEvent is one event in a digest.
type DigestEvent struct {
	At       time.Time `json:"at"`
	Type     string    `json:"type"`
	Severity Severity  `json:"severity"`
	Title    string    `json:"title"`
	Tenant   string    `json:"tenant,omitempty"`
	AppID    string    `json:"app_id,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// DigestCount is how many events of one type a digest covers.
type DigestCount struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// severityOf grades an event; th grades expiry alerts.
func severityOf(e *Event, th lifecycle.Thresholds) Severity {
	switch e.Type {
	case EventExpired, ActionRotationParked:
		return SeverityCritical
	case EventExpiring:
		if e.Threshold <= th.Critical {
			return SeverityCritical
		}
		return SeverityWarning
	case ActionRotationFailed, ActionStepFailed, ActionRotationNeedsAttention,
		ActionCredentialAddedOutOfBand, ActionCredentialRemovedOutOfBd:
		return SeverityWarning
	case EventDigest:
		if e.Digest != nil {
			for _, c := range e.Digest.Expiring {
				if c.Severity == SeverityCritical {
					return SeverityCritical
				}
			}
		}
		return SeverityInfo
	}
	if e.Outcome == rotor.OutcomeFailure {
		return SeverityWarning
	}
	return SeverityInfo
}

// Title is the one line that says what happened: the default subject and card title.
func (e *Event) Title() string {
	app := e.appLabel()
	kind := kindLabel(e.CredentialKind)
	switch e.Type {
	case EventTest:
		return "rotor test notification"
	case EventDigest:
		if d := e.Digest; d != nil {
			n := 0
			for _, c := range d.Counts {
				n += c.Count
			}
			return fmt.Sprintf("Daily digest %s: %d expiring soon, %d events", d.Date, len(d.Expiring)+d.MoreExpiring, n)
		}
		return "Daily digest"
	case EventExpiring:
		return fmt.Sprintf("%s of %s expires within %s", capitalize(kind), app, FormatDays(e.Threshold))
	case EventExpired:
		return fmt.Sprintf("%s of %s has expired", capitalize(kind), app)
	case ActionRotationDeployed:
		return fmt.Sprintf("New %s of %s deployed", kind, app)
	case ActionRotationCompleted:
		return fmt.Sprintf("Rotation of the %s of %s completed", kind, app)
	case ActionRotationNeedsAttention:
		return fmt.Sprintf("Rotation of the %s of %s completed but needs attention", kind, app)
	case ActionRotationFailed:
		return fmt.Sprintf("Rotation of the %s of %s failed; rotor retries it", kind, app)
	case ActionRotationParked:
		return fmt.Sprintf("Rotation of the %s of %s stopped after repeated failures", kind, app)
	case ActionRotationCancelled:
		return fmt.Sprintf("Rotation of the %s of %s cancelled", kind, app)
	case ActionStepFailed:
		return fmt.Sprintf("A deployment step of the %s rotation of %s failed", kind, app)
	case ActionCredentialCreated:
		return fmt.Sprintf("New %s created for %s", kind, app)
	case ActionCredentialAddedOutOfBand:
		return fmt.Sprintf("%s added to %s outside rotor", capitalize(kind), app)
	case ActionCredentialRemovedOutOfBd:
		return fmt.Sprintf("%s removed from %s outside rotor", capitalize(kind), app)
	}
	return fmt.Sprintf("%s: %s", e.Type, app)
}

func (e *Event) appLabel() string {
	switch {
	case e.AppDisplayName != "":
		return e.AppDisplayName
	case e.AppID != "":
		return "app " + e.AppID
	case e.Tenant != "":
		return "an application in " + e.Tenant
	}
	return "an application"
}

func kindLabel(k string) string {
	switch rotor.CredentialKind(k) {
	case rotor.KindSecret:
		return "client secret"
	case rotor.KindCertificate:
		return "certificate"
	}
	return "credential"
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// FormatDays writes a threshold as people say it: "7 days", "1 day", "12 hours".
func FormatDays(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	case d == time.Hour:
		return "1 hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}

// MatchEvent reports whether the event type typ matches pattern, a type or a glob (rotation.*).
func MatchEvent(pattern, typ string) bool {
	ok, err := path.Match(pattern, typ)
	return err == nil && ok
}
