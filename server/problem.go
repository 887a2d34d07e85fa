package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rotorhq/rotor"
)

// apiError is an error answered as problem details (RFC 9457) by the API and as an error page or
// form message by the UI.
type apiError struct {
	Status int
	Type   string // a slug: the problem type is urn:rotor:problem:<slug>
	Title  string
	Detail string
	Fields []fieldError
	header http.Header // extra response headers (WWW-Authenticate)
}

// fieldError names what is wrong with one field of a request.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	if e.Detail != "" {
		return e.Title + ": " + e.Detail
	}
	return e.Title
}

// problem is the RFC 9457 body.
type problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []fieldError `json:"errors,omitempty"`
}

func badRequest(detail string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: "bad-request", Title: "Bad request", Detail: fmt.Sprintf(detail, args...)}
}

// invalid reports fields that fail validation (422).
func invalid(fields ...fieldError) *apiError {
	var msgs []string
	for _, f := range fields {
		msgs = append(msgs, f.Field+": "+f.Message)
	}
	return &apiError{Status: http.StatusUnprocessableEntity, Type: "invalid", Title: "Invalid request",
		Detail: strings.Join(msgs, "; "), Fields: fields}
}

func notFoundf(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Type: "conflict", Title: "Conflict", Detail: fmt.Sprintf(format, args...)}
}

// asAPIError classifies any error for an answer. Store errors name what was not found or
// conflicted; anything else is an internal error whose details stay in the log.
func (s *Server) asAPIError(r *http.Request, err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, rotor.ErrNotFound):
		return notFoundf("%s", err.Error())
	case errors.Is(err, rotor.ErrConflict):
		return conflictf("%s", err.Error())
	}
	s.log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return &apiError{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal error",
		Detail: "rotor could not complete the request; its log has the details"}
}

// fail answers err in the style of the route kind.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, kind routeKind, err error) {
	ae := s.asAPIError(r, err)
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if kind == kindPage && acceptsHTML(r) {
		s.errorPage(w, r, ae)
		return
	}
	writeProblem(w, r, ae)
}

func acceptsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "text/html") || strings.Contains(a, "*/*")
}

func writeProblem(w http.ResponseWriter, r *http.Request, ae *apiError) {
	p := problem{Type: "urn:rotor:problem:" + ae.Type, Title: ae.Title, Status: ae.Status, Detail: ae.Detail,
		Instance: r.URL.Path, Errors: ae.Fields}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(ae.Status)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// readJSON decodes a JSON request body into v, refusing unknown fields and oversized bodies.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &apiError{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type", Title: "Unsupported media type",
			Detail: "send application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the body is not valid JSON for this request: %v", err)
	}
	if dec.More() {
		return badRequest("the body holds more than one JSON value")
	}
	return nil
}
