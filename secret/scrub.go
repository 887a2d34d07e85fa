package secret

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// Scrub returns s with every occurrence of each value replaced by [REDACTED]: the clear text and
// the forms a program is likely to print it in (JSON-escaped, base64). Use it on text that comes
// from outside rotor and may echo a secret, such as a script's output or a response body.
func Scrub(s string, values ...Value) string {
	for _, v := range values {
		if v.IsZero() {
			continue
		}
		for _, form := range forms(v) {
			if form != "" {
				s = strings.ReplaceAll(s, form, Redacted)
			}
		}
	}
	return s
}

func forms(v Value) []string {
	clear := string(v.b)
	quoted, _ := json.Marshal(clear)
	escaped := strings.Trim(string(quoted), `"`)
	return []string{
		clear,
		escaped,
		base64.StdEncoding.EncodeToString(v.b),
		base64.RawStdEncoding.EncodeToString(v.b),
		base64.URLEncoding.EncodeToString(v.b),
		base64.RawURLEncoding.EncodeToString(v.b),
	}
}

// Contains reports whether s holds any value in one of the forms Scrub removes. Tests use it to
// assert that nothing secret reached a log, an error or a message.
func Contains(s string, values ...Value) bool {
	for _, v := range values {
		if v.IsZero() {
			continue
		}
		for _, form := range forms(v) {
			if form != "" && strings.Contains(s, form) {
				return true
			}
		}
	}
	return false
}
