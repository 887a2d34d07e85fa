package sqlstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rotorhq/rotor"
)

// AuditAppend implements rotor.AuditStore. The UPDATE of the single audit_head row serialises
// appenders (a row lock on PostgreSQL, the one writer on SQLite), so the chain never forks.
func (s *Store) AuditAppend(ctx context.Context, e *rotor.AuditEvent) error {
	return s.inTx(ctx, func(tx *Store) error {
		var seq int64
		var prevHex string
		if err := tx.queryRow(ctx, `UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash`).Scan(&seq, &prevHex); err != nil {
			return fmt.Errorf("append audit event: advance head: %w", err)
		}
		prev, err := hex.DecodeString(prevHex)
		if err != nil {
			return fmt.Errorf("append audit event: head hash: %w", err)
		}
		ev := *e
		ev.Seq, ev.At, ev.PrevHash = seq, tm(us(e.At)), prev
		ev.Hash = ev.ChainHash(prev)
		details := ev.Details
		if details == nil {
			details = map[string]string{}
		}
		if _, err := tx.exec(ctx, `INSERT INTO audit_events (seq, at, actor, action, tenant, app_id, key_id, rotation_id,
				outcome, reason, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.Seq, us(ev.At), ev.Actor, ev.Action, ev.Tenant, ev.AppID, ev.KeyID, ev.RotationID, ev.Outcome, ev.Reason,
			jsonText(details), prevHex, hex.EncodeToString(ev.Hash)); err != nil {
			return fmt.Errorf("append audit event: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE audit_head SET hash = ? WHERE id = 1`, hex.EncodeToString(ev.Hash)); err != nil {
			return fmt.Errorf("append audit event: move head: %w", err)
		}
		*e = ev
		return nil
	})
}

func scanAudit(sc interface{ Scan(...any) error }) (*rotor.AuditEvent, error) {
	var e rotor.AuditEvent
	var at int64
	var details, prev, hash string
	if err := sc.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Tenant, &e.AppID, &e.KeyID, &e.RotationID, &e.Outcome,
		&e.Reason, &details, &prev, &hash); err != nil {
		return nil, err
	}
	e.At = tm(at)
	var err1, err2, err3 error
	err1 = json.Unmarshal([]byte(details), &e.Details)
	e.PrevHash, err2 = hex.DecodeString(prev)
	e.Hash, err3 = hex.DecodeString(hash)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("audit event %d: %w", e.Seq, err)
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return &e, nil
}

// AuditList implements rotor.AuditStore.
func (s *Store) AuditList(ctx context.Context, p *rotor.AuditListParams) ([]*rotor.AuditEvent, error) {
	var where []string
	var args []any
	if p.Tenant != "" {
		where, args = append(where, `tenant = ?`), append(args, p.Tenant)
	}
	if p.AppID != "" {
		where, args = append(where, `app_id = ?`), append(args, p.AppID)
	}
	if p.RotationID != "" {
		where, args = append(where, `rotation_id = ?`), append(args, p.RotationID)
	}
	order := ` ORDER BY seq`
	if p.Descending {
		order = ` ORDER BY seq DESC`
		if p.AfterSeq > 0 {
			where, args = append(where, `seq < ?`), append(args, p.AfterSeq)
		}
	} else if p.AfterSeq > 0 {
		where, args = append(where, `seq > ?`), append(args, p.AfterSeq)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	evs, err := queryAll(ctx, s, scanAudit, `SELECT seq, at, actor, action, tenant, app_id, key_id, rotation_id, outcome,
		reason, details, prev_hash, hash FROM audit_events`+whereClause(where)+order+` LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return evs, nil
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }
