package keyvault

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jonboulle/clockwork"
)

// Audience is the resource Key Vault access tokens are issued for.
const Audience = "https://vault.azure.net"

// Principal is the caller an access token identifies.
type Principal struct {
	TenantID string // tid: the tenant that issued the token
	ObjectID string // oid: the principal's object id; role assignments name it
	AppID    string // appid: the client application's id
}

// Authenticator validates bearer access tokens for the vault. The assembled simulator plugs in
// the Entra simulator's token verifier; tests use TestAuthenticator.
//
// Authenticate must check the token's signature, its validity period and that it was issued for
// audience, and return the principal it identifies. Errors must wrap one of ErrTokenExpired,
// ErrTokenNotYetValid, ErrTokenAudience or ErrTokenInvalid, which the vault turns into Key
// Vault's 401 answers. The vault itself checks that the principal's tenant is the vault's.
// Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, token, audience string) (Principal, error)
}

// Errors an Authenticator wraps.
var (
	ErrTokenExpired     = errors.New("token expired")
	ErrTokenNotYetValid = errors.New("token not yet valid")
	ErrTokenAudience    = errors.New("token issued for another audience")
	ErrTokenInvalid     = errors.New("token invalid")
)

// TestAuthenticator issues and validates HS256-signed JWT access tokens shaped like Entra ID v1
// tokens (aud, iss, tid, oid, appid, iat, nbf, exp). It is a stand-in for the Entra simulator's
// verifier in tests; its key lives only in memory.
type TestAuthenticator struct {
	clock clockwork.Clock
	key   []byte
}

// NewTestAuthenticator returns an authenticator with a fresh random key. Token times come from
// clock (the real clock when nil).
func NewTestAuthenticator(clock clockwork.Clock) *TestAuthenticator {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("keyvault: read random key: %v", err)) // crypto/rand never fails on supported platforms
	}
	return &TestAuthenticator{clock: clock, key: key}
}

type testClaims struct {
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	AppID    string `json:"appid"`
	jwt.RegisteredClaims
}

// IssueToken returns a token for p, issued for audience and valid from now for ttl.
func (a *TestAuthenticator) IssueToken(p Principal, audience string, ttl time.Duration) (string, error) {
	now := a.clock.Now()
	claims := testClaims{
		TenantID: p.TenantID,
		ObjectID: p.ObjectID,
		AppID:    p.AppID,
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{audience},
			Issuer:    "https://sts.windows.net/" + p.TenantID + "/",
			Subject:   p.ObjectID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("sign test token: %w", err)
	}
	return s, nil
}

// Authenticate implements Authenticator.
func (a *TestAuthenticator) Authenticate(_ context.Context, token, audience string) (Principal, error) {
	var claims testClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithTimeFunc(a.clock.Now),
		jwt.WithAudience(audience),
		jwt.WithIssuedAt(),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return Principal{}, fmt.Errorf("%w: %v", ErrTokenExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return Principal{}, fmt.Errorf("%w: %v", ErrTokenNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return Principal{}, fmt.Errorf("%w: found %v", ErrTokenAudience, claims.Audience)
	default:
		return Principal{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if claims.TenantID == "" || claims.ObjectID == "" {
		return Principal{}, fmt.Errorf("%w: missing tid or oid", ErrTokenInvalid)
	}
	return Principal{TenantID: claims.TenantID, ObjectID: claims.ObjectID, AppID: claims.AppID}, nil
}
