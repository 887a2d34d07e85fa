package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
)

type principalKey struct{}

func withPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// principal returns who the request acts as; nil on public routes.
func principal(r *http.Request) *auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(*auth.Principal)
	return p
}

// tokenTouchEvery bounds how often a token's last use is written: once a minute per token and
// process, so that a busy script does not turn every read into a write.
const tokenTouchEvery = time.Minute

// authenticate returns the request's principal: from an API token (Authorization: Bearer), else
// from a web session cookie, else nil (anonymous). A token that is unknown, expired or revoked
// is an error (401), never a fall back to anonymous.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*auth.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return s.tokenPrincipal(r, h)
	}
	return s.sessionPrincipal(w, r)
}

func (s *Server) tokenPrincipal(r *http.Request, header string) (*auth.Principal, error) {
	scheme, value, _ := strings.Cut(header, " ")
	bad := func(detail string) error {
		return &apiError{Status: http.StatusUnauthorized, Type: "invalid-token", Title: "Invalid API token", Detail: detail,
			header: http.Header{"WWW-Authenticate": {`Bearer realm="rotor", error="invalid_token"`}}}
	}
	value = strings.TrimSpace(value)
	if !strings.EqualFold(scheme, "Bearer") || !auth.LooksLikeToken(value) {
		return nil, bad("expected Authorization: Bearer rotor_... (rotor token create makes one)")
	}
	t, err := s.cfg.Store.APITokenGetByHash(r.Context(), auth.HashToken(value))
	if errors.Is(err, rotor.ErrNotFound) {
		return nil, bad("the token is not known")
	}
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	switch {
	case !t.RevokedAt.IsZero():
		return nil, bad("the token " + t.Name + " was revoked")
	case !now.Before(t.ExpiresAt):
		return nil, bad("the token " + t.Name + " expired at " + t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	role := auth.Role(t.Role)
	if !role.Valid() {
		return nil, bad("the token has an unknown role")
	}
	s.touch(r.Context(), t, now)
	return &auth.Principal{Kind: auth.KindToken, Name: t.Name, ID: t.ID, Role: role}, nil
}

// touch records a token's use, at most once per tokenTouchEvery per process.
func (s *Server) touch(ctx context.Context, t *rotor.APIToken, now time.Time) {
	s.touchMu.Lock()
	last, ok := s.touched[t.ID]
	if !ok {
		last = t.LastUsedAt
	}
	due := now.Sub(last) >= tokenTouchEvery
	if due {
		s.touched[t.ID] = now
	}
	s.touchMu.Unlock()
	if due {
		if err := s.cfg.Store.APITokenTouch(ctx, t.ID, now); err != nil {
			s.log.Warn("record API token use", "token", t.Name, "err", err)
		}
	}
}

// session is what the session cookie holds, sealed.
type session struct {
	ID          string    `json:"id"`
	Subject     string    `json:"sub"` // the user's object id
	Username    string    `json:"name"`
	DisplayName string    `json:"display_name"`
	Role        auth.Role `json:"role"`
	IssuedAt    time.Time `json:"iat"`
	ExpiresAt   time.Time `json:"exp"`
}

const sealSession = "session"

// sessionCookieName is __Host-rotor_session over https (bound to this host, Secure, Path=/), else
// rotor_session.
func (s *Server) sessionCookieName() string {
	if s.secure {
		return "__Host-rotor_session"
	}
	return "rotor_session"
}

func (s *Server) loginCookieName() string {
	if s.secure {
		return "__Host-rotor_login"
	}
	return "rotor_login"
}

// sessionPrincipal opens the session cookie. An unreadable, expired or signed-out session is
// anonymous (and its cookie is cleared).
func (s *Server) sessionPrincipal(w http.ResponseWriter, r *http.Request) (*auth.Principal, error) {
	sess, ok := s.readSession(r)
	if !ok {
		return nil, nil
	}
	ended, err := s.cfg.Store.SessionEnded(r.Context(), sess.ID)
	if err != nil {
		return nil, err
	}
	if ended || !sess.Role.Valid() {
		s.clearCookie(w, s.sessionCookieName())
		return nil, nil
	}
	return &auth.Principal{Kind: auth.KindUser, Name: sess.Username, ID: sess.Subject, Role: sess.Role,
		DisplayName: sess.DisplayName, SessionID: sess.ID}, nil
}

// readSession opens and checks the session cookie, if any.
func (s *Server) readSession(r *http.Request) (*session, bool) {
	if s.sealer == nil {
		return nil, false
	}
	c, err := r.Cookie(s.sessionCookieName())
	if err != nil || c.Value == "" {
		return nil, false
	}
	b, err := s.sealer.Open(sealSession, c.Value)
	if err != nil {
		return nil, false
	}
	var sess session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, false
	}
	if !s.cfg.Clock.Now().Before(sess.ExpiresAt) {
		return nil, false
	}
	return &sess, true
}

func (s *Server) setSession(w http.ResponseWriter, sess *session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	v, err := s.sealer.Seal(sealSession, b)
	if err != nil {
		return err
	}
	// A browser-session cookie: the sealed expiry, not the cookie's, bounds the session.
	http.SetCookie(w, &http.Cookie{Name: s.sessionCookieName(), Value: v, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode})
}

// csrfToken is the session's CSRF token: an HMAC of its id under a key derived from the session
// key. Forms carry it as csrf_token, scripts as the X-CSRF-Token header.
func (s *Server) csrfToken(p *auth.Principal) string {
	if p == nil || p.SessionID == "" || s.sealer == nil {
		return ""
	}
	return s.sealer.MAC("csrf", p.SessionID)
}

func (s *Server) validCSRF(r *http.Request, p *auth.Principal) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf_token")
	}
	return got != "" && s.sealer != nil && s.sealer.CheckMAC("csrf", p.SessionID, got)
}

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// localPath returns next when it is a path on this site (not //host or a scheme), else "/".
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return u.RequestURI()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
