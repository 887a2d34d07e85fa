package sqlstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
)

const rotationCols = `id, binding_id, tenant, owner_kind, owner_id, app_id, trigger_kind, state, resume_state,
	cancel_requested, old_key_id, new_key_id,
	new_end_at, needs_attention, attempt, next_attempt_at, last_error, lease_owner, lease_expires_at, fence,
	grace_until, created_at, updated_at, finished_at, requested_by`

// terminalStates is the SQL list of states in which a rotation never runs again on its own.
const terminalStates = `('completed', 'cancelled')`

func scanRotation(sc interface{ Scan(...any) error }) (*rotor.Rotation, error) {
	var r rotor.Rotation
	var newEnd, next, leaseExp, grace, created, updated, finished int64
	if err := sc.Scan(&r.ID, &r.BindingID, &r.Tenant, &r.OwnerKind, &r.OwnerID, &r.AppID, &r.Trigger, &r.State,
		&r.ResumeState, &r.CancelRequested, &r.OldKeyID, &r.NewKeyID, &newEnd, &r.NeedsAttention, &r.Attempt, &next, &r.LastError, &r.LeaseOwner,
		&leaseExp, &r.Fence, &grace, &created, &updated, &finished, &r.RequestedBy); err != nil {
		return nil, err
	}
	r.NewEndAt, r.NextAttemptAt, r.LeaseExpiresAt, r.GraceUntil = tm(newEnd), tm(next), tm(leaseExp), tm(grace)
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = tm(created), tm(updated), tm(finished)
	return &r, nil
}

// RotationInsert implements rotor.RotationStore.
func (s *Store) RotationInsert(ctx context.Context, r *rotor.Rotation) error {
	_, err := s.exec(ctx, `INSERT INTO rotations (`+rotationCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.BindingID, r.Tenant, r.OwnerKind, r.OwnerID, r.AppID, r.Trigger, r.State, r.ResumeState,
		r.CancelRequested, r.OldKeyID, r.NewKeyID,
		us(r.NewEndAt), r.NeedsAttention, r.Attempt, us(r.NextAttemptAt), r.LastError, r.LeaseOwner,
		us(r.LeaseExpiresAt), r.Fence, us(r.GraceUntil), us(r.CreatedAt), us(r.UpdatedAt), us(r.FinishedAt), r.RequestedBy)
	if err != nil {
		return fmt.Errorf("insert rotation %s: %w", r.ID, s.conflict(err, "binding "+r.BindingID+" already has a rotation in flight"))
	}
	return nil
}

