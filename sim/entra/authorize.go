package entra

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotorhq/rotor/sim/directory"
)

// User sign-in: the authorization endpoint with its sign-in page, the authorization code grant
// of the token endpoint, ID tokens, and the logout endpoint.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc

// codeLifetime: "Authorization codes are short lived. Typically, they expire after about 10
// minutes." (v2-oauth2-auth-code-flow, successful response)
const codeLifetime = 10 * time.Minute

// groupsOverage is the most groups a JWT's groups claim lists; beyond it the token carries an
// overage claim instead.
// https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference#groups-overage-claim
const groupsOverage = 200

// AADSTS codes of user sign-in.
const (
	codeInvalidRedirect  = 50011   // the redirect URI does not match those configured for the app
	codeLoginRequired    = 50058   // prompt=none and no signed-in user
	codeInvalidCode      = 70000   // the code is not valid (unknown, or issued to another client)
	codeCodeExpired      = 70008   // the authorization code has expired
	codeCodeRedeemed     = 54005   // the authorization code was already redeemed
	codeVerifierMismatch = 501481  // PKCE: the code verifier does not match the challenge
	codeRedirectMismatch = 500112  // the token request's redirect URI differs from the authorize request's
	codeBadResponseType  = 900144  // missing parameter (response_type, scope, ...)
	codeInvalidRequest   = 9002313 // the request is malformed or invalid
)

// authCode is an issued authorization code and what it was issued for.
type authCode struct {
	tenantID, clientID, redirectURI string
	scopes                          []string
	nonce                           string
	challenge, method               string
	userID                          string
	issuedAt                        time.Time
	redeemed                        bool
}

// authorizeRequest is a validated authorization request.
type authorizeRequest struct {
	tenant       directory.Tenant
	app          directory.Application
	redirectURI  string
	responseMode string
	state        string
	params       url.Values
}

// handleAuthorize serves GET /{tenant}/oauth2/v2.0/authorize: after checking the client and its
// redirect URI (errors there are shown, never redirected to an unverified URI) and the rest of the
// request (errors there go back to the redirect URI), it shows a sign-in page listing the tenant's
// users.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	req, ok := s.checkAuthorize(w, r, r.URL.Query())
	if !ok {
		return
	}
	if req.params.Get("prompt") == "none" {
		// The simulator keeps no single sign-on session: silent sign-in always needs the user.
		s.redirectError(w, r, req, "login_required", codeLoginRequired, "Session information is not sufficient for single-sign-on.")
		return
	}
	users, err := s.dir.Users(req.tenant.ID)
	if err != nil {
		s.errorPage(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token or an issue with our sign-in service.")
		return
	}
	type person struct {
		ID, Name, UPN, Job string
	}
	page := struct {
		Tenant, App, Action, LoginHint string
		Params                         []struct{ Name, Value string }
		Users                          []person
	}{Tenant: req.tenant.DisplayName, App: req.app.DisplayName, Action: "/" + r.PathValue("tenant") + "/login",
		LoginHint: strings.ToLower(req.params.Get("login_hint"))}
	for _, k := range sortedKeys(req.params) {
		page.Params = append(page.Params, struct{ Name, Value string }{k, req.params.Get(k)})
	}
	for _, u := range users {
		page.Users = append(page.Users, person{u.ID, u.DisplayName, u.UserPrincipalName, u.JobTitle})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := signInPage.Execute(w, page); err != nil {
		s.log.Error("render sign-in page", "error", err)
	}
}

// handleLogin serves POST /{tenant}/login, the sign-in page's form: the user picked an account.
// It issues an authorization code and returns it to the redirect URI.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "invalid_request", codeMissingParameter, "The request body must be a form.")
		return
	}
	params := url.Values{}
	for k, v := range r.PostForm {
		if k != "user" {
			params[k] = v
		}
	}
	req, ok := s.checkAuthorize(w, r, params)
	if !ok {
		return
	}
	si, err := s.dir.UserSignIn(req.tenant.ID, r.PostForm.Get("user"), req.app.AppID)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "invalid_request", 50034, "The user account does not exist in the %s directory. To sign into this application, the account must be added to the directory.", req.tenant.DisplayName)
		return
	}
	code := opaque(64)
	s.codesMu.Lock()
	now := s.clock.Now()
	for k, c := range s.codes { // forget codes past their lifetime
		if now.Sub(c.issuedAt) > 2*codeLifetime {
			delete(s.codes, k)
		}
	}
	s.codes[code] = &authCode{tenantID: req.tenant.ID, clientID: req.app.AppID, redirectURI: req.redirectURI,
		scopes: strings.Fields(params.Get("scope")), nonce: params.Get("nonce"), challenge: params.Get("code_challenge"),
		method: params.Get("code_challenge_method"), userID: si.User.ID, issuedAt: now}
	s.codesMu.Unlock()
	s.respond(w, r, req, url.Values{"code": {code}})
}

