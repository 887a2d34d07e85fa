package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/lifecycle"
)

// The REST API's handlers. Their shapes are in openapi.yaml, which the tests check against the
// route table and against the responses they record.

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, err := w.Write(s.spec)
	return err
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, meOf(principal(r)))
}

// summaryJSON is the dashboard's figures.
type summaryJSON struct {
	Tenant     string           `json:"tenant,omitempty"`
	Now        time.Time        `json:"now"`
	Total      int              `json:"total"`
	Active     int              `json:"active"`
	Within7d   int              `json:"within_7d"`
	Within30d  int              `json:"within_30d"`
	Within90d  int              `json:"within_90d"`
	InGrace    int              `json:"in_grace"`
	Expired    int              `json:"expired"`
	Rotating   int              `json:"rotating"`
	ByState    map[string]int   `json:"by_state"`
	NextEndAt  *time.Time       `json:"next_end_at,omitempty"`
	MostUrgent []credentialJSON `json:"most_urgent"`
	Weeks      []weekJSON       `json:"weeks"`
}

type weekJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Count int       `json:"count"`
}

// dashboardWeeks is how many weeks of upcoming expiries the dashboard charts.
const dashboardWeeks = 26

// summary computes the dashboard's figures. Concurrent requests for the same tenant share one
// computation (a burst of dashboards costs one pass over the index, not one each); nothing is
// kept after it, so the figures are never older than the request.
func (s *Server) summary(r *http.Request, tenant string) (*inventory.Overview, error) {
	v, err, _ := s.overviews.Do(tenant, func() (any, error) {
		// Not the request's context: another request may be waiting for this computation.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		return s.view.Overview(ctx, tenant, s.cfg.Clock.Now(), dashboardWeeks, 10)
	})
	if err != nil {
		return nil, err
	}
	return v.(*inventory.Overview), nil
}

func (s *Server) apiSummary(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	tenant := q.str("tenant")
	o, err := s.summary(r, tenant)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, summaryOf(o))
}

func summaryOf(o *inventory.Overview) summaryJSON {
	sm := o.Summary
	out := summaryJSON{Tenant: o.Tenant, Now: o.Now.UTC(), Total: sm.Total, Active: sm.Total - sm.Expired, Within7d: sm.Within7, Within30d: sm.Within30, Within90d: sm.Within90,
		InGrace: sm.InGrace, Expired: sm.Expired, Rotating: sm.Rotating, ByState: map[string]int{}, NextEndAt: tp(o.NextEndAt),
		MostUrgent: []credentialJSON{}, Weeks: []weekJSON{}}
	for st, n := range sm.ByState {
		out.ByState[string(st)] = n
	}
	for _, r := range sm.MostUrgent {
		out.MostUrgent = append(out.MostUrgent, credentialOf(r))
	}
	week := 7 * 24 * time.Hour
	for i, n := range o.Weeks {
		start := o.Now.Add(time.Duration(i) * week).UTC()
		out.Weeks = append(out.Weeks, weekJSON{Start: start, End: start.Add(week), Count: n})
	}
	return out
}

