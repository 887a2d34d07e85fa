package sqlstore

import (
	"context"
	"testing"

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
	})
}
