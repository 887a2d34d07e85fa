// Package seal encrypts secret values at rest with envelope encryption: each value is sealed with
// AES-256-GCM under a fresh random data key, and the data key is wrapped (AES-256-GCM) by a key
// encryption key (KEK) that never enters the database. The KEK's id travels in every ciphertext,
// so several KEKs can be loaded while `rotor keys rotate` rewraps data keys from an old KEK to
// the current one without decrypting any value.
//
// Ciphertext layout (version 1):
//
//	0x01 | len(kekID) (1 byte) | kekID | wrapped data key (12-byte nonce + 32 + 16-byte tag)
//	     | value nonce (12 bytes) | sealed value + 16-byte tag
//
// The caller's additional data (e.g. rotation id and key id) is authenticated with the value, so
// a ciphertext copied onto another row does not open.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rotorhq/rotor/secret"
)

const (
	version    = 1
	keySize    = 32
	nonceSize  = 12
	tagSize    = 16
	wrappedLen = nonceSize + keySize + tagSize
)

// KEK is a key encryption key.
type KEK struct {
	id   string
	aead cipher.AEAD
}

// ID identifies the KEK in ciphertexts: "kek-" and the first 8 bytes of the SHA-256 of the key,
// in hex, so the same key always has the same id and different keys (practically) never share one.
func (k *KEK) ID() string { return k.id }

// NewKEK makes a KEK from 32 raw key bytes.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("seal: key encryption key must be %d bytes, got %d", keySize, len(key))
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &KEK{id: "kek-" + hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ParseKEK reads a KEK written as base64 (standard or URL alphabet, padding optional) of 32
// random bytes, as `rotor keys generate` prints it.
func ParseKEK(v secret.Value) (*KEK, error) {
	b, err := DecodeKEK(v)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return NewKEK(b)
}

// DecodeKEK returns the 32 raw bytes of a KEK written as ParseKEK reads it. The caller should
// clear them once used.
func DecodeKEK(v secret.Value) ([]byte, error) {
	b, ok := DecodeBase64(v)
	if !ok {
		return nil, errors.New("seal: key encryption key is not base64 (generate one with rotor keys generate)")
	}
	if len(b) != keySize {
		n := len(b)
		clear(b)
		return nil, fmt.Errorf("seal: key encryption key must be %d bytes, got %d", keySize, n)
	}
	return b, nil
}

// DecodeBase64 decodes v written in base64, standard or URL alphabet, padded or not, around
// white space, as keys are written in files and environment variables.
func DecodeBase64(v secret.Value) ([]byte, bool) {
	s := strings.TrimSpace(v.Reveal())
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// GenerateKEK returns a new random KEK encoded as base64.
func GenerateKEK() (secret.Value, error) {
	b := make([]byte, keySize)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return secret.Value{}, fmt.Errorf("seal: generate key: %w", err)
	}
	return secret.New(base64.StdEncoding.EncodeToString(b)), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// Keyring seals with its current KEK and opens with any of its KEKs.
type Keyring struct {
	current *KEK
	byID    map[string]*KEK
}

// NewKeyring returns a keyring sealing with current and also opening with old.
func NewKeyring(current *KEK, old ...*KEK) *Keyring {
	r := &Keyring{current: current, byID: map[string]*KEK{current.id: current}}
	for _, k := range old {
		r.byID[k.id] = k
	}
	return r
}

// Current returns the id of the KEK new values are sealed with.
func (r *Keyring) Current() string { return r.current.id }

// Seal encrypts v, binding it to ad, and returns the ciphertext.
func (r *Keyring) Seal(v secret.Value, ad []byte) ([]byte, error) {
	dek := make([]byte, keySize)
	if _, err := io.ReadFull(rand.Reader, dek); err != nil {
		return nil, fmt.Errorf("seal: data key: %w", err)
	}
	wrapped, err := wrap(r.current, dek)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := header(r.current.id)
	out = append(out, wrapped...)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, v.RevealBytes(), ad), nil
}

// Open decrypts a ciphertext made by Seal with the same ad.
func (r *Keyring) Open(ct, ad []byte) (secret.Value, error) {
	kekID, wrapped, body, err := split(ct)
	if err != nil {
		return secret.Value{}, err
	}
	k, ok := r.byID[kekID]
	if !ok {
		return secret.Value{}, fmt.Errorf("seal: sealed with key %s, which is not loaded", kekID)
	}
	dek, err := unwrap(k, wrapped)
	if err != nil {
		return secret.Value{}, err
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return secret.Value{}, err
	}
	plain, err := aead.Open(nil, body[:nonceSize], body[nonceSize:], ad)
	if err != nil {
		return secret.Value{}, errors.New("seal: value does not open: wrong additional data or tampered ciphertext")
	}
	return secret.FromBytes(plain), nil
}

// KeyID returns the id of the KEK a ciphertext was sealed with.
func KeyID(ct []byte) (string, error) {
	id, _, _, err := split(ct)
	return id, err
}

// Rewrap re-encrypts a ciphertext's data key under the current KEK; the sealed value itself is
// untouched. A ciphertext already under the current KEK is returned unchanged.
func (r *Keyring) Rewrap(ct []byte) ([]byte, error) {
	kekID, wrapped, body, err := split(ct)
	if err != nil {
		return nil, err
	}
	if kekID == r.current.id {
		return ct, nil
	}
	k, ok := r.byID[kekID]
	if !ok {
		return nil, fmt.Errorf("seal: sealed with key %s, which is not loaded", kekID)
	}
	dek, err := unwrap(k, wrapped)
	if err != nil {
		return nil, err
	}
	rewrapped, err := wrap(r.current, dek)
	if err != nil {
		return nil, err
	}
	out := header(r.current.id)
	out = append(out, rewrapped...)
	return append(out, body...), nil
}

func header(kekID string) []byte {
	out := make([]byte, 0, 2+len(kekID)+wrappedLen+nonceSize+64)
	out = append(out, version, byte(len(kekID)))
	return append(out, kekID...)
}

func split(ct []byte) (kekID string, wrapped, body []byte, err error) {
	if len(ct) < 2 || ct[0] != version {
		return "", nil, nil, errors.New("seal: not a sealed value (unknown version)")
	}
	n := int(ct[1])
	if len(ct) < 2+n+wrappedLen+nonceSize+tagSize {
		return "", nil, nil, errors.New("seal: sealed value is truncated")
	}
	kekID = string(ct[2 : 2+n])
	wrapped = ct[2+n : 2+n+wrappedLen]
	body = ct[2+n+wrappedLen:]
	return kekID, wrapped, body, nil
}

// wrapAD binds a wrapped data key to the KEK that wrapped it.
func wrapAD(kekID string) []byte { return []byte("rotor/seal/v1/dek/" + kekID) }

func wrap(k *KEK, dek []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return k.aead.Seal(bytes.Clone(nonce), nonce, dek, wrapAD(k.id)), nil
}

func unwrap(k *KEK, wrapped []byte) ([]byte, error) {
	dek, err := k.aead.Open(nil, wrapped[:nonceSize], wrapped[nonceSize:], wrapAD(k.id))
	if err != nil {
		return nil, fmt.Errorf("seal: data key does not unwrap with key %s", k.id)
	}
	return dek, nil
}
