package server

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for ANALYZE
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/store/sqlstore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The API benchmarks measure what the dashboard and the application list cost with 100,000
// applications and 300,000 credentials, through the whole handler (token check, routing, the
// store's queries, JSON or HTML rendering), on SQLite and PostgreSQL:
//
//	go test -run '^$' -bench BenchmarkAPI -benchtime 200x -timeout 30m ./server
//
// Each sub-benchmark reports p50, p99 and max latency per request; docs/benchmarks.md records
// them. The store is seeded directly (not through Graph), once per backend.

const (
	benchApps    = 100_000
	benchTenantA = 70_000 // contoso; the rest in fabrikam
)

type benchEnv struct {
	h     http.Handler
	token string
	store *sqlstore.Store
	seed  time.Duration
}

// benchSetup seeds a store of backend once per test binary: 100,000 applications over two
// tenants with 1 to 5 secrets each (3 on average, end dates spread from 60 days ago to two years
// ahead), a secret on one service principal in ten, 10,000 bindings and 300 rotations in
// flight in every phase. b is the backend's benchmark, which outlives the measured ones.
func benchSetup(b *testing.B, backend string) *benchEnv {
	ctx := b.Context()
	var st *sqlstore.Store
	var err error
	dsn := ""
	switch backend {
	case "sqlite":
		path := filepath.Join(b.TempDir(), "rotor.db")
		if keep := os.Getenv("ROTOR_BENCH_SQLITE"); keep != "" {
			path = keep // keep the seeded database between runs (it is seeded when missing)
		}
		seeded := fileExists(path)
		st, err = sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
		if err == nil && seeded {
			return benchServer(b, st, 0)
		}
	case "postgres":
		dsn = testenv.Postgres(b)
		st, err = sqlstore.OpenPostgres(ctx, dsn, sqlstore.Options{})
	}
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	began := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tn := range []string{"contoso", "fabrikam"} {
		require.NoError(b, st.TenantUpsert(ctx, &rotor.Tenant{Name: tn, TenantID: uuid.NewString(), CreatedAt: start, UpdatedAt: start}))
	}
	var bindings []*rotor.Binding
	const batch = 999
	for first := 0; first < benchApps; first += batch {
		n := min(batch, benchApps-first)
		tenant := "contoso"
		if first >= benchTenantA {
			tenant = "fabrikam"
		}
		apps := make([]*rotor.App, 0, n)
		owners := make([]rotor.OwnerCredentials, 0, n)
		for i := range n {
			idx := first + i
			a := &rotor.App{Tenant: tenant, ID: uuid.NewString(), AppID: uuid.NewString(),
				DisplayName: fmt.Sprintf("%s-%s-%06d", []string{"payments", "billing", "orders", "search", "identity"}[idx%5],
					[]string{"api", "worker", "web", "etl"}[idx%4], idx), Tags: []string{"team:platform"}, SyncedAt: start}
			apps = append(apps, a)
			o := rotor.OwnerCredentials{OwnerKind: rotor.OwnerApplication, OwnerID: a.ID, OwnerName: a.DisplayName, AppID: a.AppID}
			for range 1 + rng.IntN(5) {
				end := start.Add(time.Duration(rng.IntN(790)-60) * day)
				o.Credentials = append(o.Credentials, &rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret, DisplayName: "prod",
					Hint: "abc", StartAt: end.Add(-365 * day), EndAt: end})
			}
			owners = append(owners, o)
			if idx%10 == 0 {
				owners = append(owners, rotor.OwnerCredentials{OwnerKind: rotor.OwnerServicePrincipal, OwnerID: uuid.NewString(), AppID: a.AppID,
					Credentials: []*rotor.Credential{{KeyID: uuid.NewString(), Kind: rotor.KindSecret, StartAt: start.Add(-day), EndAt: start.Add(400 * day)}}})
			}
			if idx%10 == 5 {
				bindings = append(bindings, &rotor.Binding{ID: uuid.NewString(), Tenant: tenant, OwnerKind: rotor.OwnerApplication, OwnerID: a.ID,
					AppID: a.AppID, Kind: rotor.KindSecret, Policy: "standard", KeyID: o.Credentials[0].KeyID, Source: rotor.BindingFromPolicy,
					CreatedAt: start, UpdatedAt: start})
			}
		}
		require.NoError(b, st.AppUpsertBatch(ctx, apps))
		_, err := st.CredentialSyncOwners(ctx, &rotor.CredentialSyncOwnersParams{Tenant: tenant, Owners: owners, Now: start})
		require.NoError(b, err)
	}
	states := []rotor.RotationState{rotor.RotationPending, rotor.RotationVerifying, rotor.RotationDeploying, rotor.RotationGrace,
		rotor.RotationCleaning, rotor.RotationFailed}
	for i, bd := range bindings {
		require.NoError(b, st.BindingInsert(ctx, bd))
		if i < 300 {
			r := &rotor.Rotation{ID: uuid.NewString(), BindingID: bd.ID, Tenant: bd.Tenant, OwnerKind: bd.OwnerKind, OwnerID: bd.OwnerID,
				AppID: bd.AppID, Trigger: rotor.TriggerSchedule, State: states[i%len(states)], OldKeyID: bd.KeyID, CreatedAt: start, UpdatedAt: start}
			if r.State == rotor.RotationFailed {
				r.ResumeState = rotor.RotationDeploying
			}
			require.NoError(b, st.RotationInsert(ctx, r))
		}
	}
	if dsn != "" {
		// Statistics and the visibility map, as autovacuum makes them shortly after such a load
		// (docs/benchmarks.md): index-only scans need the second.
		db, err := sql.Open("pgx", dsn)
		require.NoError(b, err)
		_, err = db.ExecContext(ctx, "VACUUM ANALYZE")
		require.NoError(b, err)
		require.NoError(b, db.Close())
	}
	return benchServer(b, st, time.Since(began))
}

