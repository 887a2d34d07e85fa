package edit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML parses the first document of src; it refuses files holding several documents. It
// returns nil for an empty document.
func parseYAML(src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, &SyntaxError{Line: next.Line, Column: next.Column, Msg: "the file holds several YAML documents; rotor edits files with one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	return root, nil
}

// yamlError turns a yaml.v3 error into a SyntaxError. yaml.v3's parse errors describe the
// problem without quoting content.
func yamlError(err error) error {
	msg := err.Error()
	line := 0
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if strings.Contains(msg, "unmarshal") {
		msg = "unexpected structure" // decoding messages may quote values
	}
	return &SyntaxError{Line: line, Column: 1, Msg: "invalid YAML: " + msg}
}

// yamlPath is the result of walking a dot path.
type yamlPath struct {
	value    *yaml.Node // the node at the full path; nil when not found
	key      *yaml.Node // its key node
	deepest  *yaml.Node // the deepest node reached when not found
	deepKey  *yaml.Node // deepest's key node (nil for the root)
	consumed int        // segments matched
}

func yamlLookup(m *yaml.Node, name string) (k, v *yaml.Node, n int) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == name {
			if n == 0 {
				k, v = m.Content[i], m.Content[i+1]
			}
			n++
		}
	}
	return k, v, n
}

func yamlFind(root *yaml.Node, segs []string) (yamlPath, error) {
	cur := root
	var curKey *yaml.Node
	i := 0
	for i < len(segs) {
		at := strings.Join(segs[:i], ".")
		if cur.Kind == yaml.AliasNode {
			return yamlPath{}, fmt.Errorf("%s is an alias; rotor does not edit through aliases", at)
		}
		if cur.Kind != yaml.MappingNode {
			return yamlPath{deepest: cur, deepKey: curKey, consumed: i}, nil
		}
		found := false
		for k := len(segs); k > i; k-- {
			name := strings.Join(segs[i:k], ".")
			kn, vn, n := yamlLookup(cur, name)
			if n > 1 {
				return yamlPath{}, fmt.Errorf("%s: the key is defined %d times; remove the duplicates first", strings.Join(segs[:k], "."), n)
			}
			if kn != nil {
				cur, curKey, i, found = vn, kn, k, true
				break
			}
		}
		if !found {
			return yamlPath{deepest: cur, deepKey: curKey, consumed: i}, nil
		}
	}
	return yamlPath{value: cur, key: curKey, consumed: len(segs)}, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a scalar"
}

func yamlGet(src []byte, key string) (string, bool, error) {
	root, err := parseYAML(src)
	if err != nil || root == nil {
		return "", false, err
	}
	segs := strings.Split(key, ".")
	p, err := yamlFind(root, segs)
	if err != nil {
		return "", false, err
	}
	if p.value == nil {
		if p.deepest.Kind != yaml.MappingNode && !isNull(p.deepest) {
			return "", false, fmt.Errorf("%s is %s, not a mapping", strings.Join(segs[:p.consumed], "."), kindName(p.deepest))
		}
		return "", false, nil
	}
	if p.value.Kind != yaml.ScalarNode {
		return "", false, fmt.Errorf("%s is %s, not a scalar", key, kindName(p.value))
	}
	if isNull(p.value) {
		return "", false, nil
	}
	return p.value.Value, true, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// yamlOffset converts a node's line and column (in characters) to a byte offset.
func yamlOffset(src []byte, line, col int) (int, error) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			return 0, errors.New("position beyond the end of the file")
		}
		off += i + 1
	}
	for c := 1; c < col; c++ {
		if off >= len(src) || src[off] == '\n' {
			return off, nil
		}
		_, size := utf8.DecodeRune(src[off:])
		off += size
	}
	return off, nil
}

func yamlSet(src []byte, key, val string) ([]byte, error) {
	root, err := parseYAML(src)
	if err != nil {
		return nil, err
	}
	nl := newline(src)
	segs := strings.Split(key, ".")
	if root == nil {
		return appendLines(src, yamlBlock(segs, val, "", "  ", nl), nl), nil
	}
	p, err := yamlFind(root, segs)
	if err != nil {
		return nil, err
	}
	if p.value != nil {
		return yamlReplace(src, p, key, val)
	}
	return yamlInsert(src, root, p, segs, val, nl)
}