// RotationGet implements rotor.RotationStore.
func (s *Store) RotationGet(ctx context.Context, id string) (*rotor.Rotation, error) {
	r, err := scanRotation(s.queryRow(ctx, `SELECT `+rotationCols+` FROM rotations WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "rotation %s", id)
	}
	return r, nil
}

// RotationList implements rotor.RotationStore.
func (s *Store) RotationList(ctx context.Context, p *rotor.RotationListParams) ([]*rotor.Rotation, error) {
	var where []string
	var args []any
	if p.Tenant != "" {
		where, args = append(where, `tenant = ?`), append(args, p.Tenant)
	}
	if p.BindingID != "" {
		where, args = append(where, `binding_id = ?`), append(args, p.BindingID)
	}
	if p.OwnerID != "" {
		where, args = append(where, `owner_id = ?`), append(args, p.OwnerID)
	}
	if len(p.States) > 0 {
		where = append(where, `state IN (`+strings.TrimSuffix(strings.Repeat("?,", len(p.States)), ",")+`)`)
		for _, st := range p.States {
			args = append(args, st)
		}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rs, err := queryAll(ctx, s, scanRotation, `SELECT `+rotationCols+` FROM rotations`+whereClause(where)+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list rotations: %w", err)
	}
	return rs, nil
}

// RotationClaim implements rotor.RotationStore. On PostgreSQL the candidate rows are locked with
// FOR UPDATE SKIP LOCKED so that concurrent claimers pass over each other's rows; on SQLite the
// single writer serialises claims.
func (s *Store) RotationClaim(ctx context.Context, p *rotor.RotationClaimParams) ([]*rotor.Rotation, error) {
	now := us(p.Now)
	limit := max(p.Limit, 1)
	var claimed []*rotor.Rotation
	err := s.inTx(ctx, func(tx *Store) error {
		ids, err := queryAll(ctx, tx, scanString, `SELECT id FROM rotations
			WHERE state NOT IN `+terminalStates+` AND next_attempt_at > 0 AND next_attempt_at <= ? AND (lease_owner = '' OR lease_expires_at <= ?)
			ORDER BY next_attempt_at, id LIMIT ?`+tx.d.lockRows, now, now, limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			r, err := scanRotation(tx.queryRow(ctx, `UPDATE rotations SET lease_owner = ?, lease_expires_at = ?, fence = fence + 1
				WHERE id = ? RETURNING `+rotationCols, p.Worker, us(p.Now.Add(p.LeaseFor)), id))
			if err != nil {
				return fmt.Errorf("lease rotation %s: %w", id, err)
			}
			claimed = append(claimed, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim rotations: %w", err)
	}
	return claimed, nil
}

// RotationUpdate implements rotor.RotationStore. The fence check makes a worker whose lease was
// taken over unable to write.
func (s *Store) RotationUpdate(ctx context.Context, r *rotor.Rotation) error {
	res, err := s.exec(ctx, `UPDATE rotations SET state = ?, resume_state = ?, cancel_requested = ?,
			old_key_id = ?, new_key_id = ?, new_end_at = ?,
			needs_attention = ?, attempt = ?, next_attempt_at = ?, last_error = ?, lease_owner = ?,
			lease_expires_at = ?, grace_until = ?, updated_at = ?, finished_at = ?, requested_by = ?
		WHERE id = ? AND fence = ?`,
		r.State, r.ResumeState, r.CancelRequested, r.OldKeyID, r.NewKeyID, us(r.NewEndAt), r.NeedsAttention, r.Attempt, us(r.NextAttemptAt),
		r.LastError, r.LeaseOwner, us(r.LeaseExpiresAt), us(r.GraceUntil), us(r.UpdatedAt), us(r.FinishedAt),
		r.RequestedBy, r.ID, r.Fence)
	if err != nil {
		return fmt.Errorf("update rotation %s: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.RotationGet(ctx, r.ID); err != nil {
			return fmt.Errorf("update rotation: %w", err)
		}
		return fmt.Errorf("update rotation %s with fence %d: %w", r.ID, r.Fence, rotor.ErrLeaseLost)
	}
	return nil
}

// RotationRenewLease implements rotor.RotationStore.
func (s *Store) RotationRenewLease(ctx context.Context, id string, fence int64, until time.Time) error {
	res, err := s.exec(ctx, `UPDATE rotations SET lease_expires_at = ? WHERE id = ? AND fence = ?`, us(until), id, fence)
	if err != nil {
		return fmt.Errorf("renew lease of rotation %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.RotationGet(ctx, id); err != nil {
			return fmt.Errorf("renew lease: %w", err)
		}
		return fmt.Errorf("renew lease of rotation %s with fence %d: %w", id, fence, rotor.ErrLeaseLost)
	}
	return nil
}

// RotationRequestCancel implements rotor.RotationStore.
func (s *Store) RotationRequestCancel(ctx context.Context, id string, now time.Time) (*rotor.Rotation, error) {
	return s.rotationRequest(ctx, id, `cancel_requested = TRUE, next_attempt_at = ?, updated_at = ?`,
		`state NOT IN `+terminalStates, "cancel", us(now), us(now))
}

// RotationRequestRetry implements rotor.RotationStore.
func (s *Store) RotationRequestRetry(ctx context.Context, id string, now time.Time) (*rotor.Rotation, error) {
	return s.rotationRequest(ctx, id, `attempt = 0, next_attempt_at = ?, updated_at = ?`,
		`state = 'failed'`, "retry", us(now), us(now))
}

func (s *Store) rotationRequest(ctx context.Context, id, set, when, what string, args ...any) (*rotor.Rotation, error) {
	var out *rotor.Rotation
	err := s.inTx(ctx, func(tx *Store) error {
		r, err := tx.RotationGet(ctx, id)
		if err != nil {
			return err
		}
		res, err := tx.exec(ctx, `UPDATE rotations SET `+set+` WHERE id = ? AND `+when, append(args, id)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("rotation %s is %s: %w", id, r.State, rotor.ErrConflict)
		}
		out, err = tx.RotationGet(ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s rotation: %w", what, err)
	}
	return out, nil
}

const stepCols = `rotation_id, name, ordinal, type, on_failure, state, attempt, message, undo, started_at, finished_at`

func scanStep(sc interface{ Scan(...any) error }) (*rotor.RotationStep, error) {
	var st rotor.RotationStep
	var started, finished int64
	var undo string
	if err := sc.Scan(&st.RotationID, &st.Name, &st.Ordinal, &st.Type, &st.OnFailure, &st.State, &st.Attempt,
		&st.Message, &undo, &started, &finished); err != nil {
		return nil, err
	}
	st.StartedAt, st.FinishedAt = tm(started), tm(finished)
	if undo != "" {
		b, err := base64.StdEncoding.DecodeString(undo)
		if err != nil {
			return nil, fmt.Errorf("step %s undo: %w", st.Name, err)
		}
		st.Undo = b
	}
	return &st, nil
}

// RotationStepPut implements rotor.RotationStore: it creates or replaces the step by name.
func (s *Store) RotationStepPut(ctx context.Context, st *rotor.RotationStep) error {
	undo := ""
	if len(st.Undo) > 0 {
		undo = base64.StdEncoding.EncodeToString(st.Undo)
	}
	_, err := s.exec(ctx, `INSERT INTO rotation_steps (`+stepCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (rotation_id, name) DO UPDATE SET ordinal = excluded.ordinal, type = excluded.type,
			on_failure = excluded.on_failure, state = excluded.state, attempt = excluded.attempt,
			message = excluded.message, undo = excluded.undo, started_at = excluded.started_at,
			finished_at = excluded.finished_at`,
		st.RotationID, st.Name, st.Ordinal, st.Type, st.OnFailure, st.State, st.Attempt, st.Message, undo,
		us(st.StartedAt), us(st.FinishedAt))
	if err != nil {
		return fmt.Errorf("store step %s of rotation %s: %w", st.Name, st.RotationID, err)
	}
	return nil
}

// RotationStepList implements rotor.RotationStore.
func (s *Store) RotationStepList(ctx context.Context, rotationID string) ([]*rotor.RotationStep, error) {
	steps, err := queryAll(ctx, s, scanStep, `SELECT `+stepCols+` FROM rotation_steps WHERE rotation_id = ? ORDER BY ordinal, name`, rotationID)
	if err != nil {
		return nil, fmt.Errorf("list steps of rotation %s: %w", rotationID, err)
	}
	return steps, nil
}

// SealedSecretPut implements rotor.RotationStore.
func (s *Store) SealedSecretPut(ctx context.Context, ss *rotor.SealedSecret) error {
	_, err := s.exec(ctx, `INSERT INTO sealed_secrets (rotation_id, tenant, key_id, key_ref, ciphertext, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, ss.RotationID, ss.Tenant, ss.KeyID, ss.KeyRef,
		base64.StdEncoding.EncodeToString(ss.Ciphertext), us(ss.CreatedAt))
	if err != nil {
		return fmt.Errorf("store sealed secret of rotation %s: %w", ss.RotationID, s.conflict(err, "a sealed secret is already stored"))
	}
	return nil
}

// SealedSecretGet implements rotor.RotationStore.
func (s *Store) SealedSecretGet(ctx context.Context, rotationID string) (*rotor.SealedSecret, error) {
	var ss rotor.SealedSecret
	var ct string
	var created int64
	err := s.queryRow(ctx, `SELECT rotation_id, tenant, key_id, key_ref, ciphertext, created_at
		FROM sealed_secrets WHERE rotation_id = ?`, rotationID).Scan(&ss.RotationID, &ss.Tenant, &ss.KeyID, &ss.KeyRef, &ct, &created)
	if err != nil {
		return nil, notFound(err, "sealed secret of rotation %s", rotationID)
	}
	if ss.Ciphertext, err = base64.StdEncoding.DecodeString(ct); err != nil {
		return nil, fmt.Errorf("sealed secret of rotation %s: %w", rotationID, err)
	}
	ss.CreatedAt = tm(created)
	return &ss, nil
}

// SealedRewrap implements rotor.RotationStore, in batches of one transaction each.
func (s *Store) SealedRewrap(ctx context.Context, keyRef string, rewrap func(ct []byte) ([]byte, error)) (int, error) {
	type item struct {
		rotation, step string
		ct             []byte
	}
	var items []item
	rows, err := s.query(ctx, `SELECT rotation_id, ciphertext FROM sealed_secrets`)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var id, ct string
		if err := rows.Scan(&id, &ct); err != nil {
			rows.Close()
			return 0, err
		}
		b, err := base64.StdEncoding.DecodeString(ct)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("sealed secret of rotation %s: %w", id, err)
		}
		items = append(items, item{rotation: id, ct: b})
	}
	if err := errorsJoin(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	steps, err := queryAll(ctx, s, scanStep, `SELECT `+stepCols+` FROM rotation_steps WHERE undo <> ''`)
	if err != nil {
		return 0, err
	}
	for _, st := range steps {
		items = append(items, item{rotation: st.RotationID, step: st.Name, ct: st.Undo})
	}
	changed := 0
	for start := 0; start < len(items); start += 200 {
		batch := items[start:min(start+200, len(items))]
		err := s.inTx(ctx, func(tx *Store) error {
			for _, it := range batch {
				out, err := rewrap(it.ct)
				if err != nil {
					return fmt.Errorf("rewrap value of rotation %s %s: %w", it.rotation, it.step, err)
				}
				if string(out) == string(it.ct) {
					continue
				}
				enc := base64.StdEncoding.EncodeToString(out)
				if it.step == "" {
					_, err = tx.exec(ctx, `UPDATE sealed_secrets SET ciphertext = ?, key_ref = ? WHERE rotation_id = ?`, enc, keyRef, it.rotation)
				} else {
					_, err = tx.exec(ctx, `UPDATE rotation_steps SET undo = ? WHERE rotation_id = ? AND name = ?`, enc, it.rotation, it.step)
				}
				if err != nil {
					return err
				}
				changed++
			}
			return nil
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}
