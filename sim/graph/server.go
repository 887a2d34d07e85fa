package graph

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/entra"
)

// TokenVerifier validates bearer tokens; *entra.Verifier is one.
type TokenVerifier interface {
	Verify(token string, audiences ...string) (*entra.Claims, error)
}

// Options configure a Server.
type Options struct {
	// Clock is the only source of time; nil means the directory's clock.
	Clock clockwork.Clock
	// Throttle configures the simulated throttling; off unless Throttle.Enabled.
	Throttle ThrottleOptions
	// DeltaPageSize is the number of objects per delta page; zero means 100.
	DeltaPageSize int
	// Logger receives debug lines about refused requests; nil discards them.
	Logger *slog.Logger
}

// Server serves the simulated Microsoft Graph v1.0 endpoints over a directory.
type Server struct {
	dir      *directory.Directory
	verifier TokenVerifier
	clock    clockwork.Clock
	log      *slog.Logger
	throttle *throttler
	deltaMax int
	tokenKey []byte
}

// New returns a Graph server for dir that accepts the tokens v verifies.
func New(dir *directory.Directory, v TokenVerifier, opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = dir.Clock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.DeltaPageSize <= 0 {
		opts.DeltaPageSize = 100
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Server{
		dir:      dir,
		verifier: v,
		clock:    opts.Clock,
		log:      opts.Logger,
		throttle: newThrottler(opts.Clock, opts.Throttle),
		deltaMax: opts.DeltaPageSize,
		tokenKey: key,
	}
}

// Handler returns the HTTP handler of Graph. It serves paths under /v1.0/ and answers 404 for
// others; mount it on the main listener next to the login endpoints.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// caller is the authenticated application of a request.
type caller struct {
	*entra.Claims
}

// Application permissions of Microsoft Graph that the simulated endpoints honour.
// https://learn.microsoft.com/graph/permissions-reference
const (
	roleAppReadAll      = "Application.Read.All"
	roleAppReadWriteAll = "Application.ReadWrite.All"
	roleAppOwnedBy      = "Application.ReadWrite.OwnedBy"
	roleDirReadAll      = "Directory.Read.All"
	roleDirReadWriteAll = "Directory.ReadWrite.All"
	rolePolicyReadAll   = "Policy.Read.All"
	rolePolicyAppConfig = "Policy.ReadWrite.ApplicationConfiguration"
)

// readsAll: the caller may read every application and service principal.
func (c caller) readsAll() bool {
	return c.HasRole(roleAppReadAll) || c.HasRole(roleAppReadWriteAll) || c.HasRole(roleDirReadAll) || c.HasRole(roleDirReadWriteAll)
}

// ownedOnly: the caller may read and write only what it owns (Application.ReadWrite.OwnedBy and no
// broader permission).
func (c caller) ownedOnly() bool { return !c.readsAll() && c.HasRole(roleAppOwnedBy) }

func (c caller) readsPolicies() bool {
	return c.HasRole(rolePolicyReadAll) || c.HasRole(rolePolicyAppConfig)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	reqID := newGUID()
	h.Set("request-id", reqID)
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" {
		clientReqID = reqID
	}
	h.Set("client-request-id", clientReqID)
	h.Set("OData-Version", "4.0")

	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
	if !ok {
		s.writeError(w, r, newError(http.StatusNotFound, "BadRequest", "Invalid version: "+strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]))
		return
	}
	c, gerr := s.authenticate(r)
	if gerr != nil {
		s.writeError(w, r, gerr)
		return
	}
	rt, gerr := parseRoute(r.Method, rest)
	if gerr != nil {
		s.writeError(w, r, gerr)
		return
	}
	if gerr := s.throttle.admit(w, r, c, rt); gerr != nil {
		s.writeError(w, r, gerr)
		return
	}
	if gerr := s.dispatch(w, r, c, rt); gerr != nil {
		s.writeError(w, r, gerr)
	}
}

