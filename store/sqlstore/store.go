// Package sqlstore implements rotor.Store over database/sql for SQLite (the embedded default, pure
// Go through modernc.org/sqlite) and PostgreSQL. Both run the same SQL and the same migrations; the
// few differences (placeholders, row locking, error codes) live in a dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
)

// Store is a rotor.Store backed by SQL. Outside a transaction, writes go to the write pool and
// reads to the read pool (for SQLite: one writer connection, several readers, WAL).
type Store struct {
	d     *dialect
	w     *sql.DB
	r     *sql.DB
	tx    *sql.Tx // set on the Store a transaction's fn receives
	clock clockwork.Clock
}

var _ rotor.Store = (*Store)(nil)

// Options tune Open.
type Options struct {
	// Clock stamps bookkeeping rows (migrations). Default: the real clock.
	Clock clockwork.Clock
	// SkipMigrate opens the store without applying pending migrations.
	SkipMigrate bool
	// Migrations replaces the embedded migrations (tests use it).
	Migrations fs.FS
}

func newStore(ctx context.Context, d *dialect, w, r *sql.DB, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	s := &Store{d: d, w: w, r: r, clock: opts.Clock}
	if !opts.SkipMigrate {
		fsys := opts.Migrations
		if fsys == nil {
			fsys = embedded
		}
		if _, err := s.Migrate(ctx, fsys); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the pools.
func (s *Store) Close() error {
	if s.tx != nil {
		return errors.New("sqlstore: Close called on a transaction's store")
	}
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Driver names the database behind the store: "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.name }

// InTx runs fn in one transaction. Called on a transaction's store, it joins that transaction.
func (s *Store) InTx(ctx context.Context, fn func(tx rotor.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	tx, err := s.w.BeginTx(ctx, s.d.txOptions)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&Store{d: s.d, w: s.w, r: s.r, tx: tx, clock: s.clock}); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func rollback(tx *sql.Tx) error {
	if err := tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// inTx is InTx for the store's own multi-statement methods.
func (s *Store) inTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.InTx(ctx, func(tx rotor.Store) error { return fn(tx.(*Store)) })
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.tx == nil && s.d.txOptions != nil {
		// Run a lone write in a transaction of the isolation rotor relies on, whatever the
		// server's default (a SERIALIZABLE default would fail concurrent writes with 40001).
		var res sql.Result
		err := s.inTx(ctx, func(tx *Store) error {
			var err error
			res, err = tx.exec(ctx, query, args...)
			return err
		})
		return res, err
	}
	query = s.d.rebind(query)
	if s.tx != nil {
		return s.tx.ExecContext(ctx, query, args...)
	}
	return s.w.ExecContext(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = s.d.rebind(query)
	if s.tx != nil {
		return s.tx.QueryContext(ctx, query, args...)
	}
	return s.r.QueryContext(ctx, query, args...)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query = s.d.rebind(query)
	if s.tx != nil {
		return s.tx.QueryRowContext(ctx, query, args...)
	}
	return s.r.QueryRowContext(ctx, query, args...)
}

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	name string
	// dollar rewrites ? placeholders to $1, $2, ...
	dollar bool
	// lockRows is appended to a SELECT whose rows are about to be claimed.
	lockRows string
	// isUnique reports whether err is a unique or primary key violation.
	isUnique func(error) bool
	// lockMigrations serialises migrators inside their transaction.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
	// txOptions begins every transaction (nil: the driver's default).
	txOptions *sql.TxOptions
}

func (d *dialect) rebind(q string) string {
	if !d.dollar || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// conflict turns a uniqueness violation into rotor.ErrConflict.
func (s *Store) conflict(err error, what string) error {
	if err != nil && s.d.isUnique(err) {
		return fmt.Errorf("%s: %w", what, rotor.ErrConflict)
	}
	return err
}

// us converts a time to stored microseconds; the zero time is 0.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// tm converts stored microseconds to a UTC time; 0 is the zero time.
func tm(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// notFound wraps sql.ErrNoRows as rotor.ErrNotFound.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf(format+": %w", append(args, rotor.ErrNotFound)...)
	}
	if err != nil {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	return nil
}
