package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/rotorhq/rotor/secret"
)

// MinSessionKeyLen is the shortest session key accepted: 32 bytes.
const MinSessionKeyLen = 32

// Sealer encrypts and authenticates small values (session and sign-in cookies) with AES-256-GCM
// under keys derived from the configured session key, one per purpose, so that a cookie made
// for one purpose never opens as another.
type Sealer struct {
	master []byte
}

// NewSealer returns a sealer keyed by the session key (at least 32 bytes; rotor keys generate
// makes suitable ones).
func NewSealer(key secret.Value) (*Sealer, error) {
	b := key.RevealBytes()
	if len(b) < MinSessionKeyLen {
		return nil, fmt.Errorf("session key is %d bytes: use at least %d random bytes", len(b), MinSessionKeyLen)
	}
	return &Sealer{master: b}, nil
}

func (s *Sealer) key(purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, s.master, nil, "rotor/"+purpose, n)
	if err != nil {
		panic(fmt.Sprintf("auth: derive %s key: %v", purpose, err)) // only for n > 255*32
	}
	return k
}

// Seal encrypts plaintext for purpose; the result is URL-safe base64.
func (s *Sealer) Seal(purpose string, plaintext []byte) (string, error) {
	aead, err := s.aead(purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, plaintext, []byte(purpose))
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

// ErrBadSeal: the value was not sealed by this key for this purpose, or was altered.
var ErrBadSeal = errors.New("invalid or altered sealed value")

// Open decrypts what Seal returned for purpose.
func (s *Sealer) Open(purpose, sealed string) ([]byte, error) {
	ct, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, ErrBadSeal
	}
	aead, err := s.aead(purpose)
	if err != nil {
		return nil, err
	}
	if len(ct) < aead.NonceSize() {
		return nil, ErrBadSeal
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, ErrBadSeal
	}
	return pt, nil
}

func (s *Sealer) aead(purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.key("seal/"+purpose, 32))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// MAC returns a URL-safe HMAC-SHA256 of msg for purpose (CSRF tokens bound to a session).
func (s *Sealer) MAC(purpose, msg string) string {
	m := hmac.New(sha256.New, s.key("mac/"+purpose, 32))
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckMAC reports, in constant time, whether mac is MAC(purpose, msg).
func (s *Sealer) CheckMAC(purpose, msg, mac string) bool {
	return hmac.Equal([]byte(s.MAC(purpose, msg)), []byte(mac))
}
