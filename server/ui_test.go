package server

import (
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/rotorhq/rotor/auth"
)

// TestPagesRenderForEveryRole renders every page a user can open, for a viewer and an admin,
// and checks what every page must have: one h1, a labelled control for each form field,
// alternative text on images, the CSRF token in every form that changes something, and only
// the buttons the role may use.
func TestPagesRenderForEveryRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bd := b.insertBinding(t, 25)
	pages := []string{"/", "/?tenant=contoso", "/apps", "/apps?q=app-2&filter=expiring", "/apps/contoso/" + b.apps[25].ID,
		"/apps/contoso/" + b.apps[25].ID + "?removed=1", "/credentials", "/credentials?state=expired&state=expiring&kind=secret",
		"/audit", "/audit?actor=test", "/notifications", "/settings", "/login", "/auth/signed-out"}
	writePages := []string{"/apps/contoso/" + b.apps[3].ID + "/bind", "/bindings/" + bd.ID + "/edit", "/bindings/" + bd.ID + "/rotate"}
	for _, role := range []auth.Role{auth.Viewer, auth.Admin} {
		cookie, _ := b.session(role, string(role)+"@contoso.com")
		list := pages
		if role == auth.Admin {
			list = append(list, writePages...)
		}
		for _, p := range list {
			rec := b.do(req{method: "GET", path: p, cookie: cookie})
			require.Equal(t, http.StatusOK, rec.Code, "%s as %s: %s", p, role, rec.Body.String())
			require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
			checkPage(t, p, rec.Body.String())
			body := rec.Body.String()
			if p == "/apps/contoso/"+b.apps[25].ID {
				require.Equal(t, role == auth.Admin, strings.Contains(body, `href="/bindings/`+bd.ID+`/edit"`), "configure only for admins")
				require.Equal(t, role == auth.Admin, strings.Contains(body, `href="/bindings/`+bd.ID+`/rotate"`), "rotate only for operators and admins")
			}
			if p == "/settings" {
				require.Equal(t, role == auth.Admin, strings.Contains(body, `id="tokens"`), "tokens only for admins")
			}
		}
	}
}

// checkPage checks a rendered page's structure and accessibility basics.
func checkPage(t *testing.T, path, page string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err, path)
	labels := map[string]bool{}
	var h1 int
	var controls []*html.Node
	var walk func(n *html.Node, inLabel bool)
	walk = func(n *html.Node, inLabel bool) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "h1":
				h1++
			case "label":
				if f := attr(n, "for"); f != "" {
					labels[f] = true
				}
				inLabel = true
			case "input", "select", "textarea":
				if typ := attr(n, "type"); typ != "hidden" && typ != "submit" && !inLabel && attr(n, "aria-label") == "" {
					controls = append(controls, n)
				}
			case "img":
				_, ok := attrOK(n, "alt")
				require.True(t, ok, "%s: every image has alt text", path)
			case "form":
				if strings.EqualFold(attr(n, "method"), "post") {
					require.True(t, hasCSRF(n), "%s: the form posting to %s carries the CSRF token", path, attr(n, "action"))
				}
			case "button":
				require.NotEmpty(t, strings.TrimSpace(textOf(n)), "%s: buttons say what they do", path)
			}
			require.Empty(t, attr(n, "style"), "%s: no inline styles (the CSP forbids them)", path)
			for _, a := range n.Attr {
				require.False(t, strings.HasPrefix(a.Key, "on"), "%s: no inline event handlers (%s)", path, a.Key)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLabel)
		}
	}
	walk(doc, false)
	require.Equal(t, 1, h1, "%s: one h1", path)
	for _, c := range controls {
		require.True(t, labels[attr(c, "id")], "%s: the %s %q has a label", path, c.Data, attr(c, "name"))
	}
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasCSRF(form *html.Node) bool {
	found := false
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") == "csrf_token" && attr(n, "value") != "" {
			found = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return found
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// TestTemplatesHaveNoInlineCode: the CSP allows no inline script or style, so the templates
// must have none (the rendered-page check above covers only the pages the test opens).
func TestTemplatesHaveNoInlineCode(t *testing.T) {
	t.Parallel()
	inline := regexp.MustCompile(`(?i)\sstyle=|\son[a-z]+=|<script(?:\s[^>]*)?>\s*[^<\s]|<style`)
	err := fs.WalkDir(templateFiles, "ui/templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFiles, p)
		require.NoError(t, err)
		require.Nil(t, inline.Find(b), "%s: %s", p, inline.Find(b))
		return nil
	})
	require.NoError(t, err)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"http://rotor.test", "https://rotor.contoso.com"} {
		b := setup(t, option{cfg: func(c *Config) { c.PublicURL = public }})
		secure := strings.HasPrefix(public, "https")
		for _, p := range []string{"/login", "/api/v1/openapi.json", "/api/v1/apps", "/healthz", "/static/app.css", "/nothing"} {
			rec := b.do(req{method: "GET", path: p})
			h := rec.Header()
			csp := h.Get("Content-Security-Policy")
			require.Contains(t, csp, "default-src 'none'", p)
			require.Contains(t, csp, "script-src 'self'", p)
			require.Contains(t, csp, "frame-ancestors 'none'", p)
			require.NotContains(t, csp, "unsafe-inline", p)
			require.NotContains(t, csp, "unsafe-eval", p)
			require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), p)
			require.Equal(t, "same-origin", h.Get("Referrer-Policy"), p)
			require.Equal(t, "DENY", h.Get("X-Frame-Options"), p)
			if secure {
				require.Equal(t, "max-age=63072000; includeSubDomains", h.Get("Strict-Transport-Security"), p)
			} else {
				require.Empty(t, h.Get("Strict-Transport-Security"), "%s: HSTS only over https", p)
			}
		}
		cookie, _ := b.session(auth.Viewer, "vera@contoso.com")
		require.True(t, cookie.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
		require.Equal(t, secure, cookie.Secure)
		require.Equal(t, "/", cookie.Path)
		if secure {
			require.Equal(t, "__Host-rotor_session", cookie.Name, "bound to the host over https")
		} else {
			require.Equal(t, "rotor_session", cookie.Name)
		}
	}
}