// checkAuthorize validates an authorization request. Problems with the tenant, the client or the
// redirect URI are shown on an error page; others are sent to the redirect URI. It reports whether
// the request may proceed.
func (s *Server) checkAuthorize(w http.ResponseWriter, r *http.Request, q url.Values) (*authorizeRequest, bool) {
	name := r.PathValue("tenant")
	if metaTenants[strings.ToLower(name)] {
		s.errorPage(w, http.StatusBadRequest, "invalid_request", codeNoTenantInfo, "No tenant-identifying information found in either the request or implied by any provided credentials.")
		return nil, false
	}
	tenant, err := s.dir.Tenant(name)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "invalid_tenant", codeTenantNotFound, tenantNotFoundMsg, name)
		return nil, false
	}
	clientID := strings.ToLower(q.Get("client_id"))
	if clientID == "" {
		s.errorPage(w, http.StatusBadRequest, "invalid_request", codeMissingParameter, "The request body must contain the following parameter: 'client_id'.")
		return nil, false
	}
	app, err := s.dir.ApplicationByAppID(tenant.ID, clientID)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "unauthorized_client", codeAppNotFound, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", q.Get("client_id"), tenant.DisplayName)
		return nil, false
	}
	redirect := q.Get("redirect_uri")
	ws, _ := s.dir.WebSettingsOf(tenant.ID, app.AppID)
	if redirect == "" || !redirectAllowed(ws.RedirectURIs, redirect) {
		s.errorPage(w, http.StatusBadRequest, "invalid_request", codeInvalidRedirect, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", redirect, app.AppID)
		return nil, false
	}
	req := &authorizeRequest{tenant: tenant, app: app, redirectURI: redirect, responseMode: q.Get("response_mode"), state: q.Get("state"), params: q}
	switch req.responseMode {
	case "":
		req.responseMode = "query"
	case "query", "fragment", "form_post":
	default:
		req.responseMode = "query"
		s.redirectError(w, r, req, "invalid_request", codeInvalidRequest, "Invalid request. The provided value for the input parameter 'response_mode' is not valid. Expected values are 'query', 'fragment' or 'form_post'.")
		return nil, false
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		s.redirectError(w, r, req, "invalid_request", codeBadResponseType, "The request body must contain the following parameter: 'response_type'.")
		return nil, false
	case rt != "code":
		// The hybrid and implicit flows need the implicit grant enabled on the app registration;
		// the simulator supports the authorization code flow only.
		s.redirectError(w, r, req, "unsupported_response_type", 700054, "response_type '%s' is not enabled for the application.", rt)
		return nil, false
	}
	if strings.TrimSpace(q.Get("scope")) == "" {
		s.redirectError(w, r, req, "invalid_request", codeBadResponseType, "The request body must contain the following parameter: 'scope'.")
		return nil, false
	}
	if m := q.Get("code_challenge_method"); m != "" {
		if m != "S256" && m != "plain" {
			s.redirectError(w, r, req, "invalid_request", codeInvalidRequest, "Invalid request. The code_challenge_method '%s' is not supported: use 'S256' or 'plain'.", m)
			return nil, false
		}
		if q.Get("code_challenge") == "" {
			s.redirectError(w, r, req, "invalid_request", codeMissingParameter, "The request body must contain the following parameter: 'code_challenge'.")
			return nil, false
		}
	}
	return req, true
}