// authenticate checks the bearer token: Graph answers 401 InvalidAuthenticationToken for a missing,
// malformed, expired or foreign token.
func (s *Server) authenticate(r *http.Request) (caller, *graphError) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return caller{}, errTokenEmpty
	}
	claims, err := s.verifier.Verify(strings.TrimSpace(tok), entra.GraphAudiences...)
	switch {
	case err == nil:
	case errors.Is(err, entra.ErrTokenMalformed):
		return caller{}, errTokenMalformed
	case errors.Is(err, entra.ErrTokenExpired):
		return caller{}, errTokenExpired
	case errors.Is(err, entra.ErrTokenNotYetValid):
		return caller{}, errTokenNotYetValid
	case errors.Is(err, entra.ErrTokenAudience):
		return caller{}, errTokenAudience
	default:
		return caller{}, errTokenInvalid
	}
	if _, err := s.dir.Tenant(claims.TenantID); err != nil {
		return caller{}, errTokenInvalid
	}
	return caller{claims}, nil
}

// route is a parsed request path.
type route struct {
	method string
	kind   directory.Kind // applications or servicePrincipals; empty for policies
	byApp  bool           // addressed as applications(appId='...')
	key    string         // object id or appId; empty for collections
	action string         // "", "$count", "delta", "owners", "addPassword", ... (canonical case)
	policy string         // for /policies/...: "default", "list" or a policy id
	// segment names the first segment for error messages.
	segment string
}

var actions = map[string]string{
	"owners": "owners", "addpassword": "addPassword", "removepassword": "removePassword",
	"addkey": "addKey", "removekey": "removeKey", "appmanagementpolicies": "appManagementPolicies",
}

// parseRoute understands the paths of the simulated API. Segments are case-insensitive, and actions
// and functions may be written with their namespace (microsoft.graph.addPassword, delta()).
func parseRoute(method, path string) (route, *graphError) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	rt := route{method: method, segment: segs[0]}
	first := segs[0]
	lower := strings.ToLower(first)
	switch {
	case lower == "applications":
		rt.kind = directory.KindApplication
	case lower == "serviceprincipals":
		rt.kind = directory.KindServicePrincipal
	case strings.HasPrefix(lower, "applications(appid="), strings.HasPrefix(lower, "serviceprincipals(appid="):
		rt.kind = directory.KindApplication
		if strings.HasPrefix(lower, "serviceprincipals") {
			rt.kind = directory.KindServicePrincipal
		}
		open := strings.Index(first, "=")
		v := strings.TrimSuffix(first[open+1:], ")")
		v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
		if v == "" {
			return rt, errNoSegment(first)
		}
		rt.byApp, rt.key = true, v
		segs = append([]string{""}, segs[1:]...)
	case lower == "policies":
		if len(segs) == 2 && strings.EqualFold(segs[1], "defaultAppManagementPolicy") {
			rt.policy = "default"
			return rt, nil
		}
		if len(segs) >= 2 && strings.EqualFold(segs[1], "appManagementPolicies") {
			switch len(segs) {
			case 2:
				rt.policy = "list"
				return rt, nil
			case 3:
				rt.policy = segs[2]
				return rt, nil
			}
		}
		if len(segs) >= 2 {
			return rt, errNoSegment(segs[1])
		}
		return rt, errNoSegment(first)
	default:
		return rt, errNoSegment(first)
	}
	i := 1
	if !rt.byApp && len(segs) > 1 {
		next := segs[1]
		nl := strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(next, "()"), "microsoft.graph."))
		switch {
		case next == "$count":
			rt.action = "$count"
			i = 2
		case nl == "delta":
			rt.action = "delta"
			i = 2
		default:
			rt.key = next
			i = 2
		}
	}
	if i < len(segs) {
		if rt.key == "" || rt.action != "" || i != len(segs)-1 {
			return rt, errNoSegment(segs[i])
		}
		a, ok := actions[strings.ToLower(strings.TrimPrefix(segs[i], "microsoft.graph."))]
		if !ok {
			return rt, errNoSegment(segs[i])
		}
		rt.action = a
	}
	return rt, nil
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, c caller, rt route) *graphError {
	if rt.policy != "" {
		if r.Method != http.MethodGet {
			return errMethodNotAllowed
		}
		return s.getPolicies(w, r, c, rt)
	}
	switch rt.action {
	case "", "$count", "delta", "owners", "appManagementPolicies":
		switch {
		case rt.action == "" && rt.key != "" && r.Method == http.MethodPatch:
			return s.patchObject(w, r, c, rt)
		case r.Method != http.MethodGet:
			return errMethodNotAllowed
		case rt.action == "delta":
			return s.delta(w, r, c, rt)
		case rt.key == "" && rt.action == "$count":
			return s.count(w, r, c, rt)
		case rt.key == "":
			return s.list(w, r, c, rt)
		case rt.action == "owners":
			return s.owners(w, r, c, rt)
		case rt.action == "appManagementPolicies":
			return s.objectPolicies(w, r, c, rt)
		default:
			return s.get(w, r, c, rt)
		}
	default:
		if r.Method != http.MethodPost {
			return errMethodNotAllowed
		}
		return s.credentialAction(w, r, c, rt)
	}
}

