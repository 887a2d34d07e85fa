package entra_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/rotorhq/rotor/sim/directory"
)

// signInBundle is a tenant with a web application users sign in to, and its users.
type signInBundle struct {
	*bundle
	admin, operator, nobody directory.User
	adminsGroup             directory.Group
	redirect                string
}

func setupSignIn(t *testing.T) *signInBundle {
	t.Helper()
	b := setup(t, directory.Options{})
	sb := &signInBundle{bundle: b, redirect: "http://127.0.0.1:18080/auth/callback"}
	require.NoError(t, b.dir.SetWebSettings(b.tenant.ID, b.app.AppID, directory.WebSettings{
		RedirectURIs:          []string{"http://127.0.0.1/auth/callback", "https://rotor.example.org/auth/callback", "https://rotor.example.org/auth/signed-out"},
		GroupMembershipClaims: "SecurityGroup",
	}, directory.AppRole{Value: "Rotor.Operator", DisplayName: "operator", AllowedMemberTypes: []string{"User"}, IsEnabled: true}))
	var err error
	sb.admin, err = b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Ada Admin", UserPrincipalName: "ada@" + b.tenant.DefaultDomain})
	require.NoError(t, err)
	sb.operator, err = b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Omar Operator", UserPrincipalName: "omar@" + b.tenant.DefaultDomain})
	require.NoError(t, err)
	sb.nobody, err = b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Nico Nobody"})
	require.NoError(t, err)
	sb.adminsGroup, err = b.dir.AddGroup(directory.AddGroupParams{TenantID: b.tenant.ID, DisplayName: "rotor admins", Members: []string{sb.admin.ID}})
	require.NoError(t, err)
	require.NoError(t, b.dir.AssignUserAppRole(b.tenant.ID, sb.operator.ID, b.app.AppID, "Rotor.Operator"))
	return sb
}

func (sb *signInBundle) issuer() string { return sb.https.URL + "/" + sb.tenant.ID + "/v2.0" }

// relyingParty is an OpenID Connect client built with go-oidc and x/oauth2, as rotor's is.
func (sb *signInBundle) relyingParty(t *testing.T, redirect string) (context.Context, *oidc.Provider, *oauth2.Config) {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), sb.https.Client())
	p, err := oidc.NewProvider(ctx, sb.issuer())
	require.NoError(t, err)
	return ctx, p, &oauth2.Config{ClientID: sb.app.AppID, ClientSecret: sb.secret.Reveal(), Endpoint: p.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}

// noRedirects is a client that returns redirects instead of following them.
func (sb *signInBundle) noRedirects() *http.Client {
	c := *sb.https.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

var formRE = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)">(.*?)</form>`)
var inputRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signIn opens the authorization URL, picks the user on the sign-in page and returns where the
// browser is sent next.
func (sb *signInBundle) signIn(t *testing.T, authURL string, user directory.User) *http.Response {
	t.Helper()
	c := sb.noRedirects()
	resp, err := c.Get(authURL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), "Pick an account")
	for _, m := range formRE.FindAllStringSubmatch(string(body), -1) {
		form := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			form.Set(in[1], unescapeHTML(in[2]))
		}
		if form.Get("user") != user.ID {
			continue
		}
		resp, err := c.PostForm(sb.https.URL+m[1], form)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	t.Fatalf("user %s is not on the sign-in page", user.DisplayName)
	return nil
}

