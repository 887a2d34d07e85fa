// Package edit reads and replaces one value in a configuration file's bytes, changing nothing
// else: comments, order, spacing and line endings stay as they were, and only the bytes of the
// value (or, when a key is added, the lines that hold it) differ. It works on bytes so that the
// file step and agents on other hosts share it.
//
// Formats and their key syntax:
//
//	json  a colon path as .NET configuration writes it: Entra:ClientSecret (keys match
//	      case-insensitively, as .NET does; a number addresses an array element). Comments and
//	      trailing commas, which .NET's JSON configuration accepts, are kept.
//	yaml  a dot path: entra.client_secret. A key holding dots (spring.datasource.password at
//	      the top level, as Spring allows) matches too; the longest existing key wins.
//	env   a variable name: ENTRA_CLIENT_SECRET (optionally written "export NAME=value").
//	ini   section.key (the key of the section, case-insensitively); a key without a section
//	      is before the first section header.
//	raw   no key: the whole file is the value.
//
// Every edit is checked by parsing the result again: it must hold the new value at the key and
// be otherwise equal to the input. Errors never quote the file's content (it may hold secrets):
// they give positions and describe the structure.
package edit

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/rotorhq/rotor/secret"
)

// Format is a configuration file format.
type Format string

const (
	JSON Format = "json"
	YAML Format = "yaml"
	Env  Format = "env"
	INI  Format = "ini"
	Raw  Format = "raw"
)

// Formats lists the supported formats.
var Formats = []Format{JSON, YAML, Env, INI, Raw}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q: use json, yaml, env, ini or raw", s)
}

// FormatOf guesses a file's format from its name: .json, .yaml/.yml, .env (and name.env,
// .env.local), .ini/.cfg/.conf. It reports false when the name says nothing.
func FormatOf(path string) (Format, bool) {
	base := strings.ToLower(filepath.Base(path))
	switch ext := filepath.Ext(base); {
	case ext == ".json":
		return JSON, true
	case ext == ".yaml" || ext == ".yml":
		return YAML, true
	case ext == ".env" || base == ".env" || strings.HasPrefix(base, ".env."):
		return Env, true
	case ext == ".ini" || ext == ".cfg" || ext == ".conf":
		return INI, true
	}
	return "", false
}

// CheckKey validates key's syntax for f.
func CheckKey(f Format, key string) error {
	switch f {
	case Raw:
		if key != "" {
			return errors.New("a raw file has no key: the whole file is the value")
		}
		return nil
	case Env:
		if !validEnvName(key) {
			return fmt.Errorf("%q is not an environment variable name (letters, digits and _, not starting with a digit)", key)
		}
		return nil
	}
	if key == "" {
		return errors.New("a key is required")
	}
	sep := map[Format]string{JSON: ":", YAML: ".", INI: "."}[f]
	if f == INI {
		if strings.HasSuffix(key, ".") || strings.HasPrefix(key, ".") {
			return fmt.Errorf("%q: want section.key or key", key)
		}
		return nil
	}
	for _, seg := range strings.Split(key, sep) {
		if seg == "" {
			return fmt.Errorf("%q has an empty segment (segments are separated by %q)", key, sep)
		}
	}
	return nil
}

// SyntaxError says where a file does not parse. It never quotes the file's content.
type SyntaxError struct {
	Line, Column int // 1-based
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// ErrNotFound is wrapped when the key (or a part of its path) is not in the file.
var ErrNotFound = errors.New("key not found")

// Get returns the value at key. found is false (with a nil error) when the key is absent.
func Get(f Format, src []byte, key string) (v secret.Value, found bool, err error) {
	if err := CheckKey(f, key); err != nil {
		return secret.Value{}, false, err
	}
	var s string
	switch f {
	case Raw:
		if len(src) == 0 {
			return secret.Value{}, false, nil
		}
		return secret.FromBytes(bytes.TrimRight(src, "\r\n")), true, nil
	case JSON:
		s, found, err = jsonGet(src, key)
	case YAML:
		s, found, err = yamlGet(src, key)
	case Env:
		s, found, err = envGet(src, key)
	case INI:
		s, found, err = iniGet(src, key)
	default:
		return secret.Value{}, false, fmt.Errorf("unknown format %q", f)
	}
	if err != nil || !found {
		return secret.Value{}, false, err
	}
	return secret.New(s), true, nil
}

// Set returns src with the value at key replaced by v, or added when absent (with the objects,
// mappings or section leading to it). The rest of src is kept byte for byte.
func Set(f Format, src []byte, key string, v secret.Value) ([]byte, error) {
	if err := CheckKey(f, key); err != nil {
		return nil, err
	}
	val := v.Reveal()
	var out []byte
	var err error
	switch f {
	case Raw:
		out = []byte(val)
		if bytes.HasSuffix(src, []byte("\r\n")) {
			out = append(out, "\r\n"...)
		} else if bytes.HasSuffix(src, []byte("\n")) {
			out = append(out, '\n')
		}
		return out, nil
	case JSON:
		out, err = jsonSet(src, key, val)
	case YAML:
		out, err = yamlSet(src, key, val)
	case Env:
		out, err = envSet(src, key, val)
	case INI:
		out, err = iniSet(src, key, val)
	default:
		return nil, fmt.Errorf("unknown format %q", f)
	}
	if err != nil {
		return nil, err
	}
	if err := verify(f, src, out, key, val); err != nil {
		return nil, err
	}
	return out, nil
}

// verify parses before and after and requires after to be before with the value at key set.
func verify(f Format, before, after []byte, key, val string) error {
	got, found, err := Get(f, after, key)
	if err != nil {
		return fmt.Errorf("internal error: the edited file does not parse (%v); nothing was written", err)
	}
	if !found || got.Reveal() != val {
		return errors.New("the value could not be written in place (an unusual quoting or layout at the key); nothing was written")
	}
	var a, b any
	switch f {
	case JSON:
		a, err = jsonTree(before)
		if err == nil {
			b, err = jsonTree(after)
		}
		if err == nil {
			err = setTree(&a, key, ":", val, true)
		}
	case YAML:
		a, err = yamlTree(before)
		if err == nil {
			b, err = yamlTree(after)
		}
		if err == nil {
			err = setYAMLTree(&a, key, val)
		}
	case Env:
		a, b = envTree(before), envTree(after)
		a.(map[string]string)[key] = val
	case INI:
		a, b = iniTree(before), iniTree(after)
		iniSetTree(a.(map[string]map[string]string), key, val)
	}
	if err != nil {
		return fmt.Errorf("internal error: %v; nothing was written", err)
	}
	if !reflect.DeepEqual(a, b) {
		return errors.New("internal error: the edit would change more than the value at the key; nothing was written")
	}
	return nil
}

// lineCol converts a byte offset into a 1-based line and column (in characters).
func lineCol(src []byte, off int) (int, int) {
	off = min(off, len(src))
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	return line, 1 + len([]rune(string(src[start:off])))
}

func syntaxErr(src []byte, off int, format string, args ...any) *SyntaxError {
	l, c := lineCol(src, off)
	return &SyntaxError{Line: l, Column: c, Msg: fmt.Sprintf(format, args...)}
}

// newline returns the file's line ending: \r\n when its first line ends so, else \n.
func newline(src []byte) string {
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

func validEnvName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

func splice(src []byte, start, end int, repl string) []byte {
	out := make([]byte, 0, len(src)-(end-start)+len(repl))
	out = append(out, src[:start]...)
	out = append(out, repl...)
	return append(out, src[end:]...)
}
