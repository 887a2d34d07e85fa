package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var embedded, _ = fs.Sub(migrationFiles, "migrations")

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// LoadMigrations reads NNNN_name.sql files from fsys. Versions must run 1, 2, 3, ... without gaps.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(".", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		v, _ := strconv.Atoi(m[1])
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: expected version %d (versions must be contiguous from 1)", m.Version, m.Name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the version of the last applied migration (0 for an empty database).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if err := s.ensureMigrationTable(ctx); err != nil {
		return 0, err
	}
	var v int
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func (s *Store) ensureMigrationTable(ctx context.Context) error {
	// Under the migration lock: replicas starting at once on an empty PostgreSQL database would
	// otherwise collide creating it, IF NOT EXISTS notwithstanding (23505, 42710 or 42P07).
	err := s.inTx(ctx, func(tx *Store) error {
		if err := tx.lockMigrations(ctx); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL
		)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return nil
}

// lockMigrations takes the dialect's migration lock for the rest of the transaction s is in.
func (s *Store) lockMigrations(ctx context.Context) error {
	if s.d.lockMigrations == nil {
		return nil
	}
	if err := s.d.lockMigrations(ctx, s.tx); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return nil
}

// Migrate applies the pending migrations of fsys, each in its own transaction: a migration that
// fails leaves the schema at the version before it. Concurrent migrators (several replicas
// starting at once) are serialised; each re-checks the version after taking the lock.
func (s *Store) Migrate(ctx context.Context, fsys fs.FS) (applied []Migration, err error) {
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	if err := s.ensureMigrationTable(ctx); err != nil {
		return nil, err
	}
	// Nothing pending (every start after the first): no write transaction at all.
	var current int
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err == nil && current >= len(ms) {
		return nil, nil
	}
	for _, m := range ms {
		var ran bool
		err := s.inTx(ctx, func(tx *Store) error {
			if err := tx.lockMigrations(ctx); err != nil {
				return err
			}
			var current int
			if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if m.Version <= current {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, us(s.clock.Now())); err != nil {
				return fmt.Errorf("record migration: %w", err)
			}
			ran = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if ran {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// PendingMigrations lists the migrations of fsys not yet applied.
func (s *Store) PendingMigrations(ctx context.Context, fsys fs.FS) ([]Migration, error) {
	if fsys == nil {
		fsys = embedded
	}
	ms, err := LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if v > len(ms) {
		return nil, fmt.Errorf("database schema is at version %d, newer than this rotor knows (%d): upgrade rotor", v, len(ms))
	}
	return ms[v:], nil
}

// Embedded returns the migrations built into rotor.
func Embedded() fs.FS { return embedded }
