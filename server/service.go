package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/planner"
	"github.com/rotorhq/rotor/runner"
)

// The operations the API and the web UI share. Each state change records an audit event naming
// the principal (user:<name> or token:<name>), in the same transaction as the change or through
// the engine, which does so.

var errNoEngine = &apiError{Status: http.StatusConflict, Type: "rotation-disabled", Title: "Rotation is not configured",
	Detail: "rotor runs without encryption.key, so it only watches expiry: configure a key encryption key to bind and rotate"}

// policyNames returns the configured policies' names, sorted.
func (s *Server) policyNames() []string {
	names := make([]string, 0, len(s.cfg.Policies))
	for n := range s.cfg.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Server) policy(name string) (*rotor.Policy, error) {
	p, ok := s.cfg.Policies[name]
	if !ok {
		return nil, notFoundf("no policy %q in the configuration (policies: %s)", name, strings.Join(s.policyNames(), ", "))
	}
	return p, nil
}

// decision is the planner's answer for a binding now, from the same facts Engine.Plan uses
// (without the per-tenant concurrency limit, which only applies when planning).
func (s *Server) decision(ctx context.Context, b *rotor.Binding) (planner.Decision, error) {
	p, err := s.policy(b.Policy)
	if err != nil {
		return planner.Decision{Reason: fmt.Sprintf("policy %q is not in the configuration", b.Policy)}, nil
	}
	var cur *rotor.Credential
	if b.KeyID != "" {
		c, err := s.cfg.Store.CredentialGet(ctx, b.Tenant, b.KeyID)
		switch {
		case errors.Is(err, rotor.ErrNotFound):
		case err != nil:
			return planner.Decision{}, err
		case !c.Removed():
			cur = c
		}
	}
	inflight, err := s.cfg.Store.RotationSearch(ctx, &rotor.RotationSearchParams{BindingID: b.ID, Limit: 1,
		States: []rotor.RotationState{rotor.RotationPending, rotor.RotationCreating, rotor.RotationVerifying, rotor.RotationDeploying,
			rotor.RotationGrace, rotor.RotationCleaning, rotor.RotationFailed}})
	if err != nil {
		return planner.Decision{}, err
	}
	return planner.Decide(planner.Facts{Binding: b, Policy: p, Current: cur, InFlight: len(inflight) > 0}, s.cfg.Clock.Now()), nil
}

// stepsOf returns the steps a binding's rotations run: its own, else its policy's.
func (s *Server) stepsOf(b *rotor.Binding) []rotor.StepSpec {
	if b.Steps != nil {
		return b.Steps
	}
	if p, ok := s.cfg.Policies[b.Policy]; ok {
		return p.Steps
	}
	return nil
}

// appDetail is everything the app page and GET /apps/{tenant}/{id} show.
type appDetail struct {
	App         *rotor.App
	SP          *rotor.ServicePrincipal
	Credentials []inventory.Row
	Bindings    []bindingDetail
	Rotations   []*rotor.Rotation
}

type bindingDetail struct {
	Binding  *rotor.Binding
	Decision planner.Decision
	Steps    []rotor.StepSpec // what its rotations run
}

// appByID finds an application by object id, or else by client id.
func (s *Server) appByID(ctx context.Context, tenant, id string) (*rotor.App, error) {
	app, err := s.cfg.Store.AppGet(ctx, tenant, id)
	if !errors.Is(err, rotor.ErrNotFound) {
		return app, err
	}
	apps, ferr := s.cfg.Store.AppFind(ctx, &rotor.AppFindParams{Tenant: tenant, Query: id})
	if ferr != nil {
		return nil, ferr
	}
	for _, a := range apps {
		if strings.EqualFold(a.AppID, id) {
			return a, nil
		}
	}
	return nil, notFoundf("no application %s in tenant %s", id, tenant)
}