// resolved is the object a route addresses.
type resolved struct {
	ref   directory.ObjectRef
	app   *directory.Application
	sp    *directory.ServicePrincipal
	appID string
}

// resolve finds the addressed object in the caller's tenant: 404 Request_ResourceNotFound when it
// does not exist.
func (s *Server) resolve(c caller, rt route) (resolved, *graphError) {
	if !rt.byApp && !directory.IsGUID(rt.key) {
		return resolved{}, errBadRequest("Invalid object identifier '" + rt.key + "'.")
	}
	switch rt.kind {
	case directory.KindApplication:
		var a directory.Application
		var err error
		if rt.byApp {
			a, err = s.dir.ApplicationByAppID(c.TenantID, rt.key)
		} else {
			a, err = s.dir.Application(c.TenantID, rt.key)
		}
		if err != nil {
			return resolved{}, errNotFound(rt.key)
		}
		return resolved{ref: a.Ref(), app: &a, appID: a.AppID}, nil
	default:
		var sp directory.ServicePrincipal
		var err error
		if rt.byApp {
			sp, err = s.dir.ServicePrincipalByAppID(c.TenantID, rt.key)
		} else {
			sp, err = s.dir.ServicePrincipal(c.TenantID, rt.key)
		}
		if err != nil {
			return resolved{}, errNotFound(rt.key)
		}
		return resolved{ref: sp.Ref(), sp: &sp, appID: sp.AppID}, nil
	}
}

// canRead: every object with a read permission, owned objects with Application.ReadWrite.OwnedBy.
func (s *Server) canRead(c caller, o resolved) bool {
	return c.readsAll() || (c.HasRole(roleAppOwnedBy) && s.dir.IsOwner(c.TenantID, o.ref, c.ObjectID))
}

// canWrite: every object with Application.ReadWrite.All, owned objects (and the service principals
// of owned applications) with Application.ReadWrite.OwnedBy.
// https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby
func (s *Server) canWrite(c caller, o resolved) bool {
	return c.HasRole(roleAppReadWriteAll) || (c.HasRole(roleAppOwnedBy) && s.dir.IsOwner(c.TenantID, o.ref, c.ObjectID))
}

func (s *Server) base(r *http.Request) string { return "https://" + r.Host + "/v1.0/" }

func (s *Server) context(r *http.Request, fragment string) string {
	return "https://" + r.Host + "/v1.0/$metadata#" + fragment
}

// opaqueToken seals a paging or delta state: base64url(payload | HMAC). Graph's tokens are opaque;
// these are too, and the server recognises the ones it issued.
func (s *Server) sealToken(payload string) string {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(append([]byte(payload), m.Sum(nil)[:16]...))
}

func (s *Server) openToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 17 {
		return "", false
	}
	payload, mac := b[:len(b)-16], b[len(b)-16:]
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)[:16]) {
		return "", false
	}
	return string(payload), true
}

// withQuery returns base with the query parameters of r (except those in drop) and extra, written
// the way Graph writes links ($ not escaped).
func withQuery(base string, q url.Values, order []string, drop map[string]bool, extra ...string) string {
	var b strings.Builder
	b.WriteString(base)
	sep := byte('?')
	for _, k := range order {
		if drop[strings.ToLower(k)] {
			continue
		}
		for _, v := range q[k] {
			b.WriteByte(sep)
			sep = '&'
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(escapeQueryValue(v))
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(extra[i])
		b.WriteByte('=')
		b.WriteString(escapeQueryValue(extra[i+1]))
	}
	return b.String()
}

// escapeQueryValue escapes what would break a query string and keeps the characters OData links
// show literally (commas of $select, quotes and parentheses of $filter).
func escapeQueryValue(v string) string {
	const keep = "-._~,()'$:@!*;/?"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// queryKeys returns the query parameter names of raw in order.
func queryKeys(raw string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(k); err == nil && k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// queryParam returns a system query option, accepted with or without "$" and in any case.
func queryParam(q url.Values, name string) (string, bool) {
	for k, v := range q {
		if strings.EqualFold(strings.TrimPrefix(k, "$"), name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
