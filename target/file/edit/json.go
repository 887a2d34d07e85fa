package edit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// jval is a parsed JSON value with its byte span.
type jval struct {
	kind       byte // '{', '[', '"', '0' (number), 't', 'f', 'n' (null)
	start, end int
	members    []jmember // objects, in order
	elems      []*jval   // arrays
	str        string    // strings, decoded
}

type jmember struct {
	key      string
	keyStart int
	val      *jval
}

func (v *jval) kindName() string {
	switch v.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 'n':
		return "null"
	default:
		return "a boolean"
	}
}

const maxDepth = 512

type jparser struct {
	src []byte
	pos int
}

// parseJSON parses a JSON document as .NET's configuration reads it: // and /* */ comments and
// trailing commas are allowed, a UTF-8 byte order mark is skipped. It returns nil for a file
// holding only whitespace and comments.
func parseJSON(src []byte) (*jval, error) {
	p := &jparser{src: src}
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		p.pos = 3
	}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if p.pos == len(src) {
		return nil, nil
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if p.pos != len(src) {
		return nil, p.errorf("unexpected content after the end of the document")
	}
	return v, nil
}

func (p *jparser) errorf(format string, args ...any) error {
	return syntaxErr(p.src, p.pos, "invalid JSON: "+format, args...)
}

// skip skips whitespace and comments.
func (p *jparser) skip() error {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/':
			i := bytes.IndexByte(p.src[p.pos:], '\n')
			if i < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += i + 1
			}
		case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '*':
			i := bytes.Index(p.src[p.pos+2:], []byte("*/"))
			if i < 0 {
				return p.errorf("unterminated /* comment")
			}
			p.pos += i + 4
		default:
			return nil
		}
	}
	return nil
}

func (p *jparser) value(depth int) (*jval, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	if p.pos >= len(p.src) {
		return nil, p.errorf("unexpected end of file, expected a value")
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jval{kind: '"', start: start, end: p.pos, str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		for p.pos < len(p.src) && strings.IndexByte("+-0123456789.eE", p.src[p.pos]) >= 0 {
			p.pos++
		}
		if !json.Valid(p.src[start:p.pos]) {
			p.pos = start
			return nil, p.errorf("invalid number")
		}
		return &jval{kind: '0', start: start, end: p.pos}, nil
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.src[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return &jval{kind: lit[0], start: start, end: p.pos}, nil
			}
		}
		return nil, p.errorf("unexpected character, expected a value")
	}
}

func (p *jparser) string() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '\\':
			p.pos += 2
		case c == '"':
			p.pos++
			var s string
			if err := json.Unmarshal(p.src[start:p.pos], &s); err != nil {
				p.pos = start
				return "", p.errorf("invalid escape in string")
			}
			return s, nil
		case c < 0x20:
			return "", p.errorf("control character or line break in string")
		default:
			p.pos++
		}
	}
	p.pos = start
	return "", p.errorf("unterminated string")
}

func (p *jparser) object(depth int) (*jval, error) {
	v := &jval{kind: '{', start: p.pos}
	p.pos++
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errorf("unexpected end of file in object")
		}
		if p.src[p.pos] == '}' {
			p.pos++
			v.end = p.pos
			return v, nil
		}
		if p.src[p.pos] != '"' {
			return nil, p.errorf("expected a quoted key or }")
		}
		keyStart := p.pos
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("expected : after key")
		}
		p.pos++
		if err := p.skip(); err != nil {
			return nil, err
		}
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.members = append(v.members, jmember{key: key, keyStart: keyStart, val: val})
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			continue
		}
		if p.pos >= len(p.src) {
			return nil, p.errorf("unexpected end of file in object")
		}
		return nil, p.errorf("expected , or } after a member")
	}
}

func (p *jparser) array(depth int) (*jval, error) {
	v := &jval{kind: '[', start: p.pos}
	p.pos++
	for {
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) {
			return nil, p.errorf("unexpected end of file in array")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			v.end = p.pos
			return v, nil
		}
		e, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, e)
		if err := p.skip(); err != nil {
			return nil, err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			continue
		}
		if p.pos >= len(p.src) {
			return nil, p.errorf("unexpected end of file in array")
		}
		return nil, p.errorf("expected , or ] after an element")
	}
}

