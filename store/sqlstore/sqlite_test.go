package sqlstore

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/store/storetest"
)

// migrator adapts a Store to the suite's Migrator.
type migrator struct{ *Store }

func (m migrator) MigrateFS(ctx context.Context, fsys fs.FS) error {
	_, err := m.Migrate(ctx, fsys)
	return err
}

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) rotor.Store {
			s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "rotor.db"), Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		NewDatabase: func(t *testing.T) func() storetest.Migrator {
			path := filepath.Join(t.TempDir(), "rotor.db")
			return func() storetest.Migrator {
				s, err := OpenSQLite(context.Background(), path, Options{SkipMigrate: true})
				require.NoError(t, err)
				return migrator{s}
			}
		},
		Replicas: func(t *testing.T) (rotor.Store, rotor.Store) {
			path := filepath.Join(t.TempDir(), "rotor.db")
			open := func() rotor.Store {
				s, err := OpenSQLite(t.Context(), path, Options{})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open()
		},
	})
}
