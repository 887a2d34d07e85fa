// Package lifecycle computes where a credential stands, as a pure function of facts and now.
//
//	active --> expiring --> rotating --> grace --> cleaned_up
//	   \___________\____________\__________\______> expired   (end date passed)
//
// A credential removed outside rotor is "removed": it no longer exists in Entra and rotor did not
// take it away. Precedence, first match wins: cleaned_up, removed, expired, grace, rotating,
// expiring, active.
package lifecycle

import (
	"fmt"
	"time"
)

// State is a credential's lifecycle state.
type State string

const (
	Active    State = "active"     // valid, not near expiry
	Expiring  State = "expiring"   // inside the warning threshold
	Rotating  State = "rotating"   // a rotation replacing it is in flight, successor not yet live
	Grace     State = "grace"      // a successor is live; this one is still valid
	Expired   State = "expired"    // its end date has passed
	CleanedUp State = "cleaned_up" // removed by rotor after its grace period
	Removed   State = "removed"    // removed outside rotor
)

// States lists every state in lifecycle order.
var States = []State{Active, Expiring, Rotating, Grace, Expired, CleanedUp, Removed}

// ParseState parses a state name.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown credential state %q (want one of %v)", s, States)
}

// Thresholds say when a credential counts as expiring (Warn) and critically so (Critical).
type Thresholds struct {
	Warn     time.Duration
	Critical time.Duration
}

// DefaultThresholds warn 30 days before expiry and turn critical 7 days before.
var DefaultThresholds = Thresholds{Warn: 30 * 24 * time.Hour, Critical: 7 * 24 * time.Hour}

// Facts are what the state is computed from.
type Facts struct {
	EndAt          time.Time
	Removed        bool // gone from Entra
	RemovedByRotor bool // and rotor's cleanup removed it
	Rotating       bool // a rotation replacing it is in flight and its successor is not live yet
	Superseded     bool // a rotation replaced it: the successor is live and deployed
}

// StateOf returns the state of a credential with facts f at now.
func StateOf(f Facts, th Thresholds, now time.Time) State {
	switch {
	case f.Removed && f.RemovedByRotor:
		return CleanedUp
	case f.Removed:
		return Removed
	case !now.Before(f.EndAt):
		return Expired
	case f.Superseded:
		return Grace
	case f.Rotating:
		return Rotating
	case f.EndAt.Sub(now) <= th.Warn:
		return Expiring
	default:
		return Active
	}
}

// Urgency grades how soon a credential expires, independently of rotation.
type Urgency int

const (
	UrgencyNone Urgency = iota
	UrgencyWarning
	UrgencyCritical
	UrgencyExpired
)

func (u Urgency) String() string {
	return [...]string{"none", "warning", "critical", "expired"}[u]
}

// UrgencyOf grades a credential ending at end.
func UrgencyOf(end time.Time, th Thresholds, now time.Time) Urgency {
	left := end.Sub(now)
	switch {
	case left <= 0:
		return UrgencyExpired
	case left <= th.Critical:
		return UrgencyCritical
	case left <= th.Warn:
		return UrgencyWarning
	default:
		return UrgencyNone
	}
}