// member finds seg in object v: an exact match, else the one case-insensitive match.
func (v *jval) member(seg, path string) (*jmember, error) {
	var exact, folded []*jmember
	for i := range v.members {
		m := &v.members[i]
		if m.key == seg {
			exact = append(exact, m)
		} else if strings.EqualFold(m.key, seg) {
			folded = append(folded, m)
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0], nil
	case len(exact) > 1:
		return nil, fmt.Errorf("%s: the key is defined %d times; remove the duplicates first", path, len(exact))
	case len(folded) == 1:
		return folded[0], nil
	case len(folded) > 1:
		return nil, fmt.Errorf("%s: %d keys match when case is ignored, as .NET does; remove the duplicates first", path, len(folded))
	}
	return nil, nil
}

// jsonFind walks key. It returns the value found, or the deepest object reached and how many
// segments were found.
func jsonFind(root *jval, segs []string) (found *jval, deepest *jval, depth int, err error) {
	cur := root
	for i, seg := range segs {
		path := strings.Join(segs[:i+1], ":")
		switch cur.kind {
		case '{':
			m, err := cur.member(seg, path)
			if err != nil {
				return nil, nil, 0, err
			}
			if m == nil {
				return nil, cur, i, nil
			}
			cur = m.val
		case '[':
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 {
				return nil, nil, 0, fmt.Errorf("%s: %s is an array; address its elements by index", path, strings.Join(segs[:i], ":"))
			}
			if n >= len(cur.elems) {
				return nil, nil, 0, fmt.Errorf("%s: the array %s has %d elements; rotor does not add elements", path, strings.Join(segs[:i], ":"), len(cur.elems))
			}
			cur = cur.elems[n]
		default:
			return nil, nil, 0, fmt.Errorf("%s: %s is %s, not an object", path, strings.Join(segs[:i], ":"), cur.kindName())
		}
	}
	return cur, nil, len(segs), nil
}

func jsonGet(src []byte, key string) (string, bool, error) {
	root, err := parseJSON(src)
	if err != nil || root == nil {
		return "", false, err
	}
	segs := strings.Split(key, ":")
	v, _, _, err := jsonFind(root, segs)
	if err != nil || v == nil {
		return "", false, err
	}
	switch v.kind {
	case '"':
		return v.str, true, nil
	case 'n':
		return "", false, nil
	}
	return "", false, fmt.Errorf("%s is %s, not a string", key, v.kindName())
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

func jsonSet(src []byte, key, val string) ([]byte, error) {
	root, err := parseJSON(src)
	if err != nil {
		return nil, err
	}
	segs := strings.Split(key, ":")
	nl := newline(src)
	if root == nil {
		body := "{" + nl + "  " + jsonMember(segs, val, "  ", "  ", nl, true) + nl + "}" + nl
		return append(bytes.Clone(src), body...), nil
	}
	if root.kind != '{' {
		return nil, fmt.Errorf("the document is %s, not an object", root.kindName())
	}
	v, obj, depth, err := jsonFind(root, segs)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if v.kind != '"' && v.kind != 'n' {
			return nil, fmt.Errorf("%s is %s, not a string: rotor replaces only strings (or null)", key, v.kindName())
		}
		return splice(src, v.start, v.end, jsonString(val)), nil
	}
	return jsonInsert(src, root, obj, segs[depth:], val, nl), nil
}

// jsonMember renders "seg": value for the remaining segments, nesting objects.
func jsonMember(segs []string, val, indent, unit, nl string, multiline bool) string {
	k := jsonString(segs[0])
	if len(segs) == 1 {
		return k + ": " + jsonString(val)
	}
	if !multiline {
		return k + ": {" + jsonMember(segs[1:], val, indent, unit, nl, false) + "}"
	}
	inner := indent + unit
	return k + ": {" + nl + inner + jsonMember(segs[1:], val, inner, unit, nl, true) + nl + indent + "}"
}

