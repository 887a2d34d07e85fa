package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/auth"
)

// specChecker validates API answers recorded by the tests against openapi.yaml: each request
// must match an operation of the document, and its answer's status, headers and body that
// operation's responses. It remembers which operations were exercised.
type specChecker struct {
	doc    *openapi3.T
	router routers.Router

	mu      sync.Mutex
	covered map[string]bool // operationId -> an answer was validated
}

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	spec, err := loadSpec()
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()), "openapi.yaml is a valid OpenAPI 3 document")
	return doc
}

func newSpecChecker(t *testing.T) *specChecker {
	t.Helper()
	doc := loadDoc(t)
	doc.Servers = openapi3.Servers{{URL: "http://rotor.test/api/v1"}}
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &specChecker{doc: doc, router: r, covered: map[string]bool{}}
}

func (c *specChecker) check(t *testing.T, method, path string, body []byte, ct string, header map[string]string, rec *httptest.ResponseRecorder) {
	t.Helper()
	hr, err := http.NewRequest(method, "http://rotor.test"+path, bytes.NewReader(body))
	require.NoError(t, err)
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	route, params, err := c.router.FindRoute(hr)
	if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
		if err != nil {
			return // an unknown path or method: the document rightly lacks it
		}
	}
	require.NoError(t, err, "%s %s is served but not in openapi.yaml", method, path)
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if rec.Code < 300 {
		// The requests the tests make successfully are valid by the document too.
		require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in), "%s %s: request", method, path)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s answered %d: %s", method, path, rec.Code, rec.Body.String())
	c.mu.Lock()
	c.covered[route.Operation.OperationID] = true
	c.mu.Unlock()
}

// TestOpenAPIDocumentMatchesTheRoutes: every API route the server serves is in the document,
// with the permission the route table enforces, and the document describes no route the server
// lacks.
func TestOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := loadDoc(t)
	served := map[string]auth.Permission{}
	for _, rt := range b.srv.routes {
		if p, ok := strings.CutPrefix(rt.pattern, "/api/v1"); ok {
			served[rt.method+" "+p] = rt.perm
		}
	}
	documented := map[string]auth.Permission{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			perm, _ := op.Extensions["x-permission"].(string)
			documented[method+" "+path] = auth.Permission(perm)
			if perm == "" {
				require.NotNil(t, op.Security, "%s %s: a public operation says security: []", method, path)
				require.Empty(t, *op.Security, "%s %s", method, path)
			}
			require.NotEmpty(t, op.OperationID, "%s %s", method, path)
			require.NotEmpty(t, op.Summary, "%s %s", method, path)
		}
	}
	require.Equal(t, keys(served), keys(documented), "the routes served and the operations documented are the same")
	for k, perm := range served {
		require.Equal(t, perm, documented[k], "%s: x-permission is the permission the route table enforces", k)
	}
	rec := b.do(req{method: "GET", path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, string(b.srv.spec), rec.Body.String())
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
