// Package planner decides, as pure functions of facts and now, when a binding's credential is
// due for rotation and why. The answer is a chain of small checks, each with a reason, so the
// log line and `rotor plan` can say which rule fired.
package planner

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rotorhq/rotor"
)

// Facts about one binding at planning time.
type Facts struct {
	Binding *rotor.Binding
	Policy  *rotor.Policy
	// Current is the credential the binding manages now; nil when it has none yet (a new
	// binding whose first rotation creates it) or when it disappeared from Entra.
	Current *rotor.Credential
	// InFlight is true when the binding has a rotation that is not terminal.
	InFlight bool
}

// Decision is the planner's answer for one binding.
type Decision struct {
	Due     bool
	Trigger rotor.RotationTrigger
	// At is when the credential becomes due (rotate-before reached, offset applied); zero when
	// there is no date (paused, in flight, first rotation).
	At time.Time
	// NextWindow is when the next maintenance window opens, when waiting for one.
	NextWindow time.Time
	Reason     string
}

// Decide says whether the binding is due at now.
func Decide(f Facts, now time.Time) Decision {
	b, p := f.Binding, f.Policy
	switch {
	case b.Paused:
		return Decision{Reason: "binding is paused"}
	case f.InFlight:
		return Decision{Reason: "a rotation is already in flight"}
	case b.KeyID == "":
		return Decision{Due: true, Trigger: rotor.TriggerSchedule, Reason: "binding has no credential yet: the first rotation creates one"}
	case f.Current == nil:
		return Decision{Due: true, Trigger: rotor.TriggerEmergency, Reason: "the managed credential no longer exists in Entra"}
	}
	c := f.Current
	at := RotateAt(c, p, b.RotateOffset)
	left := c.EndAt.Sub(now)
	switch {
	case now.Before(at):
		return Decision{At: at, Reason: fmt.Sprintf("not due until %s (%s before expiry %s)", at.Format(time.RFC3339), fmtDur(c.EndAt.Sub(at)), c.EndAt.Format(time.RFC3339))}
	case left <= p.EmergencyWithin:
		reason := fmt.Sprintf("expires in %s, within emergency_within %s: maintenance windows are overridden", fmtDur(left), fmtDur(p.EmergencyWithin))
		if left <= 0 {
			reason = fmt.Sprintf("expired at %s: rotating at once", c.EndAt.Format(time.RFC3339))
		}
		return Decision{Due: true, Trigger: rotor.TriggerEmergency, At: at, Reason: reason}
	}
	open, next, err := InWindow(p.Windows, now)
	if err != nil {
		return Decision{At: at, Reason: "maintenance windows do not parse: " + err.Error()}
	}
	if !open {
		return Decision{At: at, NextWindow: next, Reason: fmt.Sprintf("due since %s, waiting for the maintenance window opening %s", at.Format(time.RFC3339), next.Format(time.RFC3339))}
	}
	return Decision{Due: true, Trigger: rotor.TriggerSchedule, At: at, Reason: fmt.Sprintf("due since %s (%s before expiry)", at.Format(time.RFC3339), fmtDur(c.EndAt.Sub(at)))}
}

// RotateAt is when credential c becomes due under policy p: rotate_before its end, or earlier
// when rotate_at_fraction of its lifetime comes first, moved earlier by the binding's stored
// random offset (never later: spreading must not eat into the safety margin).
func RotateAt(c *rotor.Credential, p *rotor.Policy, offset time.Duration) time.Time {
	at := c.EndAt.Add(-p.RotateBefore)
	if p.RotateAtFraction > 0 && !c.StartAt.IsZero() && c.EndAt.After(c.StartAt) {
		life := c.EndAt.Sub(c.StartAt)
		if f := c.StartAt.Add(time.Duration(float64(life) * p.RotateAtFraction)); f.Before(at) {
			at = f
		}
	}
	return at.Add(-offset)
}

// Offset chooses a binding's random rotation offset in [0, jitter), once; the caller stores it.
func Offset(jitter time.Duration, rnd *rand.Rand) time.Duration {
	if jitter <= 0 {
		return 0
	}
	return time.Duration(rnd.Int64N(int64(jitter)))
}

// InWindow reports whether now is inside one of the windows (true when there are none) and,
// when it is not, when the next one opens.
func InWindow(ws []rotor.MaintenanceWindow, now time.Time) (bool, time.Time, error) {
	if len(ws) == 0 {
		return true, time.Time{}, nil
	}
	var next time.Time
	for _, w := range ws {
		sched, loc, err := parseWindow(w)
		if err != nil {
			return false, time.Time{}, err
		}
		local := now.In(loc)
		// Inside a window when the first opening after now-duration is not after now.
		opening := sched.Next(local.Add(-w.Duration)) // windows are [opening, opening+duration)
		if !opening.After(local) {
			return true, time.Time{}, nil
		}
		if n := sched.Next(local).UTC(); next.IsZero() || n.Before(next) {
			next = n
		}
	}
	return false, next, nil
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parsedWindows caches windows by cron expression and time zone: a planning round decides for
// every binding, and policies share a handful of windows.
var parsedWindows sync.Map // windowKey -> parsedWindow

type windowKey struct{ cron, zone string }

type parsedWindow struct {
	sched cron.Schedule
	loc   *time.Location
	err   error
}

func parseWindow(w rotor.MaintenanceWindow) (cron.Schedule, *time.Location, error) {
	k := windowKey{w.Cron, w.TimeZone}
	if p, ok := parsedWindows.Load(k); ok {
		pw := p.(parsedWindow)
		return pw.sched, pw.loc, pw.err
	}
	sched, loc, err := parseWindowUncached(w)
	parsedWindows.Store(k, parsedWindow{sched, loc, err})
	return sched, loc, err
}

func parseWindowUncached(w rotor.MaintenanceWindow) (cron.Schedule, *time.Location, error) {
	sched, err := cronParser.Parse(w.Cron)
	if err != nil {
		return nil, nil, fmt.Errorf("window %q: %w", w.Cron, err)
	}
	loc := time.UTC
	if w.TimeZone != "" {
		if loc, err = time.LoadLocation(w.TimeZone); err != nil {
			return nil, nil, fmt.Errorf("window %q: %w", w.Cron, err)
		}
	}
	return sched, loc, nil
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	day := 24 * time.Hour
	switch {
	case d >= day:
		return fmt.Sprintf("%dd%dh", d/day, (d%day)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	default:
		return d.Round(time.Second).String()
	}
}
