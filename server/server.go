// Package server is rotor serve's HTTP side: the REST API under /api/v1 (described by an
// OpenAPI 3 document at /api/v1/openapi.json), the web UI (server-rendered pages embedded in the
// binary), sign-in with Entra ID, API tokens, role-based access control, and /healthz, /readyz
// and /metrics.
//
// Every route is declared once in the route table (routes.go) with the permission it needs; one
// middleware authenticates the caller (API token or web session), checks the permission, and for
// state-changing requests made with a session cookie the CSRF token, before the handler runs. A
// caller without the permission never reaches a handler.
//
//	request -> recover -> security headers -> cross-origin check -> mux -> route:
//	           authenticate -> authorize(permission) -> CSRF (session, unsafe methods) -> handler
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/singleflight"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
)

// Engine is what the server asks of the rotation engine (*runner.Engine).
type Engine interface {
	Bind(ctx context.Context, p runner.BindParams) (*rotor.Binding, error)
	Preflight(ctx context.Context, b *rotor.Binding) []runner.Check
	Request(ctx context.Context, bindingID, actor string) (*rotor.Rotation, error)
	RequestCancel(ctx context.Context, id, actor string) (*rotor.Rotation, error)
	RequestRetry(ctx context.Context, id, actor string) (*rotor.Rotation, error)
}

var _ Engine = (*runner.Engine)(nil)

// OIDC configures sign-in with Entra ID (authorization code flow with PKCE, state and nonce).
type OIDC struct {
	// Issuer is the OpenID Connect issuer: https://login.microsoftonline.com/{tenant id}/v2.0.
	Issuer       string
	TenantID     string
	ClientID     string
	ClientSecret secret.Value
	Scopes       []string
	// HTTPClient reaches the identity provider (trusting an extra CA for the simulator); nil
	// means http.DefaultClient.
	HTTPClient *http.Client
}

// Config holds the server's collaborators and settings; cmd/rotor wires them.
type Config struct {
	Store      rotor.Store
	Clock      clockwork.Clock
	Log        *slog.Logger
	Thresholds lifecycle.Thresholds
	// Engine runs rotations; nil when rotor only watches expiry (no encryption key). Binding and
	// rotation endpoints then answer 409.
	Engine Engine
	// Registry validates and builds deployment steps given through the API.
	Registry target.Registry
	// Policies are the configured policies, by name.
	Policies map[string]*rotor.Policy
	// Tenants are the configured tenants' names, in configuration order.
	Tenants []string
	// SyncNow asks a tenant's sync loop to run now; nil when nothing syncs (API answers 409).
	SyncNow func(tenant string) error
	// Notifications is the notification outbox; nil when notifications are not configured.
	Notifications Notifications
	// Metrics serves /metrics; nil answers 404. MetricsAnonymous lets anyone scrape it.
	Metrics          http.Handler
	MetricsAnonymous bool
	// ObserveHTTP, when set, is told of every request (route pattern, method, status, duration).
	ObserveHTTP func(route, method string, code int, d time.Duration)

	// PublicURL is where users reach rotor (no trailing slash); cookies are Secure and HSTS is
	// sent when it is https.
	PublicURL string
	// SessionKey seals session cookies and signs CSRF tokens; required for sign-in.
	SessionKey      secret.Value
	SessionLifetime time.Duration
	// OIDC configures sign-in; nil means the web UI cannot be signed in to (API tokens only).
	OIDC  *OIDC
	Roles auth.RoleMap
	// Version is shown in the UI's footer.
	Version string
}

// Server serves rotor's HTTP endpoints. It is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	view   *inventory.View
	sealer *auth.Sealer // nil without a session key
	secure bool
	mux    *http.ServeMux
	routes []*route
	static fs.FS
	assets map[string]string // asset name -> content hash, for cache-busting URLs
	pages  *pageSet
	oidc   *oidcClient
	spec   []byte // the OpenAPI document as JSON

	// wrap, when set (tests), replaces each route's handler before the middleware is applied.
	wrap func(r *route, h handlerFunc) handlerFunc

	touchMu sync.Mutex
	touched map[string]time.Time // token id -> last recorded use

	overviews singleflight.Group // dashboard computations in progress, by tenant
}

