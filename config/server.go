package config

import (
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/secret"
)

// Server configures rotor serve's HTTP listener: the REST API, the web UI, sign-in with Entra ID
// and the metrics endpoint (docs/api.md).
type Server struct {
	Listen string `yaml:"listen"` // host:port, default 127.0.0.1:8080
	// PublicURL is where users and scripts reach rotor (through a proxy, say): the sign-in
	// redirect URI is PublicURL + /auth/callback, and cookies are Secure when it is https.
	// Default: http://<listen> when listen is a loopback address.
	PublicURL string        `yaml:"public_url"`
	TLS       ServerTLS     `yaml:"tls"`
	Session   ServerSession `yaml:"session"`
	// OIDC configures sign-in to the web UI with Entra ID; without it only API tokens work.
	OIDC    *ServerOIDC   `yaml:"oidc"`
	Roles   ServerRoles   `yaml:"roles"`
	Metrics ServerMetrics `yaml:"metrics"`

	publicDerived bool // PublicURL was derived from Listen
}

// PublicURLDerived reports whether PublicURL was derived from a loopback listen address rather
// than configured: rotor serve then derives it again from the address it really listens on (a
// port of 0 picks a free one).
func (s *Server) PublicURLDerived() bool { return s.publicDerived }

// ServerTLS makes rotor serve HTTPS itself; leave it out behind a TLS-terminating proxy.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"` // PEM certificate chain
	KeyFile  string `yaml:"key_file"`  // PEM private key
}

// Enabled reports whether TLS is configured.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// ServerSession configures web sessions.
type ServerSession struct {
	// Key seals session cookies (AES-256-GCM) and signs CSRF tokens: at least 32 random bytes,
	// e.g. from rotor keys generate. Changing it signs everybody out.
	Key secret.Ref `yaml:"key"`
	// Lifetime is how long a sign-in lasts (default 8h); roles are read again at the next one.
	Lifetime Duration `yaml:"lifetime"`
}

// ServerOIDC is the app registration users sign in through (authorization code flow with PKCE).
type ServerOIDC struct {
	TenantID string `yaml:"tenant_id,required"` // the directory users sign in to (GUID)
	ClientID string `yaml:"client_id,required"` // the app registration's client id
	// ClientSecret authenticates rotor when it redeems the authorization code (a web app is a
	// confidential client).
	ClientSecret  secret.Ref `yaml:"client_secret,required"`
	Cloud         string     `yaml:"cloud"`          // public (default), usgovernment, china
	AuthorityHost string     `yaml:"authority_host"` // overrides the cloud's
	CAFile        string     `yaml:"ca_file"`        // extra CA certificates to trust (PEM)
	// Scopes asked for; default openid, profile, email. openid is required.
	Scopes []string `yaml:"scopes"`
}

// Issuer returns the OpenID Connect issuer: {authority host}/{tenant id}/v2.0.
func (o *ServerOIDC) Issuer() string {
	return strings.TrimSuffix(o.AuthorityHost, "/") + "/" + o.TenantID + "/v2.0"
}

// ServerRoles maps what Entra ID says of a user to a rotor role (viewer, operator, admin). A
// user gets the strongest role any of their groups or app roles maps to; a user with none cannot
// sign in.
type ServerRoles struct {
	Groups   map[string]string `yaml:"groups"`    // group object id -> role
	AppRoles map[string]string `yaml:"app_roles"` // app role value -> role
}

// RoleMap returns the mapping for package auth (valid after validation).
func (r ServerRoles) RoleMap() auth.RoleMap {
	m := auth.RoleMap{Groups: map[string]auth.Role{}, AppRoles: map[string]auth.Role{}}
	for g, role := range r.Groups {
		m.Groups[strings.ToLower(g)] = auth.Role(strings.ToLower(role))
	}
	for ar, role := range r.AppRoles {
		m.AppRoles[ar] = auth.Role(strings.ToLower(role))
	}
	return m
}

// ServerMetrics configures /metrics.
type ServerMetrics struct {
	// Anonymous lets anyone scrape /metrics; by default it needs an API token (any role).
	Anonymous bool `yaml:"anonymous"`
}

// Server defaults.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultSessionLifetime = 8 * time.Hour
)

// DefaultOIDCScopes are asked for when oidc.scopes is not set.
var DefaultOIDCScopes = []string{"openid", "profile", "email"}

