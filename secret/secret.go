// Package secret holds secret values so that they never print, and resolves references to secrets
// kept outside the configuration (env:NAME, file:/path).
package secret

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// Redacted is what a Value prints as, everywhere.
const Redacted = "[REDACTED]"

// Value is a secret: a client secret, a private key, a token. It prints as [REDACTED] through
// fmt (every verb), slog, encoding/json and encoding.TextMarshaler. The only way to read it is
// Reveal, which makes every use greppable.
//
// The zero Value is empty. Values are immutable: New copies its input and Reveal returns a copy.
type Value struct {
	b []byte
}

// New returns a Value holding a copy of s.
func New(s string) Value { return Value{b: []byte(s)} }

// FromBytes returns a Value holding a copy of b.
func FromBytes(b []byte) Value { return Value{b: bytes.Clone(b)} }

// Reveal returns the secret in clear. Call it only where the value leaves rotor for its
// destination (a request body, a sealed store, a target).
func (v Value) Reveal() string { return string(v.b) }

// RevealBytes returns a copy of the secret's bytes.
func (v Value) RevealBytes() []byte { return bytes.Clone(v.b) }

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return len(v.b) == 0 }

// Len returns the length of the secret in bytes.
func (v Value) Len() int { return len(v.b) }

// Equal compares two values in constant time.
func (v Value) Equal(o Value) bool { return subtle.ConstantTimeCompare(v.b, o.b) == 1 }

// String implements fmt.Stringer.
func (Value) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Value) GoString() string { return "secret.Value(" + Redacted + ")" }

// Format implements fmt.Formatter so that every verb, including %x and %q, prints [REDACTED].
func (Value) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, "secret.Value("+Redacted+")")
		return
	}
	fmt.Fprint(f, Redacted)
}

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, XML, map keys).
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// UnmarshalJSON reads a JSON string into the value, so that a secret returned by an API goes
// straight from the response into a Value. (MarshalJSON still writes [REDACTED].)
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("secret value: expected a JSON string") // never echo the input
	}
	v.b = []byte(s)
	return nil
}
