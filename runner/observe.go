package runner

import "github.com/rotorhq/rotor"

// Observer is told what this process's engine did, for metrics. Its methods are called after the
// change was recorded, from the worker's goroutine: they must be quick and must not block.
type Observer interface {
	// StepFinished reports a step record that reached succeeded, failed or skipped.
	StepFinished(r *rotor.Rotation, st *rotor.RotationStep)
	// RotationOutcome reports the end of an attempt: completed, completed_needs_attention,
	// failed (retried with backoff), parked (no more automatic retries) or cancelled.
	RotationOutcome(r *rotor.Rotation, outcome string)
}

// outcomes maps the audit actions that end an attempt to the outcome observers see.
var outcomes = map[string]string{
	"rotation.completed":                 "completed",
	"rotation.completed_needs_attention": "completed_needs_attention",
	"rotation.failed":                    "failed",
	"rotation.parked":                    "parked",
	"rotation.cancelled":                 "cancelled",
}

// observe reports recorded changes to the configured observer.
func (e *Engine) observe(r *rotor.Rotation, ev *rotor.AuditEvent, steps ...*rotor.RotationStep) {
	o := e.cfg.Observer
	if o == nil {
		return
	}
	for _, st := range steps {
		switch st.State {
		case rotor.StepSucceeded, rotor.StepFailed, rotor.StepSkipped:
			if !st.FinishedAt.IsZero() {
				o.StepFinished(r, st)
			}
		}
	}
	if ev != nil {
		if out, ok := outcomes[ev.Action]; ok {
			o.RotationOutcome(r, out)
		}
	}
}