func (s *Server) tenantOf(r *http.Request, t *rotor.Tenant, withCounts bool) (tenantJSON, error) {
	out := tenantJSON{Name: t.Name, TenantID: t.TenantID, DisplayName: t.DisplayName}
	for _, n := range s.cfg.Tenants {
		out.Configured = out.Configured || n == t.Name
	}
	for coll, dst := range map[string]**time.Time{"applications": &out.ApplicationsSyncedAt, "servicePrincipals": &out.ServicePrincipalsSyncedAt} {
		c, err := s.cfg.Store.SyncCursorGet(r.Context(), t.Name, coll)
		if errors.Is(err, rotor.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		*dst = tp(c.SyncedAt)
		if coll == "applications" {
			out.LastFullSyncAt = tp(c.FullSyncAt)
		}
	}
	if withCounts {
		st, err := s.cfg.Store.CredentialStats(r.Context(), &rotor.CredentialStatsParams{Tenant: t.Name, Now: s.cfg.Clock.Now(), Warn: s.cfg.Thresholds.Warn})
		if err != nil {
			return out, err
		}
		total := 0
		out.CredentialsByState = map[string]int{}
		for _, ts := range st.Tenants {
			for state, n := range ts.ByState {
				out.CredentialsByState[state] += n
				if state != "cleaned_up" && state != "removed" {
					total += n
				}
			}
		}
		out.Credentials = &total
	}
	return out, nil
}

func (s *Server) apiTenants(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.cfg.Store.TenantList(r.Context())
	if err != nil {
		return err
	}
	out := page[tenantJSON]{Items: []tenantJSON{}}
	for _, t := range ts {
		tj, err := s.tenantOf(r, t, false)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, tj)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := s.cfg.Store.TenantGet(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	tj, err := s.tenantOf(r, t, true)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tj)
}

func (s *Server) apiTenantSync(w http.ResponseWriter, r *http.Request) error {
	tenant := r.PathValue("tenant")
	if err := s.syncNow(r.Context(), principal(r), tenant); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"tenant": tenant, "status": "sync requested"})
}

// appCursor is the position of the last app of a page.
type appCursor struct {
	T string `json:"t"`
	N string `json:"n"`
	I string `json:"i"`
}

// appSearch reads the app list's filters.
func (s *Server) appSearch(r *http.Request, def int) (*rotor.AppSearchParams, error) {
	q := newQuery(r)
	p := &rotor.AppSearchParams{Tenant: q.str("tenant"), Query: q.str("q"), Now: s.cfg.Clock.Now(), ExpiringWithin: q.duration("expiring_within"),
		Managed: q.boolean("managed"), Limit: q.limit(def)}
	if e := q.boolean("expired"); e != nil {
		p.Expired = *e
	}
	var c appCursor
	if q.cursor(&c) {
		p.After = &rotor.AppCursor{Tenant: c.T, DisplayName: c.N, ID: c.I}
	}
	return p, q.err()
}

// searchApps runs one page of the app list; next is the cursor of the page after it.
func (s *Server) searchApps(r *http.Request, p *rotor.AppSearchParams) ([]*rotor.AppSummary, string, error) {
	return fetchPage(&p.Limit, func() ([]*rotor.AppSummary, error) { return s.cfg.Store.AppSearch(r.Context(), p) },
		func(last *rotor.AppSummary) any { return appCursor{last.Tenant, last.DisplayName, last.ID} })
}

