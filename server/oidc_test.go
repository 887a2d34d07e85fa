package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/internal/testclock"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/entra"
)

// signInBundle is a server signing users in through the simulated Entra ID, served over HTTP,
// and a browser-like client (cookie jar, no automatic redirects to other hosts).
type signInBundle struct {
	*bundle
	idp    *httptest.Server
	rotor  *httptest.Server
	tenant directory.Tenant
	seeded directory.SeededTenant
}

func setupSignIn(t *testing.T) *signInBundle {
	t.Helper()
	clock := testclock.NewJumping(start) // tokens are checked against the time they were issued at
	dir := directory.New(directory.Options{Seed: 5, Clock: clock})
	res, err := dir.Seed(directory.SeedParams{Seed: 5, Tenants: 1, AppsPerTenant: 3})
	require.NoError(t, err)
	st := res.Tenants[0]
	login, err := entra.New(dir, entra.Options{})
	require.NoError(t, err)
	idp := httptest.NewTLSServer(login.Handler())
	t.Cleanup(idp.Close)
	sb := &signInBundle{idp: idp, tenant: st.Tenant, seeded: st}
	// The rotor server must know its own URL before it starts: reserve it first.
	var handler http.Handler
	sb.rotor = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(sb.rotor.Close)
	roles := auth.RoleMap{Groups: map[string]auth.Role{st.SignIn.Groups["admin"]: auth.Admin, st.SignIn.Groups["viewer"]: auth.Viewer},
		AppRoles: map[string]auth.Role{"Rotor.Operator": auth.Operator}}
	sb.bundle = setup(t, option{clock: clock, cfg: func(c *Config) {
		c.PublicURL = sb.rotor.URL
		c.Roles = roles
		c.OIDC = &OIDC{Issuer: idp.URL + "/" + st.Tenant.ID + "/v2.0", TenantID: st.Tenant.ID, ClientID: st.Manager.AppID,
			ClientSecret: st.Manager.Secret, Scopes: []string{"openid", "profile", "email"}, HTTPClient: idp.Client()}
	}})
	handler = sb.h
	return sb
}

// browser is a client with cookies that follows redirects within rotor and to the identity
// provider, and stops at each answer the test wants to look at.
func (sb *signInBundle) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := sb.idp.Client() // trusts the IdP's test certificate
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