// TestFormsChangeStateWithTheirCSRFToken posts the UI's forms as a browser does: with the
// session cookie and the form's csrf_token field, or without it.
func TestFormsChangeStateWithTheirCSRFToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cookie, csrf := b.session(auth.Admin, "ada@contoso.com")
	a := b.apps[22]
	form := url.Values{"policy": {"standard"}, "owner": {"application"}, "secret": {"new"}, "steps_mode": {"policy"}}
	rec := b.do(req{method: "POST", path: "/apps/contoso/" + a.ID + "/bind", body: form.Encode(), cookie: cookie})
	require.Equal(t, http.StatusForbidden, rec.Code, "no CSRF token")
	form.Set("csrf_token", csrf+"x")
	rec = b.do(req{method: "POST", path: "/apps/contoso/" + a.ID + "/bind", body: form.Encode(), cookie: cookie})
	require.Equal(t, http.StatusForbidden, rec.Code, "a wrong CSRF token")
	other, otherCSRF := b.session(auth.Admin, "eve@contoso.com")
	_ = other
	form.Set("csrf_token", otherCSRF)
	rec = b.do(req{method: "POST", path: "/apps/contoso/" + a.ID + "/bind", body: form.Encode(), cookie: cookie})
	require.Equal(t, http.StatusForbidden, rec.Code, "another session's token")

	// Invalid steps re-render the form with the step type's messages, changing nothing.
	form.Set("csrf_token", csrf)
	form.Set("steps_mode", "custom")
	form.Set("steps", "- name: out\n  type: webhook\n  url: not a url\n")
	rec = b.do(req{method: "POST", path: "/apps/contoso/" + a.ID + "/bind", body: form.Encode(), cookie: cookie})
	require.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	require.Contains(t, rec.Body.String(), "Please fix these problems")
	require.Contains(t, rec.Body.String(), `aria-invalid="true"`)
	checkPage(t, "bind form with errors", rec.Body.String())

	form.Set("steps_mode", "policy")
	rec = b.do(req{method: "POST", path: "/apps/contoso/" + a.ID + "/bind", body: form.Encode(), cookie: cookie})
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Contains(t, rec.Header().Get("Location"), "msg=bound")

	// Tokens made in the settings page are shown once, on the answer itself.
	rec = b.do(req{method: "POST", path: "/settings/tokens", body: url.Values{"csrf_token": {csrf}, "name": {"ci"}, "role": {"operator"},
		"expires_in": {"30d"}}.Encode(), cookie: cookie})
	require.Equal(t, http.StatusCreated, rec.Code)
	m := regexp.MustCompile(`id="new-token" class="token-value">(rotor_[A-Za-z0-9_-]+)<`).FindStringSubmatch(rec.Body.String())
	require.NotNil(t, m)
	b.tokens["ci"] = m[1]
	b.api("ci", "GET", "/api/v1/me", nil, http.StatusOK, nil)
	rec = b.do(req{method: "GET", path: "/settings", cookie: cookie})
	require.NotContains(t, rec.Body.String(), m[1], "never shown again")
}
