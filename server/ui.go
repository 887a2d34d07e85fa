package server

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/lifecycle"
)

// The web UI's pages. They read through the same queries as the API (keyset pages, aggregate
// counts) and change things through the same operations, so the audit trail names the user.

// redirect answers a form post by sending the browser to a page (post/redirect/get).
func redirect(w http.ResponseWriter, r *http.Request, to, msg string) error {
	if msg != "" {
		path, frag, _ := strings.Cut(to, "#")
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		to = path + sep + "msg=" + url.QueryEscape(msg)
		if frag != "" {
			to += "#" + frag
		}
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

type dashboardData struct {
	Tenants  []string
	Tenant   string
	Summary  summaryJSON
	Chart    template.HTML
	Urgent   []inventory.Row
	Critical int
}

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request) error {
	tenant := r.URL.Query().Get("tenant")
	o, err := s.summary(r, tenant)
	if err != nil {
		return err
	}
	d := dashboardData{Tenants: s.cfg.Tenants, Tenant: tenant, Summary: summaryOf(o), Urgent: o.Summary.MostUrgent}
	d.Chart = expiryChart(o, s.cfg.Thresholds)
	return s.render(w, r, http.StatusOK, "dashboard", view{Title: "Dashboard", Nav: "dashboard", Data: d})
}

type appsData struct {
	Tenants []string
	Filter  map[string]string
	Apps    []*rotor.AppSummary
	Next    string
	URL     *url.URL
	First   bool
	Invalid []fieldError
}

func (s *Server) pageApps(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	// The filter menu sets one of the list's filters.
	switch q.Get("filter") {
	case "expiring":
		q.Set("expiring_within", "30d")
	case "expired":
		q.Set("expired", "true")
	case "managed":
		q.Set("managed", "true")
	case "unmanaged":
		q.Set("managed", "false")
	}
	rr := r.Clone(r.Context())
	rr.URL.RawQuery = q.Encode()
	d := appsData{Tenants: s.cfg.Tenants, URL: r.URL, First: q.Get("cursor") == "",
		Filter: map[string]string{"q": q.Get("q"), "tenant": q.Get("tenant"), "filter": q.Get("filter")}}
	p, err := s.appSearch(rr, 50)
	if d.Invalid = invalidQuery(err); d.Invalid != nil {
		return s.render(w, r, http.StatusUnprocessableEntity, "apps", view{Title: "Applications", Nav: "apps", Data: d})
	}
	if err != nil {
		return err
	}
	if d.Apps, d.Next, err = s.searchApps(r, p); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "apps", view{Title: "Applications", Nav: "apps", Data: d})
}

type appData struct {
	Detail  *appDetail
	Live    int
	Removed bool
	Steps   map[string][]rotor.StepSpec
	Engine  bool
}

func (s *Server) pageApp(w http.ResponseWriter, r *http.Request) error {
	removed := r.URL.Query().Get("removed") == "1"
	d, err := s.appDetail(r.Context(), r.PathValue("tenant"), r.PathValue("id"), removed)
	if err != nil {
		return err
	}
	ad := appData{Detail: d, Removed: removed, Engine: s.cfg.Engine != nil}
	for _, c := range d.Credentials {
		if !c.Removed() {
			ad.Live++
		}
	}
	return s.render(w, r, http.StatusOK, "app", view{Title: d.App.DisplayName, Nav: "apps", Data: ad})
}

// bindForm is the binding form's state: what was entered and what is wrong with it.
type bindForm struct {
	App         *rotor.App
	SP          *rotor.ServicePrincipal
	Binding     *rotor.Binding // when editing
	Secrets     []inventory.Row
	Policies    []string
	StepTypes   []string
	PolicySteps map[string]string // policy -> its steps as YAML, for reference
	Owner       string            // application or servicePrincipal
	Policy      string
	Choice      string // adopt:<key id>, new
	CustomSteps bool
	StepsText   string
	Paused      bool
	Errors      map[string]string
	ErrorList   []fieldError
}