// lineIndent returns the whitespace that starts the line holding off.
func lineIndent(src []byte, off int) string {
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	end := start
	for end < len(src) && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return string(src[start:end])
}

// lineEndAfter returns where a member can be added after off: the end of off's line when only
// whitespace or a // comment follows off on it, else off itself.
func lineEndAfter(src []byte, off int) int {
	end := bytes.IndexByte(src[off:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += off
	}
	rest := strings.TrimSpace(string(src[off:end]))
	if rest != "" && !strings.HasPrefix(rest, "//") {
		return off
	}
	if end > off && src[end-1] == '\r' {
		end--
	}
	return end
}

func jsonInsert(src []byte, root, obj *jval, segs []string, val, nl string) []byte {
	objIndent := lineIndent(src, obj.start)
	multiline := bytes.IndexByte(src[obj.start:obj.end], '\n') >= 0 || obj == root
	if len(obj.members) == 0 {
		if !multiline {
			return splice(src, obj.start+1, obj.start+1, jsonMember(segs, val, objIndent, "  ", nl, false))
		}
		ind := objIndent + "  "
		text := nl + ind + jsonMember(segs, val, ind, "  ", nl, true)
		if bytes.IndexByte(src[obj.start:obj.end], '\n') < 0 {
			text += nl + objIndent // {} on one line becomes {\n  "k": v\n}
		}
		return splice(src, obj.start+1, obj.start+1, text)
	}
	first := obj.members[0]
	multiline = bytes.IndexByte(src[obj.start:first.keyStart], '\n') >= 0
	last := obj.members[len(obj.members)-1].val
	if !multiline {
		return splice(src, last.end, last.end, ", "+jsonMember(segs, val, objIndent, "  ", nl, false))
	}
	ind := lineIndent(src, first.keyStart)
	unit := strings.TrimPrefix(ind, objIndent)
	if unit == ind || unit == "" {
		unit = "  "
	}
	member := nl + ind + jsonMember(segs, val, ind, unit, nl, true)
	// A trailing comma after the last member stays trailing.
	p := &jparser{src: src, pos: last.end}
	if p.skip() == nil && p.pos < len(src) && src[p.pos] == ',' {
		at := lineEndAfter(src, p.pos+1)
		return splice(src, at, at, member+",")
	}
	at := lineEndAfter(src, last.end)
	out := splice(src, at, at, member)
	return splice(out, last.end, last.end, ",")
}

// jsonTree converts a document to plain Go values, for comparing documents.
func jsonTree(src []byte) (any, error) {
	root, err := parseJSON(src)
	if err != nil || root == nil {
		return nil, err
	}
	return root.tree(src), nil
}

func (v *jval) tree(src []byte) any {
	switch v.kind {
	case '{':
		m := make(map[string]any, len(v.members))
		for _, mb := range v.members {
			m[mb.key] = mb.val.tree(src)
		}
		return m
	case '[':
		a := make([]any, len(v.elems))
		for i, e := range v.elems {
			a[i] = e.tree(src)
		}
		return a
	case '"':
		return v.str
	case 'n':
		return nil
	default:
		return string(src[v.start:v.end])
	}
}

// setTree sets the value at key (segments separated by sep) in a tree of maps, creating maps.
func setTree(root *any, key, sep, val string, fold bool) error {
	if *root == nil {
		*root = map[string]any{}
	}
	cur := *root
	segs := strings.Split(key, sep)
	for i, seg := range segs {
		switch c := cur.(type) {
		case map[string]any:
			k := seg
			if _, ok := c[k]; !ok && fold {
				for existing := range c {
					if strings.EqualFold(existing, seg) {
						k = existing
					}
				}
			}
			if i == len(segs)-1 {
				c[k] = val
				return nil
			}
			next, ok := c[k]
			if !ok || next == nil {
				next = map[string]any{}
				c[k] = next
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(c) {
				return fmt.Errorf("bad index %q", seg)
			}
			if i == len(segs)-1 {
				c[n] = val
				return nil
			}
			cur = c[n]
		default:
			return fmt.Errorf("%s is not a container", strings.Join(segs[:i], sep))
		}
	}
	return nil
}