var pickRE = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)">(.*?)</form>`)
var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signIn starts at /auth/login, picks upn on the simulator's page and returns the answer to the
// callback (the redirect rotor sends after it).
func (sb *signInBundle) signIn(t *testing.T, c *http.Client, upn string) *http.Response {
	t.Helper()
	resp, err := c.Get(sb.rotor.URL + "/auth/login?next=/apps")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	authz, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	qv := authz.Query()
	require.Equal(t, "S256", qv.Get("code_challenge_method"), "PKCE")
	require.NotEmpty(t, qv.Get("code_challenge"))
	require.NotEmpty(t, qv.Get("state"))
	require.NotEmpty(t, qv.Get("nonce"))
	require.Equal(t, "query", qv.Get("response_mode"))
	require.Equal(t, sb.rotor.URL+"/auth/callback", qv.Get("redirect_uri"))

	resp, err = c.Get(authz.String())
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range pickRE.FindAllStringSubmatch(string(body), -1) {
		if !strings.Contains(m[2], `data-upn="`+upn+`"`) {
			continue
		}
		form := url.Values{}
		for _, in := range hiddenRE.FindAllStringSubmatch(m[2], -1) {
			form.Set(in[1], strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'").Replace(in[2]))
		}
		resp, err := c.PostForm(sb.idp.URL+m[1], form)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		cb := resp.Header.Get("Location")
		require.True(t, strings.HasPrefix(cb, sb.rotor.URL+"/auth/callback?"), cb)
		resp, err = c.Get(cb)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	t.Fatalf("%s is not on the sign-in page", upn)
	return nil
}

func (sb *signInBundle) user(role string) directory.SeededUser {
	for _, u := range sb.seeded.SignIn.Users {
		if u.Role == role {
			return u
		}
	}
	panic("no user with role " + role)
}

func TestSignInWithEntraID(t *testing.T) {
	t.Parallel()
	sb := setupSignIn(t)
	tests := []struct {
		role string
		want auth.Role
	}{
		{"admin", auth.Admin},       // through the admins group
		{"operator", auth.Operator}, // through the Rotor.Operator app role
		{"viewer", auth.Viewer},     // through the viewers group
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			c := sb.browser(t)
			u := sb.user(tt.role)
			resp := sb.signIn(t, c, u.UserPrincipalName)
			if resp.StatusCode != http.StatusSeeOther {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("callback answered %d: %s", resp.StatusCode, b)
			}
			require.Equal(t, "/apps", resp.Header.Get("Location"), "back where the sign-in started")
			var cookie *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == "rotor_session" {
					cookie = ck
				}
			}
			require.NotNil(t, cookie)
			require.True(t, cookie.HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
			require.NotContains(t, cookie.Value, u.UserPrincipalName, "the session is sealed")

			me, err := c.Get(sb.rotor.URL + "/api/v1/me")
			require.NoError(t, err)
			body, _ := io.ReadAll(me.Body)
			me.Body.Close()
			require.Equal(t, http.StatusOK, me.StatusCode, string(body))
			require.Contains(t, string(body), `"role":"`+string(tt.want)+`"`)
			require.Contains(t, string(body), `"actor":"user:`+u.UserPrincipalName+`"`)

			evs, err := sb.store.AuditSearch(t.Context(), &rotor.AuditSearchParams{Actor: "user:" + u.UserPrincipalName, ActionPrefix: "auth.signed_in"})
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, string(tt.want), evs[0].Details["role"])
		})
	}

	t.Run("no role", func(t *testing.T) {
		c := sb.browser(t)
		u := sb.user("")
		resp := sb.signIn(t, c, u.UserPrincipalName)
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, string(body), "No access to rotor")
		require.Empty(t, resp.Cookies()[0].Value, "no session: only the sign-in cookie is cleared")
		evs, err := sb.store.AuditSearch(t.Context(), &rotor.AuditSearchParams{Actor: "user:" + u.UserPrincipalName})
		require.NoError(t, err)
		require.Equal(t, "auth.sign_in_refused", evs[0].Action)
	})

	t.Run("sign out ends the session", func(t *testing.T) {
		c := sb.browser(t)
		resp := sb.signIn(t, c, sb.user("admin").UserPrincipalName)
		var sess *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "rotor_session" {
				sess = ck
			}
		}
		page, err := c.Get(sb.rotor.URL + "/settings")
		require.NoError(t, err)
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(string(body))
		require.NotNil(t, token, "forms carry the CSRF token")

		out, err := c.PostForm(sb.rotor.URL+"/auth/logout", url.Values{})
		require.NoError(t, err)
		out.Body.Close()
		require.Equal(t, http.StatusForbidden, out.StatusCode, "signing out needs the CSRF token too")
		out, err = c.PostForm(sb.rotor.URL+"/auth/logout", url.Values{"csrf_token": {token[1]}})
		require.NoError(t, err)
		out.Body.Close()
		require.Equal(t, http.StatusSeeOther, out.StatusCode)
		loc := out.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, sb.idp.URL+"/"+sb.tenant.ID+"/oauth2/v2.0/logout?"), "Entra ID's session ends too: %s", loc)
		require.Contains(t, loc, url.QueryEscape(sb.rotor.URL+"/auth/signed-out"))

		// The old cookie, replayed, no longer works: the session was ended in the store.
		replay, err := http.NewRequest("GET", sb.rotor.URL+"/api/v1/me", nil)
		require.NoError(t, err)
		replay.AddCookie(sess)
		r, err := http.DefaultClient.Do(replay)
		require.NoError(t, err)
		r.Body.Close()
		require.Equal(t, http.StatusUnauthorized, r.StatusCode)
	})

	t.Run("callback without the sign-in cookie or with another state", func(t *testing.T) {
		c := sb.browser(t)
		r, err := c.Get(sb.rotor.URL + "/auth/callback?code=x&state=y")
		require.NoError(t, err)
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		require.Equal(t, http.StatusBadRequest, r.StatusCode)
		require.Contains(t, string(body), "not started here")

		resp, err := c.Get(sb.rotor.URL + "/auth/login")
		require.NoError(t, err)
		resp.Body.Close()
		r, err = c.Get(sb.rotor.URL + "/auth/callback?code=x&state=forged")
		require.NoError(t, err)
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		require.Equal(t, http.StatusBadRequest, r.StatusCode)
		require.Contains(t, string(body), "state mismatch")
	})

	t.Run("the identity provider refuses", func(t *testing.T) {
		c := sb.browser(t)
		resp, err := c.Get(sb.rotor.URL + "/auth/login")
		require.NoError(t, err)
		resp.Body.Close()
		authz, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		state := authz.Query().Get("state")
		r, err := c.Get(sb.rotor.URL + "/auth/callback?" + url.Values{"state": {state}, "error": {"access_denied"},
			"error_description": {"AADSTS65004: User declined to consent. Trace ID: x"}}.Encode())
		require.NoError(t, err)
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		require.Equal(t, http.StatusUnauthorized, r.StatusCode)
		require.Contains(t, string(body), "access_denied: AADSTS65004: User declined to consent.")
	})

	t.Run("next must stay on rotor", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"} {
			require.Equal(t, "/", localPath(next), next)
		}
		require.Equal(t, "/apps?q=x", localPath("/apps?q=x"))
	})
}
