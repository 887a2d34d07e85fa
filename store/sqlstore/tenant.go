package sqlstore

import (
	"context"
	"fmt"

	"github.com/rotorhq/rotor"
)

// TenantUpsert implements rotor.TenantStore.
func (s *Store) TenantUpsert(ctx context.Context, t *rotor.Tenant) error {
	_, err := s.exec(ctx, `INSERT INTO tenants (name, tenant_id, display_name, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET tenant_id = excluded.tenant_id,
			display_name = excluded.display_name, updated_at = excluded.updated_at`,
		t.Name, t.TenantID, t.DisplayName, us(t.CreatedAt), us(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("upsert tenant %s: %w", t.Name, err)
	}
	return nil
}

const tenantCols = `name, tenant_id, display_name, created_at, updated_at`

func scanTenant(sc interface{ Scan(...any) error }) (*rotor.Tenant, error) {
	var t rotor.Tenant
	var created, updated int64
	if err := sc.Scan(&t.Name, &t.TenantID, &t.DisplayName, &created, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = tm(created), tm(updated)
	return &t, nil
}

// TenantGet implements rotor.TenantStore.
func (s *Store) TenantGet(ctx context.Context, name string) (*rotor.Tenant, error) {
	t, err := scanTenant(s.queryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE name = ?`, name))
	if err != nil {
		return nil, notFound(err, "tenant %s", name)
	}
	return t, nil
}

// TenantList implements rotor.TenantStore.
func (s *Store) TenantList(ctx context.Context) ([]*rotor.Tenant, error) {
	return queryAll(ctx, s, scanTenant, `SELECT `+tenantCols+` FROM tenants ORDER BY name`)
}

// SyncCursorGet implements rotor.TenantStore.
func (s *Store) SyncCursorGet(ctx context.Context, tenant, collection string) (*rotor.SyncCursor, error) {
	var c rotor.SyncCursor
	var full, synced int64
	err := s.queryRow(ctx, `SELECT tenant, collection, delta_link, full_sync_at, synced_at
		FROM sync_cursors WHERE tenant = ? AND collection = ?`, tenant, collection).
		Scan(&c.Tenant, &c.Collection, &c.DeltaLink, &full, &synced)
	if err != nil {
		return nil, notFound(err, "sync cursor %s/%s", tenant, collection)
	}
	c.FullSyncAt, c.SyncedAt = tm(full), tm(synced)
	return &c, nil
}

// SyncCursorPut implements rotor.TenantStore.
func (s *Store) SyncCursorPut(ctx context.Context, c *rotor.SyncCursor) error {
	_, err := s.exec(ctx, `INSERT INTO sync_cursors (tenant, collection, delta_link, full_sync_at, synced_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant, collection) DO UPDATE SET delta_link = excluded.delta_link,
			full_sync_at = excluded.full_sync_at, synced_at = excluded.synced_at`,
		c.Tenant, c.Collection, c.DeltaLink, us(c.FullSyncAt), us(c.SyncedAt))
	if err != nil {
		return fmt.Errorf("store sync cursor %s/%s: %w", c.Tenant, c.Collection, err)
	}
	return nil
}

// SyncCursorDelete implements rotor.TenantStore.
func (s *Store) SyncCursorDelete(ctx context.Context, tenant, collection string) error {
	if _, err := s.exec(ctx, `DELETE FROM sync_cursors WHERE tenant = ? AND collection = ?`, tenant, collection); err != nil {
		return fmt.Errorf("delete sync cursor %s/%s: %w", tenant, collection, err)
	}
	return nil
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanString reads a one-column row of text, for queryAll.
func scanString(sc interface{ Scan(...any) error }) (string, error) {
	var v string
	return v, sc.Scan(&v)
}
