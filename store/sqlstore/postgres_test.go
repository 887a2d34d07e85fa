package sqlstore

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/store/storetest"
)

// TestMain stops the PostgreSQL server testenv starts for this test binary.
func TestMain(m *testing.M) { testenv.Main(m) }

func TestPostgresConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) rotor.Store {
			s, err := OpenPostgres(t.Context(), testenv.Postgres(t), Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		NewDatabase: func(t *testing.T) func() storetest.Migrator {
			dsn := testenv.Postgres(t)
			return func() storetest.Migrator {
				s, err := OpenPostgres(context.Background(), dsn, Options{SkipMigrate: true})
				require.NoError(t, err)
				return migrator{s}
			}
		},
		Replicas: func(t *testing.T) (rotor.Store, rotor.Store) {
			dsn := testenv.Postgres(t)
			open := func() rotor.Store {
				s, err := OpenPostgres(t.Context(), dsn, Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		},
	})
}

// TestPostgresConformanceServerDefaultSerializable runs the suite on a server whose sessions
// default to SERIALIZABLE: rotor's transactions must still begin READ COMMITTED, which claiming
// and the audit chain rely on (a waiting UPDATE re-reads the row another transaction committed
// instead of failing with a serialization error).
func TestPostgresConformanceServerDefaultSerializable(t *testing.T) {
	t.Parallel()
	dsn := func(t *testing.T) string { return testenv.Postgres(t) + "&default_transaction_isolation=serializable" }
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) rotor.Store {
			s, err := OpenPostgres(t.Context(), dsn(t), Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		NewDatabase: func(t *testing.T) func() storetest.Migrator {
			dsn := dsn(t)
			return func() storetest.Migrator {
				s, err := OpenPostgres(context.Background(), dsn, Options{SkipMigrate: true})
				require.NoError(t, err)
				return migrator{s}
			}
		},
		Replicas: func(t *testing.T) (rotor.Store, rotor.Store) {
			dsn := dsn(t)
			open := func() rotor.Store {
				s, err := OpenPostgres(t.Context(), dsn, Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		},
	})
}

func openPostgres(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := OpenPostgres(t.Context(), dsn, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// A claim passes over the rows another replica's claim has locked and not yet committed, rather
// than waiting for that transaction to end (FOR UPDATE SKIP LOCKED).
func TestPostgresClaimSkipsLockedRows(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	ctx := t.Context()
	require.NoError(t, a.TenantUpsert(ctx, &rotor.Tenant{Name: "contoso", TenantID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}))
	var ids []string
	for i := range 2 {
		bnd := &rotor.Binding{ID: uuid.NewString(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: uuid.NewString(),
			AppID: uuid.NewString(), Kind: rotor.KindSecret, Policy: "default", Source: rotor.BindingManual, CreatedAt: now, UpdatedAt: now}
		require.NoError(t, a.BindingInsert(ctx, bnd))
		r := &rotor.Rotation{ID: uuid.NewString(), BindingID: bnd.ID, Tenant: "contoso", OwnerKind: bnd.OwnerKind, OwnerID: bnd.OwnerID,
			AppID: bnd.AppID, Trigger: rotor.TriggerManual, State: rotor.RotationPending,
			NextAttemptAt: now.Add(time.Duration(i-1) * time.Minute), CreatedAt: now, UpdatedAt: now}
		require.NoError(t, a.RotationInsert(ctx, r))
		ids = append(ids, r.ID)
	}
	claim := func(s rotor.Store, worker string) []*rotor.Rotation {
		t.Helper()
		// Bounded: without SKIP LOCKED, b would wait for a's transaction, which waits for b.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := s.RotationClaim(ctx, &rotor.RotationClaimParams{Worker: worker, Now: now, LeaseFor: time.Minute, Limit: 5})
		require.NoError(t, err)
		return got
	}
	require.NoError(t, a.InTx(ctx, func(tx rotor.Store) error {
		got, err := tx.RotationClaim(ctx, &rotor.RotationClaimParams{Worker: "a", Now: now, LeaseFor: time.Minute, Limit: 1})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, ids[0], got[0].ID, "the earliest due first")

		// a's transaction is still open: b skips the row it locked and takes the other one.
		other := claim(b, "b")
		require.Len(t, other, 1)
		require.Equal(t, ids[1], other[0].ID)
		return nil
	}))
	require.Empty(t, claim(b, "b"), "once a committed, its lease is live")
}

// Statements are planned with their parameters (see OpenPostgres), unless the DSN says otherwise.
func TestPostgresPlansWithParameters(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)
	mode := func(s *Store) string {
		var m string
		require.NoError(t, s.w.QueryRowContext(t.Context(), `SHOW plan_cache_mode`).Scan(&m))
		return m
	}
	require.Equal(t, "force_custom_plan", mode(openPostgres(t, dsn)))
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	require.Equal(t, "auto", mode(openPostgres(t, dsn+sep+"plan_cache_mode=auto")))
}

// Connection errors say where rotor tried to connect and why, never the password.
func TestPostgresConnectErrors(t *testing.T) {
	t.Parallel()
	const password = "not-a-real-password-4711"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())

	_, err = OpenPostgres(t.Context(), "postgres://rotor:"+password+"@"+closed+"/rotor_prod?sslmode=disable", Options{})
	require.Error(t, err)
	require.ErrorContains(t, err, `postgres: connect to database "rotor_prod" on `+closed+` as user "rotor": `)
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), password)

	_, err = OpenPostgres(t.Context(), "host=127.0.0.1 port=1,2 dbname=rotor user=rotor password="+password, Options{})
	require.ErrorContains(t, err, "store.dsn")
	require.NotContains(t, err.Error(), password)
	_, err = OpenPostgres(t.Context(), "postgres://rotor:"+password+"@db.example:port/rotor", Options{})
	require.ErrorContains(t, err, "cannot be parsed")
	require.NotContains(t, err.Error(), password)

	// A server that answers: its refusal is the cause.
	u, err := url.Parse(testenv.Postgres(t))
	require.NoError(t, err)
	u.Path, u.User = "/no_such_db", url.UserPassword("postgres", password)
	_, err = OpenPostgres(t.Context(), u.String(), Options{})
	require.ErrorContains(t, err, `database "no_such_db" on `+u.Host+` as user "postgres"`)
	require.ErrorContains(t, err, "3D000")
	require.NotContains(t, err.Error(), password)
}