func yamlReplace(src []byte, p yamlPath, key, val string) ([]byte, error) {
	n := p.value
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("%s is %s, not a scalar: rotor replaces only scalars", key, kindName(n))
	}
	if n.Anchor != "" {
		return nil, fmt.Errorf("%s (line %d) carries an anchor; rotor does not edit anchored values", key, n.Line)
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return nil, fmt.Errorf("%s (line %d) is a block scalar (| or >); write it on one line first", key, n.Line)
	}
	if n.Style&yaml.TaggedStyle != 0 {
		return nil, fmt.Errorf("%s (line %d) has an explicit tag; remove it first", key, n.Line)
	}
	start, err := yamlOffset(src, n.Line, n.Column)
	if err != nil {
		return nil, err
	}
	lineEnd := bytes.IndexByte(src[start:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src)
	} else {
		lineEnd += start
	}
	flow := p.key != nil && isFlowValue(src, p.key, start)
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end := quotedEnd(src[start:lineEnd], '"')
		if end < 0 {
			return nil, fmt.Errorf("%s (line %d) is a quoted string over several lines; write it on one line first", key, n.Line)
		}
		return splice(src, start, start+end, yamlDouble(val)), nil
	case n.Style&yaml.SingleQuotedStyle != 0:
		end := quotedEnd(src[start:lineEnd], '\'')
		if end < 0 {
			return nil, fmt.Errorf("%s (line %d) is a quoted string over several lines; write it on one line first", key, n.Line)
		}
		return splice(src, start, start+end, yamlSingle(val)), nil
	}
	if n.Value == "" { // key: (an empty value): write after the colon
		return splice(src, start, start, " "+yamlScalar(val, flow)), nil
	}
	end := plainEnd(src[start:lineEnd], flow)
	if string(src[start:start+end]) != n.Value {
		return nil, fmt.Errorf("%s (line %d) is a plain scalar over several lines; write it on one line first", key, n.Line)
	}
	return splice(src, start, start+end, yamlScalar(val, flow)), nil
}

