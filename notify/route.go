package notify

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Route sends the events it matches to its notifiers. Every filter that is set must match;
// within one filter any entry may.
type Route struct {
	Name string
	// Events are event types or glob patterns (rotation.*); empty means DefaultEvents.
	Events []string
	// Tenants are rotor tenant names.
	Tenants []string
	// Policies are policy names; an event about a credential no binding manages has no policy
	// and does not match a route that lists policies.
	Policies []string
	// Apps are display-name glob patterns (payroll-*) or client ids (GUIDs).
	Apps []string
	// Notifiers are the names of the notifiers the route sends through.
	Notifiers []string
	// ToOwners also addresses the app's owners (their mail), for notifiers that address people.
	ToOwners bool
	// IncludeSecret puts the rotation's new secret into emails about SecretEvents. Off by default;
	// see docs/notifications.md before turning it on.
	IncludeSecret bool
	// Digest, when set, makes the route send one summary a day instead of a message per event.
	Digest *DigestSchedule
}

// DigestSchedule is when a route's daily digest is due.
type DigestSchedule struct {
	At       time.Duration  // time of day, from midnight
	Location *time.Location // nil means UTC
}

func (d *DigestSchedule) loc() *time.Location {
	if d.Location == nil {
		return time.UTC
	}
	return d.Location
}

// day returns the digest's date at now, and whether the digest of that date is due.
func (d *DigestSchedule) day(now time.Time) (string, bool) {
	local := now.In(d.loc())
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, d.loc())
	return local.Format(time.DateOnly), !local.Before(midnight.Add(d.At))
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// MatchType reports whether the route is about events of type typ.
func (r *Route) MatchType(typ string) bool {
	events := r.Events
	if len(events) == 0 {
		events = DefaultEvents
	}
	for _, p := range events {
		if MatchEvent(p, typ) {
			return true
		}
	}
	return false
}

// Match reports whether the route is about e.
func (r *Route) Match(e *Event) bool {
	return r.MatchType(e.Type) && r.matchSubject(e.Tenant, e.Policy, e.AppID, e.AppDisplayName)
}

// matchSubject applies the tenant, policy and app filters.
func (r *Route) matchSubject(tenant, policy, appID, displayName string) bool {
	if len(r.Tenants) > 0 && !slices.Contains(r.Tenants, tenant) {
		return false
	}
	if len(r.Policies) > 0 && (policy == "" || !slices.Contains(r.Policies, policy)) {
		return false
	}
	if len(r.Apps) > 0 {
		for _, a := range r.Apps {
			if guidRE.MatchString(a) {
				if appID != "" && strings.EqualFold(a, appID) {
					return true
				}
				continue
			}
			if ok, err := path.Match(a, displayName); err == nil && ok && displayName != "" {
				return true
			}
		}
		return false
	}
	return true
}
