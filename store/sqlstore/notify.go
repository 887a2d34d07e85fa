package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
)

const notificationCols = `id, dedupe_key, route, notifier, event, tenant, app_id, key_id, rotation_id, audit_seq,
	payload, status, attempt, next_attempt_at, last_error, recipients, lease_owner, lease_expires_at, fence,
	created_at, updated_at, sent_at`

// dueStatuses is the SQL list of statuses a sender may claim.
const dueStatuses = `('pending', 'retrying')`

func scanNotification(sc interface{ Scan(...any) error }) (*rotor.Notification, error) {
	var n rotor.Notification
	var payload, recipients string
	var next, leaseExp, created, updated, sent int64
	if err := sc.Scan(&n.ID, &n.Key, &n.Route, &n.Notifier, &n.Event, &n.Tenant, &n.AppID, &n.KeyID, &n.RotationID,
		&n.AuditSeq, &payload, &n.Status, &n.Attempt, &next, &n.LastError, &recipients, &n.LeaseOwner, &leaseExp,
		&n.Fence, &created, &updated, &sent); err != nil {
		return nil, err
	}
	n.Payload = []byte(payload)
	if err := json.Unmarshal([]byte(recipients), &n.Recipients); err != nil {
		return nil, fmt.Errorf("notification %s recipients: %w", n.ID, err)
	}
	if len(n.Recipients) == 0 {
		n.Recipients = nil
	}
	n.NextAttemptAt, n.LeaseExpiresAt = tm(next), tm(leaseExp)
	n.CreatedAt, n.UpdatedAt, n.SentAt = tm(created), tm(updated), tm(sent)
	return &n, nil
}

func recipientsText(r []string) string {
	if r == nil {
		r = []string{}
	}
	return jsonText(r)
}

// NotificationInsert implements rotor.NotificationStore. ON CONFLICT DO NOTHING makes the unique
// key the guard: of several processes inserting the same key, exactly one stores a row, and the
// others learn it from the row count without an error (which would abort a PostgreSQL
// transaction).
func (s *Store) NotificationInsert(ctx context.Context, n *rotor.Notification) (bool, error) {
	if n.ID == "" || n.Key == "" {
		return false, fmt.Errorf("insert notification: ID and Key are required")
	}
	if !n.Status.Valid() {
		return false, fmt.Errorf("insert notification %s: invalid status %q", n.ID, n.Status)
	}
	payload := string(n.Payload)
	if payload == "" {
		payload = "{}"
	}
	res, err := s.exec(ctx, `INSERT INTO notifications (`+notificationCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dedupe_key) DO NOTHING`,
		n.ID, n.Key, n.Route, n.Notifier, n.Event, n.Tenant, n.AppID, n.KeyID, n.RotationID, n.AuditSeq,
		payload, n.Status, n.Attempt, us(n.NextAttemptAt), n.LastError, recipientsText(n.Recipients), n.LeaseOwner,
		us(n.LeaseExpiresAt), n.Fence, us(n.CreatedAt), us(n.UpdatedAt), us(n.SentAt))
	if err != nil {
		return false, fmt.Errorf("insert notification %s: %w", n.Key, s.conflict(err, "notification id "+n.ID+" is taken"))
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert notification %s: %w", n.Key, err)
	}
	return rows == 1, nil
}

// NotificationGet implements rotor.NotificationStore.
func (s *Store) NotificationGet(ctx context.Context, id string) (*rotor.Notification, error) {
	n, err := scanNotification(s.queryRow(ctx, `SELECT `+notificationCols+` FROM notifications WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "notification %s", id)
	}
	return n, nil
}

