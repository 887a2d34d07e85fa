package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
)

// Error lists every problem found in a configuration, each with its field path and line.
type Error struct {
	File string
	Errs []rotor.FieldError
}

func (e *Error) Error() string {
	var b strings.Builder
	n := len(e.Errs)
	fmt.Fprintf(&b, "%s: %d problem", e.File, n)
	if n != 1 {
		b.WriteString("s")
	}
	for _, fe := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// NodeDecoder is implemented by types that decode themselves from a YAML scalar or node.
// Returned errors are reported at the node's path and line.
type NodeDecoder interface {
	DecodeNode(n *yaml.Node) error
}

// Decoder decodes YAML nodes into Go values described by `yaml:"name"` tags, collecting every error
// with its path and line instead of stopping at the first. Options in the tag:
//
//	required  the key must be present
//	rest      (on a *yaml.Node field) receives the mapping of keys the struct does not name,
//	          instead of those keys being errors; the type of a polymorphic section decodes them
//
// Unknown keys, duplicate keys, wrong kinds and unparsable scalars are errors. ${NAME} and
// ${NAME:-default} in scalar values are replaced from the environment; $$ is a literal $.
type Decoder struct {
	LookupEnv func(string) (string, bool)
	// NoExpand leaves ${...} alone: settings that come from the API are data, and must not read
	// the server's environment.
	NoExpand bool
	errs     []rotor.FieldError
	lines    map[string]int
}

// NewDecoder returns a decoder reading the environment through lookupEnv.
func NewDecoder(lookupEnv func(string) (string, bool)) *Decoder {
	return &Decoder{LookupEnv: lookupEnv, lines: map[string]int{}}
}

// Errs returns the errors collected so far, ordered by line.
func (d *Decoder) Errs() []rotor.FieldError {
	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
	return d.errs
}

// Errorf records an error at path, on the line where path was decoded (or the nearest parent's).
func (d *Decoder) Errorf(path, format string, args ...any) {
	d.errs = append(d.errs, rotor.FieldError{Path: path, Line: d.Line(path), Msg: fmt.Sprintf(format, args...)})
}

// Has reports whether path was present in the decoded document (even with a value in error).
func (d *Decoder) Has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// Line returns the line where path (or, failing that, its nearest decoded parent) was found.
func (d *Decoder) Line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func (d *Decoder) errAt(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, rotor.FieldError{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

var nodeType = reflect.TypeFor[yaml.Node]()

// Decode decodes n into the value v points to, naming fields from path.
func (d *Decoder) Decode(n *yaml.Node, v any, path string) {
	d.decode(n, reflect.ValueOf(v).Elem(), path)
}

func (d *Decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Tag == "!!null" {
		return // an explicit null leaves the default
	}
	if v.Kind() == reflect.Pointer {
		if v.Type().Elem() == nodeType {
			cp := *n
			v.Set(reflect.ValueOf(&cp))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if nd, ok := v.Addr().Interface().(NodeDecoder); ok {
		expanded, err := d.expandNode(n)
		if err != nil {
			d.errAt(n, path, "%v", err)
			return
		}
		if err := nd.DecodeNode(expanded); err != nil {
			d.errAt(n, path, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errAt(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errAt(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		if v.Type().Key().Kind() != reflect.String {
			panic("config: map keys must be strings")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				d.errAt(k, path+"."+k.Value, "duplicate key")
				continue
			}
			seen[k.Value] = true
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errAt(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	type field struct {
		index    int
		required bool
	}
	fields := map[string]field{}
	var names []string
	rest := -1
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "rest" {
			rest = i
			continue
		}
		fields[name] = field{index: i, required: opts == "required"}
		names = append(names, name)
	}
	seen := map[string]bool{}
	var restNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := join(path, k.Value)
		if seen[k.Value] {
			d.errAt(k, fp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		f, ok := fields[k.Value]
		if !ok {
			if rest >= 0 {
				if restNode == nil {
					restNode = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
				}
				restNode.Content = append(restNode.Content, k, val)
				d.lines[fp] = k.Line
				continue
			}
			d.errAt(k, fp, "unknown field%s", suggest(k.Value, names))
			continue
		}
		d.lines[fp] = k.Line
		d.decode(val, v.Field(f.index), fp)
	}
	if rest >= 0 && restNode != nil {
		v.Field(rest).Set(reflect.ValueOf(restNode))
	}
	for _, name := range names {
		if fields[name].required && !seen[name] {
			d.errAt(n, join(path, name), "required field is missing")
		}
	}
}

func (d *Decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errAt(n, path, "expected a %s, got %s", v.Kind(), kindName(n))
		return
	}
	s, err := d.expand(n.Value)
	if err != nil {
		d.errAt(n, path, "%v", err)
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			d.errAt(n, path, "%q is not a boolean: use true or false", s)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.errAt(n, path, "%q is not an integer", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.errAt(n, path, "%q is not a number", s)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s at %s", v.Type(), path))
	}
}

// ExpandNode returns n with ${...} expanded in scalars (a copy; n is not modified).
func (d *Decoder) ExpandNode(n *yaml.Node) (*yaml.Node, error) { return d.expandNode(n) }

func (d *Decoder) expandNode(n *yaml.Node) (*yaml.Node, error) {
	cp := *n
	if n.Kind == yaml.ScalarNode {
		s, err := d.expand(n.Value)
		if err != nil {
			return nil, err
		}
		cp.Value = s
		return &cp, nil
	}
	cp.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		e, err := d.expandNode(c)
		if err != nil {
			return nil, err
		}
		cp.Content[i] = e
	}
	return &cp, nil
}

var errUnclosed = errors.New("unclosed ${ in value (write $$ for a literal $)")

// expand replaces ${NAME} and ${NAME:-default}; $$ is a literal $.
func (d *Decoder) expand(s string) (string, error) {
	if d.NoExpand || !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errUnclosed
			}
			expr := s[i+2 : i+end]
			name, def, hasDef := strings.Cut(expr, ":-")
			if !validEnvName(name) {
				return "", fmt.Errorf("${%s}: not a valid environment variable name", expr)
			}
			val, ok := d.LookupEnv(name)
			switch {
			case ok && val != "":
				b.WriteString(val)
			case hasDef:
				b.WriteString(def)
			case ok:
				return "", fmt.Errorf("environment variable %s is empty (write ${%s:-default} for a default)", name, name)
			default:
				return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} for a default)", name, name)
			}
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// suggest returns ` (did you mean "x"?)` for the known name closest to got, when close enough.
func suggest(got string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := levenshtein(got, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
