package rotor

import "time"

// RotationState is where a rotation stands in the protocol. See docs/rotation.md.
//
//	pending -> creating -> verifying -> deploying -> grace -> cleaning -> completed
//	              |            |            |                    |
//	              +------------+-----+------+--------------------+
//	                                 v
//	                       failed (retried with backoff)
//
//	any non-terminal state -> cancelled (by an operator)
type RotationState string

const (
	RotationPending   RotationState = "pending"   // planned, not started
	RotationCreating  RotationState = "creating"  // adding the new credential in Entra
	RotationVerifying RotationState = "verifying" // proving the new credential gets a token
	RotationDeploying RotationState = "deploying" // running the binding's steps in order
	RotationGrace     RotationState = "grace"     // new credential current; old one still valid
	RotationCleaning  RotationState = "cleaning"  // removing the old credential
	RotationCompleted RotationState = "completed" // done
	RotationFailed    RotationState = "failed"    // stopped by an error; retried with backoff
	RotationCancelled RotationState = "cancelled" // stopped by an operator
)

// Terminal reports whether a rotation in state s will never run again on its own.
func (s RotationState) Terminal() bool {
	return s == RotationCompleted || s == RotationCancelled
}

// Valid reports whether s is a known state.
func (s RotationState) Valid() bool {
	switch s {
	case RotationPending, RotationCreating, RotationVerifying, RotationDeploying, RotationGrace,
		RotationCleaning, RotationCompleted, RotationFailed, RotationCancelled:
		return true
	}
	return false
}

// RotationTrigger says why a rotation was planned.
type RotationTrigger string

const (
	TriggerSchedule  RotationTrigger = "schedule"  // rotate-before reached inside a window
	TriggerEmergency RotationTrigger = "emergency" // expiry near, windows overridden
	TriggerManual    RotationTrigger = "manual"    // rotor rotate, the API or the UI
	TriggerEvent     RotationTrigger = "event"     // an external event (e.g. Event Grid)
)

// Rotation is one run that replaces a binding's current credential with a new one. The row is the
// state machine: it is claimed by one worker at a time through a lease, and every update carries
// the fencing token of the claim.
type Rotation struct {
	ID        string
	BindingID string
	Tenant    string
	OwnerKind OwnerKind
	OwnerID   string
	AppID     string
	Trigger   RotationTrigger
	State     RotationState
	// ResumeState is the phase a failed rotation resumes in when it is retried.
	ResumeState RotationState
	// CancelRequested asks the worker holding the rotation to cancel it.
	CancelRequested bool

	OldKeyID string // the credential being replaced; empty for a binding's first rotation
	NewKeyID string // the credential this rotation created; empty until Entra returned it
	NewEndAt time.Time

	// NeedsAttention is set when a step with on_failure: continue failed. The rotation goes on.
	NeedsAttention bool
	// Attempt counts failed attempts; backoff is computed from it, so it survives restarts.
	Attempt int
	// NextAttemptAt is when the rotation may run next; zero parks it (attempts exhausted) until
	// an operator retries or cancels it.
	NextAttemptAt time.Time
	LastError     string

	// Lease: the worker that holds the rotation, until when, and the fencing token of its claim.
	LeaseOwner     string
	LeaseExpiresAt time.Time
	Fence          int64

	GraceUntil  time.Time // when the old credential may be removed
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  time.Time
	RequestedBy string // who asked for it (user, token name, "planner")
}

// StepState is where one step of a rotation stands.
type StepState string

const (
	StepPending   StepState = "pending"
	StepRunning   StepState = "running" // intent recorded, side effect may have happened
	StepSucceeded StepState = "succeeded"
	StepFailed    StepState = "failed"
	StepSkipped   StepState = "skipped"
)

// RotationStep records one step of a rotation: the protocol's own steps (create, verify, cleanup)
// and the binding's deployment steps. Name identifies it within the rotation, so a resumed
// rotation finds where it stopped.
type RotationStep struct {
	RotationID string
	Name       string
	Ordinal    int
	Type       string
	OnFailure  OnFailure
	State      StepState
	Attempt    int
	Message    string // outcome or error, never a secret value
	Undo       []byte // sealed state a target needs to roll the step back; empty when none
	StartedAt  time.Time
	FinishedAt time.Time
}
