package entra

import (
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t/kid are SHA-1 thumbprints by definition
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
)

// Audiences resource servers accept: the resource's identifier URI (v1.0 tokens, as requested) or
// its application id (v1.0 tokens requested by app id, and v2.0 tokens).
var (
	GraphAudiences    = []string{"https://graph.microsoft.com", "https://graph.microsoft.com/", directory.MicrosoftGraphAppID}
	KeyVaultAudiences = []string{"https://vault.azure.net", "https://vault.azure.net/", directory.AzureKeyVaultAppID}
)

// Errors of Verify, for resource servers to tell apart (Graph answers each with its own message).
var (
	ErrTokenMalformed     = errors.New("access token is malformed")
	ErrTokenSignature     = errors.New("access token signature is invalid")
	ErrTokenExpired       = errors.New("access token has expired")
	ErrTokenNotYetValid   = errors.New("access token is not yet valid")
	ErrTokenAudience      = errors.New("access token audience is not accepted")
	ErrTokenUnknownIssuer = errors.New("access token issuer is not a tenant")
)

// Claims are the caller facts a resource server needs from a verified access token.
type Claims struct {
	TenantID   string   // tid
	ObjectID   string   // oid: the calling service principal's object id
	AppID      string   // appid (v1.0) or azp (v2.0): the client id
	AppName    string   // app_displayname
	Audience   string   // aud
	Issuer     string   // iss
	Version    string   // ver: "1.0" or "2.0"
	IDType     string   // idtyp: "app" for application tokens
	Roles      []string // roles: granted application permissions
	AuthMethod string   // appidacr/azpacr: "1" client secret, "2" certificate
	IssuedAt   time.Time
	NotBefore  time.Time
	ExpiresAt  time.Time
}

// HasRole reports whether the token carries role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// Verifier validates access tokens issued by the simulated login endpoints: signature (RS256 with a
// published signing key), lifetime and audience. It is safe for concurrent use.
type Verifier struct {
	clock  clockwork.Clock
	keys   map[string]*rsa.PublicKey // by kid
	leeway time.Duration
}

// SigningKey is a published token signing key: its kid (which Entra also publishes as x5t, the
// base64url SHA-1 thumbprint of its certificate) and public key.
type SigningKey struct {
	ID          string
	Public      *rsa.PublicKey
	Certificate *x509.Certificate
}

// NewVerifier returns a verifier trusting the given signing keys (see Server.SigningKeys).
func NewVerifier(clock clockwork.Clock, keys ...SigningKey) *Verifier {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	v := &Verifier{clock: clock, keys: map[string]*rsa.PublicKey{}}
	for _, k := range keys {
		v.keys[k.ID] = k.Public
	}
	return v
}

// Verify checks token and returns its claims. audiences lists the accepted aud values (e.g.
// GraphAudiences); none means any. Errors wrap one of the ErrToken* sentinels.
func (v *Verifier) Verify(token string, audiences ...string) (*Claims, error) {
	mc := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, mc, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := v.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown signing key %q", kid)
		}
		return k, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(v.clock.Now), jwt.WithLeeway(v.leeway), jwt.WithExpirationRequired())
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("verify access token: %w", ErrTokenExpired)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, fmt.Errorf("verify access token: %w", ErrTokenNotYetValid)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, fmt.Errorf("verify access token: %v: %w", err, ErrTokenMalformed)
	default:
		return nil, fmt.Errorf("verify access token: %v: %w", err, ErrTokenSignature)
	}
	c := &Claims{
		TenantID: str(mc, "tid"),
		ObjectID: str(mc, "oid"),
		AppName:  str(mc, "app_displayname"),
		Audience: str(mc, "aud"),
		Issuer:   str(mc, "iss"),
		Version:  str(mc, "ver"),
		IDType:   str(mc, "idtyp"),
	}
	if c.Version == "2.0" {
		c.AppID, c.AuthMethod = str(mc, "azp"), str(mc, "azpacr")
	} else {
		c.AppID, c.AuthMethod = str(mc, "appid"), str(mc, "appidacr")
	}
	if roles, ok := mc["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
	}
	for name, dst := range map[string]*time.Time{"iat": &c.IssuedAt, "nbf": &c.NotBefore, "exp": &c.ExpiresAt} {
		if f, ok := mc[name].(float64); ok {
			*dst = time.Unix(int64(f), 0).UTC()
		}
	}
	if c.TenantID == "" || !strings.Contains(c.Issuer, c.TenantID) {
		return nil, fmt.Errorf("verify access token: issuer %q, tenant %q: %w", c.Issuer, c.TenantID, ErrTokenUnknownIssuer)
	}
	if len(audiences) > 0 && !slices.ContainsFunc(audiences, func(a string) bool { return strings.EqualFold(a, c.Audience) }) {
		return nil, fmt.Errorf("verify access token: audience %q: %w", c.Audience, ErrTokenAudience)
	}
	return c, nil
}

func str(m jwt.MapClaims, k string) string {
	s, _ := m[k].(string)
	return s
}

// thumbprint is the base64url SHA-1 thumbprint of a DER certificate: Entra's kid and x5t.
func thumbprint(der []byte) string {
	h := sha1.Sum(der) //nolint:gosec // thumbprint, not a security boundary
	return base64.RawURLEncoding.EncodeToString(h[:])
}