func (s *Server) appDetail(ctx context.Context, tenant, id string, includeRemoved bool) (*appDetail, error) {
	app, err := s.appByID(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	d := &appDetail{App: app}
	now := s.cfg.Clock.Now()
	d.Credentials, err = s.view.Page(ctx, &rotor.CredentialSearchParams{Tenant: tenant, AppID: app.AppID, IncludeRemoved: includeRemoved, Limit: 200}, now)
	if err != nil {
		return nil, err
	}
	for _, c := range d.Credentials {
		if c.OwnerKind == rotor.OwnerServicePrincipal && d.SP == nil {
			if sp, err := s.cfg.Store.ServicePrincipalGet(ctx, tenant, c.OwnerID); err == nil {
				d.SP = sp
			}
		}
	}
	bs, err := s.cfg.Store.BindingSearch(ctx, &rotor.BindingSearchParams{Tenant: tenant, AppID: app.AppID, Limit: 100})
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		dec, err := s.decision(ctx, b)
		if err != nil {
			return nil, err
		}
		d.Bindings = append(d.Bindings, bindingDetail{Binding: b, Decision: dec, Steps: s.stepsOf(b)})
	}
	d.Rotations, err = s.cfg.Store.RotationSearch(ctx, &rotor.RotationSearchParams{Tenant: tenant, AppID: app.AppID, Limit: 20})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// bindingInput is a request to bind one of an application's secrets.
type bindingInput struct {
	Tenant string `json:"tenant"`
	// App is the application's object id or client id.
	App string `json:"app"`
	// ServicePrincipalID binds a secret of the application's service principal instead.
	ServicePrincipalID string `json:"service_principal_id,omitempty"`
	Policy             string `json:"policy"`
	// Adopt names an existing secret (key id) to take over; New creates one at the first rotation.
	Adopt string `json:"adopt,omitempty"`
	New   bool   `json:"new,omitempty"`
	// Steps replace the policy's steps; absent or null: the policy's.
	Steps []stepSpecJSON `json:"steps,omitempty"`
}

// createBinding binds an application's secret, as rotor bind does.
func (s *Server) createBinding(ctx context.Context, p *auth.Principal, in bindingInput, steps []rotor.StepSpec) (*rotor.Binding, error) {
	if s.cfg.Engine == nil {
		return nil, errNoEngine
	}
	var fields []fieldError
	if in.Tenant == "" {
		fields = append(fields, fieldError{"tenant", "required"})
	}
	if in.App == "" {
		fields = append(fields, fieldError{"app", "required: the application's object id or client id"})
	}
	if in.Policy == "" {
		fields = append(fields, fieldError{"policy", "required"})
	} else if _, ok := s.cfg.Policies[in.Policy]; !ok {
		fields = append(fields, fieldError{"policy", fmt.Sprintf("no policy %q in the configuration (policies: %s)", in.Policy, strings.Join(s.policyNames(), ", "))})
	}
	if in.Adopt != "" && in.New {
		fields = append(fields, fieldError{"adopt", "adopt a secret or ask for a new one, not both"})
	}
	if len(fields) > 0 {
		return nil, invalid(fields...)
	}
	apps, err := s.cfg.Store.AppFind(ctx, &rotor.AppFindParams{Tenant: in.Tenant, Query: in.App})
	if err != nil {
		return nil, err
	}
	var app *rotor.App
	for _, a := range apps {
		if a.ID == in.App || strings.EqualFold(a.AppID, in.App) {
			app = a
		}
	}
	if app == nil {
		return nil, invalid(fieldError{"app", fmt.Sprintf("no application with object id or client id %q in tenant %s", in.App, in.Tenant)})
	}
	owner := rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: app.ID}
	if in.ServicePrincipalID != "" {
		sp, err := s.cfg.Store.ServicePrincipalGet(ctx, in.Tenant, in.ServicePrincipalID)
		if err != nil || sp.AppID != app.AppID {
			return nil, invalid(fieldError{"service_principal_id", "not the service principal of " + app.DisplayName})
		}
		owner = rotor.OwnerRef{Kind: rotor.OwnerServicePrincipal, ID: sp.ID}
	}
	b, err := s.cfg.Engine.Bind(ctx, runner.BindParams{Tenant: in.Tenant, Owner: owner, AppID: app.AppID, Policy: in.Policy,
		Adopt: in.Adopt, New: in.New, Steps: steps, Actor: p.Actor()})
	var ae *apiError
	switch {
	case err == nil:
		return b, nil
	case errors.As(err, &ae), errors.Is(err, rotor.ErrNotFound):
		return nil, err
	case errors.Is(err, rotor.ErrConflict):
		return nil, conflictf("%s", err.Error())
	case errors.Is(err, runner.ErrChooseSecret), errors.Is(err, runner.ErrNoSuchSecret):
		return nil, invalid(fieldError{"adopt", err.Error()})
	}
	return nil, err
}

