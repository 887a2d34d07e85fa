package secret

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Ref names where a secret is kept: "env:NAME" (an environment variable) or "file:/path" (a file,
// trailing newline trimmed). The configuration holds refs, never secret values.
type Ref string

// ParseRef checks that s is a well-formed reference.
func ParseRef(s string) (Ref, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return "", errors.New(`must be a reference "env:NAME" or "file:/path", not a value`)
	}
	switch scheme {
	case "env":
		if !validEnvName(rest) {
			return "", fmt.Errorf("env:%s: not a valid environment variable name", rest)
		}
	case "file":
		if !strings.HasPrefix(rest, "/") {
			return "", fmt.Errorf("file:%s: path must be absolute", rest)
		}
	default:
		return "", fmt.Errorf("unknown reference scheme %q: use env:NAME or file:/path", scheme)
	}
	return Ref(s), nil
}

// IsZero reports whether no reference was given.
func (r Ref) IsZero() bool { return r == "" }

// Resolve reads the secret the reference names. lookupEnv is os.LookupEnv in production.
func (r Ref) Resolve(lookupEnv func(string) (string, bool)) (Value, error) {
	scheme, rest, _ := strings.Cut(string(r), ":")
	switch scheme {
	case "env":
		v, ok := lookupEnv(rest)
		if !ok || v == "" {
			return Value{}, fmt.Errorf("secret %s: environment variable %s is not set", r, rest)
		}
		return New(v), nil
	case "file":
		b, err := os.ReadFile(rest)
		if err != nil {
			return Value{}, fmt.Errorf("secret %s: %w", r, err)
		}
		b = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(b) == 0 {
			return Value{}, fmt.Errorf("secret %s: file is empty", r)
		}
		return FromBytes(b), nil
	}
	return Value{}, fmt.Errorf("secret %q: not a reference", string(r))
}

func validEnvName(s string) bool {
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// DecodeNode lets the configuration decoder read a Ref, rejecting values that are not references.
func (r *Ref) DecodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New(`expected a reference "env:NAME" or "file:/path"`)
	}
	ref, err := ParseRef(n.Value)
	if err != nil {
		return err
	}
	*r = ref
	return nil
}
