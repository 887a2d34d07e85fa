package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
)

// Sign-in with Entra ID: the authorization code flow with PKCE (S256), state and nonce, as a
// confidential client. https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
//
//	GET /auth/login     -> state, nonce and code verifier sealed in a short-lived cookie; redirect
//	                       to the authorization endpoint (response_mode=query)
//	GET /auth/callback  -> state checked against the cookie; code redeemed with the verifier; ID
//	                       token verified (signature, issuer, audience, expiry, nonce, tenant);
//	                       role mapped from groups and app roles; session cookie set
//	POST /auth/logout   -> session ended in the store (its cookie no longer works), cookie
//	                       cleared, redirect to Entra's end_session_endpoint

// loginLifetime bounds the time between starting a sign-in and coming back with the code.
const loginLifetime = 10 * time.Minute

type oidcClient struct {
	cfg        *OIDC
	origin     string // scheme://host of the issuer
	redirect   string
	postLogout string

	mu       sync.Mutex
	provider *oidc.Provider
	endSess  string
}

func newOIDCClient(cfg *OIDC, publicURL string) *oidcClient {
	c := &oidcClient{cfg: cfg, redirect: publicURL + "/auth/callback", postLogout: publicURL + "/auth/signed-out"}
	if u, err := url.Parse(cfg.Issuer); err == nil {
		c.origin = u.Scheme + "://" + u.Host
	}
	return c
}

func (c *oidcClient) ctx(ctx context.Context) context.Context {
	if c.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, c.cfg.HTTPClient)
	}
	return ctx
}

// discover returns the identity provider, reading its discovery document once it is reachable.
func (c *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(c.ctx(ctx), c.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover the identity provider %s: %w", c.cfg.Issuer, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&extra)
	c.provider, c.endSess = p, extra.EndSession
	return p, nil
}

func (c *oidcClient) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret.Reveal(), Endpoint: p.Endpoint(),
		RedirectURL: c.redirect, Scopes: c.cfg.Scopes}
}

// loginState is what the sign-in cookie holds, sealed, between /auth/login and the callback.
type loginState struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

const sealLogin = "login"

var errNoSignIn = &apiError{Status: http.StatusNotFound, Type: "sign-in-disabled", Title: "Sign-in is not configured",
	Detail: "configure server.oidc to sign in with Entra ID; scripts use API tokens (rotor token create)"}

