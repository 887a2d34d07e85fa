package sqlstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testenv"
)

// The store benchmarks run on both backends:
//
//	go test -run '^$' -bench . -benchtime 3s ./store/sqlstore
//
// docs/benchmarks.md records the figures.

var benchNow = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

type benchBackend struct {
	name string
	open func(b *testing.B) *Store
}

var benchBackends = []benchBackend{
	{"sqlite", func(b *testing.B) *Store {
		s, err := OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "rotor.db"), Options{})
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		return s
	}},
	{"postgres", func(b *testing.B) *Store {
		s, err := OpenPostgres(b.Context(), testenv.Postgres(b), Options{})
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		return s
	}},
}

func benchTenant(b *testing.B, s *Store) {
	require.NoError(b, s.TenantUpsert(b.Context(), &rotor.Tenant{Name: "contoso", TenantID: uuid.NewString(), CreatedAt: benchNow, UpdatedAt: benchNow}))
}

// benchAnalyze updates the planner's statistics, as autovacuum (PostgreSQL) would after a load;
// without them PostgreSQL plans as if the tables were still empty.
func benchAnalyze(b *testing.B, s *Store) {
	_, err := s.exec(b.Context(), `ANALYZE`)
	require.NoError(b, err)
}

// benchOwners returns n applications with perOwner secrets each; the i-th credential overall
// ends (i*7919 mod 730) days after benchNow, spreading end dates evenly over two years.
func benchOwners(n, perOwner, first int) []rotor.OwnerCredentials {
	owners := make([]rotor.OwnerCredentials, n)
	for i := range owners {
		o := rotor.OwnerCredentials{OwnerKind: rotor.OwnerApplication, OwnerID: uuid.NewString(), AppID: uuid.NewString()}
		for range perOwner {
			end := benchNow.Add(time.Duration(first*7919%730) * 24 * time.Hour)
			first++
			o.Credentials = append(o.Credentials, &rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret,
				DisplayName: "client secret", Hint: "abc", StartAt: end.Add(-180 * 24 * time.Hour), EndAt: end})
		}
		owners[i] = o
	}
	return owners
}

const (
	syncOwners   = 999 // owners per CredentialSyncOwners batch
	syncPerOwner = 3   // credentials per owner
)

// BenchmarkCredentialSyncOwners syncs batches of 999 applications with 3 secrets each: "new"
// inserts them (a first sync), "unchanged" syncs the same batch again (a routine resync).
func BenchmarkCredentialSyncOwners(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			benchTenant(b, s)
			b.Run("new", func(b *testing.B) {
				var batches [][]rotor.OwnerCredentials
				for i := range b.N {
					batches = append(batches, benchOwners(syncOwners, syncPerOwner, i*syncOwners*syncPerOwner))
				}
				benchAnalyze(b, s)
				b.ResetTimer()
				for i := range b.N {
					diff, err := s.CredentialSyncOwners(b.Context(), &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Owners: batches[i], Now: benchNow})
					require.NoError(b, err)
					require.Len(b, diff.Added, syncOwners*syncPerOwner)
				}
				b.ReportMetric(float64(b.N*syncOwners*syncPerOwner)/b.Elapsed().Seconds(), "creds/s")
			})
			b.Run("unchanged", func(b *testing.B) {
				batch := benchOwners(syncOwners, syncPerOwner, 0)
				p := &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Owners: batch, Now: benchNow}
				_, err := s.CredentialSyncOwners(b.Context(), p)
				require.NoError(b, err)
				benchAnalyze(b, s)
				b.ResetTimer()
				for range b.N {
					diff, err := s.CredentialSyncOwners(b.Context(), p)
					require.NoError(b, err)
					require.Empty(b, diff.Added)
				}
				b.ReportMetric(float64(b.N*syncOwners*syncPerOwner)/b.Elapsed().Seconds(), "creds/s")
			})
		})
	}
}

const listCredentials = 300_000