// redirectAllowed reports whether uri is one of the registered redirect URIs. For loopback hosts
// (localhost, 127.0.0.1) the port is ignored: "the port component ... is ignored for the
// purposes of matching a redirect URI".
// https://learn.microsoft.com/entra/identity-platform/reply-url#localhost-exceptions
func redirectAllowed(registered []string, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Fragment != "" {
		return false
	}
	for _, reg := range registered {
		if reg == uri {
			return true
		}
		ru, err := url.Parse(reg)
		if err != nil {
			continue
		}
		loop := func(h string) bool { return h == "localhost" || h == "127.0.0.1" }
		if loop(u.Hostname()) && u.Hostname() == ru.Hostname() && u.Scheme == ru.Scheme && u.Path == ru.Path && u.RawQuery == ru.RawQuery {
			return true
		}
	}
	return false
}

// respond returns the authorization response to the redirect URI in the request's response mode,
// with its state.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, req *authorizeRequest, v url.Values) {
	if req.state != "" {
		v.Set("state", req.state)
	}
	w.Header().Set("Cache-Control", "no-store")
	switch req.responseMode {
	case "form_post":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page := struct {
			Action string
			Fields []struct{ Name, Value string }
		}{Action: req.redirectURI}
		for _, k := range sortedKeys(v) {
			page.Fields = append(page.Fields, struct{ Name, Value string }{k, v.Get(k)})
		}
		if err := formPostPage.Execute(w, page); err != nil {
			s.log.Error("render form_post page", "error", err)
		}
	case "fragment":
		http.Redirect(w, r, req.redirectURI+"#"+v.Encode(), http.StatusFound)
	default:
		u, _ := url.Parse(req.redirectURI)
		q := u.Query()
		for k, vs := range v {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
}

// redirectError sends an authorization error to the redirect URI.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req *authorizeRequest, errCode string, code int, format string, a ...any) {
	desc := fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", code, fmt.Sprintf(format, a...),
		s.newID(), s.newID(), s.clock.Now().UTC().Format("2006-01-02 15:04:05Z"))
	s.respond(w, r, req, url.Values{"error": {errCode}, "error_description": {desc},
		"error_uri": {"https://" + r.Host + "/error?code=" + fmt.Sprint(code)}})
}

// errorPage shows an error the user cannot be sent back to the application with.
func (s *Server) errorPage(w http.ResponseWriter, status int, errCode string, code int, format string, a ...any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	msg := fmt.Sprintf("AADSTS%d: %s", code, fmt.Sprintf(format, a...))
	if err := errorPageTmpl.Execute(w, struct{ Error, Message string }{errCode, msg}); err != nil {
		s.log.Error("render error page", "error", err)
	}
}

