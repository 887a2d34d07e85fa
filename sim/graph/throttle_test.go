package graph_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/graph"
)

func TestThrottlingOffByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{})
	reader := b.client(t, "reader", "Application.Read.All")
	for i := 0; i < 50; i++ {
		r := b.do(t, reader, "GET", "/v1.0/applications?$top=5", nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, "1", r.header.Get("x-ms-resource-unit"), "GET applications costs 2, $top under 20 one less")
	}
}

func TestResourceUnitThrottling(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{graph: graph.Options{Throttle: graph.ThrottleOptions{Enabled: true, ResourceUnitsPer10s: 10}}})
	reader := b.client(t, "reader", "Application.Read.All")

	// GET applications costs 2 resource units: five requests use the quota of ten.
	for i := 0; i < 5; i++ {
		r := b.do(t, reader, "GET", "/v1.0/applications", nil)
		require.Equal(t, 200, r.status, "request %d", i)
		require.Equal(t, "2", r.header.Get("x-ms-resource-unit"))
		if i >= 4 {
			require.NotEmpty(t, r.header.Get("x-ms-throttle-limit-percentage"), "reported above 0.8 of the quota")
		}
	}
	r := b.do(t, reader, "GET", "/v1.0/applications", nil)
	requireError(t, r, 429, "TooManyRequests")
	require.Equal(t, "Please retry again later.", message(r))
	inner := r.body["error"].(map[string]any)["innerError"].(map[string]any)
	require.Equal(t, "429", inner["code"])
	require.Equal(t, "429", inner["status"])
	require.Equal(t, "Please retry after", inner["message"])
	require.Equal(t, "Tenant_Application/ReadWrite/"+reader.app.AppID+"/"+b.tenant.ID, r.header.Get("x-ms-throttle-scope"))
	require.Equal(t, "ResourceUnitLimitExceeded", r.header.Get("x-ms-throttle-information"))
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, retry)

	// Throttled requests count too: retrying at once stays throttled.
	r = b.do(t, reader, "GET", "/v1.0/applications", nil)
	require.Equal(t, 429, r.status)
	retry, err = strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)

	b.clock.Advance(time.Duration(retry) * time.Second)
	r = b.do(t, reader, "GET", "/v1.0/applications", nil)
	require.Equal(t, 200, r.status, string(r.raw))

	// Another application has its own quota.
	other := b.client(t, "other", "Application.Read.All")
	require.Equal(t, 200, b.do(t, other, "GET", "/v1.0/applications", nil).status)
}

func TestWriteThrottling(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{graph: graph.Options{Throttle: graph.ThrottleOptions{Enabled: true, WritesPer150s: 2}}})
	writer := b.client(t, "writer", "Application.ReadWrite.All")
	a := b.apps(t, 1, "pricing")[0]
	for i := 0; i < 2; i++ {
		require.Equal(t, 200, b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", nil).status)
	}
	r := b.do(t, writer, "POST", "/v1.0/applications/"+a.ID+"/addPassword", nil)
	requireError(t, r, 429, "TooManyRequests")
	require.Equal(t, "Tenant_Application/Write/"+writer.app.AppID+"/"+b.tenant.ID, r.header.Get("x-ms-throttle-scope"))
	require.Equal(t, "WriteLimitExceeded", r.header.Get("x-ms-throttle-information"))
	// Reads are still permitted while writes are throttled.
	require.Equal(t, 200, b.do(t, writer, "GET", "/v1.0/applications/"+a.ID, nil).status)
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 150, retry, 76, "a write refills in 75 s; two (one throttled) take about 150 s")
}

func TestKeyCredentialSelectThrottling(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{graph: graph.Options{Throttle: graph.ThrottleOptions{Enabled: true, KeyCredentialSelectsPerMinute: 3}}})
	reader := b.client(t, "reader", "Application.Read.All")
	for i := 0; i < 3; i++ {
		require.Equal(t, 200, b.do(t, reader, "GET", "/v1.0/applications?$select=id,keyCredentials", nil).status)
	}
	r := b.do(t, reader, "GET", "/v1.0/applications?$select=id,keyCredentials", nil)
	requireError(t, r, 429, "TooManyRequests")
	require.Equal(t, 200, b.do(t, reader, "GET", "/v1.0/applications?$select=id,passwordCredentials", nil).status)
}
