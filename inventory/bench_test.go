package inventory

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// BenchmarkFullSync syncs a seeded tenant (ROTOR_BENCH_APPS applications, default 10,000) from
// the in-process simulator into a fresh SQLite store per iteration. It measures rotor's side
// (decoding, converting, storing); rotor bench sync measures the whole with Graph's latency.
func BenchmarkFullSync(b *testing.B) {
	apps := 10000
	if v, err := strconv.Atoi(os.Getenv("ROTOR_BENCH_APPS")); err == nil {
		apps = v
	}
	env := setup(b, apps)
	b.ResetTimer()
	for i := range b.N {
		st, err := sqlstore.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), strconv.Itoa(i)+".db"), sqlstore.Options{})
		require.NoError(b, err)
		require.NoError(b, st.TenantUpsert(b.Context(), &rotor.Tenant{Name: "contoso", TenantID: env.sim.Seeded.Tenants[0].Tenant.ID}))
		s := *env.syncer
		s.Store = st
		res, err := s.Sync(b.Context(), "contoso", true)
		require.NoError(b, err)
		b.ReportMetric(float64(res.Objects)/res.Duration.Seconds(), "objects/s")
		b.ReportMetric(float64(res.Credentials)/res.Duration.Seconds(), "credentials/s")
		st.Close()
	}
}
