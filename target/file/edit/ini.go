package edit

import (
	"bytes"
	"fmt"
	"strings"
)

type iniEntry struct {
	key              string
	valStart, valEnd int
	quoted           bool
	value            string
	line             int
	lineEnd          int    // offset after the entry's line (its newline included)
	sep              string // the bytes between key and value, e.g. " = "
}

type iniSection struct {
	name      string // "" before the first header
	line      int
	headerEnd int // offset after the header line
	entries   []iniEntry
}

// parseINI parses [section] headers and key = value (or key: value) lines; ; and # start
// comment lines. Values are not unquoted except for one pair of surrounding double quotes.
func parseINI(src []byte) ([]*iniSection, error) {
	secs := []*iniSection{{name: ""}}
	cur := secs[0]
	pos := 0
	for pos < len(src) {
		lineStart := pos
		lineEnd := bytes.IndexByte(src[pos:], '\n')
		next := len(src)
		if lineEnd < 0 {
			lineEnd = len(src)
		} else {
			lineEnd += pos
			next = lineEnd + 1
		}
		pos = next
		content := lineEnd
		if content > lineStart && src[content-1] == '\r' {
			content--
		}
		i := lineStart
		for i < content && (src[i] == ' ' || src[i] == '\t') {
			i++
		}
		lineNo := 1 + bytes.Count(src[:lineStart], []byte("\n"))
		if i == content || src[i] == ';' || src[i] == '#' {
			continue
		}
		if src[i] == '[' {
			end := bytes.IndexByte(src[i:content], ']')
			if end < 0 {
				return nil, syntaxErr(src, i, "invalid INI: section header without ]")
			}
			after := strings.TrimSpace(string(src[i+end+1 : content]))
			if after != "" && after[0] != ';' && after[0] != '#' {
				return nil, syntaxErr(src, i+end+1, "invalid INI: unexpected text after the section header")
			}
			cur = &iniSection{name: strings.TrimSpace(string(src[i+1 : i+end])), line: lineNo, headerEnd: next}
			secs = append(secs, cur)
			continue
		}
		sep := bytes.IndexAny(src[i:content], "=:")
		if sep <= 0 {
			return nil, syntaxErr(src, i, "invalid INI: expected key = value")
		}
		keyEnd := i + sep
		key := strings.TrimSpace(string(src[i:keyEnd]))
		vs := keyEnd + 1
		for vs < content && (src[vs] == ' ' || src[vs] == '\t') {
			vs++
		}
		ve := content
		for ve > vs && (src[ve-1] == ' ' || src[ve-1] == '\t') {
			ve--
		}
		trimmedKeyEnd := i + len(strings.TrimRight(string(src[i:keyEnd]), " \t"))
		e := iniEntry{key: key, valStart: vs, valEnd: ve, line: lineNo, lineEnd: next, value: string(src[vs:ve]), sep: string(src[trimmedKeyEnd:vs])}
		if len(e.value) >= 2 && e.value[0] == '"' && e.value[len(e.value)-1] == '"' {
			e.quoted = true
			e.value = e.value[1 : len(e.value)-1]
		}
		cur.entries = append(cur.entries, e)
	}
	return secs, nil
}

