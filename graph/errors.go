package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
)

// Error is a Graph error response.
// https://learn.microsoft.com/graph/errors
type Error struct {
	Method     string
	URL        string // without query values
	StatusCode int
	Code       string // Graph's error code, e.g. Request_ResourceNotFound
	Message    string
	RequestID  string
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := fmt.Sprintf("graph %s %s: %d", e.Method, e.URL, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request-id " + e.RequestID + ")"
	}
	return s
}

// Graph error codes rotor reacts to. Classification is by status code first and these codes
// second, never by message text.
const (
	CodeResourceNotFound    = "Request_ResourceNotFound"
	CodeSyncStateNotFound   = "syncStateNotFound"
	CodeSyncStateInvalid    = "syncStateInvalid"
	CodeResyncRequired      = "resyncRequired"
	CodeAuthorizationDenied = "Authorization_RequestDenied"
	CodeInvalidAuthToken    = "InvalidAuthenticationToken"
	CodeCredentialLimit     = "KeyCredentialsOrPasswordCredentialsLimitExceeded"
)

// Class returns how a caller should react to the error.
func (e *Error) Class() rotor.ErrorClass {
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return rotor.ClassThrottled
	case e.StatusCode == http.StatusNotFound || e.Code == CodeResourceNotFound:
		return rotor.ClassNotFound
	case e.StatusCode == http.StatusRequestTimeout, e.StatusCode >= 500:
		return rotor.ClassTransient
	default:
		return rotor.ClassPermanent
	}
}

// classified wraps e so that rotor.ClassOf and errors.Is(rotor.ErrNotFound) work on it.
func (e *Error) classified() error {
	c := e.Class()
	var err error = e
	if c == rotor.ClassNotFound {
		err = fmt.Errorf("%w: %w", e, rotor.ErrNotFound)
	}
	return &rotor.ClassifiedError{Class: c, RetryAfter: e.RetryAfter, Err: err}
}

// DeltaExpired reports whether err says a stored delta link is no longer known to the service,
// so a full sync must start over.
// https://learn.microsoft.com/graph/delta-query-overview#synchronization-reset
func DeltaExpired(err error) bool {
	var ge *Error
	if !errors.As(err, &ge) {
		return false
	}
	if ge.StatusCode == http.StatusGone {
		return true
	}
	switch ge.Code {
	case CodeSyncStateNotFound, CodeSyncStateInvalid, CodeResyncRequired:
		return true
	}
	return false
}

// Ambiguous reports whether a write that failed with err may nevertheless have been applied:
// the request may have reached Graph and its answer was lost (a transport error, a timeout, a
// 5xx). A 4xx (including 429) means the write was refused and did not happen.
func Ambiguous(err error) bool {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.StatusCode >= 500 || ge.StatusCode == http.StatusRequestTimeout
	}
	return err != nil
}

func parseError(method, u string, resp *http.Response, body []byte, now func() time.Time) *Error {
	e := &Error{Method: method, URL: u, StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("request-id"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		if e.RequestID == "" {
			e.RequestID = env.Error.InnerError.RequestID
		}
	}
	return e
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now func() time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now()); d > 0 {
			return d
		}
	}
	return 0
}
