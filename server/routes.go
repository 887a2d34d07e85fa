package server

import (
	"net/http"

	"github.com/rotorhq/rotor/auth"
)

// routeKind decides how a route answers errors and refusals: problem details (API) or pages.
type routeKind int

const (
	kindAPI  routeKind = iota // JSON; errors as application/problem+json
	kindPage                  // HTML; anonymous callers are sent to sign in
	kindRaw                   // health, metrics, static files: plain answers
)

// handlerFunc is a route's handler; a returned error is answered in the route's style.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one entry of the route table: what it serves and the permission a caller needs.
type route struct {
	method  string
	pattern string // http.ServeMux pattern without the method; OpenAPI path syntax
	perm    auth.Permission
	kind    routeKind
	h       handlerFunc
}

// routeTable declares every route rotor serves. The permission of each is enforced by chain,
// in one place; the RBAC test checks every route against every role.
func (s *Server) routeTable() []*route {
	read, rotate, write, public := auth.Read, auth.Rotate, auth.Write, auth.Public
	metricsPerm := read
	if s.cfg.MetricsAnonymous {
		metricsPerm = public
	}
	api := func(method, pattern string, perm auth.Permission, h handlerFunc) *route {
		return &route{method: method, pattern: "/api/v1" + pattern, perm: perm, kind: kindAPI, h: h}
	}
	page := func(method, pattern string, perm auth.Permission, h handlerFunc) *route {
		return &route{method: method, pattern: pattern, perm: perm, kind: kindPage, h: h}
	}
	raw := func(method, pattern string, perm auth.Permission, h handlerFunc) *route {
		return &route{method: method, pattern: pattern, perm: perm, kind: kindRaw, h: h}
	}
	return []*route{
		raw("GET", "/healthz", public, s.healthz),
		raw("GET", "/readyz", public, s.readyz),
		raw("GET", "/metrics", metricsPerm, s.metrics),
		raw("GET", "/static/{file}", public, s.staticFile),

		api("GET", "/openapi.json", public, s.apiOpenAPI),
		api("GET", "/me", read, s.apiMe),
		api("GET", "/summary", read, s.apiSummary),
		api("GET", "/tenants", read, s.apiTenants),
		api("GET", "/tenants/{tenant}", read, s.apiTenant),
		api("POST", "/tenants/{tenant}/sync", rotate, s.apiTenantSync),
		api("GET", "/apps", read, s.apiApps),
		api("GET", "/apps/{tenant}/{id}", read, s.apiApp),
		api("GET", "/credentials", read, s.apiCredentials),
		api("GET", "/bindings", read, s.apiBindings),
		api("POST", "/bindings", write, s.apiBindingCreate),
		api("GET", "/bindings/{id}", read, s.apiBinding),
		api("PATCH", "/bindings/{id}", write, s.apiBindingUpdate),
		api("DELETE", "/bindings/{id}", write, s.apiBindingDelete),
		api("GET", "/policies", read, s.apiPolicies),
		api("GET", "/policies/{name}", read, s.apiPolicy),
		api("GET", "/rotations", read, s.apiRotations),
		api("POST", "/rotations", rotate, s.apiRotationRequest),
		api("POST", "/rotations/plan", rotate, s.apiRotationPlan),
		api("GET", "/rotations/{id}", read, s.apiRotation),
		api("POST", "/rotations/{id}/retry", rotate, s.apiRotationRetry),
		api("POST", "/rotations/{id}/cancel", rotate, s.apiRotationCancel),
		api("GET", "/audit", read, s.apiAudit),
		api("GET", "/notifiers", read, s.apiNotifiers),
		api("GET", "/notifications", read, s.apiNotifications),
		api("POST", "/notifications/{id}/retry", rotate, s.apiNotificationRetry),
		api("GET", "/agents", read, s.apiAgents),
		api("GET", "/tokens", write, s.apiTokens),
		api("POST", "/tokens", write, s.apiTokenCreate),
		api("DELETE", "/tokens/{id}", write, s.apiTokenRevoke),

		page("GET", "/{$}", read, s.pageDashboard),
		page("GET", "/apps", read, s.pageApps),
		page("GET", "/apps/{tenant}/{id}", read, s.pageApp),
		page("GET", "/apps/{tenant}/{id}/bind", write, s.pageBindForm),
		page("POST", "/apps/{tenant}/{id}/bind", write, s.pageBindCreate),
		page("GET", "/bindings/{id}/edit", write, s.pageBindingEdit),
		page("POST", "/bindings/{id}/edit", write, s.pageBindingUpdate),
		page("POST", "/bindings/{id}/delete", write, s.pageBindingDelete),
		page("GET", "/bindings/{id}/rotate", rotate, s.pageRotateDryRun),
		page("POST", "/bindings/{id}/rotate", rotate, s.pageRotate),
		page("GET", "/rotations/{id}", read, s.pageRotation),
		page("POST", "/rotations/{id}/retry", rotate, s.pageRotationRetry),
		page("POST", "/rotations/{id}/cancel", rotate, s.pageRotationCancel),
		page("GET", "/credentials", read, s.pageCredentials),
		page("GET", "/audit", read, s.pageAudit),
		page("GET", "/notifications", read, s.pageNotifications),
		page("POST", "/notifications/{id}/retry", rotate, s.pageNotificationRetry),
		page("GET", "/settings", read, s.pageSettings),
		page("POST", "/settings/tokens", write, s.pageTokenCreate),
		page("POST", "/settings/tokens/{id}/revoke", write, s.pageTokenRevoke),
		page("POST", "/tenants/{tenant}/sync", rotate, s.pageTenantSync),

		page("GET", "/login", public, s.pageLogin),
		page("GET", "/auth/login", public, s.authLogin),
		page("GET", "/auth/callback", public, s.authCallback),
		page("POST", "/auth/logout", public, s.authLogout),
		page("GET", "/auth/signed-out", public, s.pageSignedOut),
	}
}