func (s *Server) newBindForm(r *http.Request, app *rotor.App) (*bindForm, error) {
	f := &bindForm{App: app, Policies: s.policyNames(), StepTypes: s.cfg.Registry.Types(), PolicySteps: map[string]string{},
		Owner: string(rotor.OwnerApplication), Choice: "new", Errors: map[string]string{}}
	for _, n := range f.Policies {
		f.PolicySteps[n] = stepsYAML(s.cfg.Policies[n].Steps)
	}
	if len(f.Policies) > 0 {
		f.Policy = f.Policies[0]
	}
	rows, err := s.view.Page(r.Context(), &rotor.CredentialSearchParams{Tenant: app.Tenant, AppID: app.AppID, Kind: rotor.KindSecret, Limit: 100},
		s.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	for _, c := range rows {
		if c.State != lifecycle.Expired && c.BindingID == "" {
			f.Secrets = append(f.Secrets, c)
		}
		if c.OwnerKind == rotor.OwnerServicePrincipal && f.SP == nil {
			f.SP, _ = s.cfg.Store.ServicePrincipalGet(r.Context(), app.Tenant, c.OwnerID)
		}
	}
	return f, nil
}

func (f *bindForm) fail(errs []fieldError) {
	f.ErrorList = append(f.ErrorList, errs...)
	for _, e := range errs {
		key := e.Field
		if strings.HasPrefix(key, "steps") {
			key = "steps"
		}
		if f.Errors[key] == "" {
			f.Errors[key] = e.Message
		} else {
			f.Errors[key] += "; " + e.Message
		}
	}
}

func (s *Server) pageBindForm(w http.ResponseWriter, r *http.Request) error {
	app, err := s.appByID(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := s.newBindForm(r, app)
	if err != nil {
		return err
	}
	if s.cfg.Engine == nil {
		return errNoEngine
	}
	f.StepsText = f.PolicySteps[f.Policy]
	return s.render(w, r, http.StatusOK, "bind", view{Title: "Manage a secret of " + app.DisplayName, Nav: "apps", Data: f})
}

func (s *Server) pageBindCreate(w http.ResponseWriter, r *http.Request) error {
	app, err := s.appByID(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	f, err := s.newBindForm(r, app)
	if err != nil {
		return err
	}
	f.Policy, f.Owner, f.Choice = r.PostFormValue("policy"), r.PostFormValue("owner"), r.PostFormValue("secret")
	f.CustomSteps, f.StepsText = r.PostFormValue("steps_mode") == "custom", r.PostFormValue("steps")
	in := bindingInput{Tenant: app.Tenant, App: app.ID, Policy: f.Policy}
	switch {
	case f.Choice == "new":
		in.New = true
	case strings.HasPrefix(f.Choice, "adopt:"):
		in.Adopt = strings.TrimPrefix(f.Choice, "adopt:")
	default:
		f.fail([]fieldError{{"secret", "choose a secret to take over, or a new one"}})
	}
	if f.Owner == string(rotor.OwnerServicePrincipal) {
		if f.SP == nil {
			f.fail([]fieldError{{"owner", "the application has no service principal with secrets"}})
		} else {
			in.ServicePrincipalID = f.SP.ID
		}
	}
	var steps []rotor.StepSpec
	if f.CustomSteps {
		var errs []fieldError
		if steps, errs = s.stepsFromYAML(f.StepsText); len(errs) > 0 {
			f.fail(errs)
		}
	}
	if len(f.ErrorList) == 0 {
		b, err := s.createBinding(r.Context(), principal(r), in, steps)
		var ae *apiError
		switch {
		case err == nil:
			return redirect(w, r, "/apps/"+url.PathEscape(app.Tenant)+"/"+url.PathEscape(app.ID)+"#binding-"+b.ID, "bound")
		case errors.As(err, &ae) && len(ae.Fields) > 0:
			f.fail(ae.Fields)
		case errors.As(err, &ae):
			f.fail([]fieldError{{"form", ae.Detail}})
		default:
			return err
		}
	}
	return s.render(w, r, http.StatusUnprocessableEntity, "bind", view{Title: "Manage a secret of " + app.DisplayName, Nav: "apps", Data: f})
}

func (s *Server) bindingApp(r *http.Request, b *rotor.Binding) (*rotor.App, error) {
	apps, err := s.cfg.Store.AppFind(r.Context(), &rotor.AppFindParams{Tenant: b.Tenant, Query: b.AppID})
	if err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		return &rotor.App{Tenant: b.Tenant, ID: b.OwnerID, AppID: b.AppID, DisplayName: b.AppID}, nil
	}
	return apps[0], nil
}

func (s *Server) editForm(r *http.Request) (*bindForm, error) {
	b, err := s.cfg.Store.BindingGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	app, err := s.bindingApp(r, b)
	if err != nil {
		return nil, err
	}
	f := &bindForm{App: app, Binding: b, Policies: s.policyNames(), StepTypes: s.cfg.Registry.Types(), PolicySteps: map[string]string{},
		Policy: b.Policy, Paused: b.Paused, CustomSteps: b.Steps != nil, Errors: map[string]string{}}
	for _, n := range f.Policies {
		f.PolicySteps[n] = stepsYAML(s.cfg.Policies[n].Steps)
	}
	f.StepsText = stepsYAML(s.stepsOf(b))
	return f, nil
}

func (s *Server) pageBindingEdit(w http.ResponseWriter, r *http.Request) error {
	f, err := s.editForm(r)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "binding_edit", view{Title: "Binding of " + f.App.DisplayName, Nav: "apps", Data: f})
}

func (s *Server) pageBindingUpdate(w http.ResponseWriter, r *http.Request) error {
	f, err := s.editForm(r)
	if err != nil {
		return err
	}
	b := f.Binding
	f.Policy, f.Paused = r.PostFormValue("policy"), r.PostFormValue("paused") == "on"
	f.CustomSteps, f.StepsText = r.PostFormValue("steps_mode") == "custom", r.PostFormValue("steps")
	patch := &bindingPatch{Policy: &f.Policy, Paused: &f.Paused, stepsSet: true}
	if ver := r.PostFormValue("version"); ver != "" {
		if t, err := timeParse(ver); err == nil {
			patch.ExpectedUpdatedAt = &t
		}
	}
	if f.CustomSteps {
		var errs []fieldError
		if patch.stepsValue, errs = s.stepsFromYAML(f.StepsText); len(errs) > 0 {
			f.fail(errs)
		}
	}
	if len(f.ErrorList) == 0 {
		before := b.UpdatedAt
		nb, err := s.updateBinding(r.Context(), principal(r), b.ID, patch)
		var ae *apiError
		switch {
		case err == nil:
			msg := "binding-saved"
			if nb.UpdatedAt.Equal(before) {
				msg = "binding-same"
			}
			return redirect(w, r, "/apps/"+url.PathEscape(f.App.Tenant)+"/"+url.PathEscape(f.App.ID)+"#binding-"+b.ID, msg)
		case errors.As(err, &ae) && len(ae.Fields) > 0:
			f.fail(ae.Fields)
		case errors.As(err, &ae):
			f.fail([]fieldError{{"form", ae.Detail}})
		default:
			return err
		}
	}
	return s.render(w, r, http.StatusUnprocessableEntity, "binding_edit", view{Title: "Binding of " + f.App.DisplayName, Nav: "apps", Data: f})
}

func (s *Server) pageBindingDelete(w http.ResponseWriter, r *http.Request) error {
	b, err := s.deleteBinding(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	app, err := s.bindingApp(r, b)
	if err != nil {
		return err
	}
	return redirect(w, r, "/apps/"+url.PathEscape(app.Tenant)+"/"+url.PathEscape(app.ID), "binding-gone")
}

type rotateData struct {
	App    *rotor.App
	Run    *dryRun
	Checks []checkJSON
}

func (s *Server) pageRotateDryRun(w http.ResponseWriter, r *http.Request) error {
	d, err := s.dryRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	app, err := s.bindingApp(r, d.Binding)
	if err != nil {
		return err
	}
	checks, _ := checksOf(d.Checks)
	return s.render(w, r, http.StatusOK, "rotate", view{Title: "Rotate " + app.DisplayName, Nav: "apps",
		Data: rotateData{App: app, Run: d, Checks: checks}})
}

func (s *Server) pageRotate(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.requestRotation(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return redirect(w, r, "/rotations/"+url.PathEscape(rt.ID), "rotation-asked")
}

type rotationData struct {
	Rotation rotationJSON
	App      *rotor.App
	Events   []*rotor.AuditEvent
	Live     bool
	Engine   bool
}

func (s *Server) pageRotation(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.cfg.Store.RotationGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rj, err := s.rotationWithSteps(r, rt)
	if err != nil {
		return err
	}
	app, err := s.bindingApp(r, &rotor.Binding{Tenant: rt.Tenant, AppID: rt.AppID, OwnerID: rt.OwnerID})
	if err != nil {
		return err
	}
	evs, err := s.cfg.Store.AuditSearch(r.Context(), &rotor.AuditSearchParams{RotationID: rt.ID, Limit: 200})
	if err != nil {
		return err
	}
	slices.Reverse(evs) // the rotation's story reads oldest first
	// Refresh while a worker may be moving it along (not waiting out its grace period).
	live := !rt.State.Terminal() && rt.State != rotor.RotationGrace && !(rt.State == rotor.RotationFailed && rt.NextAttemptAt.IsZero())
	return s.render(w, r, http.StatusOK, "rotation", view{Title: "Rotation of " + app.DisplayName, Nav: "apps", Live: live,
		Data: rotationData{Rotation: rj, App: app, Events: evs, Live: live, Engine: s.cfg.Engine != nil}})
}

func (s *Server) pageRotationRetry(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.retryRotation(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return redirect(w, r, "/rotations/"+url.PathEscape(rt.ID), "retry-asked")
}

func (s *Server) pageRotationCancel(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.cancelRotation(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return redirect(w, r, "/rotations/"+url.PathEscape(rt.ID), "cancel-asked")
}

type credentialsData struct {
	Tenants []string
	States  []lifecycle.State
	Checked map[string]bool
	Filter  map[string]string
	Rows    []inventory.Row
	Next    string
	URL     *url.URL
	First   bool
	Invalid []fieldError
}

func (s *Server) pageCredentials(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := credentialsData{Tenants: s.cfg.Tenants, States: lifecycle.States, Checked: map[string]bool{}, URL: r.URL, First: q.Get("cursor") == "",
		Filter: map[string]string{"tenant": q.Get("tenant"), "kind": q.Get("kind"), "app_id": q.Get("app_id"), "expiring_within": q.Get("expiring_within")}}
	for _, st := range newQuery(r).list("state") {
		d.Checked[st] = true
	}
	p, err := s.credentialSearch(r, 100)
	if d.Invalid = invalidQuery(err); d.Invalid != nil {
		return s.render(w, r, http.StatusUnprocessableEntity, "credentials", view{Title: "Credentials", Nav: "credentials", Data: d})
	}
	if err != nil {
		return err
	}
	if d.Rows, d.Next, err = s.searchCredentials(r, p); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "credentials", view{Title: "Credentials", Nav: "credentials", Data: d})
}

type auditData struct {
	Tenants  []string
	Outcomes []string
	Filter   map[string]string
	Events   []*rotor.AuditEvent
	Next     string
	URL      *url.URL
	First    bool
	Invalid  []fieldError
}

func (s *Server) pageAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := auditData{Tenants: s.cfg.Tenants, Outcomes: []string{rotor.OutcomeSuccess, rotor.OutcomeInfo, rotor.OutcomeFailure}, URL: r.URL, First: q.Get("cursor") == "", Filter: map[string]string{}}
	for _, k := range []string{"tenant", "app_id", "rotation_id", "actor", "action", "outcome", "since", "until"} {
		d.Filter[k] = q.Get(k)
	}
	p, err := s.auditSearch(r)
	if d.Invalid = invalidQuery(err); d.Invalid != nil {
		return s.render(w, r, http.StatusUnprocessableEntity, "audit", view{Title: "Audit log", Nav: "audit", Data: d})
	}
	if err != nil {
		return err
	}
	if d.Events, d.Next, err = s.searchAudit(r, p); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "audit", view{Title: "Audit log", Nav: "audit", Data: d})
}

type notificationsData struct {
	Configured bool
	Notifiers  []NotifierInfo
	Items      []OutboxItem
	Status     string
	Next       string
	URL        *url.URL
	First      bool
}

func (s *Server) pageNotifications(w http.ResponseWriter, r *http.Request) error {
	d := notificationsData{Configured: s.cfg.Notifications != nil, URL: r.URL, First: r.URL.Query().Get("cursor") == "",
		Status: r.URL.Query().Get("status")}
	oq, err := s.outboxQuery(r)
	if err != nil {
		return err
	}
	if d.Configured {
		if d.Notifiers, err = s.cfg.Notifications.Notifiers(r.Context()); err != nil {
			return err
		}
	}
	if d.Items, d.Next, err = s.searchOutbox(r, oq); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "notifications", view{Title: "Notifications", Nav: "notifications", Data: d})
}

func (s *Server) pageNotificationRetry(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Notifications == nil {
		return errNoNotifications
	}
	if _, err := s.cfg.Notifications.Retry(r.Context(), r.PathValue("id"), principal(r).Actor()); err != nil {
		return err
	}
	return redirect(w, r, "/notifications", "notify-retry")
}

type settingsData struct {
	Tenants   []tenantJSON
	Policies  []policyJSON
	Agents    []agentJSON
	Tokens    []tokenJSON
	NewToken  *tokenJSON
	TokenForm tokenInput
	TokenErrs map[string]string
	Roles     []string
	CanSync   bool
}

func (s *Server) settings(r *http.Request) (*settingsData, error) {
	d := &settingsData{Roles: []string{"viewer", "operator", "admin"}, TokenForm: tokenInput{Role: "viewer", ExpiresIn: "90d"},
		TokenErrs: map[string]string{}, CanSync: s.cfg.SyncNow != nil}
	ts, err := s.cfg.Store.TenantList(r.Context())
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		tj, err := s.tenantOf(r, t, false)
		if err != nil {
			return nil, err
		}
		d.Tenants = append(d.Tenants, tj)
	}
	for _, n := range s.policyNames() {
		d.Policies = append(d.Policies, policyOf(s.cfg.Policies[n]))
	}
	as, err := s.cfg.Store.AgentList(r.Context())
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		d.Agents = append(d.Agents, agentOf(a))
	}
	if p := principal(r); p.Can("entra:write") {
		toks, err := s.cfg.Store.APITokenList(r.Context(), &rotor.APITokenListParams{})
		if err != nil {
			return nil, err
		}
		for _, t := range toks {
			d.Tokens = append(d.Tokens, tokenOf(t, s.cfg.Clock.Now()))
		}
	}
	return d, nil
}

