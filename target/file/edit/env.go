package edit

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// envLine is one NAME=value assignment of a dotenv file.
type envLine struct {
	key              string
	valStart, valEnd int  // the value's bytes, quotes included
	quote            byte // 0, '\'' or '"'
	value            string
	line             int
}

var envKeyRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*`)

// parseEnv parses a dotenv file: NAME=value lines, optionally prefixed with "export", values
// unquoted (a " #" starts a comment), 'single-quoted' (literal) or "double-quoted" (with \
// escapes, possibly over several lines); # comment lines and blank lines.
func parseEnv(src []byte) ([]envLine, error) {
	var out []envLine
	pos := 0
	for pos < len(src) {
		lineStart := pos
		lineEnd := bytes.IndexByte(src[pos:], '\n')
		if lineEnd < 0 {
			lineEnd = len(src)
		} else {
			lineEnd += pos
		}
		next := lineEnd + 1
		i := pos
		for i < lineEnd && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		rest := strings.TrimRight(string(src[i:lineEnd]), "\r")
		if rest == "" || rest[0] == '#' {
			pos = next
			continue
		}
		if strings.HasPrefix(rest, "export ") || strings.HasPrefix(rest, "export\t") {
			i += len("export")
			for i < lineEnd && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
		}
		key := envKeyRe.Find(src[i:lineEnd])
		if key == nil {
			return nil, syntaxErr(src, i, "invalid env file: expected NAME=value")
		}
		i += len(key)
		for i < lineEnd && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		if i >= lineEnd || src[i] != '=' {
			return nil, syntaxErr(src, i, "invalid env file: expected = after the name")
		}
		i++
		for i < lineEnd && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		e := envLine{key: string(key), valStart: i, line: 1 + bytes.Count(src[:lineStart], []byte("\n"))}
		if i < len(src) && (src[i] == '"' || src[i] == '\'') {
			q := src[i]
			e.quote = q
			j := i + 1
			var b strings.Builder
			for ; j < len(src) && src[j] != q; j++ {
				if q == '"' && src[j] == '\\' && j+1 < len(src) {
					j++
					switch src[j] {
					case 'n':
						b.WriteByte('\n')
					case 'r':
						b.WriteByte('\r')
					case 't':
						b.WriteByte('\t')
					case '"', '\\', '$', '`':
						b.WriteByte(src[j])
					default:
						b.WriteByte('\\')
						b.WriteByte(src[j])
					}
					continue
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, syntaxErr(src, i, "invalid env file: unterminated quoted value")
			}
			e.valEnd = j + 1
			e.value = b.String()
			lineEnd = bytes.IndexByte(src[e.valEnd:], '\n')
			if lineEnd < 0 {
				lineEnd = len(src)
			} else {
				lineEnd += e.valEnd
			}
			next = lineEnd + 1
			after := strings.TrimSpace(string(src[e.valEnd:lineEnd]))
			if after != "" && after[0] != '#' {
				return nil, syntaxErr(src, e.valEnd, "invalid env file: unexpected text after the closing quote")
			}
		} else {
			end := plainEnd(src[i:lineEnd], false)
			e.valEnd = i + end
			e.value = string(src[i:e.valEnd])
		}
		out = append(out, e)
		pos = next
	}
	return out, nil
}

func envFind(lines []envLine, key string) (*envLine, error) {
	var found *envLine
	for i := range lines {
		if lines[i].key == key {
			if found != nil {
				return nil, fmt.Errorf("%s is defined twice (lines %d and %d); remove one first", key, found.line, lines[i].line)
			}
			found = &lines[i]
		}
	}
	return found, nil
}

func envGet(src []byte, key string) (string, bool, error) {
	lines, err := parseEnv(src)
	if err != nil {
		return "", false, err
	}
	e, err := envFind(lines, key)
	if err != nil || e == nil {
		return "", false, err
	}
	return e.value, true, nil
}

var envPlainRe = regexp.MustCompile(`^[A-Za-z0-9_./~+:@%^,=-]+$`)

// envValue encodes val, in the quoting style of the value it replaces when that can hold it.
func envValue(val string, quote byte) string {
	switch {
	case quote == 0 && envPlainRe.MatchString(val):
		return val
	case quote != '"' && !strings.ContainsAny(val, "'\n\r"):
		return "'" + val + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`", "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(val) + `"`
}

func envSet(src []byte, key, val string) ([]byte, error) {
	lines, err := parseEnv(src)
	if err != nil {
		return nil, err
	}
	e, err := envFind(lines, key)
	if err != nil {
		return nil, err
	}
	if e != nil {
		return splice(src, e.valStart, e.valEnd, envValue(val, e.quote)), nil
	}
	nl := newline(src)
	return appendLines(src, key+"="+envValue(val, 0)+nl, nl), nil
}

func envTree(src []byte) map[string]string {
	lines, _ := parseEnv(src)
	m := map[string]string{}
	for _, e := range lines {
		m[e.key] = e.value
	}
	return m
}
