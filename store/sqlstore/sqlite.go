package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var sqliteDialect = &dialect{
	name: "sqlite",
	isUnique: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	// SQLite has one writer: a write transaction (BEGIN IMMEDIATE) already excludes every other.
}

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL mode with one writer
// connection and a pool of readers, and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: path is empty")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: path %q must not contain ? or #", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create directory for %s: %w", path, err)
		}
	}
	pragmas := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		pragmas.Add("_pragma", p)
	}
	wq := url.Values{"_txlock": {"immediate"}}
	for k, v := range pragmas {
		wq[k] = v
	}
	// The writer's page cache: inventory keys are random GUIDs, so inserts touch pages all over
	// the B-trees; with SQLite's default 2 MB cache a large sync spends its time re-reading them.
	// 48 MB keeps a full sync of 300,000 credentials under 256 MB of RSS (222 MB; 64 MB of cache
	// made it 249 to 257 MB for about 15% less time, docs/benchmarks.md).
	wq.Add("_pragma", "cache_size(-49152)")
	wq.Add("_pragma", "temp_store(MEMORY)")
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := pingBusy(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rq := url.Values{}
	for k, v := range pragmas {
		rq[k] = v
	}
	rq.Add("_pragma", "query_only(1)")
	// Readers scan large ranges (rotor ls, the dashboard): map the file instead of copying pages
	// through read(2), and keep more of it cached.
	rq.Add("_pragma", "mmap_size(1073741824)")
	rq.Add("_pragma", "cache_size(-32768)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open readers for %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return newStore(ctx, sqliteDialect, w, r, opts)
}

// pingBusy opens the writer's connection, trying again while the database is busy. Switching a
// new database to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at once, without
// waiting out busy_timeout, when two processes open a new database together (each holds a
// shared lock the other's switch waits for): the second try finds it in WAL mode already.
func pingBusy(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	wait := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		var e *sqlite.Error
		if err == nil || !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
