package graph

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Filter is an OData $filter expression built only through Eq, StartsWith, And and Or, so that
// every value in it is validated and quoted.
type Filter struct{ expr string }

// String returns the expression.
func (f Filter) String() string { return f.expr }

// filterable lists the properties rotor filters on, and whether values must be GUIDs.
var filterable = map[string]bool{"id": true, "appId": true, "displayName": false}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Eq filters property equal to value.
func Eq(property, value string) (Filter, error) {
	q, err := literal(property, value)
	if err != nil {
		return Filter{}, err
	}
	return Filter{property + " eq " + q}, nil
}

// StartsWith filters property starting with prefix.
func StartsWith(property, prefix string) (Filter, error) {
	q, err := literal(property, prefix)
	if err != nil {
		return Filter{}, err
	}
	return Filter{"startswith(" + property + "," + q + ")"}, nil
}

// And joins filters that must all hold.
func And(fs ...Filter) Filter { return combine("and", fs) }

// Or joins filters of which one must hold.
func Or(fs ...Filter) Filter { return combine("or", fs) }

func combine(op string, fs []Filter) Filter {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		if f.expr != "" {
			parts = append(parts, "("+f.expr+")")
		}
	}
	return Filter{strings.Join(parts, " "+op+" ")}
}

// literal validates value for property and returns it as an OData string literal: quoted, with
// single quotes doubled. Control characters are refused outright.
// https://learn.microsoft.com/graph/query-parameters#escaping-single-quotes
func literal(property, value string) (string, error) {
	guid, ok := filterable[property]
	if !ok {
		return "", fmt.Errorf("graph: filtering on %q is not supported", property)
	}
	if guid && !guidRE.MatchString(value) {
		return "", fmt.Errorf("graph: %s %q is not a GUID", property, value)
	}
	if value == "" || len(value) > 256 {
		return "", fmt.Errorf("graph: %s value must be 1 to 256 characters", property)
	}
	for _, r := range value {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("graph: %s value contains a control character", property)
		}
	}
	return "'" + strings.ReplaceAll(value, "'", "''") + "'", nil
}