func benchServer(b *testing.B, st *sqlstore.Store, seed time.Duration) *benchEnv {
	srv, err := New(Config{Store: st, Clock: clockwork.NewFakeClockAt(start), Thresholds: lifecycle.DefaultThresholds,
		Tenants: []string{"contoso", "fabrikam"}, PublicURL: "http://rotor.test", SessionKey: secret.New(randomKey())})
	require.NoError(b, err)
	_, tok, err := CreateToken(b.Context(), st, start, "bench", "bench-"+uuid.NewString()[:8], "viewer", "90d")
	require.NoError(b, err)
	return &benchEnv{h: srv.Handler(), token: tok, store: st, seed: seed}
}

// BenchmarkAPI measures the latency of the dashboard's and the application list's requests.
func BenchmarkAPI(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			e := benchSetup(b, backend)
			b.Logf("%s: seeded 100,000 applications in %s", backend, e.seed.Round(time.Second))
			deep := e.appsCursor(b, 60) // a cursor 60 pages (3,000 applications) in
			for _, c := range []struct{ name, path string }{
				{"summary", "/api/v1/summary"},
				{"summary-one-tenant", "/api/v1/summary?tenant=fabrikam"},
				{"apps-first-page", "/api/v1/apps"},
				{"apps-deep-page", "/api/v1/apps?cursor=" + deep},
				{"apps-search", "/api/v1/apps?q=orders-web-0421"},
				{"apps-expiring-30d", "/api/v1/apps?expiring_within=30d"},
				{"credentials-expiring-page", "/api/v1/credentials?state=expiring"},
				{"dashboard-page", "/"},
				{"apps-page", "/apps"},
			} {
				b.Run(c.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					for b.Loop() {
						t0 := time.Now()
						rec := e.get(c.path)
						lat = append(lat, time.Since(t0))
						if rec.Code != http.StatusOK {
							b.Fatalf("%s: %d %s", c.path, rec.Code, rec.Body.String())
						}
					}
					report(b, lat)
				})
			}
			// Eight clients at once on the two cores: the dashboard's computation is shared by
			// concurrent requests, the app list's pages are independent.
			for _, c := range []struct{ name, path string }{{"summary-8-clients", "/api/v1/summary"}, {"apps-8-clients", "/api/v1/apps"}} {
				b.Run(c.name, func(b *testing.B) {
					var mu sync.Mutex
					lat := make([]time.Duration, 0, b.N)
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							t0 := time.Now()
							rec := e.get(c.path)
							d := time.Since(t0)
							if rec.Code != http.StatusOK {
								b.Errorf("%s: %d", c.path, rec.Code)
								return
							}
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					})
					report(b, lat)
				})
			}
		})
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (e *benchEnv) get(path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://rotor.test"+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// appsCursor follows the app list n pages and returns the cursor there.
func (e *benchEnv) appsCursor(b *testing.B, n int) string {
	cursor := ""
	for range n {
		rec := e.get("/api/v1/apps?cursor=" + cursor)
		require.Equal(b, http.StatusOK, rec.Code)
		var pg itemsOf[appJSON]
		require.NoError(b, json.Unmarshal(rec.Body.Bytes(), &pg))
		cursor = pg.NextCursor
	}
	return cursor
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(float64(len(lat)-1) * p)
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(0, "ns/op") // the percentiles say it better
}
