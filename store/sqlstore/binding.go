package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rotorhq/rotor"
)

const bindingCols = `id, tenant, owner_kind, owner_id, app_id, kind, policy, key_id, steps, source, paused,
	rotate_offset, created_at, updated_at`

func scanBinding(sc interface{ Scan(...any) error }) (*rotor.Binding, error) {
	var b rotor.Binding
	var steps string
	var offset, created, updated int64
	if err := sc.Scan(&b.ID, &b.Tenant, &b.OwnerKind, &b.OwnerID, &b.AppID, &b.Kind, &b.Policy, &b.KeyID, &steps,
		&b.Source, &b.Paused, &offset, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(steps), &b.Steps); err != nil {
		return nil, fmt.Errorf("binding %s steps: %w", b.ID, err)
	}
	b.RotateOffset = time.Duration(offset) * time.Microsecond
	b.CreatedAt, b.UpdatedAt = tm(created), tm(updated)
	return &b, nil
}

// BindingInsert implements rotor.BindingStore.
func (s *Store) BindingInsert(ctx context.Context, b *rotor.Binding) error {
	_, err := s.exec(ctx, `INSERT INTO bindings (`+bindingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.Tenant, b.OwnerKind, b.OwnerID, b.AppID, b.Kind, b.Policy, b.KeyID, jsonText(b.Steps), b.Source,
		b.Paused, b.RotateOffset.Microseconds(), us(b.CreatedAt), us(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert binding %s: %w", b.ID, s.conflict(err, "credential already bound"))
	}
	return nil
}

// BindingUpdate implements rotor.BindingStore.
func (s *Store) BindingUpdate(ctx context.Context, b *rotor.Binding, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE bindings SET owner_kind = ?, owner_id = ?, app_id = ?, kind = ?, policy = ?,
			key_id = ?, steps = ?, source = ?, paused = ?, rotate_offset = ?, updated_at = ?
		WHERE id = ? AND updated_at = ?`,
		b.OwnerKind, b.OwnerID, b.AppID, b.Kind, b.Policy, b.KeyID, jsonText(b.Steps), b.Source, b.Paused,
		b.RotateOffset.Microseconds(), us(now), b.ID, us(b.UpdatedAt))
	if err != nil {
		return fmt.Errorf("update binding %s: %w", b.ID, s.conflict(err, "credential already bound"))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.BindingGet(ctx, b.ID); err != nil {
			return fmt.Errorf("update binding: %w", err)
		}
		return fmt.Errorf("update binding %s: changed since it was read: %w", b.ID, rotor.ErrConflict)
	}
	b.UpdatedAt = tm(us(now))
	return nil
}

// BindingGet implements rotor.BindingStore.
func (s *Store) BindingGet(ctx context.Context, id string) (*rotor.Binding, error) {
	b, err := scanBinding(s.queryRow(ctx, `SELECT `+bindingCols+` FROM bindings WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "binding %s", id)
	}
	return b, nil
}

// BindingList implements rotor.BindingStore.
func (s *Store) BindingList(ctx context.Context, p *rotor.BindingListParams) ([]*rotor.Binding, error) {
	var where []string
	var args []any
	if p.Tenant != "" {
		where, args = append(where, `tenant = ?`), append(args, p.Tenant)
	}
	if p.OwnerID != "" {
		where, args = append(where, `owner_id = ?`), append(args, p.OwnerID)
	}
	if p.Policy != "" {
		where, args = append(where, `policy = ?`), append(args, p.Policy)
	}
	bs, err := queryAll(ctx, s, scanBinding, `SELECT `+bindingCols+` FROM bindings`+whereClause(where)+` ORDER BY tenant, owner_id, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list bindings: %w", err)
	}
	return bs, nil
}

// BindingDelete implements rotor.BindingStore. A binding with a rotation in flight cannot be
// deleted (ErrConflict); its finished rotations go with it.
func (s *Store) BindingDelete(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *Store) error {
		var inFlight int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM rotations WHERE binding_id = ? AND state NOT IN ('completed', 'cancelled')`, id).Scan(&inFlight); err != nil {
			return fmt.Errorf("delete binding %s: %w", id, err)
		}
		if inFlight > 0 {
			return fmt.Errorf("delete binding %s: a rotation is in flight: %w", id, rotor.ErrConflict)
		}
		if _, err := tx.exec(ctx, `DELETE FROM sealed_secrets WHERE rotation_id IN (SELECT id FROM rotations WHERE binding_id = ?)`, id); err != nil {
			return fmt.Errorf("delete binding %s: %w", id, err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM rotations WHERE binding_id = ?`, id); err != nil {
			return fmt.Errorf("delete binding %s: %w", id, err)
		}
		res, err := tx.exec(ctx, `DELETE FROM bindings WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete binding %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delete binding %s: %w", id, rotor.ErrNotFound)
		}
		return nil
	})
}