// bindingPatch changes a binding; absent fields stay.
type bindingPatch struct {
	Policy *string `json:"policy,omitempty"`
	Paused *bool   `json:"paused,omitempty"`
	// Steps replace the binding's steps; an explicit null goes back to the policy's.
	Steps      json.RawMessage `json:"steps,omitempty"`
	stepsSet   bool
	stepsValue []rotor.StepSpec
	// ExpectedUpdatedAt, when given (or If-Match), refuses the change if the binding changed since.
	ExpectedUpdatedAt *time.Time `json:"expected_updated_at,omitempty"`
}

// updateBinding applies a patch, with an audit event of what changed, in one transaction.
func (s *Server) updateBinding(ctx context.Context, p *auth.Principal, id string, in *bindingPatch) (*rotor.Binding, error) {
	if in.Policy != nil {
		if _, err := s.policy(*in.Policy); err != nil {
			return nil, invalid(fieldError{"policy", err.Error()})
		}
	}
	var out *rotor.Binding
	now := s.cfg.Clock.Now()
	err := s.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		b, err := tx.BindingGet(ctx, id)
		if err != nil {
			return err
		}
		if in.ExpectedUpdatedAt != nil && !in.ExpectedUpdatedAt.Equal(b.UpdatedAt) {
			return &apiError{Status: http.StatusPreconditionFailed, Type: "stale", Title: "Binding changed meanwhile",
				Detail: fmt.Sprintf("binding %s was changed at %s, after the version given: reload it and apply the change again", id, b.UpdatedAt.UTC().Format(time.RFC3339Nano))}
		}
		changed := map[string]string{}
		if in.Policy != nil && *in.Policy != b.Policy {
			changed["policy"] = b.Policy + " -> " + *in.Policy
			b.Policy = *in.Policy
		}
		if in.Paused != nil && *in.Paused != b.Paused {
			changed["paused"] = fmt.Sprint(*in.Paused)
			b.Paused = *in.Paused
		}
		if in.stepsSet {
			old, _ := json.Marshal(b.Steps)
			nw, _ := json.Marshal(in.stepsValue)
			if string(old) != string(nw) {
				changed["steps"] = stepSummary(in.stepsValue)
				b.Steps = in.stepsValue
			}
		}
		out = b
		if len(changed) == 0 {
			return nil // nothing to write
		}
		if err := tx.BindingUpdate(ctx, b, now); err != nil {
			return err
		}
		changed["binding_id"] = b.ID
		return tx.AuditAppend(ctx, &rotor.AuditEvent{At: now, Actor: p.Actor(), Action: "binding.updated", Tenant: b.Tenant, AppID: b.AppID,
			KeyID: b.KeyID, Outcome: rotor.OutcomeSuccess, Details: changed})
	})
	return out, err
}

func stepSummary(steps []rotor.StepSpec) string {
	if steps == nil {
		return "the policy's"
	}
	var parts []string
	for _, st := range steps {
		parts = append(parts, st.Name+" ("+st.Type+")")
	}
	return strings.Join(parts, ", ")
}

// deleteBinding stops managing a credential (the credential itself is left as it is).
func (s *Server) deleteBinding(ctx context.Context, p *auth.Principal, id string) (*rotor.Binding, error) {
	var out *rotor.Binding
	err := s.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		b, err := tx.BindingGet(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.BindingDelete(ctx, b.ID); err != nil {
			if errors.Is(err, rotor.ErrConflict) {
				return conflictf("binding %s has a rotation in flight: cancel it or let it finish first", b.ID)
			}
			return err
		}
		out = b
		return tx.AuditAppend(ctx, &rotor.AuditEvent{At: s.cfg.Clock.Now(), Actor: p.Actor(), Action: "binding.deleted", Tenant: b.Tenant,
			AppID: b.AppID, KeyID: b.KeyID, Outcome: rotor.OutcomeSuccess, Details: map[string]string{"binding_id": b.ID}})
	})
	return out, err
}

