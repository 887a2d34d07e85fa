package rotor

import (
	"encoding/json"
	"time"
)

// Binding is rotor's management of one credential of one application or service principal: which
// policy governs it and the ordered steps that deploy a new value.
type Binding struct {
	ID        string
	Tenant    string
	OwnerKind OwnerKind
	OwnerID   string // object id of the application or service principal
	AppID     string // client id
	Kind      CredentialKind
	Policy    string // name of the policy in the configuration

	// KeyID is the credential the binding manages now: an adopted existing credential, or the one
	// its last rotation created. Empty until the first rotation creates one.
	KeyID string

	// Steps deploy a new value, run in slice order. Nil means the policy's steps.
	Steps []StepSpec

	Source BindingSource
	Paused bool

	// RotateOffset is the random offset, chosen once and stored, that spreads rotations of
	// credentials which expire together. It is never re-rolled.
	RotateOffset time.Duration

	CreatedAt time.Time
	UpdatedAt time.Time
}

// BindingSource says how a binding came to exist.
type BindingSource string

const (
	BindingFromPolicy BindingSource = "policy" // a policy's selector matched the app
	BindingManual     BindingSource = "manual" // made per app from the CLI or API
)

// OnFailure says what a failing step does to its rotation.
type OnFailure string

const (
	// Abort stops the rotation in failed; the old credential stays valid and untouched.
	Abort OnFailure = "abort"
	// Continue records the failure, marks the rotation needs_attention and goes on.
	Continue OnFailure = "continue"
)

// StepSpec is one configured deployment step of a binding or policy.
type StepSpec struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"` // keyvault, kubernetes, file, exec, webhook, ...
	OnFailure OnFailure       `json:"on_failure"`
	Params    json.RawMessage `json:"params,omitempty"` // the type's own settings, a JSON object
}

// Policy says how the credentials it governs are rotated. Policies live in the configuration.
type Policy struct {
	Name string

	// Lifetime of new credentials, capped by the tenant's app management policy.
	Lifetime time.Duration
	// RotateBefore starts a rotation this long before the current credential expires.
	RotateBefore time.Duration
	// RotateAtFraction, when above zero, starts a rotation once this share of the current
	// credential's lifetime has passed, if that comes before RotateBefore does.
	RotateAtFraction float64
	// GracePeriod is how long the old credential stays valid after the new one is deployed.
	GracePeriod time.Duration
	// Jitter bounds the random offset chosen once per binding (Binding.RotateOffset).
	Jitter time.Duration

	// Windows restrict when scheduled rotations start. Empty means any time.
	Windows []MaintenanceWindow
	// EmergencyWithin overrides the windows when the credential expires within this duration.
	EmergencyWithin time.Duration

	Verify VerifySettings

	// MaxConcurrentPerTenant bounds rotations in flight per tenant under this policy.
	MaxConcurrentPerTenant int

	// Select, when set, makes rotor bind the applications it matches; Adopt says which existing
	// secret such a binding takes over: AdoptNone (create a new one), AdoptOnly (the app's only
	// secret, else none is bound) or AdoptNewest (the secret that ends last).
	Select *Selector
	Adopt  string

	Steps []StepSpec
}

// Adopt choices for bindings a policy's selector creates.
const (
	AdoptNone   = "none"
	AdoptOnly   = "only"
	AdoptNewest = "newest"
)

// Selector chooses applications. Every given criterion must hold; within one list any entry may
// match. DisplayNames are glob patterns (path.Match).
type Selector struct {
	Tenants      []string
	DisplayNames []string
	AppIDs       []string
	Tags         []string
	Owners       []string // object ids, user principal names or mail addresses of the apps' owners
}

// MaintenanceWindow is a recurring period in which scheduled rotations may start.
type MaintenanceWindow struct {
	Cron     string // standard five-field cron: when a window opens
	Duration time.Duration
	TimeZone string // IANA name; empty means UTC
}

// VerifySettings say how a new credential is proven to work before anything is published.
type VerifySettings struct {
	Successes int           // consecutive successful token requests required
	Interval  time.Duration // first wait between attempts (grows with backoff)
	Timeout   time.Duration // give up after this long (Entra replication can take ~20 minutes)
	Scope     string        // scope asked for in the probe; empty: Microsoft Graph in the tenant's cloud
}
