package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/auth"
)

// caller is who sends a request in the RBAC table.
type caller struct {
	name    string
	role    auth.Role // the permissions it has; "" for none
	token   string    // token key in bundle.tokens
	session auth.Role // a web session of this role
	csrf    bool      // the session's requests carry their CSRF token
}

// TestEveryRouteAgainstEveryRole sends every route of the table as every kind of caller and
// checks that only callers holding the route's permission reach its handler: anonymous callers,
// unknown, expired and revoked tokens, the wrong role, and session requests that change state
// without their CSRF token are refused before it, by the one middleware.
func TestEveryRouteAgainstEveryRole(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	reached := map[string]int{}
	spy := func(rt *route, _ handlerFunc) handlerFunc {
		key := rt.method + " " + rt.pattern
		return func(w http.ResponseWriter, r *http.Request) error {
			mu.Lock()
			reached[key]++
			mu.Unlock()
			w.WriteHeader(http.StatusTeapot) // only the spy answers this
			return nil
		}
	}
	b := setup(t, option{wrap: spy})
	viewerCookie, viewerCSRF := b.session(auth.Viewer, "vera@contoso.com")
	adminCookie, adminCSRF := b.session(auth.Admin, "ada@contoso.com")
	b.tokens["unknown"] = "rotor_" + strings.Repeat("A", 43)

	callers := []caller{
		{name: "anonymous"},
		{name: "unknown token", token: "unknown"},
		{name: "expired token", token: "expired"},
		{name: "revoked token", token: "revoked"},
		{name: "viewer token", role: auth.Viewer, token: "viewer"},
		{name: "operator token", role: auth.Operator, token: "operator"},
		{name: "admin token", role: auth.Admin, token: "admin"},
		{name: "viewer session", role: auth.Viewer, session: auth.Viewer, csrf: true},
		{name: "admin session", role: auth.Admin, session: auth.Admin, csrf: true},
		{name: "admin session without CSRF token", role: auth.Admin, session: auth.Admin},
	}
	cases := 0
	for _, rt := range b.srv.routes {
		for _, c := range callers {
			cases++
			name := fmt.Sprintf("%s %s as %s", rt.method, rt.pattern, c.name)
			r := req{method: rt.method, path: pathOf(rt.pattern), header: map[string]string{"Accept": "application/json"}}
			if c.token != "" {
				r.token = b.tokens[c.token]
			}
			switch c.session {
			case auth.Viewer:
				r.cookie = viewerCookie
				if c.csrf {
					r.csrf = viewerCSRF
				}
			case auth.Admin:
				r.cookie = adminCookie
				if c.csrf {
					r.csrf = adminCSRF
				}
			}
			key := rt.method + " " + rt.pattern
			mu.Lock()
			before := reached[key]
			mu.Unlock()
			rec := b.do(r)
			mu.Lock()
			got := reached[key] - before
			mu.Unlock()

			public := rt.perm == auth.Public
			unsafe := !safeMethod(rt.method)
			switch {
			case public:
				require.Equal(t, 1, got, name+": public routes serve everyone")
				require.Equal(t, http.StatusTeapot, rec.Code, name)
			case c.role == "" && c.token != "":
				require.Zero(t, got, name+": must not reach the handler")
				require.Equal(t, http.StatusUnauthorized, rec.Code, name)
				require.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`, name)
			case c.role == "":
				require.Zero(t, got, name+": must not reach the handler")
				if rt.kind == kindPage && rt.method == http.MethodGet {
					require.Equal(t, http.StatusSeeOther, rec.Code, name)
					require.True(t, strings.HasPrefix(rec.Header().Get("Location"), "/login?next="), name)
				} else {
					require.Equal(t, http.StatusUnauthorized, rec.Code, name)
				}
			case !c.role.Can(rt.perm):
				require.Zero(t, got, name+": must not reach the handler")
				require.Equal(t, http.StatusForbidden, rec.Code, name)
				require.Contains(t, rec.Body.String(), "needs permission "+string(rt.perm), name)
			case c.session != "" && unsafe && !c.csrf:
				require.Zero(t, got, name+": must not reach the handler")
				require.Equal(t, http.StatusForbidden, rec.Code, name)
				require.Contains(t, rec.Body.String(), "CSRF", name)
			default:
				require.Equal(t, 1, got, name+": the permission suffices")
				require.Equal(t, http.StatusTeapot, rec.Code, name)
			}
			if rt.kind != kindRaw {
				require.Equal(t, "no-store", rec.Header().Get("Cache-Control"), name)
			}
		}
	}
	t.Logf("RBAC table: %d routes x %d callers = %d cases", len(b.srv.routes), len(callers), cases)

	// Every permission the table uses is held by some role, and every route is reachable by
	// someone: no route is dead or forgotten.
	for _, rt := range b.srv.routes {
		require.NotZero(t, reached[rt.method+" "+rt.pattern], rt.method+" "+rt.pattern)
	}
}

// A session request that changes state from another site is refused even with a valid CSRF
// token, by the cross-origin check in front of the routes (Sec-Fetch-Site, Origin).
func TestCrossOriginStateChangeRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cookie, csrf := b.session(auth.Admin, "ada@contoso.com")
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Accept": "application/json"},
		{"Origin": "https://evil.example", "Accept": "application/json"},
	} {
		rec := b.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "x", "role": "admin"}, cookie: cookie, csrf: csrf, header: h})
		require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), "cross-origin")
	}
	// The same request from rotor's own pages goes through.
	rec := b.do(req{method: "POST", path: "/api/v1/tokens", body: map[string]string{"name": "x", "role": "admin"}, cookie: cookie, csrf: csrf,
		header: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
}