// dryRun is what a rotation of a binding would do, with every preflight check.
type dryRun struct {
	Binding  *rotor.Binding
	Policy   *rotor.Policy
	Decision planner.Decision
	Would    []string
	Steps    []rotor.StepSpec
	Checks   []runner.Check
	OK       bool
}

func (s *Server) dryRun(ctx context.Context, bindingID string) (*dryRun, error) {
	if s.cfg.Engine == nil {
		return nil, errNoEngine
	}
	b, err := s.cfg.Store.BindingGet(ctx, bindingID)
	if err != nil {
		return nil, err
	}
	d := &dryRun{Binding: b, Steps: s.stepsOf(b)}
	if d.Decision, err = s.decision(ctx, b); err != nil {
		return nil, err
	}
	d.Policy = s.cfg.Policies[b.Policy]
	create := fmt.Sprintf("create a secret named rotor:<rotation id> on %s %s", b.OwnerKind, b.OwnerID)
	verify := "prove it gets tokens"
	if p := d.Policy; p != nil {
		create += ", lifetime " + fmtDuration(p.Lifetime) + " (capped by the tenant's app management policy)"
		verify += fmt.Sprintf(" (%d in a row, within %s): nothing is published before this passes", p.Verify.Successes, fmtDuration(p.Verify.Timeout))
	}
	d.Would = append(d.Would, create, verify)
	for _, st := range d.Steps {
		d.Would = append(d.Would, fmt.Sprintf("step %s (%s, on failure %s)", st.Name, st.Type, onFailureOf(st)))
	}
	if b.KeyID != "" {
		grace := "the grace period"
		if d.Policy != nil {
			grace = fmtDuration(d.Policy.GracePeriod)
		}
		d.Would = append(d.Would, fmt.Sprintf("keep %s valid for %s, then remove it", b.KeyID, grace))
	}
	d.Checks = s.cfg.Engine.Preflight(ctx, b)
	_, d.OK = checksOf(d.Checks)
	return d, nil
}

func onFailureOf(st rotor.StepSpec) rotor.OnFailure {
	if st.OnFailure == "" {
		return rotor.Abort
	}
	return st.OnFailure
}

// requestRotation plans a rotation of a binding now.
func (s *Server) requestRotation(ctx context.Context, p *auth.Principal, bindingID string) (*rotor.Rotation, error) {
	if s.cfg.Engine == nil {
		return nil, errNoEngine
	}
	if _, err := s.cfg.Store.BindingGet(ctx, bindingID); err != nil {
		return nil, err
	}
	r, err := s.cfg.Engine.Request(ctx, bindingID, p.Actor())
	if errors.Is(err, rotor.ErrConflict) {
		return nil, conflictf("binding %s is paused or already has a rotation in flight: %v", bindingID, err)
	}
	return r, err
}

func (s *Server) retryRotation(ctx context.Context, p *auth.Principal, id string) (*rotor.Rotation, error) {
	if s.cfg.Engine == nil {
		return nil, errNoEngine
	}
	r, err := s.cfg.Engine.RequestRetry(ctx, id, p.Actor())
	if errors.Is(err, rotor.ErrConflict) {
		return nil, conflictf("rotation %s has not failed: only a failed rotation is retried", id)
	}
	return r, err
}

func (s *Server) cancelRotation(ctx context.Context, p *auth.Principal, id string) (*rotor.Rotation, error) {
	if s.cfg.Engine == nil {
		return nil, errNoEngine
	}
	r, err := s.cfg.Engine.RequestCancel(ctx, id, p.Actor())
	if errors.Is(err, rotor.ErrConflict) {
		return nil, conflictf("%v", err)
	}
	return r, err
}

