package runner

import (
	"context"
	"fmt"

	"github.com/rotorhq/rotor"
)

// Check is one preflight check's result.
type Check struct {
	Name    string
	OK      bool
	Warning bool // passed, with something the operator should know
	Message string
}

// Preflight runs every check a rotation of binding b depends on, changing nothing: the policy,
// reading the owner's secrets, the managed credential still existing, permission to write,
// the app management policy's limits, and each step's own preflight (reachable, authorised,
// what is there parses and is rotor's).
func (e *Engine) Preflight(ctx context.Context, b *rotor.Binding) []Check {
	var out []Check
	add := func(name string, err error, okMsg string) bool {
		if err != nil {
			out = append(out, Check{Name: name, Message: err.Error()})
			return false
		}
		out = append(out, Check{Name: name, OK: true, Message: okMsg})
		return true
	}
	pol, err := e.cfg.Policy(b.Policy)
	if !add("policy", err, "policy "+b.Policy) {
		return out
	}
	dir, err := e.cfg.Directory(b.Tenant)
	if !add("tenant", err, "tenant "+b.Tenant) {
		return out
	}
	owner := rotor.OwnerRef{Kind: b.OwnerKind, ID: b.OwnerID}
	secrets, err := dir.ListSecrets(ctx, owner)
	if add("read", err, fmt.Sprintf("%s %s has %d secrets", b.OwnerKind, b.OwnerID, len(secrets))) && b.KeyID != "" {
		if c := findKey(secrets, b.KeyID); c == nil {
			out = append(out, Check{Name: "credential", OK: true, Warning: true,
				Message: fmt.Sprintf("the managed secret %s no longer exists: the rotation creates a new one", b.KeyID)})
		} else {
			out = append(out, Check{Name: "credential", OK: true, Message: fmt.Sprintf("manages %s ending %s", c.KeyID, c.EndAt.Format("2006-01-02"))})
		}
	}
	add("room", e.checkSecretLimit(ctx, b.Tenant, owner, dir), "room for a new secret")
	if wc, ok := dir.(rotor.WriteChecker); ok {
		add("permission", wc.CheckWrite(ctx, owner), "rotor may change this app's credentials")
	}
	end, capMsg, err := e.lifetime(ctx, dir, owner, pol, e.cfg.Clock.Now())
	if add("lifetime", err, fmt.Sprintf("new secret ends %s", end.Format("2006-01-02"))) && capMsg != "" {
		out[len(out)-1].Warning = true
		out[len(out)-1].Message += "; " + capMsg
	}
	r := &rotor.Rotation{ID: "preflight", Tenant: b.Tenant, OwnerKind: b.OwnerKind, OwnerID: b.OwnerID, AppID: b.AppID, OldKeyID: b.KeyID, NewEndAt: end}
	d, err := e.deployment(ctx, r, false)
	if !add("deployment", err, "") {
		return out
	}
	out = out[:len(out)-1] // the deployment itself is not a check worth listing
	for _, spec := range stepsOf(b, pol) {
		name := fmt.Sprintf("step %s (%s)", spec.Name, spec.Type)
		tg, err := e.cfg.Target(b.Tenant, spec)
		if err == nil {
			d.StepName = spec.Name
			err = tg.Preflight(ctx, *d)
		}
		add(name, err, "ready")
	}
	return out
}
