package graph

import (
	"fmt"
	"strings"

	"github.com/rotorhq/rotor/sim/directory"
)

// predicate is a compiled $filter.
type predicate func(s directory.Summary) bool

// filterable are the properties $filter accepts, per resource: the ones rotor and its operators
// look applications up by. Directory string comparisons are case-insensitive.
var filterable = map[string]func(directory.Summary) string{
	"id":          func(s directory.Summary) string { return s.ID },
	"appid":       func(s directory.Summary) string { return s.AppID },
	"displayname": func(s directory.Summary) string { return s.DisplayName },
}

// parseFilter compiles a $filter expression: comparisons with eq (and ne in advanced queries) and
// in, the functions startswith (and endswith in advanced queries), combined with and, or, not and
// parentheses. resource names the type in errors ("Application").
// https://learn.microsoft.com/graph/filter-query-parameter
// https://learn.microsoft.com/graph/aad-advanced-queries
func parseFilter(src, resource string, advanced bool) (predicate, *graphError) {
	toks, pos, ok := lexFilter(src)
	if !ok {
		return nil, syntaxError(src, pos)
	}
	p := &filterParser{src: src, toks: toks, resource: resource, advanced: advanced}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, syntaxError(src, p.toks[p.i].pos)
	}
	return pred, nil
}

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // identifiers as written; string literals unquoted
	pos  int
}

func lexFilter(s string) ([]token, int, bool) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '\'':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, start, false
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{tString, b.String(), start})
		case c >= '0' && c <= '9' || c == '-':
			start := i
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '-' || s[i] == '.' || s[i] >= 'a' && s[i] <= 'f' || s[i] >= 'A' && s[i] <= 'F') {
				i++
			}
			toks = append(toks, token{tNumber, s[start:i], start})
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			start := i
			for i < len(s) && (s[i] == '_' || s[i] == '/' || s[i] == '.' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9') {
				i++
			}
			toks = append(toks, token{tIdent, s[start:i], start})
		default:
			return nil, i, false
		}
	}
	return toks, 0, true
}

type filterParser struct {
	src      string
	toks     []token
	i        int
	resource string
	advanced bool
}

func (p *filterParser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

func (p *filterParser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && t.kind == tIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) expect(k tokKind) (token, *graphError) {
	t, ok := p.peek()
	if !ok {
		return token{}, syntaxError(p.src, len(p.src))
	}
	if t.kind != k {
		return token{}, syntaxError(p.src, t.pos)
	}
	p.i++
	return t, nil
}

func (p *filterParser) or() (predicate, *graphError) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(s directory.Summary) bool { return l(s) || right(s) }
	}
	return left, nil
}

func (p *filterParser) and() (predicate, *graphError) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(s directory.Summary) bool { return l(s) && right(s) }
	}
	return left, nil
}

func (p *filterParser) unary() (predicate, *graphError) {
	if p.keyword("not") {
		if !p.advanced {
			return nil, advancedOnly("not")
		}
		inner, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(s directory.Summary) bool { return !inner(s) }, nil
	}
	return p.primary()
}

func (p *filterParser) primary() (predicate, *graphError) {
	t, ok := p.peek()
	if !ok {
		return nil, syntaxError(p.src, len(p.src))
	}
	if t.kind == tLParen {
		p.i++
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return inner, nil
	}
	if t.kind != tIdent {
		return nil, syntaxError(p.src, t.pos)
	}
	p.i++
	if next, ok := p.peek(); ok && next.kind == tLParen {
		return p.function(t)
	}
	get, gerr := p.property(t)
	if gerr != nil {
		return nil, gerr
	}
	op, ok := p.peek()
	if !ok || op.kind != tIdent {
		return nil, syntaxError(p.src, len(p.src))
	}
	p.i++
	switch strings.ToLower(op.text) {
	case "eq", "ne":
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(op.text, "ne") {
			if !p.advanced {
				return nil, advancedOnly("ne")
			}
			return func(s directory.Summary) bool { return !strings.EqualFold(get(s), lit) }, nil
		}
		return func(s directory.Summary) bool { return strings.EqualFold(get(s), lit) }, nil
	case "in":
		if _, err := p.expect(tLParen); err != nil {
			return nil, err
		}
		var set []string
		for {
			lit, err := p.literal()
			if err != nil {
				return nil, err
			}
			set = append(set, lit)
			if t, ok := p.peek(); ok && t.kind == tComma {
				p.i++
				continue
			}
			break
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return func(s directory.Summary) bool {
			v := get(s)
			for _, x := range set {
				if strings.EqualFold(v, x) {
					return true
				}
			}
			return false
		}, nil
	case "gt", "ge", "lt", "le":
		return nil, errUnsupportedQuery(fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", t.text, p.resource))
	default:
		return nil, syntaxError(p.src, op.pos)
	}
}

func (p *filterParser) function(name token) (predicate, *graphError) {
	fn := strings.ToLower(name.text)
	switch fn {
	case "startswith", "endswith":
	default:
		return nil, newError(400, "BadRequest", fmt.Sprintf("Invalid filter clause: An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", name.text))
	}
	if fn == "endswith" && !p.advanced {
		return nil, advancedOnly("endsWith")
	}
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	prop, err := p.expect(tIdent)
	if err != nil {
		return nil, err
	}
	get, gerr := p.property(prop)
	if gerr != nil {
		return nil, gerr
	}
	if _, err := p.expect(tComma); err != nil {
		return nil, err
	}
	lit, err := p.literal()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	if fn == "endswith" {
		return func(s directory.Summary) bool {
			v := get(s)
			return len(v) >= len(lit) && strings.EqualFold(v[len(v)-len(lit):], lit)
		}, nil
	}
	return func(s directory.Summary) bool {
		v := get(s)
		return len(v) >= len(lit) && strings.EqualFold(v[:len(lit)], lit)
	}, nil
}

func (p *filterParser) property(t token) (func(directory.Summary) string, *graphError) {
	get, ok := filterable[strings.ToLower(t.text)]
	if !ok {
		return nil, errUnsupportedQuery(fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource '%s'.", t.text, p.resource))
	}
	return get, nil
}

// literal reads a string literal. Graph also accepts unquoted GUIDs for id comparisons.
func (p *filterParser) literal() (string, *graphError) {
	t, ok := p.peek()
	if !ok {
		return "", syntaxError(p.src, len(p.src))
	}
	switch {
	case t.kind == tString:
		p.i++
		return t.text, nil
	case t.kind == tNumber && directory.IsGUID(t.text):
		p.i++
		return t.text, nil
	case t.kind == tNumber:
		return "", newError(400, "BadRequest", "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.")
	}
	return "", syntaxError(p.src, t.pos)
}

func syntaxError(src string, pos int) *graphError {
	return newError(400, "BadRequest", fmt.Sprintf("Invalid filter clause: Syntax error at position %d in '%s'.", pos, src))
}

func advancedOnly(op string) *graphError {
	return errUnsupportedQuery(fmt.Sprintf("Operator '%s' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information", op))
}