func (s *Server) authLogin(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return errNoSignIn
	}
	p, err := s.oidc.discover(r.Context())
	if err != nil {
		s.log.Error("sign-in: identity provider unavailable", "err", err)
		return &apiError{Status: http.StatusBadGateway, Type: "idp-unavailable", Title: "Entra ID is unreachable",
			Detail: "rotor could not read the identity provider's configuration; try again in a moment"}
	}
	ls := loginState{State: randomID(32), Nonce: randomID(32), Verifier: oauth2.GenerateVerifier(),
		Next: localPath(r.URL.Query().Get("next")), Expires: s.cfg.Clock.Now().Add(loginLifetime)}
	b, _ := json.Marshal(ls)
	v, err := s.sealer.Seal(sealLogin, b)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: s.loginCookieName(), Value: v, Path: "/", MaxAge: int(loginLifetime / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	u := s.oidc.oauth2(p).AuthCodeURL(ls.State, oauth2.S256ChallengeOption(ls.Verifier), oidc.Nonce(ls.Nonce),
		oauth2.SetAuthURLParam("response_mode", "query"))
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// idClaims are the ID token claims rotor reads.
// https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
type idClaims struct {
	Nonce      string            `json:"nonce"`
	OID        string            `json:"oid"`
	TID        string            `json:"tid"`
	Username   string            `json:"preferred_username"`
	Name       string            `json:"name"`
	Groups     []string          `json:"groups"`
	Roles      []string          `json:"roles"`
	ClaimNames map[string]string `json:"_claim_names"`
}

func signInFailed(status int, detail string) *apiError {
	return &apiError{Status: status, Type: "sign-in-failed", Title: "Sign-in failed", Detail: detail}
}

func (s *Server) authCallback(w http.ResponseWriter, r *http.Request) error {
	if s.oidc == nil {
		return errNoSignIn
	}
	c, err := r.Cookie(s.loginCookieName())
	s.clearCookie(w, s.loginCookieName())
	if err != nil {
		return signInFailed(http.StatusBadRequest, "the sign-in was not started here or took too long: sign in again")
	}
	b, err := s.sealer.Open(sealLogin, c.Value)
	var ls loginState
	if err != nil || json.Unmarshal(b, &ls) != nil || !s.cfg.Clock.Now().Before(ls.Expires) {
		return signInFailed(http.StatusBadRequest, "the sign-in was not started here or took too long: sign in again")
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1 {
		return signInFailed(http.StatusBadRequest, "the answer from Entra ID does not belong to this sign-in (state mismatch): sign in again")
	}
	if e := q.Get("error"); e != "" {
		desc, _, _ := strings.Cut(q.Get("error_description"), " Trace ID")
		return signInFailed(http.StatusUnauthorized, "Entra ID refused the sign-in: "+e+": "+desc)
	}
	p, err := s.oidc.discover(r.Context())
	if err != nil {
		return err
	}
	ctx := s.oidc.ctx(r.Context())
	tok, err := s.oidc.oauth2(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		s.log.Warn("sign-in: code redemption failed", "err", err)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return signInFailed(http.StatusUnauthorized, "Entra ID refused to redeem the sign-in code: "+re.ErrorCode)
		}
		return signInFailed(http.StatusBadGateway, "rotor could not reach Entra ID to finish the sign-in")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return signInFailed(http.StatusBadGateway, "Entra ID returned no ID token (is openid among server.oidc.scopes?)")
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: s.oidc.cfg.ClientID, Now: s.cfg.Clock.Now}).Verify(ctx, raw)
	if err != nil {
		s.log.Warn("sign-in: ID token rejected", "err", err)
		return signInFailed(http.StatusUnauthorized, "the ID token did not verify")
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		return signInFailed(http.StatusUnauthorized, "the ID token's claims do not parse")
	}
	if subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(ls.Nonce)) != 1 {
		return signInFailed(http.StatusUnauthorized, "the ID token does not belong to this sign-in (nonce mismatch)")
	}
	if !strings.EqualFold(cl.TID, s.oidc.cfg.TenantID) || cl.OID == "" {
		return signInFailed(http.StatusForbidden, "the account is not of the configured directory")
	}
	name := cl.Username
	if name == "" {
		name = cl.OID
	}
	role, ok := s.cfg.Roles.Resolve(cl.Groups, cl.Roles)
	now := s.cfg.Clock.Now()
	if !ok {
		reason := "none of the user's groups or app roles maps to a rotor role (server.roles)"
		if _, over := cl.ClaimNames["groups"]; over {
			reason += "; the user is in more than 200 groups, so Entra ID sent no groups claim: map app roles instead"
		}
		if err := s.cfg.Store.AuditAppend(r.Context(), &rotor.AuditEvent{At: now, Actor: "user:" + name, Action: "auth.sign_in_refused",
			Outcome: rotor.OutcomeFailure, Reason: reason, Details: map[string]string{"oid": cl.OID}}); err != nil {
			return err
		}
		s.log.Warn("sign-in refused: no role", "user", name, "oid", cl.OID)
		return &apiError{Status: http.StatusForbidden, Type: "no-role", Title: "No access to rotor",
			Detail: "You signed in as " + name + ", but " + reason + ". Ask an administrator for access."}
	}
	sess := &session{ID: randomID(24), Subject: cl.OID, Username: name, DisplayName: cl.Name, Role: role, IssuedAt: now,
		ExpiresAt: now.Add(s.cfg.SessionLifetime)}
	if err := s.cfg.Store.AuditAppend(r.Context(), &rotor.AuditEvent{At: now, Actor: "user:" + name, Action: "auth.signed_in",
		Outcome: rotor.OutcomeSuccess, Details: map[string]string{"role": string(role), "oid": cl.OID}}); err != nil {
		return err
	}
	if err := s.setSession(w, sess); err != nil {
		return err
	}
	s.log.Info("signed in", "user", name, "role", role)
	http.Redirect(w, r, ls.Next, http.StatusSeeOther)
	return nil
}

func (s *Server) authLogout(w http.ResponseWriter, r *http.Request) error {
	sess, ok := s.readSession(r)
	if ok {
		p := &auth.Principal{Kind: auth.KindUser, Name: sess.Username, SessionID: sess.ID, Role: sess.Role}
		if !s.validCSRF(r, p) {
			return &apiError{Status: http.StatusForbidden, Type: "csrf", Title: "Missing or invalid CSRF token", Detail: "reload the page and try again"}
		}
		if err := s.cfg.Store.SessionEnd(r.Context(), sess.ID, sess.ExpiresAt); err != nil {
			return err
		}
		if err := s.cfg.Store.AuditAppend(r.Context(), &rotor.AuditEvent{At: s.cfg.Clock.Now(), Actor: p.Actor(), Action: "auth.signed_out",
			Outcome: rotor.OutcomeSuccess}); err != nil {
			return err
		}
	}
	s.clearCookie(w, s.sessionCookieName())
	target := "/auth/signed-out"
	if s.oidc != nil {
		if _, err := s.oidc.discover(r.Context()); err == nil && s.oidc.endSess != "" {
			// End the Entra ID session too; it sends the user back to the signed-out page.
			q := url.Values{"client_id": {s.oidc.cfg.ClientID}, "post_logout_redirect_uri": {s.oidc.postLogout}}
			target = s.oidc.endSess + "?" + q.Encode()
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}
