package entra

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotorhq/rotor/sim/directory"
)

const jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSkew is the clock skew tolerated on a client assertion's nbf and exp.
const assertionSkew = 5 * time.Minute

// client is an authenticated client of a token request.
type client struct {
	tenant     directory.Tenant
	principal  directory.Principal
	holder     directory.ObjectRef
	keyID      string
	credential directory.CredentialType
}

// handleToken implements the client credentials grant of the v2.0 token endpoint, with a client
// secret or a certificate-signed client assertion.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// https://learn.microsoft.com/entra/identity-platform/certificate-credentials
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeSTSError(w, r, errInvalidRequest(codeMissingParameter, "The request body must contain the following parameter: 'grant_type'."))
		return
	}
	resp, e := s.token(r)
	if e != nil {
		s.writeSTSError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"` // authorization code grant
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"` // authorization code grant with openid
}

func (s *Server) token(r *http.Request) (*tokenResponse, *stsError) {
	pathTenant := r.PathValue("tenant")
	if metaTenants[strings.ToLower(pathTenant)] {
		return nil, errInvalidRequest(codeNoTenantInfo, "No tenant-identifying information found in either the request or implied by any provided credentials.")
	}
	tenant, err := s.dir.Tenant(pathTenant)
	if err != nil {
		return nil, errInvalidRequest(codeTenantNotFound, tenantNotFoundMsg, pathTenant)
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return nil, missing("grant_type")
	case "client_credentials", "authorization_code":
	default:
		return nil, errUnsupportedGrant(codeUnsupportedGrantType, "The app requested an unsupported grant type '%s'.", grant)
	}
	clientID := strings.ToLower(form.Get("client_id"))
	if clientID == "" {
		return nil, missing("client_id")
	}
	principal, err := s.dir.SignInPrincipal(tenant.ID, clientID)
	if err != nil {
		return nil, errUnauthorizedClient(codeAppNotFound, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", form.Get("client_id"), tenant.DisplayName)
	}
	if principal.ServicePrincipal == nil {
		return nil, errInvalidClient(codeMissingServicePrincipal, "The client application %s is missing service principal in the tenant %s. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119", clientID, tenant.ID)
	}
	if !principal.ServicePrincipal.AccountEnabled {
		return nil, errUnauthorizedClient(codeAppDisabled, "Application '%s'(%s) is disabled.", clientID, principal.ServicePrincipal.DisplayName)
	}

	var c *client
	var e *stsError
	secretText, assertion := form.Get("client_secret"), form.Get("client_assertion")
	switch {
	case secretText != "":
		c, e = s.authenticateSecret(tenant, principal, clientID, secretText)
	case assertion != "":
		if t := form.Get("client_assertion_type"); t != jwtBearerAssertionType {
			if t == "" {
				return nil, missing("client_assertion_type")
			}
			return nil, errInvalidRequest(codeUnsupportedAssertionType, "The provided value for the input parameter 'client_assertion_type' is not valid. Expected '%s'.", jwtBearerAssertionType)
		}
		c, e = s.authenticateAssertion(r, tenant, principal, clientID, assertion)
	default:
		return nil, errInvalidClient(codeNoCredential, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	if e != nil {
		return nil, e
	}
	if grant == "authorization_code" {
		resp, e := s.redeemCode(r, c, tenant)
		if e == nil {
			if err := s.dir.RecordSignIn(tenant.ID, clientID, c.credential, c.holder, c.keyID); err != nil {
				s.log.Error("record sign-in", "error", err)
			}
		}
		return resp, e
	}

	scope := strings.TrimSpace(form.Get("scope"))
	if scope == "" {
		return nil, missing("scope")
	}
	// MSAL adds the OpenID Connect scopes to every request; Entra ignores them for the client
	// credentials grant.
	var scopes []string
	for _, sc := range strings.Fields(scope) {
		if !oidcScopes[sc] {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil, errInvalidScope(codeScopeNeedsDefault, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
	}
	if len(scopes) > 1 {
		return nil, errInvalidScope(codeInvalidScope, "The provided value for the input parameter 'scope' is not valid. One or more scopes in '%s' are not compatible with each other.", scope)
	}
	resourceName, ok := strings.CutSuffix(scopes[0], "/.default")
	if !ok || resourceName == "" {
		return nil, errInvalidScope(codeScopeNeedsDefault, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
	}
	resource, err := s.dir.ResolveResource(tenant.ID, resourceName)
	if err != nil {
		return nil, errInvalidResource(codeResourceNotFound, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resourceName, tenant.DisplayName)
	}
	roles, err := s.dir.GrantedRoles(tenant.ID, principal.ServicePrincipal.ID, resource.ID)
	if err != nil {
		return nil, errInvalidRequest(codeTenantNotFound, tenantNotFoundMsg, pathTenant)
	}
	tok, err := s.issue(r, c, resource, resourceName, roles)
	if err != nil {
		s.log.Error("sign access token", "error", err)
		return nil, &stsError{status: http.StatusInternalServerError, err: "server_error", code: 90012, msg: "The request has timed out."}
	}
	if err := s.dir.RecordSignIn(tenant.ID, clientID, c.credential, c.holder, c.keyID); err != nil {
		s.log.Error("record sign-in", "error", err)
	}
	secs := int(s.lifetime/time.Second) - 1
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok}, nil
}

var oidcScopes = map[string]bool{"openid": true, "offline_access": true, "profile": true, "email": true}

func missing(param string) *stsError {
	return errInvalidRequest(codeMissingParameter, "The request body must contain the following parameter: '%s'.", param)
}

// authenticateSecret checks a client secret. A secret that is unknown, not valid yet or not
// replicated yet is "invalid" (AADSTS7000215); one past its end date "expired" (AADSTS7000222).
func (s *Server) authenticateSecret(tenant directory.Tenant, p directory.Principal, clientID, secretText string) (*client, *stsError) {
	res, err := s.dir.CheckClientSecret(tenant.ID, clientID, secretText)
	if err != nil {
		return nil, errInvalidRequest(codeTenantNotFound, tenantNotFoundMsg, tenant.ID)
	}
	switch res.Status {
	case directory.AuthValid:
		return &client{tenant: tenant, principal: p, holder: res.Holder, keyID: res.KeyID, credential: directory.CredentialPassword}, nil
	case directory.AuthExpired:
		return nil, errInvalidClient(codeExpiredSecret, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID)
	default:
		return nil, errInvalidClient(codeInvalidSecret, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)
	}
}

// authenticateAssertion checks a client assertion: a JWT signed (RS256 or PS256) with the private
// key of one of the application's certificates, named by its x5t (SHA-1) or x5t#S256 (SHA-256)
// header, with iss = sub = client id, aud = this token endpoint and a current nbf..exp.
// https://learn.microsoft.com/entra/identity-platform/certificate-credentials#assertion-format
func (s *Server) authenticateAssertion(r *http.Request, tenant directory.Tenant, p directory.Principal, clientID, assertion string) (*client, *stsError) {
	malformed := errInvalidRequest(codeMalformedJWT, "JWT token is invalid or malformed.")
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256", "PS256"}))
	mc := jwt.MapClaims{}
	tok, _, err := parser.ParseUnverified(assertion, mc)
	if err != nil {
		return nil, malformed
	}
	if alg := tok.Method.Alg(); alg != "RS256" && alg != "PS256" {
		return nil, malformed
	}
	iss, _ := mc["iss"].(string)
	sub, _ := mc["sub"].(string)
	if !strings.EqualFold(iss, clientID) || !strings.EqualFold(sub, clientID) {
		return nil, errInvalidClient(codeAssertionAppIDMismatch, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	if !s.acceptedAssertionAudience(r, tenant, mc) {
		return nil, errInvalidClient(codeAssertionAudience, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	now := s.clock.Now()
	nbf, errNbf := mc.GetNotBefore()
	exp, errExp := mc.GetExpirationTime()
	if errNbf != nil || errExp != nil || exp == nil {
		return nil, malformed
	}
	if (nbf != nil && now.Add(assertionSkew).Before(nbf.Time)) || !now.Add(-assertionSkew).Before(exp.Time) {
		from := "unset"
		if nbf != nil {
			from = nbf.UTC().Format(time.RFC1123)
		}
		return nil, errInvalidClient(codeAssertionTime, "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), from, exp.UTC().Format(time.RFC1123))
	}
	thumb, thumbText, ok := assertionThumbprint(tok.Header)
	if !ok {
		return nil, errInvalidClient(codeAssertionSignature, "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '']")
	}
	res, err := s.dir.FindClientCertificate(tenant.ID, clientID, thumb)
	if err != nil {
		return nil, errInvalidClient(codeAssertionSignature, "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '%s']", thumbText)
	}
	switch res.Status {
	case directory.AuthValid:
	case directory.AuthExpired:
		return nil, errInvalidClient(codeAssertionSignature, "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
			thumbText, res.Start.Format("01/02/2006 15:04:05"), res.End.Format("01/02/2006 15:04:05"))
	case directory.AuthNotYetValid:
		return nil, errInvalidClient(codeAssertionSignature, "Client assertion contains an invalid signature. [Reason - The key used is not yet valid., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s']",
			thumbText, res.Start.Format("01/02/2006 15:04:05"), res.End.Format("01/02/2006 15:04:05"))
	default:
		return nil, errInvalidClient(codeAssertionSignature, "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", thumbText, clientID)
	}
	if _, err := jwt.Parse(assertion, func(*jwt.Token) (any, error) { return res.Certificate.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithoutClaimsValidation()); err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return nil, malformed
		}
		return nil, errInvalidClient(codeAssertionSignature, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s']", thumbText)
	}
	return &client{tenant: tenant, principal: p, holder: res.Holder, keyID: res.KeyID, credential: directory.CredentialKey}, nil
}

// acceptedAssertionAudience accepts this tenant's token endpoint on this host, by tenant id or
// domain, v2.0 or v1.0 path.
func (s *Server) acceptedAssertionAudience(r *http.Request, tenant directory.Tenant, mc jwt.MapClaims) bool {
	auds, err := mc.GetAudience()
	if err != nil {
		return false
	}
	for _, a := range auds {
		rest, ok := strings.CutPrefix(strings.ToLower(a), "https://"+strings.ToLower(r.Host)+"/")
		if !ok {
			continue
		}
		t, path, ok := strings.Cut(rest, "/")
		if !ok || (t != tenant.ID && t != strings.ToLower(tenant.DefaultDomain)) {
			continue
		}
		if path == "oauth2/v2.0/token" || path == "oauth2/token" {
			return true
		}
	}
	return false
}

// assertionThumbprint returns the certificate thumbprint the assertion header names: x5t#S256
// (SHA-256, what MSAL sends) or x5t (SHA-1). MSAL encodes it with standard base64; the
// documentation says base64url; both are accepted, with or without padding.
func assertionThumbprint(h map[string]any) ([]byte, string, bool) {
	for _, name := range []string{"x5t#S256", "x5t"} {
		v, ok := h[name].(string)
		if !ok || v == "" {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
			if b, err := enc.DecodeString(v); err == nil && (len(b) == 20 || len(b) == 32) {
				return b, strings.ToUpper(fmt.Sprintf("%x", b)), true
			}
		}
	}
	return nil, "", false
}

// issue signs an access token for the client on the resource, in the token version the resource
// asks for: v1.0 unless its application sets api.requestedAccessTokenVersion to 2.
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
func (s *Server) issue(r *http.Request, c *client, resource directory.ServicePrincipal, requested string, roles []string) (string, error) {
	now := s.clock.Now()
	sp := c.principal.ServicePrincipal
	tid := c.tenant.ID
	acr := "1"
	if c.credential == directory.CredentialKey {
		acr = "2"
	}
	claims := jwt.MapClaims{
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(s.lifetime).Unix(),
		"aio":   opaque(48),
		"idtyp": "app",
		"oid":   sp.ID,
		"sub":   sp.ID,
		"rh":    opaque(40),
		"tid":   tid,
		"uti":   opaque(22),
	}
	if len(roles) > 0 {
		claims["roles"] = roles
	}
	if resource.RequestedTokenVersion == 2 {
		claims["aud"] = resource.AppID
		claims["iss"] = "https://" + r.Host + "/" + tid + "/v2.0"
		claims["azp"] = sp.AppID
		claims["azpacr"] = acr
		claims["ver"] = "2.0"
	} else {
		// For v1.0 resources Entra takes everything before "/.default" as the audience.
		// https://learn.microsoft.com/entra/identity-platform/scenario-daemon-acquire-token#azure-ad-v10-resources
		claims["aud"] = requested
		claims["iss"] = "https://" + r.Host + "/" + tid + "/"
		claims["idp"] = "https://" + r.Host + "/" + tid + "/"
		claims["appid"] = sp.AppID
		claims["appidacr"] = acr
		claims["app_displayname"] = sp.DisplayName
		claims["ver"] = "1.0"
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.signing.ID
	if resource.RequestedTokenVersion != 2 {
		t.Header["x5t"] = s.signing.ID
	}
	return t.SignedString(s.key)
}

// opaque returns n characters of base64url noise, like the opaque claims (aio, rh, uti) Entra puts
// in tokens.
func opaque(n int) string {
	b := make([]byte, (n*3+3)/4)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