// chain wraps a route's handler in the middleware every route shares: authentication,
// authorization against the route's permission, the CSRF check, metrics and error answers.
func (s *Server) chain(rt *route) http.Handler {
	h := rt.h
	if s.wrap != nil {
		h = s.wrap(rt, h)
	}
	name := rt.method + " " + rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Clock.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if s.cfg.ObserveHTTP != nil {
				s.cfg.ObserveHTTP(name, r.Method, sw.code, s.cfg.Clock.Since(start))
			}
		}()
		if rt.kind != kindRaw {
			sw.Header().Set("Cache-Control", "no-store")
		}
		if rt.perm == auth.Public {
			if err := h(sw, r); err != nil {
				s.fail(sw, r, rt.kind, err)
			}
			return
		}
		p, err := s.authenticate(sw, r)
		if err != nil {
			s.fail(sw, r, rt.kind, err)
			return
		}
		if p == nil {
			s.refuseAnonymous(sw, r, rt)
			return
		}
		if !p.Can(rt.perm) {
			s.fail(sw, r, rt.kind, &apiError{Status: http.StatusForbidden, Type: "forbidden", Title: "Forbidden",
				Detail: "this needs permission " + string(rt.perm) + "; " + p.Actor() + " has role " + string(p.Role)})
			return
		}
		if p.Kind == auth.KindUser && !safeMethod(r.Method) && !s.validCSRF(r, p) {
			s.fail(sw, r, rt.kind, &apiError{Status: http.StatusForbidden, Type: "csrf",
				Title: "Missing or invalid CSRF token", Detail: "reload the page and try again"})
			return
		}
		r = r.WithContext(withPrincipal(r.Context(), p))
		if err := h(sw, r); err != nil {
			s.fail(sw, r, rt.kind, err)
		}
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// statusWriter remembers the status code written, for metrics.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// refuseAnonymous answers a request without credentials: 401 for the API and raw routes, a
// redirect to sign in for pages.
func (s *Server) refuseAnonymous(w http.ResponseWriter, r *http.Request, rt *route) {
	if rt.kind == kindPage && r.Method == http.MethodGet {
		http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="rotor"`)
	s.fail(w, r, rt.kind, &apiError{Status: http.StatusUnauthorized, Type: "unauthenticated", Title: "Authentication required",
		Detail: "send an API token (Authorization: Bearer rotor_...) or sign in"})
}
