package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/store/sqlstore"
)

var now = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "rotor.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.TenantUpsert(t.Context(), &rotor.Tenant{Name: "contoso", TenantID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}))
	var creds []*rotor.Credential
	for _, d := range []time.Duration{-day, 2 * day, 10 * day, 60 * day, 400 * day} {
		creds = append(creds, &rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret, StartAt: now.Add(-day), EndAt: now.Add(d)})
	}
	_, err = st.CredentialSyncOwners(t.Context(), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: now, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: uuid.NewString(), AppID: uuid.NewString(), Credentials: creds}}})
	require.NoError(t, err)
	return st
}

// countingStore counts the aggregate queries.
type countingStore struct {
	Store
	calls int
}

func (c *countingStore) CredentialStats(ctx context.Context, p *rotor.CredentialStatsParams) (*rotor.CredentialStats, error) {
	c.calls++
	return c.Store.CredentialStats(ctx, p)
}

func TestStoreFiguresAreCachedBetweenScrapes(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClockAt(now)
	cs := &countingStore{Store: newStore(t)}
	m := New(Options{Store: cs, Clock: clock, Warn: 30 * day})
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	out := scrape()
	for _, want := range []string{
		`rotor_credentials{state="active",tenant="contoso"} 2`,
		`rotor_credentials{state="expiring",tenant="contoso"} 2`,
		`rotor_credentials{state="expired",tenant="contoso"} 1`,
		`rotor_credentials_expiring{tenant="contoso",within="7d"} 1`,
		`rotor_credentials_expiring{tenant="contoso",within="30d"} 2`,
		`rotor_credentials_expiring{tenant="contoso",within="90d"} 3`,
		`rotor_credential_next_expiry_days{tenant="contoso"} 2`,
		`rotor_store_up 1`,
		`go_goroutines`,
	} {
		require.Contains(t, out, want)
	}
	for range 5 {
		scrape()
	}
	clock.Advance(29 * time.Second)
	require.Contains(t, scrape(), `rotor_store_metrics_age_seconds 29`)
	require.Equal(t, 1, cs.calls, "scrapes within the cache period do not query the store")
	clock.Advance(2 * time.Second)
	require.Contains(t, scrape(), `rotor_credential_next_expiry_days{tenant="contoso"} 1.99`)
	require.Equal(t, 2, cs.calls)
}

func TestGraphAndEngineInstruments(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	m.GraphObserve("contoso", graph.Call{Method: "GET", Route: "/applications", StatusCode: 200, Duration: 80 * time.Millisecond})
	m.GraphObserve("contoso", graph.Call{Method: "GET", Route: "/applications", StatusCode: 429, Duration: 10 * time.Millisecond, ThrottlePct: 1.2})
	m.GraphObserve("contoso", graph.Call{Method: "POST", Route: "/applications/{id}/addPassword", StatusCode: 0})
	require.Equal(t, 1.0, testutil.ToFloat64(m.graphRequests.WithLabelValues("contoso", "GET", "/applications", "429")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.graphRequests.WithLabelValues("contoso", "POST", "/applications/{id}/addPassword", "0")))
	require.Equal(t, 1.0, testutil.ToFloat64(m.graphThrottled.WithLabelValues("contoso", "/applications")))
	require.Equal(t, 1.2, testutil.ToFloat64(m.graphPressure.WithLabelValues("contoso")), "a transport failure leaves the last reading")

	r := &rotor.Rotation{Tenant: "contoso"}
	m.RotationOutcome(r, "completed")
	m.RotationOutcome(r, "failed")
	m.RotationOutcome(r, "failed")
	require.Equal(t, 2.0, testutil.ToFloat64(m.rotations.WithLabelValues("contoso", "failed")))
	m.StepFinished(r, &rotor.RotationStep{Type: "keyvault", State: rotor.StepSucceeded, StartedAt: now, FinishedAt: now.Add(3 * time.Second)})
	require.Equal(t, 1, testutil.CollectAndCount(m.stepDuration))
	m.ObserveHTTP("GET /api/v1/apps", "GET", 200, time.Millisecond)
	require.Equal(t, 1.0, testutil.ToFloat64(m.httpRequests.WithLabelValues("GET /api/v1/apps", "GET", "200")))

	lint, err := testutil.GatherAndLint(m.Registry())
	require.NoError(t, err)
	var problems []string
	for _, p := range lint {
		if !strings.HasPrefix(p.Metric, "go_") && !strings.HasPrefix(p.Metric, "process_") {
			problems = append(problems, p.Metric+": "+p.Text)
		}
	}
	require.Empty(t, problems, "metric names and help follow Prometheus conventions")
}