// redeemCode implements the authorization_code grant for an authenticated client.
func (s *Server) redeemCode(r *http.Request, c *client, tenant directory.Tenant) (*tokenResponse, *stsError) {
	form := r.PostForm
	code := form.Get("code")
	if code == "" {
		return nil, missing("code")
	}
	s.codesMu.Lock()
	ac, ok := s.codes[code]
	now := s.clock.Now()
	var e *stsError
	switch {
	case !ok || ac.tenantID != tenant.ID || ac.clientID != c.principal.ServicePrincipal.AppID:
		e = errInvalidGrant(codeInvalidCode, "The provided value for the 'code' parameter is not valid.")
	case ac.redeemed:
		e = errInvalidGrant(codeCodeRedeemed, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case now.Sub(ac.issuedAt) > codeLifetime:
		e = errInvalidGrant(codeCodeExpired, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	case form.Get("redirect_uri") != ac.redirectURI:
		e = errInvalidRequest(codeRedirectMismatch, "The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.", form.Get("redirect_uri"), ac.redirectURI)
	case ac.challenge != "" && !pkceMatches(ac.challenge, ac.method, form.Get("code_verifier")):
		e = errInvalidGrant(codeVerifierMismatch, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	if ok && !ac.redeemed && e != nil && e.code != codeInvalidCode {
		// A code is spent by the first attempt to redeem it, successful or not: RFC 6749
		// section 4.1.2 allows one use, and Entra does not document a retry after a failure.
		ac.redeemed = true
	}
	if e == nil {
		ac.redeemed = true // single use, even when issuing fails below
	}
	s.codesMu.Unlock()
	if e != nil {
		return nil, e
	}
	si, err := s.dir.UserSignIn(ac.tenantID, ac.userID, ac.clientID)
	if err != nil {
		return nil, errInvalidGrant(codeInvalidCode, "The provided value for the 'code' parameter is not valid.")
	}
	resp := &tokenResponse{TokenType: "Bearer", ExpiresIn: int(s.lifetime/time.Second) - 1}
	resp.ExtExpiresIn = resp.ExpiresIn
	at, err := s.issueUserAccessToken(r, ac, si)
	if err != nil {
		return nil, &stsError{status: http.StatusInternalServerError, err: "server_error", code: 50000, msg: "There was an error issuing a token."}
	}
	resp.AccessToken = at
	// A code for OpenID Connect scopes only gets an access token for Microsoft Graph's User.Read.
	resp.Scope = strings.Join(append(oidcOnly(ac.scopes), "https://graph.microsoft.com/User.Read"), " ")
	if slices.Contains(ac.scopes, "openid") {
		if resp.IDToken, err = s.issueIDToken(r, ac, si); err != nil {
			return nil, &stsError{status: http.StatusInternalServerError, err: "server_error", code: 50000, msg: "There was an error issuing a token."}
		}
	}
	return resp, nil
}

func oidcOnly(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		if oidcScopes[sc] && sc != "offline_access" {
			out = append(out, sc)
		}
	}
	return out
}

// pkceMatches checks a code verifier against the challenge (RFC 7636 section 4.6). Without a
// method the challenge is plain: "If excluded, code_challenge is assumed to be plaintext".
func pkceMatches(challenge, method, verifier string) bool {
	if verifier == "" {
		return false
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// pairwiseSub is the ID token's sub: unique to the user and the application.
func pairwiseSub(userID, appID string) string {
	sum := sha256.Sum256([]byte(userID + "|" + appID))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:43]
}

// issueIDToken signs a v2.0 ID token for the user signing in to the client.
// https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
func (s *Server) issueIDToken(r *http.Request, ac *authCode, si directory.UserSignIn) (string, error) {
	now := s.clock.Now()
	iss := "https://" + r.Host + "/" + ac.tenantID + "/v2.0"
	claims := jwt.MapClaims{
		"aud": ac.clientID,
		"iss": iss,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"aio": opaque(48),
		"oid": si.User.ID,
		"rh":  opaque(40),
		"sub": pairwiseSub(si.User.ID, ac.clientID),
		"tid": ac.tenantID,
		"uti": opaque(22),
		"ver": "2.0",
	}
	if ac.nonce != "" {
		claims["nonce"] = ac.nonce
	}
	if slices.Contains(ac.scopes, "profile") {
		claims["name"] = si.User.DisplayName
		claims["preferred_username"] = si.User.UserPrincipalName
	}
	if slices.Contains(ac.scopes, "email") && si.User.Mail != "" {
		claims["email"] = si.User.Mail
	}
	if len(si.AppRoles) > 0 {
		claims["roles"] = si.AppRoles
	}
	switch {
	case si.Groups == nil: // the app does not ask for groups
	case len(si.Groups) > groupsOverage:
		claims["_claim_names"] = map[string]string{"groups": "src1"}
		claims["_claim_sources"] = map[string]any{"src1": map[string]string{
			"endpoint": "https://graph.microsoft.com/v1.0/users/" + si.User.ID + "/getMemberObjects"}}
	case len(si.Groups) > 0:
		claims["groups"] = si.Groups
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.signing.ID
	return t.SignedString(s.key)
}

// issueUserAccessToken signs a delegated v1.0 access token for Microsoft Graph (User.Read and the
// OpenID Connect scopes), which is what a sign-in for OpenID Connect scopes only returns.
func (s *Server) issueUserAccessToken(r *http.Request, ac *authCode, si directory.UserSignIn) (string, error) {
	now := s.clock.Now()
	claims := jwt.MapClaims{
		"aud":   "https://graph.microsoft.com",
		"iss":   "https://" + r.Host + "/" + ac.tenantID + "/",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(s.lifetime).Unix(),
		"appid": ac.clientID,
		"idtyp": "user",
		"name":  si.User.DisplayName,
		"oid":   si.User.ID,
		"scp":   strings.Join(append(oidcOnly(ac.scopes), "User.Read"), " "),
		"sub":   pairwiseSub(si.User.ID, "00000003-0000-0000-c000-000000000000"),
		"tid":   ac.tenantID,
		"upn":   si.User.UserPrincipalName,
		"uti":   opaque(22),
		"ver":   "1.0",
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.signing.ID
	t.Header["x5t"] = s.signing.ID
	return t.SignedString(s.key)
}

// handleLogout serves the end_session_endpoint (GET or POST /{tenant}/oauth2/v2.0/logout). It
// sends the user to post_logout_redirect_uri when that is one of the redirect URIs of the
// application named by client_id or by id_token_hint's audience; otherwise it shows the generic
// signed-out page.
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "invalid_request", 50061, "Unable to complete sign out. The request was invalid.")
		return
	}
	tenant, err := s.dir.Tenant(r.PathValue("tenant"))
	post := r.Form.Get("post_logout_redirect_uri")
	if err == nil && post != "" {
		clientID := r.Form.Get("client_id")
		if clientID == "" {
			clientID = s.hintAudience(r.Form.Get("id_token_hint"))
		}
		if ws, err := s.dir.WebSettingsOf(tenant.ID, clientID); err == nil && redirectAllowed(ws.RedirectURIs, post) {
			if st := r.Form.Get("state"); st != "" {
				u, _ := url.Parse(post)
				q := u.Query()
				q.Set("state", st)
				u.RawQuery = q.Encode()
				post = u.String()
			}
			http.Redirect(w, r, post, http.StatusFound)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := signedOutPage.Execute(w, nil); err != nil {
		s.log.Error("render signed-out page", "error", err)
	}
}

// hintAudience returns the audience of an ID token this server issued, or "".
func (s *Server) hintAudience(hint string) string {
	if hint == "" {
		return ""
	}
	mc := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(hint, mc, func(*jwt.Token) (any, error) { return s.signing.Public, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return ""
	}
	aud, _ := mc.GetAudience()
	if len(aud) != 1 {
		return ""
	}
	return aud[0]
}

func errInvalidGrant(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusBadRequest, err: "invalid_grant", code: code, msg: fmt.Sprintf(format, a...)}
}

func sortedKeys(v url.Values) []string {
	ks := make([]string, 0, len(v))
	for k := range v {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to your account</title>
<style>
body{font-family:system-ui,sans-serif;background:#f2f2f2;color:#1b1b1b;margin:0}
main{max-width:28rem;margin:4rem auto;background:#fff;padding:2rem 2.5rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:1.5rem;font-weight:600;margin:0 0 .25rem}
p.note{font-size:.85rem;color:#555;margin:0 0 1.5rem}
ul{list-style:none;padding:0;margin:0}
li{border-top:1px solid #ddd}
button{all:unset;display:block;width:100%;padding:.75rem .5rem;cursor:pointer}
button:hover,button:focus-visible{background:#e8f0fe;outline:2px solid #0067b8}
.name{display:block;font-weight:600}.upn{display:block;font-size:.9rem;color:#444}
.hint{background:#f3f9ff}
</style></head>
<body><main>
<h1>Pick an account</h1>
<p class="note">to continue to {{.App}} &middot; {{.Tenant}} &middot; rotor's Azure simulator: no password is asked</p>
<ul>
{{range .Users}}<li{{if eq $.LoginHint (.UPN)}} class="hint"{{end}}><form method="post" action="{{$.Action}}">
{{range $.Params}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<input type="hidden" name="user" value="{{.ID}}">
<button type="submit" data-upn="{{.UPN}}"><span class="name">{{.Name}}</span><span class="upn">{{.UPN}}</span></button>
</form></li>
{{end}}</ul>
</main></body></html>
`))

var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form></body></html>
`))

var errorPageTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head>
<body><main><h1>Sorry, but we're having trouble signing you in.</h1>
<p id="error-code" data-error="{{.Error}}">{{.Message}}</p></main></body></html>
`))

var signedOutPage = template.Must(template.New("signedout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head>
<body><main><h1>You signed out of your account</h1>
<p>It's a good idea to close all browser windows.</p></main></body></html>
`))
