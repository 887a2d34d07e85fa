package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL pool settings. Several replicas share one server, so each keeps a bounded pool;
// idle connections are closed after a while and every connection is replaced now and then, so
// that a fail-over or a connection balancer spreads them again.
const (
	pgMaxConns        = 16
	pgConnMaxIdleTime = 5 * time.Minute
	pgConnMaxLifetime = 30 * time.Minute
	pgConnectTimeout  = 10 * time.Second
)

// pgMigrationLock is the pg_advisory_xact_lock key that serialises rotor's migrators (the
// bytes of "rotormig"). Advisory locks are per database.
const pgMigrationLock int64 = 0x726f746f726d6967

// pgUniqueViolation is the SQLSTATE of unique_violation.
const pgUniqueViolation = "23505"

var postgresDialect = &dialect{
	name:   "postgres",
	dollar: true,
	// Concurrent claimers pass over the rows another transaction has locked instead of waiting
	// for them; READ COMMITTED re-checks the WHERE clause on the row's latest version after
	// locking it, so a row another replica just leased is not returned.
	lockRows: " FOR UPDATE SKIP LOCKED",
	isUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == pgUniqueViolation
	},
	// Held until the migration's transaction ends: a second migrator waits, then re-reads the
	// schema version (a new snapshot per statement under READ COMMITTED) and finds nothing to do.
	lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock)
		return err
	},
	// The claiming and the audit chain rely on READ COMMITTED semantics (a waiting UPDATE sees
	// the row as the other transaction committed it); a server or role whose default is
	// REPEATABLE READ or SERIALIZABLE would turn those waits into serialization failures.
	txOptions: &sql.TxOptions{Isolation: sql.LevelReadCommitted},
}

// OpenPostgres connects to the PostgreSQL database that dsn names and applies pending
// migrations. dsn is a connection URL (postgres://user:password@host:5432/rotor?sslmode=verify-full)
// or keyword/value pairs (host=... dbname=...), as libpq and pgx read them, including
// connect_timeout (default 10 s) and default_query_exec_mode (use exec behind a pooler in
// transaction mode). Several rotor processes may share one database: they claim work with row
// locks and migrate one at a time.
//
// Errors name the server, database and user, never the password.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's message can quote the connection string, password included.
		return nil, errors.New("postgres: the connection string (store.dsn) cannot be parsed: expected " +
			"postgres://user@host:port/database?options or host=... dbname=... pairs (details withheld: they may contain the password)")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "rotor"
	}
	// Plan every execution with its parameters. pgx prepares each statement once per connection,
	// and after five executions PostgreSQL may switch to a generic plan chosen without them: on a
	// table not analysed yet (a first sync into a new database) that plan scans the tenant's rows
	// for each lookup by owner, about eight times slower overall. rotor's queries are cheap to
	// plan.
	if _, ok := cfg.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", pgTarget(cfg), pgConnectCause(err))
	}
	s, err := newStore(ctx, postgresDialect, db, db, opts)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", pgTarget(cfg), err)
	}
	return s, nil
}

// pgTarget describes where cfg connects, for errors: hosts, database and user, no password.
func pgTarget(cfg *pgx.ConnConfig) string {
	hosts := []string{pgHostPort(cfg.Host, cfg.Port)}
	for _, f := range cfg.Fallbacks {
		if h := pgHostPort(f.Host, f.Port); !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return fmt.Sprintf("database %q on %s as user %q", cfg.Database, strings.Join(hosts, ","), cfg.User)
}

func pgHostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") { // a Unix socket directory
		return host + "/.s.PGSQL." + strconv.Itoa(int(port))
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// pgConnectCause drops pgx's "failed to connect to `user=... database=...`" prefix, which
// pgTarget already says, keeping the cause (refused, timed out, authentication failed...).
func pgConnectCause(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if cause := ce.Unwrap(); cause != nil {
			return cause
		}
	}
	return err
}