func unescapeHTML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func TestSignInAuthorizationCodeWithPKCE(t *testing.T) {
	t.Parallel()
	sb := setupSignIn(t)
	ctx, p, cfg := sb.relyingParty(t, sb.redirect)
	var disco struct {
		Authorization string `json:"authorization_endpoint"`
		EndSession    string `json:"end_session_endpoint"`
	}
	require.NoError(t, p.Claims(&disco))
	require.Equal(t, sb.https.URL+"/"+sb.tenant.ID+"/oauth2/v2.0/authorize", disco.Authorization)
	require.Equal(t, sb.https.URL+"/"+sb.tenant.ID+"/oauth2/v2.0/logout", disco.EndSession)

	tests := []struct {
		name   string
		user   directory.User
		groups []string
		roles  []string
	}{
		{"admin through a group", sb.admin, []string{sb.adminsGroup.ID}, nil},
		{"operator through an app role", sb.operator, nil, []string{"Rotor.Operator"}},
		{"nobody", sb.nobody, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			authURL := cfg.AuthCodeURL("state-"+tt.name, oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-"+tt.name))
			resp := sb.signIn(t, authURL, tt.user)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, "127.0.0.1:18080", loc.Host, "a loopback redirect URI matches on any port")
			require.Equal(t, "/auth/callback", loc.Path)
			require.Equal(t, "state-"+tt.name, loc.Query().Get("state"))
			code := loc.Query().Get("code")
			require.NotEmpty(t, code)

			tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			require.NoError(t, err)
			raw, _ := tok.Extra("id_token").(string)
			require.NotEmpty(t, raw)
			require.Contains(t, tok.Extra("scope"), "openid")
			idt, err := p.Verifier(&oidc.Config{ClientID: sb.app.AppID}).Verify(ctx, raw)
			require.NoError(t, err, "go-oidc accepts the ID token: issuer, audience, signature, expiry")
			var claims struct {
				Nonce     string   `json:"nonce"`
				Name      string   `json:"name"`
				Username  string   `json:"preferred_username"`
				OID       string   `json:"oid"`
				TID       string   `json:"tid"`
				Ver       string   `json:"ver"`
				Groups    []string `json:"groups"`
				Roles     []string `json:"roles"`
				ClaimName any      `json:"_claim_names"`
			}
			require.NoError(t, idt.Claims(&claims))
			require.Equal(t, "nonce-"+tt.name, claims.Nonce)
			require.Equal(t, tt.user.DisplayName, claims.Name)
			require.Equal(t, tt.user.UserPrincipalName, claims.Username)
			require.Equal(t, tt.user.ID, claims.OID)
			require.Equal(t, sb.tenant.ID, claims.TID)
			require.Equal(t, "2.0", claims.Ver)
			require.Equal(t, tt.groups, claims.Groups)
			require.Equal(t, tt.roles, claims.Roles)
			require.Nil(t, claims.ClaimName)
			require.NotEqual(t, tt.user.ID, idt.Subject, "sub is pairwise, not the object id")

			// A code is redeemed once.
			_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
			requireSTS(t, err, "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed")
		})
	}
}

func requireSTS(t *testing.T, err error, oauthErr, descPrefix string) {
	t.Helper()
	require.Error(t, err)
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, oauthErr, re.ErrorCode, string(re.Body))
	require.True(t, strings.HasPrefix(re.ErrorDescription, descPrefix), re.ErrorDescription)
}

func TestSignInCodeRedemptionErrors(t *testing.T) {
	t.Parallel()
	sb := setupSignIn(t)
	ctx, _, cfg := sb.relyingParty(t, sb.redirect)
	codeFor := func(t *testing.T, opts ...oauth2.AuthCodeOption) string {
		t.Helper()
		resp := sb.signIn(t, cfg.AuthCodeURL("s", opts...), sb.admin)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		return loc.Query().Get("code")
	}
	verifier := oauth2.GenerateVerifier()

	code := codeFor(t, oauth2.S256ChallengeOption(verifier))
	_, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	requireSTS(t, err, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	_, err = cfg.Exchange(ctx, code)
	requireSTS(t, err, "invalid_grant", "AADSTS54005")

	code = codeFor(t, oauth2.S256ChallengeOption(verifier))
	_, err = cfg.Exchange(ctx, code)
	requireSTS(t, err, "invalid_grant", "AADSTS501481")

	code = codeFor(t, oauth2.S256ChallengeOption(verifier))
	other := *cfg
	other.RedirectURL = "http://127.0.0.1:18081/auth/callback"
	_, err = other.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	requireSTS(t, err, "invalid_request", "AADSTS500112: The reply address 'http://127.0.0.1:18081/auth/callback' does not match")

	code = codeFor(t, oauth2.S256ChallengeOption(verifier))
	bad := *cfg
	bad.ClientSecret = "not-the-secret"
	_, err = bad.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	requireSTS(t, err, "invalid_client", "AADSTS7000215")
	noSecret := *cfg
	noSecret.ClientSecret = ""
	_, err = noSecret.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	requireSTS(t, err, "invalid_client", "AADSTS7000218")

	code = codeFor(t, oauth2.S256ChallengeOption(verifier))
	sb.clock.Advance(11 * time.Minute)
	_, err = cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	requireSTS(t, err, "invalid_grant", "AADSTS70008: The provided authorization code or refresh token has expired")

	_, err = cfg.Exchange(ctx, "made-up")
	requireSTS(t, err, "invalid_grant", "AADSTS70000")
}

func TestAuthorizeRequestErrors(t *testing.T) {
	t.Parallel()
	sb := setupSignIn(t)
	base := func(mod func(q url.Values)) string {
		q := url.Values{"client_id": {sb.app.AppID}, "response_type": {"code"}, "redirect_uri": {sb.redirect},
			"scope": {"openid profile"}, "state": {"st"}, "code_challenge": {"abc"}, "code_challenge_method": {"S256"}}
		mod(q)
		return sb.https.URL + "/" + sb.tenant.ID + "/oauth2/v2.0/authorize?" + q.Encode()
	}
	// Errors shown on a page: the redirect URI cannot be trusted.
	pages := []struct {
		name string
		url  string
		want string
	}{
		{"unregistered redirect", base(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }),
			"AADSTS50011: The redirect URI &#39;https://evil.example/cb&#39; specified in the request does not match"},
		{"redirect on another path", base(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:18080/other") }), "AADSTS50011"},
		{"unknown client", base(func(q url.Values) { q.Set("client_id", "00000000-0000-0000-0000-00000000abcd") }), "AADSTS700016"},
		{"no client", base(func(q url.Values) { q.Del("client_id") }), "AADSTS900144"},
		{"unknown tenant", strings.Replace(base(func(url.Values) {}), sb.tenant.ID, "nowhere.example", 1), "AADSTS90002"},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := sb.noRedirects().Get(tt.url)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Contains(t, string(body), tt.want)
		})
	}
	// Errors sent back to the application.
	redirects := []struct {
		name      string
		url       string
		err, desc string
	}{
		{"no response type", base(func(q url.Values) { q.Del("response_type") }), "invalid_request", "AADSTS900144"},
		{"implicit flow", base(func(q url.Values) { q.Set("response_type", "id_token") }), "unsupported_response_type", "AADSTS700054"},
		{"no scope", base(func(q url.Values) { q.Del("scope") }), "invalid_request", "AADSTS900144"},
		{"bad PKCE method", base(func(q url.Values) { q.Set("code_challenge_method", "S512") }), "invalid_request", "AADSTS9002313"},
		{"silent sign-in", base(func(q url.Values) { q.Set("prompt", "none") }), "login_required", "AADSTS50058"},
	}
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := sb.noRedirects().Get(tt.url)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, tt.err, loc.Query().Get("error"))
			require.True(t, strings.HasPrefix(loc.Query().Get("error_description"), tt.desc+": "), loc.Query().Get("error_description"))
			require.Equal(t, "st", loc.Query().Get("state"))
		})
	}
}