func (s *Server) applyDefaults() {
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.PublicURL == "" {
		if host, _, err := net.SplitHostPort(s.Listen); err == nil && isLoopback(host) {
			scheme := "http"
			if s.TLS.Enabled() {
				scheme = "https"
			}
			s.PublicURL = scheme + "://" + s.Listen
			s.publicDerived = true
		}
	}
	s.PublicURL = strings.TrimSuffix(s.PublicURL, "/")
	if s.Session.Lifetime == 0 {
		s.Session.Lifetime = Duration(DefaultSessionLifetime)
	}
	if o := s.OIDC; o != nil {
		if o.Cloud == "" {
			o.Cloud = "public"
		}
		if cl, ok := clouds[o.Cloud]; ok && o.AuthorityHost == "" {
			o.AuthorityHost = cl.authority
		}
		if o.Scopes == nil {
			o.Scopes = slices.Clone(DefaultOIDCScopes)
		}
	}
}

func (s *Server) validate(d *Decoder) {
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		d.Errorf("server.listen", "%q is not host:port", s.Listen)
	}
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			d.Errorf("server.public_url", "%q is not an absolute http(s) URL", s.PublicURL)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			d.Errorf("server.public_url", "%q: no query, fragment or user information", s.PublicURL)
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			d.Errorf("server.public_url", "%q: use https (plain http is allowed only on loopback)", s.PublicURL)
		case u.Scheme == "http" && s.TLS.Enabled():
			d.Errorf("server.public_url", "%q: rotor serves TLS (server.tls), so its URL is https", s.PublicURL)
		}
	}
	if s.TLS.Enabled() {
		for field, path := range map[string]string{"cert_file": s.TLS.CertFile, "key_file": s.TLS.KeyFile} {
			if path == "" {
				d.Errorf("server.tls."+field, "required with server.tls (give both cert_file and key_file)")
			} else if _, err := os.Stat(path); err != nil {
				d.Errorf("server.tls."+field, "%v", err)
			}
		}
	}
	if l := s.Session.Lifetime.D(); l < 5*time.Minute || l > 7*24*time.Hour {
		d.Errorf("server.session.lifetime", "%s: use 5m to 7d", s.Session.Lifetime)
	}
	for g, role := range s.Roles.Groups {
		if !guidRE.MatchString(g) {
			d.Errorf("server.roles.groups."+g, "%q is not a group object id: expected a GUID", g)
		}
		if _, err := auth.ParseRole(role); err != nil {
			d.Errorf("server.roles.groups."+g, "%v", err)
		}
	}
	for ar, role := range s.Roles.AppRoles {
		if _, err := auth.ParseRole(role); err != nil {
			d.Errorf("server.roles.app_roles."+ar, "%v", err)
		}
	}
	o := s.OIDC
	if o == nil {
		return
	}
	if o.TenantID != "" && !guidRE.MatchString(o.TenantID) {
		d.Errorf("server.oidc.tenant_id", "%q is not a directory (tenant) id: expected a GUID", o.TenantID)
	}
	if o.ClientID != "" && !guidRE.MatchString(o.ClientID) {
		d.Errorf("server.oidc.client_id", "%q is not a client (application) id: expected a GUID", o.ClientID)
	}
	if _, ok := clouds[o.Cloud]; !ok {
		d.Errorf("server.oidc.cloud", "unknown cloud %q: use public, usgovernment or china (or set authority_host)", o.Cloud)
	}
	checkURL(d, "server.oidc.authority_host", o.AuthorityHost)
	if o.CAFile != "" {
		if _, err := os.Stat(o.CAFile); err != nil {
			d.Errorf("server.oidc.ca_file", "%v", err)
		}
	}
	if !slices.Contains(o.Scopes, "openid") {
		d.Errorf("server.oidc.scopes", "must include openid (sign-in needs an ID token)")
	}
	if s.Session.Key.IsZero() {
		d.Errorf("server.session.key", "required with server.oidc: it seals session cookies (rotor keys generate makes one)")
	}
	if s.PublicURL == "" {
		d.Errorf("server.public_url", "required with server.oidc when server.listen is not a loopback address: the sign-in redirect URI is built from it")
	}
	if len(s.Roles.Groups)+len(s.Roles.AppRoles) == 0 {
		d.Errorf("server.roles", "nobody could sign in: map group ids (server.roles.groups) or app role values (server.roles.app_roles) to viewer, operator or admin")
	}
}

// RedirectURL is the sign-in redirect URI to register on the app registration.
func (s *Server) RedirectURL() string { return s.PublicURL + "/auth/callback" }

// PostLogoutURL is where Entra ID sends users back after signing out; register it as a
// redirect URI too.
func (s *Server) PostLogoutURL() string { return s.PublicURL + "/auth/signed-out" }

// Secure reports whether users reach rotor over https (cookies are then Secure, HSTS is sent).
func (s *Server) Secure() bool { return strings.HasPrefix(s.PublicURL, "https://") }
