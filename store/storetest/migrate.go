package storetest

import (
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func migrations(files map[string]string) fstest.MapFS {
	fs := fstest.MapFS{}
	for name, sql := range files {
		fs[name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return fs
}

func testMigrationFailure(t *testing.T, open func() Migrator) {
	m := open()
	defer m.Close()
	v1 := map[string]string{"0001_first.sql": "CREATE TABLE t1 (id BIGINT PRIMARY KEY);"}
	require.NoError(t, m.MigrateFS(ctx(t), migrations(v1)))
	v, err := m.SchemaVersion(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 1, v)

	// Migration 2 creates a table, writes a row, then fails.
	broken := map[string]string{
		"0001_first.sql":  v1["0001_first.sql"],
		"0002_second.sql": "CREATE TABLE t2 (id BIGINT PRIMARY KEY);\nINSERT INTO t1 (id) VALUES (1);\nTHIS IS NOT SQL;",
	}
	err = m.MigrateFS(ctx(t), migrations(broken))
	require.ErrorContains(t, err, "migration 0002_second")
	v, err = m.SchemaVersion(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 1, v, "a failed migration leaves the schema at the previous version")

	// The fixed migration applies cleanly: t2 was not left behind, and t1 holds no row 1.
	fixed := map[string]string{
		"0001_first.sql":  v1["0001_first.sql"],
		"0002_second.sql": "CREATE TABLE t2 (id BIGINT PRIMARY KEY);\nINSERT INTO t1 (id) VALUES (1);",
	}
	require.NoError(t, m.MigrateFS(ctx(t), migrations(fixed)))
	v, err = m.SchemaVersion(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 2, v)

	// Applying again is a no-op.
	require.NoError(t, m.MigrateFS(ctx(t), migrations(fixed)))

	// A gap in versions is refused before anything runs.
	gap := map[string]string{"0001_first.sql": v1["0001_first.sql"], "0003_third.sql": "CREATE TABLE t3 (id BIGINT);"}
	require.ErrorContains(t, m.MigrateFS(ctx(t), migrations(gap)), "expected version 2")
}

func testMigrationConcurrent(t *testing.T, open func() Migrator) {
	files := migrations(map[string]string{
		"0001_a.sql": "CREATE TABLE a (id BIGINT PRIMARY KEY);",
		"0002_b.sql": "CREATE TABLE b (id BIGINT PRIMARY KEY);",
		"0003_c.sql": "CREATE TABLE c (id BIGINT PRIMARY KEY); INSERT INTO a (id) VALUES (1);",
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			m := open()
			defer m.Close()
			if err := m.MigrateFS(ctx(t), files); err != nil {
				t.Errorf("concurrent migrate: %v", err)
			}
		})
	}
	wg.Wait()
	m := open()
	defer m.Close()
	v, err := m.SchemaVersion(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 3, v)
}
