package graph

import (
	"net/http"
	"strconv"
	"time"
)

// graphError is an error response in Graph's shape:
// {"error":{"code","message","details"?,"innerError":{"date","request-id","client-request-id"}}}.
// https://learn.microsoft.com/graph/errors
type graphError struct {
	status  int
	code    string
	message string
	details []errorDetail
	// throttled adds the innerError members of a 429 ("code":"429","status":"429", ...).
	throttled bool
}

type errorDetail struct {
	code, message, target string
}

func (e *graphError) Error() string { return e.code + ": " + e.message }

func newError(status int, code, message string) *graphError {
	return &graphError{status: status, code: code, message: message}
}

// Errors Graph returns for directory objects.
var (
	errTokenEmpty        = newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	errTokenMalformed    = newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "CompactToken parsing failed with error code: 80049217")
	errTokenInvalid      = newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure.")
	errTokenAudience     = newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	errTokenExpired      = newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	errTokenNotYetValid  = newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is not yet valid.")
	errDenied            = newError(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	errProofInvalid      = newError(http.StatusUnauthorized, "Authentication_MissingOrMalformed", "Access Token missing or malformed.")
	errMethodNotAllowed  = newError(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	errCountNeedsHeader  = newError(http.StatusBadRequest, "Request_UnsupportedQuery", "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
	errSearchNeedsHeader = newError(http.StatusBadRequest, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
	errBodyInvalid       = newError(http.StatusBadRequest, "Request_BadRequest", "Invalid request body: the request body must be a JSON object.")
)

func errNotFound(id string) *graphError {
	return newError(http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

func errBadRequest(message string) *graphError {
	return newError(http.StatusBadRequest, "Request_BadRequest", message)
}

func errUnsupportedQuery(message string) *graphError {
	return newError(http.StatusBadRequest, "Request_UnsupportedQuery", message)
}

func errNoSegment(segment string) *graphError {
	return newError(http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+segment+"'.")
}

// writeError writes e with the request's ids.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *graphError) {
	var b jw
	b.objStart()
	b.key("error")
	b.objStart()
	b.key("code")
	b.str(e.code)
	b.key("message")
	b.str(e.message)
	if len(e.details) > 0 {
		b.key("details")
		b.arrStart()
		for _, d := range e.details {
			b.objStart()
			b.key("code")
			b.str(d.code)
			b.key("message")
			b.str(d.message)
			b.key("target")
			b.str(d.target)
			b.objEnd()
		}
		b.arrEnd()
	}
	b.key("innerError")
	b.objStart()
	if e.throttled {
		b.key("code")
		b.str(strconv.Itoa(e.status))
	}
	b.key("date")
	b.str(s.clock.Now().UTC().Format("2006-01-02T15:04:05"))
	if e.throttled {
		b.key("message")
		b.str("Please retry after")
	}
	b.key("request-id")
	b.str(w.Header().Get("request-id"))
	b.key("client-request-id")
	b.str(w.Header().Get("client-request-id"))
	if e.throttled {
		b.key("status")
		b.str(strconv.Itoa(e.status))
	}
	b.objEnd()
	b.objEnd()
	b.objEnd()
	if e.status == http.StatusUnauthorized && e.code == "InvalidAuthenticationToken" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://`+r.Host+`/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	}
	s.log.Debug("graph error", "status", e.status, "code", e.code, "method", r.Method, "path", r.URL.Path, "request_id", w.Header().Get("request-id"))
	writeBody(w, e.status, b.b)
}

const jsonContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// FaultErrorWriter writes Graph's answers for faults a sim/fault injector decides (its signature
// is fault.ErrorWriter's): 429 TooManyRequests with Retry-After as Graph throttles, 500
// generalException and 503 serviceNotAvailable, each with request ids like every Graph answer.
// https://learn.microsoft.com/graph/errors
func (s *Server) FaultErrorWriter(w http.ResponseWriter, r *http.Request, status int, retryAfter time.Duration) {
	h := w.Header()
	reqID := newGUID()
	h.Set("request-id", reqID)
	if c := r.Header.Get("client-request-id"); c != "" {
		h.Set("client-request-id", c)
	} else {
		h.Set("client-request-id", reqID)
	}
	var e *graphError
	switch status {
	case http.StatusTooManyRequests:
		e = newError(status, "TooManyRequests", "Please retry again later.")
		e.throttled = true
	case http.StatusServiceUnavailable:
		e = newError(status, "serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")
	default:
		e = newError(status, "generalException", "General exception while processing.")
	}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	s.writeError(w, r, e)
}
