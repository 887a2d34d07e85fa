package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/rotorhq/rotor/secret"
)

// TokenPrefix starts every API token, so that secret scanners and people recognise one.
const TokenPrefix = "rotor_"

// tokenBytes is the token's entropy: 256 bits.
const tokenBytes = 32

// NewToken returns a new random API token and the hash the store keeps. The value is shown to
// its owner once and never stored.
func NewToken() (secret.Value, string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return secret.Value{}, "", err
	}
	v := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret.New(v), HashToken(v), nil
}

// HashToken returns the hash under which a token is stored: lowercase hex SHA-256 of its value.
// A plain hash suffices: the value has 256 random bits, so it cannot be guessed from its hash.
func HashToken(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

// LooksLikeToken reports whether s has the shape of a rotor API token.
func LooksLikeToken(s string) bool {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(rest) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}