// isFlowValue reports whether the value starting at off is inside a flow collection: the text
// between its key and off does not end the line, and an unclosed { or [ precedes the key.
func isFlowValue(src []byte, key *yaml.Node, off int) bool {
	lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
	depth := 0
	for _, c := range src[lineStart:off] {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return depth > 0 || key.Style&yaml.FlowStyle != 0
}

// quotedEnd returns the length of the quoted scalar at the start of s (including its quotes),
// or -1 when it does not close on this line.
func quotedEnd(s []byte, q byte) int {
	for i := 1; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return -1
}

// plainEnd returns the length of the plain scalar at the start of s: up to a comment, the end
// of the line, or in a flow collection a , ] or }; trailing blanks excluded.
func plainEnd(s []byte, flow bool) int {
	end := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
			end = i
			break
		}
		if flow && (s[i] == ',' || s[i] == ']' || s[i] == '}') {
			end = i
			break
		}
	}
	for end > 0 && (s[end-1] == ' ' || s[end-1] == '\t' || s[end-1] == '\r') {
		end--
	}
	return end
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./+=~^$()-][A-Za-z0-9_./+=~^$()@%:,!*;-]*$`)

// yamlScalar writes val plain when it reads back as the same string, else double-quoted.
func yamlScalar(val string, flow bool) string {
	if plainSafe.MatchString(val) && !strings.Contains(val, ": ") && !strings.HasSuffix(val, ":") &&
		!(flow && strings.ContainsAny(val, ",[]{}")) {
		var v any
		if yaml.Unmarshal([]byte("k: "+val), &v) == nil {
			if m, ok := v.(map[string]any); ok {
				if s, ok := m["k"].(string); ok && s == val {
					return val
				}
			}
		}
	}
	return yamlDouble(val)
}

func yamlSingle(val string) string {
	for _, r := range val {
		if r < 0x20 || r == 0x7f {
			return yamlDouble(val)
		}
	}
	return "'" + strings.ReplaceAll(val, "'", "''") + "'"
}

func yamlDouble(val string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range val {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func yamlKey(seg string) string {
	s := yamlScalar(seg, false)
	if strings.ContainsAny(seg, "#") {
		return yamlDouble(seg)
	}
	return s
}

// yamlBlock renders nested block mappings for segs, the innermost holding val.
func yamlBlock(segs []string, val, indent, unit, nl string) string {
	var b strings.Builder
	for i, seg := range segs {
		b.WriteString(indent + strings.Repeat(unit, i) + yamlKey(seg) + ":")
		if i == len(segs)-1 {
			b.WriteString(" " + yamlScalar(val, false))
		}
		b.WriteString(nl)
	}
	return b.String()
}

func appendLines(src []byte, text, nl string) []byte {
	out := bytes.Clone(src)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, nl...)
	}
	return append(out, text...)
}

// yamlUnit guesses the file's indentation step from its first nested block mapping.
func yamlUnit(root *yaml.Node) string {
	var find func(n *yaml.Node) int
	find = func(n *yaml.Node) int {
		if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
			return 0
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := n.Content[i+1]
			if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
				if d := v.Content[0].Column - n.Content[i].Column; d > 0 && d <= 8 {
					return d
				}
			}
			if d := find(v); d > 0 {
				return d
			}
		}
		return 0
	}
	if d := find(root); d > 0 {
		return strings.Repeat(" ", d)
	}
	return "  "
}

func yamlInsert(src []byte, root *yaml.Node, p yamlPath, segs []string, val, nl string) ([]byte, error) {
	rest := segs[p.consumed:]
	at := strings.Join(segs[:p.consumed], ".")
	unit := yamlUnit(root)
	n := p.deepest
	switch {
	case n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0:
		return nil, fmt.Errorf("%s (line %d) is a flow mapping ({...}); add the key by hand once", at, n.Line)
	case n.Kind == yaml.MappingNode && n == root:
		return appendLines(src, yamlBlock(rest, val, "", unit, nl), nl), nil
	case n.Kind == yaml.MappingNode:
		first := n.Content[0]
		off, err := yamlOffset(src, first.Line, first.Column)
		if err != nil {
			return nil, err
		}
		lineStart := bytes.LastIndexByte(src[:off], '\n') + 1
		indent := string(src[lineStart:off])
		if strings.TrimLeft(indent, " ") != "" {
			return nil, fmt.Errorf("%s (line %d) starts on the line of a list item; add the key by hand once", at, first.Line)
		}
		return splice(src, lineStart, lineStart, yamlBlock(rest, val, indent, unit, nl)), nil
	case isNull(n) && n.Value == "" && p.deepKey != nil && p.deepKey.Style&yaml.FlowStyle == 0:
		// key: with nothing after it becomes a mapping holding the rest.
		off, err := yamlOffset(src, n.Line, n.Column)
		if err != nil {
			return nil, err
		}
		lineEnd := bytes.IndexByte(src[off:], '\n')
		if lineEnd < 0 {
			lineEnd = len(src)
		} else {
			lineEnd += off
		}
		if lineEnd > off && src[lineEnd-1] == '\r' {
			lineEnd--
		}
		keyOff, err := yamlOffset(src, p.deepKey.Line, p.deepKey.Column)
		if err != nil {
			return nil, err
		}
		indent := string(src[bytes.LastIndexByte(src[:keyOff], '\n')+1 : keyOff])
		if strings.TrimLeft(indent, " ") != "" {
			indent = strings.Repeat(" ", len([]rune(indent)))
		}
		block := yamlBlock(rest, val, indent+unit, unit, nl)
		return splice(src, lineEnd, lineEnd, nl+strings.TrimSuffix(block, nl)), nil
	}
	return nil, fmt.Errorf("%s is %s, not a mapping", at, kindName(n))
}

// yamlTree decodes src into plain Go values, for comparing documents.
func yamlTree(src []byte) (any, error) {
	root, err := parseYAML(src)
	if err != nil || root == nil {
		return nil, err
	}
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, errors.New("the document does not decode")
	}
	return v, nil
}

// setYAMLTree sets key in a decoded document the way yamlFind walks it.
func setYAMLTree(root *any, key, val string) error {
	segs := strings.Split(key, ".")
	if *root == nil {
		*root = map[string]any{}
	}
	cur, ok := (*root).(map[string]any)
	if !ok {
		return errors.New("the document is not a mapping")
	}
	i := 0
	for i < len(segs) {
		found := false
		for k := len(segs); k > i; k-- {
			name := strings.Join(segs[i:k], ".")
			v, ok := cur[name]
			if !ok {
				continue
			}
			if k == len(segs) {
				cur[name] = val
				return nil
			}
			next, isMap := v.(map[string]any)
			if v == nil {
				next, isMap = map[string]any{}, true
				cur[name] = next
			}
			if !isMap {
				return fmt.Errorf("%s is not a mapping", name)
			}
			cur, i, found = next, k, true
			break
		}
		if !found {
			for _, seg := range segs[i : len(segs)-1] {
				next := map[string]any{}
				cur[seg] = next
				cur = next
			}
			cur[segs[len(segs)-1]] = val
			return nil
		}
	}
	return nil
}