// iniResolve finds where key lives: the section and the entry (nil when the key is absent), or
// the section and key name to create.
func iniResolve(secs []*iniSection, key string) (sec *iniSection, name string, entry *iniEntry, err error) {
	type split struct{ sec, key string }
	var splits []split
	for i := len(key) - 1; i > 0; i-- {
		if key[i] == '.' {
			splits = append(splits, split{key[:i], key[i+1:]})
		}
	}
	splits = append(splits, split{"", key})
	findSec := func(name string) (*iniSection, error) {
		var found *iniSection
		for _, s := range secs {
			if strings.EqualFold(s.name, name) {
				if found != nil && name != "" {
					return nil, fmt.Errorf("section [%s] appears twice (lines %d and %d); merge them first", name, found.line, s.line)
				}
				if found == nil {
					found = s
				}
			}
		}
		return found, nil
	}
	var firstExisting *iniSection
	var firstName string
	for _, sp := range splits {
		s, err := findSec(sp.sec)
		if err != nil {
			return nil, "", nil, err
		}
		if s == nil || (sp.sec == "" && len(splits) > 1) {
			continue
		}
		var e *iniEntry
		for i := range s.entries {
			if strings.EqualFold(s.entries[i].key, sp.key) {
				if e != nil {
					return nil, "", nil, fmt.Errorf("%s is defined twice (lines %d and %d); remove one first", key, e.line, s.entries[i].line)
				}
				e = &s.entries[i]
			}
		}
		if e != nil {
			return s, sp.key, e, nil
		}
		if firstExisting == nil {
			firstExisting, firstName = s, sp.key
		}
	}
	if firstExisting != nil {
		return firstExisting, firstName, nil, nil
	}
	if len(splits) == 1 {
		return secs[0], key, nil, nil
	}
	return nil, splits[0].key, nil, nil // a new section named splits[0].sec
}

func iniGet(src []byte, key string) (string, bool, error) {
	secs, err := parseINI(src)
	if err != nil {
		return "", false, err
	}
	_, _, e, err := iniResolve(secs, key)
	if err != nil || e == nil {
		return "", false, err
	}
	return e.value, true, nil
}

func iniValue(val string, quoted bool) string {
	if quoted || strings.TrimSpace(val) != val || (strings.HasPrefix(val, `"`) && strings.HasSuffix(val, `"`)) {
		return `"` + val + `"`
	}
	return val
}

func iniSet(src []byte, key, val string) ([]byte, error) {
	if strings.ContainsAny(val, "\r\n") {
		return nil, fmt.Errorf("an INI value cannot span lines")
	}
	secs, err := parseINI(src)
	if err != nil {
		return nil, err
	}
	sec, name, e, err := iniResolve(secs, key)
	if err != nil {
		return nil, err
	}
	if e != nil {
		return splice(src, e.valStart, e.valEnd, iniValue(val, e.quoted)), nil
	}
	nl := newline(src)
	if sec == nil {
		secName := key[:len(key)-len(name)-1]
		text := "[" + secName + "]" + nl + name + " = " + iniValue(val, false) + nl
		if len(src) > 0 {
			text = nl + text
		}
		return appendLines(src, text, nl), nil
	}
	sep, at := " = ", sec.headerEnd
	if n := len(sec.entries); n > 0 {
		sep, at = sec.entries[n-1].sep, sec.entries[n-1].lineEnd
	}
	line := name + sep + iniValue(val, false) + nl
	if at > 0 && src[at-1] != '\n' { // the last line had no newline
		line = nl + line
	}
	return splice(src, at, at, line), nil
}

func iniTree(src []byte) map[string]map[string]string {
	secs, _ := parseINI(src)
	m := map[string]map[string]string{}
	for _, s := range secs {
		name := strings.ToLower(s.name)
		if m[name] == nil {
			m[name] = map[string]string{}
		}
		for _, e := range s.entries {
			m[name][strings.ToLower(e.key)] = e.value
		}
	}
	return m
}

// iniSetTree sets key the way iniSet does, in a tree from iniTree.
func iniSetTree(m map[string]map[string]string, key, val string) {
	var splits [][2]string
	for i := len(key) - 1; i > 0; i-- {
		if key[i] == '.' {
			splits = append(splits, [2]string{strings.ToLower(key[:i]), strings.ToLower(key[i+1:])})
		}
	}
	if len(splits) == 0 {
		m[""][strings.ToLower(key)] = val
		return
	}
	for _, sp := range splits {
		if s, ok := m[sp[0]]; ok {
			if _, ok := s[sp[1]]; ok {
				s[sp[1]] = val
				return
			}
		}
	}
	for _, sp := range splits {
		if s, ok := m[sp[0]]; ok {
			s[sp[1]] = val
			return
		}
	}
	m[splits[0][0]] = map[string]string{splits[0][1]: val}
}
