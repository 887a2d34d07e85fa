package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// stsError is an error of the Entra security token service.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes#handling-error-codes-in-your-application
type stsError struct {
	status int    // HTTP status
	err    string // OAuth 2.0 error: invalid_request, invalid_client, ...
	code   int    // AADSTS code
	msg    string // description after "AADSTSnnnn: "
}

func (e *stsError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.code, e.msg) }

// OAuth 2.0 error classes and the statuses Entra answers them with: client authentication failures
// are 401, everything else 400.
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#error-response
func errInvalidRequest(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusBadRequest, err: "invalid_request", code: code, msg: fmt.Sprintf(format, a...)}
}

func errInvalidClient(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusUnauthorized, err: "invalid_client", code: code, msg: fmt.Sprintf(format, a...)}
}

func errUnauthorizedClient(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusBadRequest, err: "unauthorized_client", code: code, msg: fmt.Sprintf(format, a...)}
}

func errInvalidScope(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusBadRequest, err: "invalid_scope", code: code, msg: fmt.Sprintf(format, a...)}
}

func errInvalidResource(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusBadRequest, err: "invalid_resource", code: code, msg: fmt.Sprintf(format, a...)}
}

func errUnsupportedGrant(code int, format string, a ...any) *stsError {
	return &stsError{status: http.StatusBadRequest, err: "unsupported_grant_type", code: code, msg: fmt.Sprintf(format, a...)}
}

// AADSTS error codes the simulator returns.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes#aadsts-error-codes
const (
	codeMissingParameter         = 900144  // the request body must contain parameter X
	codeUnsupportedGrantType     = 70003   // the app requested an unsupported grant type
	codeTenantNotFound           = 90002   // InvalidTenantName
	codeNoTenantInfo             = 50059   // MissingTenantRealmAndNoUserInformationProvided
	codeInvalidInstance          = 50049   // unknown or invalid instance (instance discovery)
	codeAppNotFound              = 700016  // UnauthorizedClient_DoesNotMatchRequest
	codeMissingServicePrincipal  = 7000229 // the client application is missing a service principal
	codeAppDisabled              = 7000112 // UnauthorizedClientApplicationDisabled
	codeNoCredential             = 7000218 // client_assertion or client_secret required
	codeInvalidSecret            = 7000215 // invalid client secret provided
	codeExpiredSecret            = 7000222 // the client secret keys are expired
	codeMalformedJWT             = 50027   // JWT token is invalid or malformed
	codeAssertionSignature       = 700027  // client assertion failed signature validation
	codeAssertionAppIDMismatch   = 700021  // client assertion application identifier mismatch
	codeAssertionAudience        = 700023  // client assertion audience claim does not match
	codeAssertionTime            = 700024  // client assertion is not within its valid time range
	codeInvalidScope             = 70011   // the provided value for the input parameter 'scope' isn't valid
	codeScopeNeedsDefault        = 1002012 // client credential flows need a /.default scope
	codeResourceNotFound         = 500011  // the resource principal was not found in the tenant
	codeUnsupportedAssertionType = 70002   // client_assertion_type not supported
)

// writeSTSError writes e in Entra's error body shape. trace_id is a fresh id; correlation_id echoes
// the client-request-id header MSAL sends.
func (s *Server) writeSTSError(w http.ResponseWriter, r *http.Request, e *stsError) {
	now := s.clock.Now().UTC()
	ts := now.Format("2006-01-02 15:04:05Z")
	trace := s.newID()
	corr := correlationID(r, s.newID)
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", e.code, e.msg, trace, corr, ts)
	body := struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorCodes       []int  `json:"error_codes"`
		Timestamp        string `json:"timestamp"`
		TraceID          string `json:"trace_id"`
		CorrelationID    string `json:"correlation_id"`
		ErrorURI         string `json:"error_uri"`
	}{e.err, desc, []int{e.code}, ts, trace, corr, "https://" + r.Host + "/error?code=" + strconv.Itoa(e.code)}
	s.log.Debug("sts error", "code", e.code, "error", e.err, "path", r.URL.Path, "correlation_id", corr)
	h := w.Header()
	h.Set("x-ms-request-id", trace)
	writeJSON(w, e.status, body)
}

func correlationID(r *http.Request, gen func() string) string {
	if id := r.Header.Get("client-request-id"); id != "" {
		return id
	}
	return gen()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// FaultErrorWriter writes the token endpoint's answers for faults a sim/fault injector decides
// (its signature is fault.ErrorWriter's), in Entra's error shape: 500 server_error (AADSTS50000)
// and, for 429 and 503, temporarily_unavailable (AADSTS90033, "a transient error has occurred"),
// with Retry-After when given. Entra documents no throttling body for the token endpoint; these
// are the transient codes its reference lists.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
func (s *Server) FaultErrorWriter(w http.ResponseWriter, r *http.Request, status int, retryAfter time.Duration) {
	e := &stsError{status: status, err: "server_error", code: 50000, msg: "There was an error issuing a token or an issue with our sign-in service."}
	if status != http.StatusInternalServerError {
		e = &stsError{status: status, err: "temporarily_unavailable", code: 90033, msg: "A transient error has occurred. Please try again."}
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	s.writeSTSError(w, r, e)
}