func TestSignInFormPostAndGroupsOverage(t *testing.T) {
	t.Parallel()
	sb := setupSignIn(t)
	for i := range 201 {
		_, err := sb.dir.AddGroup(directory.AddGroupParams{TenantID: sb.tenant.ID, DisplayName: fmt.Sprintf("group %d", i), Members: []string{sb.nobody.ID}})
		require.NoError(t, err)
	}
	ctx, p, cfg := sb.relyingParty(t, sb.redirect)
	resp := sb.signIn(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("response_mode", "form_post"), oidc.Nonce("n")), sb.nobody)
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `<form method="post" action="`+sb.redirect+`">`, "form_post posts the response to the redirect URI")
	m := regexp.MustCompile(`name="code" value="([^"]+)"`).FindStringSubmatch(string(body))
	require.NotNil(t, m)
	require.Contains(t, string(body), `name="state" value="st"`)
	tok, err := cfg.Exchange(ctx, m[1])
	require.NoError(t, err, "no PKCE: the code needs no verifier")
	idt, err := p.Verifier(&oidc.Config{ClientID: sb.app.AppID}).Verify(ctx, tok.Extra("id_token").(string))
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, idt.Claims(&claims))
	require.NotContains(t, claims, "groups", "over 200 groups: an overage claim instead")
	require.Equal(t, map[string]any{"groups": "src1"}, claims["_claim_names"])
	src, _ := json.Marshal(claims["_claim_sources"])
	require.JSONEq(t, `{"src1":{"endpoint":"https://graph.microsoft.com/v1.0/users/`+sb.nobody.ID+`/getMemberObjects"}}`, string(src))
}

func TestLogout(t *testing.T) {
	t.Parallel()
	sb := setupSignIn(t)
	logout := sb.https.URL + "/" + sb.tenant.ID + "/oauth2/v2.0/logout?"
	resp, err := sb.noRedirects().Get(logout + url.Values{"client_id": {sb.app.AppID},
		"post_logout_redirect_uri": {"https://rotor.example.org/auth/signed-out"}, "state": {"x"}}.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "https://rotor.example.org/auth/signed-out?state=x", resp.Header.Get("Location"))

	for name, q := range map[string]url.Values{
		"unregistered URI": {"client_id": {sb.app.AppID}, "post_logout_redirect_uri": {"https://evil.example/"}},
		"no client":        {"post_logout_redirect_uri": {"https://rotor.example.org/auth/signed-out"}},
		"nothing":          {},
	} {
		resp, err := sb.noRedirects().Get(logout + q.Encode())
		require.NoError(t, err, name)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, name)
		require.Contains(t, string(body), "You signed out of your account", name)
	}
}