func (s *Server) apiApps(w http.ResponseWriter, r *http.Request) error {
	p, err := s.appSearch(r, 50)
	if err != nil {
		return err
	}
	apps, next, err := s.searchApps(r, p)
	if err != nil {
		return err
	}
	out := page[appJSON]{Items: make([]appJSON, 0, len(apps)), NextCursor: next}
	for _, a := range apps {
		out.Items = append(out.Items, appOf(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

type appDetailJSON struct {
	appJSON
	ServicePrincipalID string           `json:"service_principal_id,omitempty"`
	CredentialList     []credentialJSON `json:"credential_list"`
	BindingList        []bindingJSON    `json:"binding_list"`
	Rotations          []rotationJSON   `json:"rotations"`
}

func (s *Server) apiApp(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	removed := q.boolean("include_removed")
	if err := q.err(); err != nil {
		return err
	}
	d, err := s.appDetail(r.Context(), r.PathValue("tenant"), r.PathValue("id"), removed != nil && *removed)
	if err != nil {
		return err
	}
	sum := &rotor.AppSummary{App: *d.App, Bindings: len(d.Bindings)}
	out := appDetailJSON{CredentialList: []credentialJSON{}, BindingList: []bindingJSON{}, Rotations: []rotationJSON{}}
	now := s.cfg.Clock.Now()
	for _, c := range d.Credentials {
		out.CredentialList = append(out.CredentialList, credentialOf(c))
		if c.Removed() {
			continue
		}
		sum.Credentials++
		if !c.EndAt.After(now) {
			sum.Expired++
		} else if sum.NextEndAt.IsZero() || c.EndAt.Before(sum.NextEndAt) {
			sum.NextEndAt = c.EndAt
		}
	}
	out.appJSON = appOf(sum)
	if d.SP != nil {
		out.ServicePrincipalID = d.SP.ID
	}
	for _, b := range d.Bindings {
		bj := bindingOf(b.Binding)
		dec := decisionOf(b.Decision)
		bj.Next = &dec
		out.BindingList = append(out.BindingList, bj)
	}
	for _, rt := range d.Rotations {
		out.Rotations = append(out.Rotations, rotationOf(rt))
	}
	return writeJSON(w, http.StatusOK, out)
}

// credCursor is the position of the last credential of a page.
type credCursor struct {
	E time.Time `json:"e"`
	T string    `json:"t"`
	K string    `json:"k"`
}

// credentialSearch reads the credential list's filters (those of rotor ls).
func (s *Server) credentialSearch(r *http.Request, def int) (*rotor.CredentialSearchParams, error) {
	q := newQuery(r)
	p := &rotor.CredentialSearchParams{Tenant: q.str("tenant"), AppID: q.str("app_id"), OwnerID: q.str("owner_id"),
		Kind:      rotor.CredentialKind(q.oneOf("kind", string(rotor.KindSecret), string(rotor.KindCertificate))),
		OwnerKind: rotor.OwnerKind(q.oneOf("owner_kind", string(rotor.OwnerApplication), string(rotor.OwnerServicePrincipal))),
		Limit:     q.limit(def)}
	for _, st := range q.list("state") {
		if _, err := lifecycle.ParseState(st); err != nil {
			q.errs = append(q.errs, fieldError{"state", err.Error()})
		}
		p.States = append(p.States, st)
	}
	if within := q.duration("expiring_within"); within > 0 {
		p.EndBefore = s.cfg.Clock.Now().Add(within)
	}
	if rm := q.boolean("include_removed"); rm != nil {
		p.IncludeRemoved = *rm
	}
	var c credCursor
	if q.cursor(&c) {
		p.After = &rotor.CredentialCursor{EndAt: c.E, Tenant: c.T, KeyID: c.K}
	}
	return p, q.err()
}

func (s *Server) searchCredentials(r *http.Request, p *rotor.CredentialSearchParams) ([]inventory.Row, string, error) {
	return fetchPage(&p.Limit, func() ([]inventory.Row, error) { return s.view.Page(r.Context(), p, s.cfg.Clock.Now()) },
		func(last inventory.Row) any { return credCursor{last.EndAt, last.Tenant, last.KeyID} })
}

func (s *Server) apiCredentials(w http.ResponseWriter, r *http.Request) error {
	p, err := s.credentialSearch(r, 100)
	if err != nil {
		return err
	}
	rows, next, err := s.searchCredentials(r, p)
	if err != nil {
		return err
	}
	out := page[credentialJSON]{Items: make([]credentialJSON, 0, len(rows)), NextCursor: next}
	for _, row := range rows {
		out.Items = append(out.Items, credentialOf(row))
	}
	return writeJSON(w, http.StatusOK, out)
}

type bindingCursor struct {
	T string `json:"t"`
	O string `json:"o"`
	I string `json:"i"`
}

func (s *Server) apiBindings(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := &rotor.BindingSearchParams{Tenant: q.str("tenant"), AppID: q.str("app_id"), Policy: q.str("policy"), Paused: q.boolean("paused"),
		Limit: q.limit(100)}
	var c bindingCursor
	if q.cursor(&c) {
		p.After = &rotor.BindingCursor{Tenant: c.T, OwnerID: c.O, ID: c.I}
	}
	if err := q.err(); err != nil {
		return err
	}
	bs, next, err := fetchPage(&p.Limit, func() ([]*rotor.Binding, error) { return s.cfg.Store.BindingSearch(r.Context(), p) },
		func(last *rotor.Binding) any { return bindingCursor{last.Tenant, last.OwnerID, last.ID} })
	if err != nil {
		return err
	}
	out := page[bindingJSON]{Items: []bindingJSON{}, NextCursor: next}
	for _, b := range bs {
		out.Items = append(out.Items, bindingOf(b))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) bindingWithDecision(r *http.Request, b *rotor.Binding) (bindingJSON, error) {
	bj := bindingOf(b)
	d, err := s.decision(r.Context(), b)
	if err != nil {
		return bj, err
	}
	dj := decisionOf(d)
	bj.Next = &dj
	return bj, nil
}

func (s *Server) apiBinding(w http.ResponseWriter, r *http.Request) error {
	b, err := s.cfg.Store.BindingGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	bj, err := s.bindingWithDecision(r, b)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etagOf(b))
	return writeJSON(w, http.StatusOK, bj)
}

// etagOf is a binding's version as an entity tag.
func etagOf(b *rotor.Binding) string { return `"` + b.UpdatedAt.UTC().Format(time.RFC3339Nano) + `"` }

func (s *Server) apiBindingCreate(w http.ResponseWriter, r *http.Request) error {
	var in bindingInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	var steps []rotor.StepSpec
	if in.Steps != nil {
		var errs []fieldError
		if steps, errs = s.stepInputs("steps", in.Steps); len(errs) > 0 {
			return invalid(errs...)
		}
	}
	b, err := s.createBinding(r.Context(), principal(r), in, steps)
	if err != nil {
		return err
	}
	bj, err := s.bindingWithDecision(r, b)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/bindings/"+b.ID)
	w.Header().Set("ETag", etagOf(b))
	return writeJSON(w, http.StatusCreated, bj)
}

func (s *Server) apiBindingUpdate(w http.ResponseWriter, r *http.Request) error {
	var in bindingPatch
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if m := r.Header.Get("If-Match"); m != "" && in.ExpectedUpdatedAt == nil {
		t, err := time.Parse(time.RFC3339Nano, strings.Trim(strings.TrimPrefix(m, "W/"), `"`))
		if err != nil {
			return badRequest("If-Match: expected the ETag of GET /api/v1/bindings/{id}")
		}
		in.ExpectedUpdatedAt = &t
	}
	if in.Steps != nil {
		in.stepsSet = true
		if string(in.Steps) != "null" {
			var specs []stepSpecJSON
			if err := json.Unmarshal(in.Steps, &specs); err != nil {
				return invalid(fieldError{"steps", "a list of steps (name, type, on_failure, params) or null for the policy's"})
			}
			var errs []fieldError
			if in.stepsValue, errs = s.stepInputs("steps", specs); len(errs) > 0 {
				return invalid(errs...)
			}
		}
	}
	b, err := s.updateBinding(r.Context(), principal(r), r.PathValue("id"), &in)
	if err != nil {
		return err
	}
	bj, err := s.bindingWithDecision(r, b)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etagOf(b))
	return writeJSON(w, http.StatusOK, bj)
}

func (s *Server) apiBindingDelete(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.deleteBinding(r.Context(), principal(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiPolicies(w http.ResponseWriter, r *http.Request) error {
	out := page[policyJSON]{Items: []policyJSON{}}
	for _, n := range s.policyNames() {
		out.Items = append(out.Items, policyOf(s.cfg.Policies[n]))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.policy(r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, policyOf(p))
}

type rotationCursor struct {
	C time.Time `json:"c"`
	I string    `json:"i"`
}

func (s *Server) rotationSearch(r *http.Request) (*rotor.RotationSearchParams, error) {
	q := newQuery(r)
	p := &rotor.RotationSearchParams{Tenant: q.str("tenant"), AppID: q.str("app_id"), BindingID: q.str("binding_id"), Limit: q.limit(100)}
	for _, st := range q.list("state") {
		if !rotor.RotationState(st).Valid() {
			q.errs = append(q.errs, fieldError{"state", fmt.Sprintf("unknown rotation state %q", st)})
		}
		p.States = append(p.States, rotor.RotationState(st))
	}
	var c rotationCursor
	if q.cursor(&c) {
		p.Before = &rotor.RotationCursor{CreatedAt: c.C, ID: c.I}
	}
	return p, q.err()
}

func (s *Server) searchRotations(r *http.Request, p *rotor.RotationSearchParams) ([]*rotor.Rotation, string, error) {
	return fetchPage(&p.Limit, func() ([]*rotor.Rotation, error) { return s.cfg.Store.RotationSearch(r.Context(), p) },
		func(last *rotor.Rotation) any { return rotationCursor{last.CreatedAt, last.ID} })
}

func (s *Server) apiRotations(w http.ResponseWriter, r *http.Request) error {
	p, err := s.rotationSearch(r)
	if err != nil {
		return err
	}
	rs, next, err := s.searchRotations(r, p)
	if err != nil {
		return err
	}
	out := page[rotationJSON]{Items: []rotationJSON{}, NextCursor: next}
	for _, rt := range rs {
		out.Items = append(out.Items, rotationOf(rt))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) rotationWithSteps(r *http.Request, rt *rotor.Rotation) (rotationJSON, error) {
	out := rotationOf(rt)
	steps, err := s.cfg.Store.RotationStepList(r.Context(), rt.ID)
	if err != nil {
		return out, err
	}
	out.Steps = []stepJSON{}
	for _, st := range steps {
		out.Steps = append(out.Steps, stepOf(st))
	}
	return out, nil
}

func (s *Server) apiRotation(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.cfg.Store.RotationGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := s.rotationWithSteps(r, rt)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

type bindingRef struct {
	BindingID string `json:"binding_id"`
}

func (s *Server) apiRotationRequest(w http.ResponseWriter, r *http.Request) error {
	var in bindingRef
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.BindingID == "" {
		return invalid(fieldError{"binding_id", "required"})
	}
	rt, err := s.requestRotation(r.Context(), principal(r), in.BindingID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/rotations/"+rt.ID)
	return writeJSON(w, http.StatusCreated, rotationOf(rt))
}

type planJSON struct {
	Binding  bindingJSON    `json:"binding"`
	Decision decisionJSON   `json:"decision"`
	Would    []string       `json:"would"`
	Steps    []stepSpecJSON `json:"steps"`
	Checks   []checkJSON    `json:"checks"`
	OK       bool           `json:"ok"`
}

func (s *Server) apiRotationPlan(w http.ResponseWriter, r *http.Request) error {
	var in bindingRef
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.BindingID == "" {
		return invalid(fieldError{"binding_id", "required"})
	}
	d, err := s.dryRun(r.Context(), in.BindingID)
	if err != nil {
		return err
	}
	checks, _ := checksOf(d.Checks)
	steps := stepSpecsOf(d.Steps)
	if steps == nil {
		steps = []stepSpecJSON{}
	}
	return writeJSON(w, http.StatusOK, planJSON{Binding: bindingOf(d.Binding), Decision: decisionOf(d.Decision), Would: d.Would,
		Steps: steps, Checks: checks, OK: d.OK})
}

func (s *Server) apiRotationRetry(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.retryRotation(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rotationOf(rt))
}

func (s *Server) apiRotationCancel(w http.ResponseWriter, r *http.Request) error {
	rt, err := s.cancelRotation(r.Context(), principal(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, rotationOf(rt))
}

type auditCursor struct {
	S int64 `json:"s"`
}

func (s *Server) auditSearch(r *http.Request) (*rotor.AuditSearchParams, error) {
	q := newQuery(r)
	p := &rotor.AuditSearchParams{Tenant: q.str("tenant"), AppID: q.str("app_id"), RotationID: q.str("rotation_id"), Actor: q.str("actor"),
		ActionPrefix: q.str("action"), Outcome: q.oneOf("outcome", rotor.OutcomeSuccess, rotor.OutcomeFailure, rotor.OutcomeInfo),
		Since: q.time("since"), Until: q.time("until"), Limit: q.limit(100)}
	var c auditCursor
	if q.cursor(&c) {
		p.BeforeSeq = c.S
	}
	return p, q.err()
}

func (s *Server) searchAudit(r *http.Request, p *rotor.AuditSearchParams) ([]*rotor.AuditEvent, string, error) {
	return fetchPage(&p.Limit, func() ([]*rotor.AuditEvent, error) { return s.cfg.Store.AuditSearch(r.Context(), p) },
		func(last *rotor.AuditEvent) any { return auditCursor{last.Seq} })
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := s.auditSearch(r)
	if err != nil {
		return err
	}
	evs, next, err := s.searchAudit(r, p)
	if err != nil {
		return err
	}
	out := page[auditJSON]{Items: []auditJSON{}, NextCursor: next}
	for _, e := range evs {
		out.Items = append(out.Items, auditOf(e))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiNotifiers(w http.ResponseWriter, r *http.Request) error {
	out := page[NotifierInfo]{Items: []NotifierInfo{}}
	if s.cfg.Notifications != nil {
		ns, err := s.cfg.Notifications.Notifiers(r.Context())
		if err != nil {
			return err
		}
		out.Items = append(out.Items, ns...)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) outboxQuery(r *http.Request) (OutboxQuery, error) {
	q := newQuery(r)
	oq := OutboxQuery{Notifier: q.str("notifier"), Tenant: q.str("tenant"), Event: q.str("event"), Limit: q.limit(100)}
	for _, st := range q.list("status") {
		switch st {
		case "pending", "retrying", "sent", "failed":
			oq.Statuses = append(oq.Statuses, st)
		default:
			q.errs = append(q.errs, fieldError{"status", "pending, retrying, sent or failed"})
		}
	}
	var c OutboxCursor
	if q.cursor(&c) {
		oq.Before = &c
	}
	return oq, q.err()
}

func (s *Server) searchOutbox(r *http.Request, oq OutboxQuery) ([]OutboxItem, string, error) {
	if s.cfg.Notifications == nil {
		return []OutboxItem{}, "", nil
	}
	return fetchPage(&oq.Limit, func() ([]OutboxItem, error) { return s.cfg.Notifications.Outbox(r.Context(), oq) },
		func(last OutboxItem) any { return OutboxCursor{CreatedAt: last.CreatedAt, ID: last.ID} })
}

func (s *Server) apiNotifications(w http.ResponseWriter, r *http.Request) error {
	oq, err := s.outboxQuery(r)
	if err != nil {
		return err
	}
	items, next, err := s.searchOutbox(r, oq)
	if err != nil {
		return err
	}
	if items == nil {
		items = []OutboxItem{}
	}
	return writeJSON(w, http.StatusOK, page[OutboxItem]{Items: items, NextCursor: next})
}

var errNoNotifications = &apiError{Status: http.StatusConflict, Type: "notifications-disabled", Title: "Notifications are not configured",
	Detail: "configure notifiers and notification routes to use the outbox"}

func (s *Server) apiNotificationRetry(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Notifications == nil {
		return errNoNotifications
	}
	it, err := s.cfg.Notifications.Retry(r.Context(), r.PathValue("id"), principal(r).Actor())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, it)
}

func (s *Server) apiAgents(w http.ResponseWriter, r *http.Request) error {
	as, err := s.cfg.Store.AgentList(r.Context())
	if err != nil {
		return err
	}
	out := page[agentJSON]{Items: []agentJSON{}}
	for _, a := range as {
		out.Items = append(out.Items, agentOf(a))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	rev := q.boolean("include_revoked")
	if err := q.err(); err != nil {
		return err
	}
	ts, err := s.cfg.Store.APITokenList(r.Context(), &rotor.APITokenListParams{IncludeRevoked: rev != nil && *rev})
	if err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	out := page[tokenJSON]{Items: []tokenJSON{}}
	for _, t := range ts {
		out.Items = append(out.Items, tokenOf(t, now))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiTokenCreate(w http.ResponseWriter, r *http.Request) error {
	var in tokenInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	t, value, err := s.createToken(r.Context(), principal(r).Actor(), in)
	if err != nil {
		return err
	}
	out := tokenOf(t, s.cfg.Clock.Now())
	out.Token = value
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) apiTokenRevoke(w http.ResponseWriter, r *http.Request) error {
	t, err := RevokeToken(r.Context(), s.cfg.Store, s.cfg.Clock.Now(), principal(r).Actor(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tokenOf(t, s.cfg.Clock.Now()))
}