// NotificationList implements rotor.NotificationStore.
func (s *Store) NotificationList(ctx context.Context, p *rotor.NotificationListParams) ([]*rotor.Notification, error) {
	var where []string
	var args []any
	if len(p.Statuses) > 0 {
		where = append(where, `status IN (`+strings.TrimSuffix(strings.Repeat("?,", len(p.Statuses)), ",")+`)`)
		for _, st := range p.Statuses {
			args = append(args, st)
		}
	}
	for _, f := range []struct{ col, v string }{{"notifier", p.Notifier}, {"route", p.Route}, {"event", p.Event}, {"tenant", p.Tenant}} {
		if f.v != "" {
			where, args = append(where, f.col+` = ?`), append(args, f.v)
		}
	}
	if c := p.Before; c != nil {
		where = append(where, `(created_at < ? OR (created_at = ? AND id < ?))`)
		args = append(args, us(c.CreatedAt), us(c.CreatedAt), c.ID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	ns, err := queryAll(ctx, s, scanNotification, `SELECT `+notificationCols+` FROM notifications`+whereClause(where)+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	return ns, nil
}

// NotificationClaim implements rotor.NotificationStore like RotationClaim: on PostgreSQL the
// candidate rows are locked with FOR UPDATE SKIP LOCKED; on SQLite the single writer serialises
// claims.
func (s *Store) NotificationClaim(ctx context.Context, p *rotor.NotificationClaimParams) ([]*rotor.Notification, error) {
	now := us(p.Now)
	limit := max(p.Limit, 1)
	var claimed []*rotor.Notification
	err := s.inTx(ctx, func(tx *Store) error {
		ids, err := queryAll(ctx, tx, scanString, `SELECT id FROM notifications
			WHERE status IN `+dueStatuses+` AND next_attempt_at <= ? AND (lease_owner = '' OR lease_expires_at <= ?)
			ORDER BY next_attempt_at, id LIMIT ?`+tx.d.lockRows, now, now, limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			n, err := scanNotification(tx.queryRow(ctx, `UPDATE notifications SET lease_owner = ?, lease_expires_at = ?, fence = fence + 1
				WHERE id = ? RETURNING `+notificationCols, p.Worker, us(p.Now.Add(p.LeaseFor)), id))
			if err != nil {
				return fmt.Errorf("lease notification %s: %w", id, err)
			}
			claimed = append(claimed, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return claimed, nil
}

// NotificationUpdate implements rotor.NotificationStore.
func (s *Store) NotificationUpdate(ctx context.Context, n *rotor.Notification) error {
	if !n.Status.Valid() {
		return fmt.Errorf("update notification %s: invalid status %q", n.ID, n.Status)
	}
	res, err := s.exec(ctx, `UPDATE notifications SET status = ?, attempt = ?, next_attempt_at = ?, last_error = ?,
			recipients = ?, lease_owner = ?, lease_expires_at = ?, updated_at = ?, sent_at = ?
		WHERE id = ? AND fence = ?`,
		n.Status, n.Attempt, us(n.NextAttemptAt), n.LastError, recipientsText(n.Recipients), n.LeaseOwner,
		us(n.LeaseExpiresAt), us(n.UpdatedAt), us(n.SentAt), n.ID, n.Fence)
	if err != nil {
		return fmt.Errorf("update notification %s: %w", n.ID, err)
	}
	if rows, _ := res.RowsAffected(); rows == 0 {
		if _, err := s.NotificationGet(ctx, n.ID); err != nil {
			return fmt.Errorf("update notification: %w", err)
		}
		return fmt.Errorf("update notification %s with fence %d: %w", n.ID, n.Fence, rotor.ErrLeaseLost)
	}
	return nil
}

// NotificationRequestRetry implements rotor.NotificationStore.
func (s *Store) NotificationRequestRetry(ctx context.Context, id string, now time.Time) (*rotor.Notification, error) {
	var out *rotor.Notification
	err := s.inTx(ctx, func(tx *Store) error {
		n, err := tx.NotificationGet(ctx, id)
		if err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE notifications SET status = 'pending', attempt = 0, next_attempt_at = ?, updated_at = ?
			WHERE id = ? AND status = 'failed'`, us(now), us(now), id)
		if err != nil {
			return err
		}
		if rows, _ := res.RowsAffected(); rows == 0 {
			return fmt.Errorf("notification %s is %s: %w", id, n.Status, rotor.ErrConflict)
		}
		out, err = tx.NotificationGet(ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("retry notification: %w", err)
	}
	return out, nil
}

// NotificationPrune implements rotor.NotificationStore.
func (s *Store) NotificationPrune(ctx context.Context, before time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM notifications WHERE status IN ('sent', 'failed') AND updated_at < ?`, us(before))
	if err != nil {
		return 0, fmt.Errorf("prune notifications: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune notifications: %w", err)
	}
	return int(n), nil
}

// NotifyCursorInit implements rotor.NotificationStore.
func (s *Store) NotifyCursorInit(ctx context.Context, name string, seq int64, now time.Time) (int64, error) {
	var pos int64
	err := s.inTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `INSERT INTO notification_cursors (name, seq, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, seq, us(now)); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT seq FROM notification_cursors WHERE name = ?`, name).Scan(&pos)
	})
	if err != nil {
		return 0, fmt.Errorf("init notification cursor %s: %w", name, err)
	}
	return pos, nil
}

// NotifyCursorAdvance implements rotor.NotificationStore.
func (s *Store) NotifyCursorAdvance(ctx context.Context, p *rotor.NotifyCursorAdvanceParams) error {
	res, err := s.exec(ctx, `UPDATE notification_cursors SET seq = ?, updated_at = ? WHERE name = ? AND seq = ?`,
		p.To, us(p.Now), p.Name, p.From)
	if err != nil {
		return fmt.Errorf("advance notification cursor %s: %w", p.Name, err)
	}
	if rows, _ := res.RowsAffected(); rows == 1 {
		return nil
	}
	var pos int64
	if err := s.queryRow(ctx, `SELECT seq FROM notification_cursors WHERE name = ?`, p.Name).Scan(&pos); err != nil {
		return notFound(err, "notification cursor %s", p.Name)
	}
	return fmt.Errorf("advance notification cursor %s from %d: it is at %d: %w", p.Name, p.From, pos, rotor.ErrConflict)
}

// NotificationThresholdPut implements rotor.NotificationStore.
func (s *Store) NotificationThresholdPut(ctx context.Context, th *rotor.NotificationThreshold) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO notification_thresholds (tenant, key_id, threshold, end_at, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, key_id, threshold) DO NOTHING`,
		th.Tenant, th.KeyID, th.Threshold.Microseconds(), us(th.EndAt), us(th.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("record threshold %s of %s/%s: %w", th.Threshold, th.Tenant, th.KeyID, err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record threshold %s of %s/%s: %w", th.Threshold, th.Tenant, th.KeyID, err)
	}
	return rows == 1, nil
}

// NotificationThresholdList implements rotor.NotificationStore.
func (s *Store) NotificationThresholdList(ctx context.Context, p *rotor.NotificationThresholdListParams) ([]*rotor.NotificationThreshold, error) {
	var out []*rotor.NotificationThreshold
	const chunk = 500 // stay far below SQLite's and PostgreSQL's parameter limits
	for i := 0; i < len(p.KeyIDs); i += chunk {
		ids := p.KeyIDs[i:min(i+chunk, len(p.KeyIDs))]
		args := []any{p.Tenant}
		for _, id := range ids {
			args = append(args, id)
		}
		got, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (*rotor.NotificationThreshold, error) {
			var th rotor.NotificationThreshold
			var threshold, end, created int64
			if err := sc.Scan(&th.Tenant, &th.KeyID, &threshold, &end, &created); err != nil {
				return nil, err
			}
			th.Threshold, th.EndAt, th.CreatedAt = time.Duration(threshold)*time.Microsecond, tm(end), tm(created)
			return &th, nil
		}, `SELECT tenant, key_id, threshold, end_at, created_at FROM notification_thresholds
			WHERE tenant = ? AND key_id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")+`)
			ORDER BY key_id, threshold DESC`, args...)
		if err != nil {
			return nil, fmt.Errorf("list thresholds of tenant %s: %w", p.Tenant, err)
		}
		out = append(out, got...)
	}
	return out, nil
}
