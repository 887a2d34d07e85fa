package sqlstore

import (
	"context"
	"fmt"

	"github.com/rotorhq/rotor"
)

// LeaseAcquire implements rotor.LeaseStore in one statement: insert the lease, or take it over
// when it expired or renew it when the caller already holds it. The row the database ends with is
// returned whoever holds it.
func (s *Store) LeaseAcquire(ctx context.Context, p *rotor.LeaseAcquireParams) (*rotor.Lease, error) {
	now, until := us(p.Now), us(p.Now.Add(p.TTL))
	var l rotor.Lease
	var exp int64
	err := s.inTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `INSERT INTO leases (name, holder, fence, expires_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (name) DO UPDATE SET
				fence = CASE WHEN leases.holder = excluded.holder THEN leases.fence ELSE leases.fence + 1 END,
				holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
			p.Name, p.Holder, until, now); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT name, holder, fence, expires_at FROM leases WHERE name = ?`, p.Name).
			Scan(&l.Name, &l.Holder, &l.Fence, &exp)
	})
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", p.Name, err)
	}
	l.ExpiresAt = tm(exp)
	return &l, nil
}

// LeaseRelease implements rotor.LeaseStore. Releasing expires the lease; the fencing token stays.
func (s *Store) LeaseRelease(ctx context.Context, name, holder string) error {
	if _, err := s.exec(ctx, `UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