// New returns a server. It does no network I/O: the identity provider is discovered at the first
// sign-in.
func New(cfg Config) (*Server, error) {
	return newServer(cfg, nil)
}

func newServer(cfg Config, wrap func(r *route, h handlerFunc) handlerFunc) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Thresholds == (lifecycle.Thresholds{}) {
		cfg.Thresholds = lifecycle.DefaultThresholds
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 8 * time.Hour
	}
	if cfg.Policies == nil {
		cfg.Policies = map[string]*rotor.Policy{}
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	s := &Server{cfg: cfg, log: cfg.Log, view: &inventory.View{Store: cfg.Store, Thresholds: cfg.Thresholds}, wrap: wrap,
		touched: map[string]time.Time{}}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Scheme == "https" {
		s.secure = true
	}
	if !cfg.SessionKey.IsZero() {
		sl, err := auth.NewSealer(cfg.SessionKey)
		if err != nil {
			return nil, fmt.Errorf("server.session.key: %w", err)
		}
		s.sealer = sl
	}
	if cfg.OIDC != nil {
		if s.sealer == nil {
			return nil, errors.New("server: sign-in needs a session key")
		}
		if cfg.PublicURL == "" {
			return nil, errors.New("server: sign-in needs the public URL (the redirect URI is built from it)")
		}
		s.oidc = newOIDCClient(cfg.OIDC, cfg.PublicURL)
	}
	var err error
	if s.static, s.assets, err = loadStatic(); err != nil {
		return nil, err
	}
	if s.pages, err = loadPages(s); err != nil {
		return nil, err
	}
	if s.spec, err = loadSpec(); err != nil {
		return nil, err
	}
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.chain(rt))
	}
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, kindOf(r.URL.Path), &apiError{Status: http.StatusForbidden, Type: "cross-origin",
			Title: "Cross-origin request refused", Detail: "state-changing requests must come from rotor's own pages"})
	}))
	return s.recoverer(s.headers(cop.Handler(http.HandlerFunc(s.dispatch))))
}

// dispatch routes a request, answering unknown paths and methods in the style of their area
// (problem details under /api/, a page elsewhere).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &statusRecorder{header: http.Header{}}
	s.mux.ServeHTTP(rec, r) // 404 or 405 (with Allow)
	if rec.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.fail(w, r, kindOf(r.URL.Path), &apiError{Status: http.StatusMethodNotAllowed, Type: "method-not-allowed", Title: "Method not allowed",
			Detail: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow"))})
		return
	}
	s.fail(w, r, kindOf(r.URL.Path), &apiError{Status: http.StatusNotFound, Type: "not-found", Title: "Not found",
		Detail: fmt.Sprintf("nothing at %s", r.URL.Path)})
}

// statusRecorder captures what the mux would answer for an unmatched request.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.code = code }

func kindOf(path string) routeKind {
	if strings.HasPrefix(path, "/api/") {
		return kindAPI
	}
	return kindPage
}

// recoverer turns a panicking handler into a 500 and logs it.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("http handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				s.fail(w, r, kindOf(r.URL.Path), errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// headers sets the security headers every response carries.
func (s *Server) headers(next http.Handler) http.Handler {
	formAction := "'self'"
	if s.oidc != nil {
		// Signing out posts a form whose answer redirects to the identity provider.
		formAction += " " + s.oidc.origin
	}
	csp := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"font-src 'self'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// Prune forgets signed-out sessions whose cookies expired; serve calls it now and then.
func (s *Server) Prune(ctx context.Context) error {
	_, err := s.cfg.Store.SessionPrune(ctx, s.cfg.Clock.Now())
	return err
}