// syncNow asks a tenant's sync loop to run now.
func (s *Server) syncNow(ctx context.Context, p *auth.Principal, tenant string) error {
	if !slices.Contains(s.cfg.Tenants, tenant) {
		return notFoundf("no tenant %q in the configuration", tenant)
	}
	if s.cfg.SyncNow == nil {
		return &apiError{Status: http.StatusConflict, Type: "sync-disabled", Title: "Nothing syncs here", Detail: "this process runs no sync loops"}
	}
	if err := s.cfg.SyncNow(tenant); err != nil {
		return err
	}
	return s.cfg.Store.AuditAppend(ctx, &rotor.AuditEvent{At: s.cfg.Clock.Now(), Actor: p.Actor(), Action: "tenant.sync_requested",
		Tenant: tenant, Outcome: rotor.OutcomeInfo})
}

// Token limits.
const (
	maxTokenLifetime = 366 * 24 * time.Hour
	minTokenLifetime = time.Hour
)

var tokenNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// tokenInput asks for an API token.
type tokenInput struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	ExpiresIn string `json:"expires_in"` // a duration: 90d, 12h; default 90d
}

// createToken makes an API token; the value is returned this once and stored only as a hash.
func (s *Server) createToken(ctx context.Context, actor string, in tokenInput) (*rotor.APIToken, string, error) {
	return CreateToken(ctx, s.cfg.Store, s.cfg.Clock.Now(), actor, in.Name, in.Role, in.ExpiresIn)
}

