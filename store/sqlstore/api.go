package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
)

// This file implements rotor.AccessStore and rotor.QueryStore: API tokens, signed-out sessions,
// and the keyset-paged queries of the HTTP API and the web UI.

const tokenCols = `id, name, role, token_hash, created_at, created_by, expires_at, revoked_at, revoked_by, last_used_at`

func scanToken(sc interface{ Scan(...any) error }) (*rotor.APIToken, error) {
	var t rotor.APIToken
	var created, expires, revoked, used int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &t.CreatedBy, &expires, &revoked, &t.RevokedBy, &used); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.RevokedAt, t.LastUsedAt = tm(created), tm(expires), tm(revoked), tm(used)
	return &t, nil
}

// APITokenInsert implements rotor.AccessStore.
func (s *Store) APITokenInsert(ctx context.Context, t *rotor.APIToken) error {
	return s.inTx(ctx, func(tx *Store) error {
		old, err := scanToken(tx.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE name = ? AND revoked_at = 0`, t.Name))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("insert API token %s: %w", t.Name, err)
		case old.Active(t.CreatedAt):
			return fmt.Errorf("insert API token: a token named %s exists until %s (revoke it first): %w",
				t.Name, old.ExpiresAt.Format(time.RFC3339), rotor.ErrConflict)
		default: // expired: its name is free again
			if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ?`,
				us(t.CreatedAt), t.CreatedBy, old.ID); err != nil {
				return fmt.Errorf("insert API token %s: revoke the expired one: %w", t.Name, err)
			}
		}
		_, err = tx.exec(ctx, `INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Name, t.Role, t.Hash, us(t.CreatedAt), t.CreatedBy, us(t.ExpiresAt), us(t.RevokedAt), t.RevokedBy, us(t.LastUsedAt))
		if err != nil {
			return fmt.Errorf("insert API token %s: %w", t.Name, tx.conflict(err, "token name or value taken"))
		}
		return nil
	})
}

// APITokenGet implements rotor.AccessStore.
func (s *Store) APITokenGet(ctx context.Context, id string) (*rotor.APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id))
	if err != nil {
		return nil, notFound(err, "API token %s", id)
	}
	return t, nil
}

// APITokenGetByHash implements rotor.AccessStore.
func (s *Store) APITokenGetByHash(ctx context.Context, hash string) (*rotor.APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE token_hash = ?`, hash))
	if err != nil {
		return nil, notFound(err, "API token")
	}
	return t, nil
}

// APITokenList implements rotor.AccessStore.
func (s *Store) APITokenList(ctx context.Context, p *rotor.APITokenListParams) ([]*rotor.APIToken, error) {
	q := `SELECT ` + tokenCols + ` FROM api_tokens`
	if !p.IncludeRevoked {
		q += ` WHERE revoked_at = 0`
	}
	ts, err := queryAll(ctx, s, scanToken, q+` ORDER BY name, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return ts, nil
}

// APITokenRevoke implements rotor.AccessStore.
func (s *Store) APITokenRevoke(ctx context.Context, p *rotor.APITokenRevokeParams) (*rotor.APIToken, error) {
	var out *rotor.APIToken
	err := s.inTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at = 0`,
			us(p.At), p.By, p.ID); err != nil {
			return fmt.Errorf("revoke API token %s: %w", p.ID, err)
		}
		var err error
		out, err = tx.APITokenGet(ctx, p.ID)
		return err
	})
	return out, err
}

// APITokenTouch implements rotor.AccessStore.
func (s *Store) APITokenTouch(ctx context.Context, id string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND last_used_at < ?`, us(at), id, us(at)); err != nil {
		return fmt.Errorf("record use of API token %s: %w", id, err)
	}
	return nil
}

// SessionEnd implements rotor.AccessStore.
func (s *Store) SessionEnd(ctx context.Context, id string, expiresAt time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO ended_sessions (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, id, us(expiresAt))
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// SessionEnded implements rotor.AccessStore.
func (s *Store) SessionEnded(ctx context.Context, id string) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM ended_sessions WHERE id = ?`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("look up session: %w", err)
	}
	return n > 0, nil
}

