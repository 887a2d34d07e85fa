package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
)

// DefaultTokenLifetime is the lifetime of issued access tokens (Entra issues app-only tokens for
// 60 to 90 minutes; expires_in is one second less than the lifetime).
const DefaultTokenLifetime = time.Hour

// Options configure a Server.
type Options struct {
	// Clock is the only source of time; nil means the directory's clock.
	Clock clockwork.Clock
	// SigningKey signs access tokens. Nil: a fresh RSA-2048 key.
	SigningKey *rsa.PrivateKey
	// TokenLifetime: zero means DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Logger receives debug lines about refused requests; nil discards them. Secrets and tokens
	// are never logged.
	Logger *slog.Logger
}

// Server serves the simulated login endpoints for the tenants of a directory.
type Server struct {
	dir      *directory.Directory
	clock    clockwork.Clock
	key      *rsa.PrivateKey
	signing  SigningKey
	lifetime time.Duration
	log      *slog.Logger
	verifier *Verifier

	codesMu sync.Mutex
	codes   map[string]*authCode // issued authorization codes
}

// New returns a login server for the tenants of dir.
func New(dir *directory.Directory, opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = dir.Clock()
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	key := opts.SigningKey
	if key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate token signing key: %w", err)
		}
		key = k
	}
	now := opts.Clock.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "rotor simulator token signing"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("token signing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("token signing certificate: %w", err)
	}
	s := &Server{
		dir:      dir,
		clock:    opts.Clock,
		key:      key,
		signing:  SigningKey{ID: thumbprint(der), Public: &key.PublicKey, Certificate: cert},
		lifetime: opts.TokenLifetime,
		log:      opts.Logger,
		codes:    map[string]*authCode{},
	}
	s.verifier = NewVerifier(s.clock, s.signing)
	return s, nil
}

// SigningKeys returns the published token signing keys.
func (s *Server) SigningKeys() []SigningKey { return []SigningKey{s.signing} }

// Verifier returns a verifier of the tokens this server issues.
func (s *Server) Verifier() *Verifier { return s.verifier }

// Handler returns the HTTP handler of the login endpoints. Mount it at the root of the listener;
// it answers 404 for paths it does not know.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleOpenIDConfiguration)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.handleKeys)
	mux.HandleFunc("GET /common/discovery/instance", s.handleInstanceDiscovery)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /{tenant}/login", s.handleLogin)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", s.handleLogout)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/logout", s.handleLogout)
	return mux
}

func (s *Server) newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

var metaTenants = map[string]bool{"common": true, "organizations": true, "consumers": true}

// handleOpenIDConfiguration serves the v2.0 OpenID Connect discovery document. MSAL reads
// token_endpoint, authorization_endpoint and issuer from it, and checks that the issuer's host is
// the authority's.
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
func (s *Server) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tenant")
	tid := "{tenantid}"
	pathTenant := strings.ToLower(name)
	if !metaTenants[pathTenant] {
		t, err := s.dir.Tenant(name)
		if err != nil {
			e := errInvalidRequest(codeTenantNotFound, tenantNotFoundMsg, name)
			e.err = "invalid_tenant"
			s.writeSTSError(w, r, e)
			return
		}
		tid, pathTenant = t.ID, t.ID
	}
	base := "https://" + r.Host + "/" + pathTenant
	doc := map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                "https://" + r.Host + "/" + tid + "/v2.0",
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"tenant_region_scope":                   nil,
		"cloud_instance_name":                   r.Host,
		"cloud_graph_host_name":                 r.Host,
		"msgraph_host":                          r.Host,
	}
	writeJSON(w, http.StatusOK, doc)
}

// handleKeys serves the token signing keys (JWKS).
// https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-signature
func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("tenant")
	tid := "{tenantid}"
	if !metaTenants[strings.ToLower(name)] {
		t, err := s.dir.Tenant(name)
		if err != nil {
			e := errInvalidRequest(codeTenantNotFound, tenantNotFoundMsg, name)
			e.err = "invalid_tenant"
			s.writeSTSError(w, r, e)
			return
		}
		tid = t.ID
	}
	k := s.signing
	jwk := map[string]any{
		"kty":    "RSA",
		"use":    "sig",
		"kid":    k.ID,
		"x5t":    k.ID,
		"n":      base64.RawURLEncoding.EncodeToString(k.Public.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.Public.E)).Bytes()),
		"x5c":    []string{base64.StdEncoding.EncodeToString(k.Certificate.Raw)},
		"issuer": "https://" + r.Host + "/" + tid + "/v2.0",
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{jwk}})
}

// handleInstanceDiscovery answers MSAL's authority validation
// (GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...). The simulator knows
// exactly one instance: itself. An authorization endpoint on another host is an unknown instance
// (AADSTS50049, error invalid_instance), which MSAL reports as such.
func (s *Server) handleInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ep := q.Get("authorization_endpoint")
	host, tenant, ok := parseAuthorizeEndpoint(ep)
	if !ok || !strings.EqualFold(host, r.Host) {
		e := errInvalidRequest(codeInvalidInstance, "Unknown or invalid instance.")
		e.err = "invalid_instance"
		s.writeSTSError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + r.Host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []any{map[string]any{
			"preferred_network": r.Host,
			"preferred_cache":   r.Host,
			"aliases":           []string{r.Host},
		}},
	})
}

// parseAuthorizeEndpoint splits https://{host}/{tenant}/oauth2/v2.0/authorize.
func parseAuthorizeEndpoint(ep string) (host, tenant string, ok bool) {
	rest, found := strings.CutPrefix(ep, "https://")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

const tenantNotFoundMsg = "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