// CreateToken makes an API token (rotor token create and the API share it). It returns the
// token and its value, which is shown once and stored only as a hash; the audit event never
// holds the value.
func CreateToken(ctx context.Context, st rotor.Store, now time.Time, actor, name, role, expiresIn string) (*rotor.APIToken, string, error) {
	var fields []fieldError
	if !tokenNameRE.MatchString(name) {
		fields = append(fields, fieldError{"name", "use lowercase letters, digits, '.', '_' and '-' (at most 63)"})
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		fields = append(fields, fieldError{"role", err.Error()})
	}
	life := 90 * 24 * time.Hour
	if expiresIn != "" {
		d, err := config.ParseDuration(expiresIn)
		switch {
		case err != nil:
			fields = append(fields, fieldError{"expires_in", err.Error()})
		case d < minTokenLifetime || d > maxTokenLifetime:
			fields = append(fields, fieldError{"expires_in", "use 1h to 366d: tokens always expire"})
		default:
			life = d
		}
	}
	if len(fields) > 0 {
		return nil, "", invalid(fields...)
	}
	value, hash, err := auth.NewToken()
	if err != nil {
		return nil, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, "", err
	}
	t := &rotor.APIToken{ID: id.String(), Name: name, Role: string(r), Hash: hash, CreatedAt: now, CreatedBy: actor, ExpiresAt: now.Add(life)}
	err = st.InTx(ctx, func(tx rotor.Store) error {
		if err := tx.APITokenInsert(ctx, t); err != nil {
			return err
		}
		return tx.AuditAppend(ctx, &rotor.AuditEvent{At: now, Actor: actor, Action: "token.created", Outcome: rotor.OutcomeSuccess,
			Details: map[string]string{"token_id": t.ID, "name": t.Name, "role": t.Role, "expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)}})
	})
	if err != nil {
		if errors.Is(err, rotor.ErrConflict) {
			return nil, "", invalid(fieldError{"name", err.Error()})
		}
		return nil, "", err
	}
	return t, value.Reveal(), nil
}

// RevokeToken revokes an API token, with an audit event.
func RevokeToken(ctx context.Context, st rotor.Store, now time.Time, actor, id string) (*rotor.APIToken, error) {
	var out *rotor.APIToken
	err := st.InTx(ctx, func(tx rotor.Store) error {
		before, err := tx.APITokenGet(ctx, id)
		if err != nil {
			return err
		}
		if out, err = tx.APITokenRevoke(ctx, &rotor.APITokenRevokeParams{ID: id, By: actor, At: now}); err != nil {
			return err
		}
		if !before.RevokedAt.IsZero() {
			return nil // already revoked: nothing changed
		}
		return tx.AuditAppend(ctx, &rotor.AuditEvent{At: now, Actor: actor, Action: "token.revoked", Outcome: rotor.OutcomeSuccess,
			Details: map[string]string{"token_id": out.ID, "name": out.Name}})
	})
	return out, err
}

// stepInputs validates steps given through the API or the UI: names, failure modes, and each
// type's own settings through the registry (settings are data: ${...} is not expanded).
func (s *Server) stepInputs(field string, in []stepSpecJSON) ([]rotor.StepSpec, []fieldError) {
	var out []rotor.StepSpec
	var errs []fieldError
	names := map[string]bool{}
	for i, st := range in {
		at := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !stepNameRE.MatchString(st.Name):
			errs = append(errs, fieldError{at + ".name", fmt.Sprintf("%q: use lowercase letters, digits, - and _", st.Name)})
		case names[st.Name]:
			errs = append(errs, fieldError{at + ".name", fmt.Sprintf("%q is used by another step", st.Name)})
		}
		names[st.Name] = true
		of := rotor.OnFailure(st.OnFailure)
		if of == "" {
			of = rotor.Abort
		}
		if of != rotor.Abort && of != rotor.Continue {
			errs = append(errs, fieldError{at + ".on_failure", fmt.Sprintf("unknown %q: use abort or continue", st.OnFailure)})
		}
		params := st.Params
		if len(params) == 0 || string(params) == "null" {
			params = json.RawMessage("{}")
		}
		var obj map[string]any
		if err := json.Unmarshal(params, &obj); err != nil {
			errs = append(errs, fieldError{at + ".params", "must be a JSON object of the step type's settings"})
			continue
		}
		spec := rotor.StepSpec{Name: st.Name, Type: st.Type, OnFailure: of, Params: params}
		if _, err := s.cfg.Registry.Build(spec); err != nil {
			errs = append(errs, fieldError{at, err.Error()})
		}
		out = append(out, spec)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if out == nil {
		out = []rotor.StepSpec{}
	}
	return out, nil
}

var stepNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// stepsFromYAML reads steps written as in the configuration file (a list of name, type,
// on_failure and the type's settings), as the binding form's text area takes them.
func (s *Server) stepsFromYAML(text string) ([]rotor.StepSpec, []fieldError) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		return nil, []fieldError{{"steps", "not YAML or JSON: " + err.Error()}}
	}
	if root.Kind == 0 || (root.Kind == yaml.DocumentNode && len(root.Content) == 0) {
		return []rotor.StepSpec{}, nil
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	d.NoExpand = true
	var steps []config.Step
	d.Decode(&root, &steps, "steps")
	var errs []fieldError
	for _, e := range d.Errs() {
		msg := e.Msg
		if e.Line > 0 {
			msg = fmt.Sprintf("line %d: %s", e.Line, e.Msg)
		}
		errs = append(errs, fieldError{e.Path, msg})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	in := make([]stepSpecJSON, 0, len(steps))
	for _, st := range steps {
		spec, err := st.Spec()
		if err != nil {
			return nil, []fieldError{{"steps", err.Error()}}
		}
		in = append(in, stepSpecJSON{Name: spec.Name, Type: spec.Type, OnFailure: string(spec.OnFailure), Params: spec.Params})
	}
	return s.stepInputs("steps", in)
}

// stepsYAML writes steps as the form's text area shows them: name, type and on_failure first,
// then the type's settings.
func stepsYAML(steps []rotor.StepSpec) string {
	if len(steps) == 0 {
		return ""
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, st := range steps {
		m := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k, v string) {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v})
		}
		add("name", st.Name)
		add("type", st.Type)
		add("on_failure", string(onFailureOf(st)))
		if pn, err := config.ParamsNode(st); err == nil && pn.Kind == yaml.MappingNode {
			m.Content = append(m.Content, pn.Content...)
		}
		seq.Content = append(seq.Content, m)
	}
	b, err := yaml.Marshal(seq)
	if err != nil {
		return ""
	}
	return string(b)
}