func (s *Server) pageSettings(w http.ResponseWriter, r *http.Request) error {
	d, err := s.settings(r)
	if err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "settings", view{Title: "Settings", Nav: "settings", Data: d})
}

// pageTokenCreate makes a token and shows its value on the answer itself, once: it is not kept.
func (s *Server) pageTokenCreate(w http.ResponseWriter, r *http.Request) error {
	in := tokenInput{Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role"), ExpiresIn: r.PostFormValue("expires_in")}
	t, value, err := s.createToken(r.Context(), principal(r).Actor(), in)
	status := http.StatusCreated
	var ae *apiError
	var created *tokenJSON
	switch {
	case err == nil:
		tj := tokenOf(t, s.cfg.Clock.Now())
		tj.Token = value
		created = &tj
	case errors.As(err, &ae) && len(ae.Fields) > 0:
		status = http.StatusUnprocessableEntity
	default:
		return err
	}
	d, serr := s.settings(r)
	if serr != nil {
		return serr
	}
	d.NewToken = created
	if created == nil {
		d.TokenForm = in
		for _, f := range ae.Fields {
			d.TokenErrs[f.Field] = f.Message
		}
	}
	return s.render(w, r, status, "settings", view{Title: "Settings", Nav: "settings", Data: d})
}

func (s *Server) pageTokenRevoke(w http.ResponseWriter, r *http.Request) error {
	if _, err := RevokeToken(r.Context(), s.cfg.Store, s.cfg.Clock.Now(), principal(r).Actor(), r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/settings#tokens", "token-revoked")
}

func (s *Server) pageTenantSync(w http.ResponseWriter, r *http.Request) error {
	if err := s.syncNow(r.Context(), principal(r), r.PathValue("tenant")); err != nil {
		return err
	}
	return redirect(w, r, "/settings#tenants", "sync-asked")
}

type loginData struct {
	Next    string
	Enabled bool
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: loginData{Next: localPath(r.URL.Query().Get("next")), Enabled: s.oidc != nil}})
}

func (s *Server) pageSignedOut(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "signed_out", view{Title: "Signed out", Data: loginData{Enabled: s.oidc != nil}})
}

func timeParse(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// invalidQuery returns the fields a list page's filters got wrong (a 422 from reading its
// query), to show them on the page's form; nil for any other outcome.
func invalidQuery(err error) []fieldError {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
		return append([]fieldError{}, ae.Fields...) // never nil: a 422 without fields is still one
	}
	return nil
}