// BenchmarkCredentialList lists what expires within 30 days among 300,000 credentials (about
// 4 %, 12,330 rows): all of them, and the first page of 100.
func BenchmarkCredentialList(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			benchTenant(b, s)
			// Seeded in one statement (CredentialSyncOwners is measured above): owners of 3
			// credentials, the i-th ending (i*7919 mod 730) days after benchNow.
			_, err := s.exec(b.Context(), `WITH RECURSIVE n (i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
				INSERT INTO credentials (tenant, key_id, kind, owner_kind, owner_id, app_id, display_name, start_at, end_at,
					first_seen_at, last_seen_at)
				SELECT 'contoso', 'key-' || i, ?, ?, 'owner-' || (i / 3), 'client-' || (i / 3), 'client secret',
					?, ? + (i * 7919 % 730) * 86400000000, ?, ? FROM n`,
				listCredentials, rotor.KindSecret, rotor.OwnerApplication, us(benchNow.Add(-180*24*time.Hour)), us(benchNow), us(benchNow), us(benchNow))
			require.NoError(b, err)
			benchAnalyze(b, s)
			for _, limit := range []int{0, 100} {
				name := "EndBefore30d"
				if limit > 0 {
					name += fmt.Sprintf("/limit%d", limit)
				}
				b.Run(name, func(b *testing.B) {
					p := &rotor.CredentialListParams{EndBefore: benchNow.Add(30 * 24 * time.Hour), Limit: limit}
					var rows int
					for b.Loop() {
						creds, err := s.CredentialList(b.Context(), p)
						require.NoError(b, err)
						rows = len(creds)
					}
					if limit == 0 {
						require.InDelta(b, listCredentials*30/730, rows, listCredentials/730)
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
					b.ReportMetric(float64(rows), "rows")
				})
			}
		})
	}
}

const claimers = 8

// BenchmarkRotationClaim has 8 goroutines claim runnable rotations one at a time (Limit 1) from
// one store, as a replica's workers do. Each operation is one claim that got a rotation, then the
// fenced RotationUpdate that finishes it: a claimed rotation stays due while its lease runs, and
// later claims would step over every one still leased, which the engine never accumulates.
func BenchmarkRotationClaim(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			benchTenant(b, s)
			b.Run(fmt.Sprintf("claimers%d", claimers), func(b *testing.B) {
				// Spare rotations: near the end, a claimer may find only rows the others hold locked.
				require.NoError(b, s.InTx(b.Context(), func(tx rotor.Store) error {
					for range b.N + 2*claimers {
						bnd := &rotor.Binding{ID: uuid.NewString(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: uuid.NewString(),
							AppID: uuid.NewString(), Kind: rotor.KindSecret, Policy: "default", Source: rotor.BindingFromPolicy,
							CreatedAt: benchNow, UpdatedAt: benchNow}
						if err := tx.BindingInsert(b.Context(), bnd); err != nil {
							return err
						}
						if err := tx.RotationInsert(b.Context(), &rotor.Rotation{ID: uuid.NewString(), BindingID: bnd.ID, Tenant: "contoso",
							OwnerKind: bnd.OwnerKind, OwnerID: bnd.OwnerID, AppID: bnd.AppID, Trigger: rotor.TriggerSchedule,
							State: rotor.RotationPending, NextAttemptAt: benchNow, CreatedAt: benchNow, UpdatedAt: benchNow}); err != nil {
							return err
						}
					}
					return nil
				}))
				var left atomic.Int64
				left.Store(int64(b.N))
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range claimers {
					wg.Go(func() {
						worker := fmt.Sprintf("w%d", w)
						for left.Add(-1) >= 0 {
							got, err := s.RotationClaim(b.Context(), &rotor.RotationClaimParams{Worker: worker, Now: benchNow, LeaseFor: time.Hour, Limit: 1})
							if err != nil || len(got) != 1 {
								b.Errorf("claim by %s: %d rotations, %v", worker, len(got), err)
								return
							}
							r := got[0]
							r.State, r.LeaseOwner, r.LeaseExpiresAt, r.FinishedAt = rotor.RotationCompleted, "", time.Time{}, benchNow
							if err := s.RotationUpdate(b.Context(), r); err != nil {
								b.Errorf("finish %s: %v", r.ID, err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
			})
		})
	}
}