// SessionPrune implements rotor.AccessStore.
func (s *Store) SessionPrune(ctx context.Context, before time.Time) (int, error) {
	res, err := s.exec(ctx, `DELETE FROM ended_sessions WHERE expires_at < ?`, us(before))
	if err != nil {
		return 0, fmt.Errorf("prune ended sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// conds collects the conditions and arguments of a WHERE clause.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(cond string, args ...any) {
	c.where = append(c.where, cond)
	c.args = append(c.args, args...)
}

// AppSearch implements rotor.QueryStore. The figures of each app on the page come from
// correlated subqueries on the credentials_app index: a page costs a few index probes per row,
// whatever the size of the inventory.
func (s *Store) AppSearch(ctx context.Context, p *rotor.AppSearchParams) ([]*rotor.AppSummary, error) {
	now := us(p.Now)
	var c conds
	c.add(`a.deleted_at = 0`)
	if p.Tenant != "" {
		c.add(`a.tenant = ?`, p.Tenant)
	}
	if q := strings.TrimSpace(p.Query); q != "" {
		// A substring has no index: the search walks the applications, so keep the test cheap.
		// SQLite's LIKE ignores ASCII case already; PostgreSQL's ILIKE does the same.
		like := `LIKE`
		if s.d.name == "postgres" {
			like = `ILIKE`
		}
		c.add(`(a.display_name `+like+` ? ESCAPE '\' OR a.app_id IN (?, ?) OR a.id IN (?, ?))`,
			"%"+likePrefix(q), q, strings.ToLower(q), q, strings.ToLower(q))
	}
	if p.ExpiringWithin > 0 {
		c.add(`EXISTS (SELECT 1 FROM credentials c WHERE c.app_id = a.app_id AND c.tenant = a.tenant
			AND c.end_at > ? AND c.end_at <= ? AND c.removed_at = 0)`, now, now+p.ExpiringWithin.Microseconds())
	}
	if p.Expired {
		c.add(`EXISTS (SELECT 1 FROM credentials c WHERE c.app_id = a.app_id AND c.tenant = a.tenant
			AND c.end_at <= ? AND c.removed_at = 0)`, now)
	}
	if p.Managed != nil {
		not := ""
		if !*p.Managed {
			not = "NOT "
		}
		c.add(not + `EXISTS (SELECT 1 FROM bindings b WHERE b.app_id = a.app_id AND b.tenant = a.tenant)`)
	}
	if cur := p.After; cur != nil {
		c.add(`(a.tenant > ? OR (a.tenant = ? AND (a.display_name > ? OR (a.display_name = ? AND a.id > ?))))`,
			cur.Tenant, cur.Tenant, cur.DisplayName, cur.DisplayName, cur.ID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT a.tenant, a.id, a.app_id, a.display_name, a.sign_in_audience, a.tags, a.created_at, a.deleted_at, a.synced_at,
		(SELECT COUNT(*) FROM credentials c WHERE c.app_id = a.app_id AND c.tenant = a.tenant AND c.removed_at = 0),
		(SELECT COUNT(*) FROM credentials c WHERE c.app_id = a.app_id AND c.tenant = a.tenant AND c.removed_at = 0 AND c.end_at <= ?),
		(SELECT COALESCE(MIN(c.end_at), 0) FROM credentials c WHERE c.app_id = a.app_id AND c.tenant = a.tenant AND c.removed_at = 0 AND c.end_at > ?),
		(SELECT COUNT(*) FROM bindings b WHERE b.app_id = a.app_id AND b.tenant = a.tenant)
		FROM applications a` + whereClause(c.where) + ` ORDER BY a.tenant, a.display_name, a.id LIMIT ?`
	args := append([]any{now, now}, c.args...)
	out, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (*rotor.AppSummary, error) {
		var a rotor.AppSummary
		var tags string
		var created, deleted, synced, next int64
		if err := sc.Scan(&a.Tenant, &a.ID, &a.AppID, &a.DisplayName, &a.SignInAudience, &tags, &created, &deleted, &synced,
			&a.Credentials, &a.Expired, &next, &a.Bindings); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil {
			return nil, fmt.Errorf("application %s tags: %w", a.ID, err)
		}
		a.CreatedAt, a.DeletedAt, a.SyncedAt, a.NextEndAt = tm(created), tm(deleted), tm(synced), tm(next)
		return &a, nil
	}, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search applications: %w", err)
	}
	return out, nil
}

// A credential's rotation facts, as SQL over the in-flight rotations that replace it. A failed
// rotation counts in the phase it resumes in. They mirror inventory's and lifecycle's rules.
const (
	inGracePhase = `(r.state IN ('grace', 'cleaning') OR (r.state = 'failed' AND r.resume_state IN ('grace', 'cleaning')))`
	replacing    = `SELECT 1 FROM rotations r WHERE r.tenant = c.tenant AND r.old_key_id = c.key_id AND r.state NOT IN ` + terminalStates
	superseded   = `EXISTS (` + replacing + ` AND ` + inGracePhase + `)`
	inFlight     = `EXISTS (` + replacing + ` AND NOT ` + inGracePhase + `)`
	bindingOf    = `(SELECT b.id FROM bindings b WHERE b.tenant = c.tenant AND b.owner_id = c.owner_id AND b.kind = c.kind AND b.key_id = c.key_id)`
)

// statePredicate returns the SQL condition under which credential c is in state, with its
// arguments, following lifecycle.StateOf: removal first, then expiry, grace, rotating,
// expiring, active.
func statePredicate(state string, now, warnAt int64) (string, []any, error) {
	switch state {
	case "cleaned_up":
		return `(c.removed_at <> 0 AND c.removed_by = 'rotor')`, nil, nil
	case "removed":
		return `(c.removed_at <> 0 AND c.removed_by <> 'rotor')`, nil, nil
	case "expired":
		return `(c.removed_at = 0 AND c.end_at <= ?)`, []any{now}, nil
	case "grace":
		return `(c.removed_at = 0 AND c.end_at > ? AND ` + superseded + `)`, []any{now}, nil
	case "rotating":
		return `(c.removed_at = 0 AND c.end_at > ? AND NOT ` + superseded + ` AND ` + inFlight + `)`, []any{now}, nil
	case "expiring":
		return `(c.removed_at = 0 AND c.end_at > ? AND c.end_at <= ? AND NOT ` + superseded + ` AND NOT ` + inFlight + `)`, []any{now, warnAt}, nil
	case "active":
		return `(c.removed_at = 0 AND c.end_at > ? AND NOT ` + superseded + ` AND NOT ` + inFlight + `)`, []any{warnAt}, nil
	}
	return "", nil, fmt.Errorf("unknown credential state %q", state)
}

// liveStates are the states of credentials that exist and have not expired.
var liveStates = map[string]bool{"active": true, "expiring": true, "rotating": true, "grace": true}

// CredentialSearch implements rotor.QueryStore.
func (s *Store) CredentialSearch(ctx context.Context, p *rotor.CredentialSearchParams) ([]*rotor.CredentialRow, error) {
	now := us(p.Now)
	warnAt := now + p.Warn.Microseconds()
	var c conds
	if p.Tenant != "" {
		c.add(`c.tenant = ?`, p.Tenant)
	}
	if p.AppID != "" {
		c.add(`c.app_id = ?`, p.AppID)
	}
	if p.OwnerKind != "" {
		c.add(`c.owner_kind = ?`, p.OwnerKind)
	}
	if p.OwnerID != "" {
		c.add(`c.owner_id = ?`, p.OwnerID)
	}
	if p.Kind != "" {
		c.add(`c.kind = ?`, p.Kind)
	}
	if !p.EndAfter.IsZero() {
		c.add(`c.end_at > ?`, us(p.EndAfter))
	}
	if !p.EndBefore.IsZero() {
		c.add(`c.end_at <= ?`, us(p.EndBefore))
	}
	if len(p.States) > 0 {
		var ors []string
		allLive := true
		for _, st := range p.States {
			pred, args, err := statePredicate(st, now, warnAt)
			if err != nil {
				return nil, fmt.Errorf("search credentials: %w", err)
			}
			ors = append(ors, pred)
			c.args = append(c.args, args...)
			allLive = allLive && liveStates[st]
		}
		c.where = append(c.where, `(`+strings.Join(ors, ` OR `)+`)`)
		if allLive { // lets the indexes skip removed credentials and the long tail of expired ones
			c.add(`c.removed_at = 0 AND c.end_at > ?`, now)
		}
	} else if !p.IncludeRemoved {
		c.add(`c.removed_at = 0`)
	}
	if cur := p.After; cur != nil {
		e := us(cur.EndAt)
		c.add(`(c.end_at > ? OR (c.end_at = ? AND (c.tenant > ? OR (c.tenant = ? AND c.key_id > ?))))`, e, e, cur.Tenant, cur.Tenant, cur.KeyID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT c.tenant, c.key_id, c.kind, c.owner_kind, c.owner_id, c.app_id, c.display_name, c.hint, c.start_at, c.end_at,
		c.thumbprint, c.usage, c.key_type, c.subject, c.issuer, c.first_seen_at, c.updated_at, c.removed_at, c.removed_by,
		c.owner_name, ` + superseded + `, ` + inFlight + `, COALESCE(` + bindingOf + `, '') FROM credentials c` +
		whereClause(c.where) + ` ORDER BY c.end_at, c.tenant, c.key_id LIMIT ?`
	rows, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (*rotor.CredentialRow, error) {
		var r rotor.CredentialRow
		var start, end, first, updated, removed int64
		if err := sc.Scan(&r.Tenant, &r.KeyID, &r.Kind, &r.OwnerKind, &r.OwnerID, &r.AppID, &r.DisplayName, &r.Hint,
			&start, &end, &r.Thumbprint, &r.Usage, &r.KeyType, &r.Subject, &r.Issuer, &first, &updated, &removed, &r.RemovedBy,
			&r.OwnerName, &r.Superseded, &r.Rotating, &r.BindingID); err != nil {
			return nil, err
		}
		r.StartAt, r.EndAt, r.FirstSeenAt, r.UpdatedAt, r.RemovedAt = tm(start), tm(end), tm(first), tm(updated), tm(removed)
		return &r, nil
	}, q, append(c.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search credentials: %w", err)
	}
	for _, r := range rows {
		if r.Superseded {
			r.Rotating = false // the successor is live: grace wins, as in lifecycle.StateOf
		}
	}
	return rows, nil
}

// CredentialStats implements rotor.QueryStore.
//
// A tenant's live credentials are counted by ranges of their end: every figure (expired, within
// 7, 30 and 90 days, expiring, each week) is a sum of counts over disjoint ranges cut at those
// boundaries, and each range count walks only its part of the credentials_stats index (tenant,
// removed_at, end_at), never a row. One statement per tenant carries every range, so PostgreSQL
// needs one round trip. The credentials that in-flight rotations replace (a few, however large
// the inventory) are then moved from active or expiring to rotating or grace.
func (s *Store) CredentialStats(ctx context.Context, p *rotor.CredentialStatsParams) (*rotor.CredentialStats, error) {
	now := us(p.Now)
	warnAt := now + p.Warn.Microseconds()
	day := (24 * time.Hour).Microseconds()
	week := 7 * day
	var tenants []string
	if p.Tenant != "" {
		tenants = []string{p.Tenant}
	} else {
		ts, err := s.TenantList(ctx)
		if err != nil {
			return nil, fmt.Errorf("count credentials: %w", err)
		}
		for _, t := range ts {
			tenants = append(tenants, t.Name)
		}
	}
	// The boundaries after now, sorted and unique: (b[i], b[i+1]] are the ranges counted.
	bounds := []int64{now, now + 7*day, now + 30*day, now + 90*day, warnAt}
	for k := 1; k <= p.Weeks; k++ {
		bounds = append(bounds, now+int64(k)*week)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	bounds = slices.DeleteFunc(bounds, func(b int64) bool { return b < now })

	out := &rotor.CredentialStats{Tenants: []rotor.TenantCredentialStats{}}
	if p.Weeks > 0 {
		out.Weeks = make([]int, p.Weeks)
	}
	byTenant := map[string]*rotor.TenantCredentialStats{}
	for _, tenant := range tenants {
		// One statement: the live total, the expired, each range, the soonest end, the removed.
		var parts []string
		var args []any
		add := func(sel string, a ...any) { parts = append(parts, sel); args = append(args, a...) }
		// Each live credential is in exactly one range: expired, one of (b[i], b[i+1]], or beyond.
		const from = ` FROM credentials WHERE tenant = ? AND removed_at = 0`
		add(`SELECT COUNT(*)`+from+` AND end_at > ?`, tenant, bounds[len(bounds)-1])
		add(`SELECT COUNT(*)`+from+` AND end_at <= ?`, tenant, now)
		for i := 0; i+1 < len(bounds); i++ {
			add(`SELECT COUNT(*)`+from+` AND end_at > ? AND end_at <= ?`, tenant, bounds[i], bounds[i+1])
		}
		add(`SELECT COALESCE(MIN(end_at), 0)`+from+` AND end_at > ?`, tenant, now)
		add(`SELECT COUNT(*) FROM credentials WHERE tenant = ? AND removed_at <> 0 AND removed_by = 'rotor'`, tenant)
		add(`SELECT COUNT(*) FROM credentials WHERE tenant = ? AND removed_at <> 0 AND removed_by <> 'rotor'`, tenant)
		q := `SELECT (` + strings.Join(parts, `), (`) + `)`
		vals := make([]int64, len(parts))
		ptrs := make([]any, len(parts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := s.queryRow(ctx, q, args...).Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("count credentials of tenant %s: %w", tenant, err)
		}
		beyond, expired := int(vals[0]), int(vals[1])
		ranges := vals[2 : 2+len(bounds)-1]
		total := beyond + expired
		for _, n := range ranges {
			total += int(n)
		}
		next, cleaned, removed := vals[len(vals)-3], int(vals[len(vals)-2]), int(vals[len(vals)-1])
		if total+cleaned+removed == 0 {
			continue // like a GROUP BY: tenants without credentials have no row
		}
		t := rotor.TenantCredentialStats{Tenant: tenant, NextEndAt: tm(next), ByState: map[string]int{
			"expired": expired, "cleaned_up": cleaned, "removed": removed, "grace": 0, "rotating": 0}}
		expiring := 0
		for i, n := range ranges {
			end := bounds[i+1]
			if end <= now+7*day {
				t.Within7 += int(n)
			}
			if end <= now+30*day {
				t.Within30 += int(n)
			}
			if end <= now+90*day {
				t.Within90 += int(n)
			}
			if end <= warnAt {
				expiring += int(n)
			}
			if p.Weeks > 0 {
				if w := (end - now - 1) / week; w < int64(p.Weeks) {
					out.Weeks[w] += int(n)
				}
			}
		}
		t.ByState["expiring"] = expiring
		t.ByState["active"] = total - expired - expiring
		out.Tenants = append(out.Tenants, t)
	}
	for i := range out.Tenants {
		byTenant[out.Tenants[i].Tenant] = &out.Tenants[i]
	}

	// The credentials in-flight rotations replace, each once: grace wins over rotating.
	fq := `SELECT c.tenant, c.key_id, c.end_at, ` + inGracePhase + `
		FROM rotations r JOIN credentials c ON c.tenant = r.tenant AND c.key_id = r.old_key_id
		WHERE r.state NOT IN ` + terminalStates + ` AND c.removed_at = 0 AND c.end_at > ?`
	// Every tenant's, filtered below: with a tenant condition the planner walks the tenant's
	// credentials instead of the few rotations.
	fargs := []any{now}
	type fact struct {
		tenant, key string
		end         int64
		grace       bool
	}
	facts, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (fact, error) {
		var f fact
		err := sc.Scan(&f.tenant, &f.key, &f.end, &f.grace)
		return f, err
	}, fq, fargs...)
	if err != nil {
		return nil, fmt.Errorf("count credentials being rotated: %w", err)
	}
	seen := map[string]fact{}
	for _, f := range facts {
		k := f.tenant + "/" + f.key
		if prev, ok := seen[k]; !ok || f.grace && !prev.grace {
			seen[k] = f
		}
	}
	for _, f := range seen {
		t := byTenant[f.tenant]
		if t == nil {
			continue
		}
		if f.end <= warnAt {
			t.ByState["expiring"]--
		} else {
			t.ByState["active"]--
		}
		if f.grace {
			t.ByState["grace"]++
		} else {
			t.ByState["rotating"]++
		}
	}
	return out, nil
}

// BindingSearch implements rotor.QueryStore.
func (s *Store) BindingSearch(ctx context.Context, p *rotor.BindingSearchParams) ([]*rotor.Binding, error) {
	var c conds
	if p.Tenant != "" {
		c.add(`tenant = ?`, p.Tenant)
	}
	if p.AppID != "" {
		c.add(`app_id = ?`, p.AppID)
	}
	if p.OwnerID != "" {
		c.add(`owner_id = ?`, p.OwnerID)
	}
	if p.Policy != "" {
		c.add(`policy = ?`, p.Policy)
	}
	if p.Paused != nil {
		c.add(`paused = ?`, *p.Paused)
	}
	if cur := p.After; cur != nil {
		c.add(`(tenant > ? OR (tenant = ? AND (owner_id > ? OR (owner_id = ? AND id > ?))))`,
			cur.Tenant, cur.Tenant, cur.OwnerID, cur.OwnerID, cur.ID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	bs, err := queryAll(ctx, s, scanBinding, `SELECT `+bindingCols+` FROM bindings`+whereClause(c.where)+
		` ORDER BY tenant, owner_id, id LIMIT ?`, append(c.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search bindings: %w", err)
	}
	return bs, nil
}

// RotationSearch implements rotor.QueryStore.
func (s *Store) RotationSearch(ctx context.Context, p *rotor.RotationSearchParams) ([]*rotor.Rotation, error) {
	var c conds
	if p.Tenant != "" {
		c.add(`tenant = ?`, p.Tenant)
	}
	if p.AppID != "" {
		c.add(`app_id = ?`, p.AppID)
	}
	if p.BindingID != "" {
		c.add(`binding_id = ?`, p.BindingID)
	}
	if len(p.States) > 0 {
		args := make([]any, len(p.States))
		for i, st := range p.States {
			args[i] = st
		}
		c.add(`state IN (`+placeholders(len(args))+`)`, args...)
	}
	if cur := p.Before; cur != nil {
		cr := us(cur.CreatedAt)
		c.add(`(created_at < ? OR (created_at = ? AND id < ?))`, cr, cr, cur.ID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rs, err := queryAll(ctx, s, scanRotation, `SELECT `+rotationCols+` FROM rotations`+whereClause(c.where)+
		` ORDER BY created_at DESC, id DESC LIMIT ?`, append(c.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search rotations: %w", err)
	}
	return rs, nil
}

// RotationCounts implements rotor.QueryStore.
func (s *Store) RotationCounts(ctx context.Context) ([]rotor.RotationCount, error) {
	out, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (rotor.RotationCount, error) {
		var rc rotor.RotationCount
		err := sc.Scan(&rc.Tenant, &rc.State, &rc.Count)
		return rc, err
	}, `SELECT tenant, state, COUNT(*) FROM rotations GROUP BY tenant, state`)
	if err != nil {
		return nil, fmt.Errorf("count rotations: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].State < out[j].State
	})
	return out, nil
}

// AuditSearch implements rotor.QueryStore.
func (s *Store) AuditSearch(ctx context.Context, p *rotor.AuditSearchParams) ([]*rotor.AuditEvent, error) {
	var c conds
	if p.Tenant != "" {
		c.add(`tenant = ?`, p.Tenant)
	}
	if p.AppID != "" {
		c.add(`app_id = ?`, p.AppID)
	}
	if p.RotationID != "" {
		c.add(`rotation_id = ?`, p.RotationID)
	}
	if p.Actor != "" {
		c.add(`actor = ?`, p.Actor)
	}
	if p.ActionPrefix != "" {
		c.add(`action LIKE ? ESCAPE '\'`, likePrefix(p.ActionPrefix))
	}
	if p.Outcome != "" {
		c.add(`outcome = ?`, p.Outcome)
	}
	if !p.Since.IsZero() {
		c.add(`at >= ?`, us(p.Since))
	}
	if !p.Until.IsZero() {
		c.add(`at < ?`, us(p.Until))
	}
	if p.BeforeSeq > 0 {
		c.add(`seq < ?`, p.BeforeSeq)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	evs, err := queryAll(ctx, s, scanAudit, `SELECT seq, at, actor, action, tenant, app_id, key_id, rotation_id, outcome,
		reason, details, prev_hash, hash FROM audit_events`+whereClause(c.where)+` ORDER BY seq DESC LIMIT ?`, append(c.args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("search audit events: %w", err)
	}
	return evs, nil
}
