package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/lifecycle"
)

//go:embed ui/templates
var templateFiles embed.FS

// pageSet holds one parsed template per page, each with the shared layout and partials.
type pageSet struct {
	pages map[string]*template.Template
}

// view is what every page template receives.
type view struct {
	Title   string
	Nav     string // the navigation entry to mark current
	User    *auth.Principal
	CSRF    string
	Message string // a confirmation after a redirect
	Version string
	Now     time.Time
	SignIn  bool // sign-in is configured
	Live    bool // the page reloads itself while something is in progress
	Data    any
}

// messages are the confirmations a redirect can ask the next page to show (?msg=).
var messages = map[string]string{
	"bound":          "The secret is now managed by rotor.",
	"binding-saved":  "The binding was saved.",
	"binding-same":   "Nothing changed.",
	"binding-gone":   "The binding was deleted; the credential itself is left as it is.",
	"rotation-asked": "Rotation requested: rotor creates and verifies the new secret, then runs the steps.",
	"retry-asked":    "Retry requested.",
	"cancel-asked":   "Cancellation requested: the steps that published are rolled back and the new secret removed.",
	"sync-asked":     "Sync requested: it starts within seconds.",
	"token-revoked":  "The token was revoked.",
	"notify-retry":   "The notification is due again.",
}

func loadPages(s *Server) (*pageSet, error) {
	funcs := template.FuncMap{
		"asset":      s.asset,
		"date":       fmtDate,
		"datetime":   fmtDateTime,
		"relative":   func(t time.Time) string { return relative(t, s.cfg.Clock.Now()) },
		"short":      shortID,
		"duration":   fmtDuration,
		"ms":         func(d *int64) string { return fmtMillis(d) },
		"stateLabel": stateLabel,
		"can":        func(p *auth.Principal, perm string) bool { return p != nil && p.Can(auth.Permission(perm)) },
		"query":      withQuery,
		"join":       strings.Join,
		"add":        func(a, b int) int { return a + b },
		"pct":        func(n, of int) int { return int(math.Round(100 * float64(n) / math.Max(1, float64(of)))) },
		"deref":      func(t *time.Time) time.Time { return derefTime(t) },
	}
	layout, err := template.New("layout").Funcs(funcs).ParseFS(templateFiles, "ui/templates/layout.html", "ui/templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFiles, "ui/templates/page_*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{pages: map[string]*template.Template{}}
	for _, n := range names {
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		ps.pages[strings.TrimSuffix(strings.TrimPrefix(path.Base(n), "page_"), ".html")] = t
	}
	return ps, nil
}

// render writes a page with status. The page is rendered to a buffer first, so that a template
// error becomes a clean error answer rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) error {
	t, ok := s.pages.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	v.User = principal(r)
	v.CSRF = s.csrfToken(v.User)
	v.Version = s.cfg.Version
	v.Now = s.cfg.Clock.Now()
	v.SignIn = s.oidc != nil
	if m := messages[r.URL.Query().Get("msg")]; m != "" && v.Message == "" {
		v.Message = m
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// errorPage shows an error as a page.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, ae *apiError) {
	if err := s.render(w, r, ae.Status, "error", view{Title: ae.Title, Data: ae}); err != nil {
		s.log.Error("render error page", "err", err)
		http.Error(w, ae.Title, ae.Status)
	}
}

func fmtDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func fmtDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// relative says how far t is from now in words: "in 3 days", "2 hours ago".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	case d < 365*24*time.Hour:
		s = plural(int(d/(24*time.Hour)), "day")
	default:
		s = fmt.Sprintf("%.1f years", d.Hours()/24/365)
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func fmtMillis(d *int64) string {
	if d == nil {
		return ""
	}
	ms := *d
	switch {
	case ms < 1000:
		return fmt.Sprintf("%d ms", ms)
	case ms < 120_000:
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	default:
		return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
	}
}

// stateLabel is a credential or rotation state in words.
func stateLabel(v any) string {
	s := fmt.Sprint(v)
	if lifecycle.State(s) == lifecycle.CleanedUp {
		return "cleaned up"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// withQuery returns the request's path with query parameter key set to value (or removed when
// value is empty), keeping the others; paging links use it.
func withQuery(u *url.URL, kv ...string) string {
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	q.Del("msg")
	if len(q) == 0 {
		return u.Path
	}
	return u.Path + "?" + q.Encode()
}
