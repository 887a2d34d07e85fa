package runner

import (
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// BenchmarkPlan is one planning round (dry run: decide, insert nothing) over a store holding
// ROTOR_BENCH_CREDENTIALS credentials (default 1,000,000) of which ROTOR_BENCH_BINDINGS (default
// 100,000) are bound, their end dates spread evenly over two years. It measures what rotor serve's
// planner does every rotation.plan_interval: read the bindings, the rotations in flight and each
// binding's current credential, and decide.
//
//	go test -run '^$' -bench BenchmarkPlan -benchtime 5x ./runner
func BenchmarkPlan(b *testing.B) {
	creds, bindings := benchEnv(b, "ROTOR_BENCH_CREDENTIALS", 1_000_000), benchEnv(b, "ROTOR_BENCH_BINDINGS", 100_000)
	path := filepath.Join(b.TempDir(), "rotor.db")
	st, err := sqlstore.OpenSQLite(b.Context(), path, sqlstore.Options{})
	require.NoError(b, err)
	defer st.Close()
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	require.NoError(b, st.TenantUpsert(b.Context(), &rotor.Tenant{Name: "contoso", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", CreatedAt: now, UpdatedAt: now}))

	// Seeded with SQL: the store's own writes are measured by the store and inventory benchmarks.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	require.NoError(b, err)
	defer db.Close()
	us := func(t time.Time) int64 { return t.UnixMicro() }
	_, err = db.ExecContext(b.Context(), `WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO credentials (tenant, key_id, kind, owner_kind, owner_id, app_id, display_name, start_at, end_at, first_seen_at, updated_at)
		SELECT 'contoso', 'key-' || i, 'secret', 'application', 'owner-' || (i / 3), 'client-' || (i / 3), 'client secret',
			?, ? + (i * 7919 % 730) * 86400000000, ?, ? FROM n`,
		creds, us(now.Add(-180*24*time.Hour)), us(now), us(now), us(now))
	require.NoError(b, err)
	step := max(1, creds/bindings)
	_, err = db.ExecContext(b.Context(), `WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
		INSERT INTO bindings (id, tenant, owner_kind, owner_id, app_id, kind, policy, key_id, source, created_at, updated_at)
		SELECT 'binding-' || i, 'contoso', 'application', 'owner-' || (i * ? / 3), 'client-' || (i * ? / 3), 'secret', 'standard',
			'key-' || (i * ?), 'manual', ?, ? FROM n`,
		bindings, step, step, step, us(now), us(now))
	require.NoError(b, err)
	_, err = db.ExecContext(b.Context(), `ANALYZE`)
	require.NoError(b, err)

	policy := &rotor.Policy{Name: "standard", Lifetime: 180 * 24 * time.Hour, RotateBefore: 30 * 24 * time.Hour, EmergencyWithin: 3 * 24 * time.Hour,
		MaxConcurrentPerTenant: 50}
	kv, err := seal.GenerateKEK()
	require.NoError(b, err)
	kek, err := seal.ParseKEK(kv)
	require.NoError(b, err)
	e, err := New(Config{Store: st, Clock: clockwork.NewFakeClockAt(now), Log: slog.New(slog.DiscardHandler), Worker: "bench",
		Keyring: seal.NewKeyring(kek), Verifier: &fakeVerifier{},
		Directory: func(string) (rotor.Directory, error) { return nil, rotor.ErrNotFound },
		Target:    func(string, rotor.StepSpec) (rotor.Target, error) { return nil, rotor.ErrNotFound },
		Policy:    func(string) (*rotor.Policy, error) { return policy, nil }})
	require.NoError(b, err)
	b.ResetTimer()
	due := 0
	for range b.N {
		items, err := e.Plan(b.Context(), PlanOptions{DryRun: true})
		require.NoError(b, err)
		require.Len(b, items, bindings)
		due = 0
		for _, it := range items {
			if it.Decision.Due {
				due++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/round")
	b.ReportMetric(float64(due), "due")
}

func benchEnv(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, name)
		return n
	}
	return def
}
