package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rotorhq/rotor/config"
)

// Lists are keyset-paged: a page answers at most limit items and, when there may be more, an
// opaque next_cursor to pass as ?cursor= for the next page. Cursors encode the position of the
// last item (never an offset), so paging stays fast deep into a 100,000-row list and does not
// skip or repeat items when rows are added meanwhile.

const maxLimit = 500

// page is the shape of every list answer.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// encodeCursor encodes a keyset position.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// fetchPage reads one keyset page: it asks fetch for one item more than *limit (and leaves *limit
// so), and when that item comes there is a next page, whose cursor is made from the last item kept.
func fetchPage[T any](limit *int, fetch func() ([]T, error), cursor func(last T) any) ([]T, string, error) {
	n := *limit
	*limit = n + 1
	items, err := fetch()
	if err != nil {
		return nil, "", err
	}
	if len(items) <= n {
		return items, "", nil
	}
	items = items[:n]
	return items, encodeCursor(cursor(items[n-1])), nil
}

// decodeCursor decodes ?cursor= into v; an empty cursor leaves v alone and returns false.
func decodeCursor(q url.Values, v any) (bool, error) {
	c := q.Get("cursor")
	if c == "" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || json.Unmarshal(b, v) != nil {
		return false, invalid(fieldError{"cursor", "not a cursor this list returned (use next_cursor as it came)"})
	}
	return true, nil
}

// limitOf parses ?limit= (default def, at most maxLimit).
func limitOf(q url.Values, def int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, invalid(fieldError{"limit", "use a number from 1 to " + strconv.Itoa(maxLimit)})
	}
	return n, nil
}

// query reads and validates query parameters, collecting every problem.
type query struct {
	q    url.Values
	errs []fieldError
}

func newQuery(r *http.Request) *query { return &query{q: r.URL.Query()} }

func (q *query) str(name string) string { return strings.TrimSpace(q.q.Get(name)) }

// list returns a parameter given several times or comma-separated.
func (q *query) list(name string) []string {
	var out []string
	for _, v := range q.q[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (q *query) duration(name string) time.Duration {
	s := q.str(name)
	if s == "" {
		return 0
	}
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		q.errs = append(q.errs, fieldError{name, "a positive duration such as 30d, 12h or 90m"})
		return 0
	}
	return d
}

func (q *query) boolean(name string) *bool {
	s := q.str(name)
	if s == "" {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.errs = append(q.errs, fieldError{name, "true or false"})
		return nil
	}
	return &b
}

func (q *query) time(name string) time.Time {
	s := q.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		q.errs = append(q.errs, fieldError{name, "an RFC 3339 time such as 2026-11-21T09:00:00Z"})
	}
	return t
}

func (q *query) oneOf(name string, allowed ...string) string {
	s := q.str(name)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	q.errs = append(q.errs, fieldError{name, "one of " + strings.Join(allowed, ", ")})
	return ""
}

func (q *query) limit(def int) int {
	n, err := limitOf(q.q, def)
	if err != nil {
		q.errs = append(q.errs, fieldError{"limit", "use a number from 1 to " + strconv.Itoa(maxLimit)})
	}
	return n
}

// cursor decodes ?cursor= into v.
func (q *query) cursor(v any) bool {
	ok, err := decodeCursor(q.q, v)
	if err != nil {
		q.errs = append(q.errs, fieldError{"cursor", "not a cursor this list returned (use next_cursor as it came)"})
	}
	return ok
}

func (q *query) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	return invalid(q.errs...)
}
