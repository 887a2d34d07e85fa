package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
)

const appCols = `tenant, id, app_id, display_name, sign_in_audience, tags, created_at, deleted_at, synced_at`

func scanApp(sc interface{ Scan(...any) error }) (*rotor.App, error) {
	var a rotor.App
	var tags string
	var created, deleted, synced int64
	if err := sc.Scan(&a.Tenant, &a.ID, &a.AppID, &a.DisplayName, &a.SignInAudience, &tags, &created, &deleted, &synced); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil {
		return nil, fmt.Errorf("application %s tags: %w", a.ID, err)
	}
	a.CreatedAt, a.DeletedAt, a.SyncedAt = tm(created), tm(deleted), tm(synced)
	return &a, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sqlstore: encode %T: %v", v, err)) // only plain data types reach here
	}
	return string(b)
}

func tagsText(tags []string) string {
	if tags == nil {
		tags = []string{}
	}
	return jsonText(tags)
}

// AppUpsertBatch implements rotor.InventoryStore. An app seen again after deletion is live again.
func (s *Store) AppUpsertBatch(ctx context.Context, apps []*rotor.App) error {
	return s.inTx(ctx, func(tx *Store) error {
		stmt, err := tx.tx.PrepareContext(ctx, tx.d.rebind(`INSERT INTO applications (`+appCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (tenant, id) DO UPDATE SET app_id = excluded.app_id, display_name = excluded.display_name,
				sign_in_audience = excluded.sign_in_audience, tags = excluded.tags,
				created_at = excluded.created_at, deleted_at = 0, synced_at = excluded.synced_at`))
		if err != nil {
			return fmt.Errorf("prepare application upsert: %w", err)
		}
		defer stmt.Close()
		for _, a := range apps {
			if _, err := stmt.ExecContext(ctx, a.Tenant, a.ID, a.AppID, a.DisplayName, a.SignInAudience,
				tagsText(a.Tags), us(a.CreatedAt), us(a.SyncedAt)); err != nil {
				return fmt.Errorf("upsert application %s/%s: %w", a.Tenant, a.ID, err)
			}
		}
		return nil
	})
}

// AppGet implements rotor.InventoryStore.
func (s *Store) AppGet(ctx context.Context, tenant, id string) (*rotor.App, error) {
	a, err := scanApp(s.queryRow(ctx, `SELECT `+appCols+` FROM applications WHERE tenant = ? AND id = ?`, tenant, id))
	if err != nil {
		return nil, notFound(err, "application %s/%s", tenant, id)
	}
	return a, nil
}

// AppFind implements rotor.InventoryStore. Display names compare case-insensitively.
func (s *Store) AppFind(ctx context.Context, p *rotor.AppFindParams) ([]*rotor.App, error) {
	q := `SELECT ` + appCols + ` FROM applications WHERE deleted_at = 0
		AND (id = ? OR app_id = ? OR LOWER(display_name) = LOWER(?))`
	args := []any{p.Query, p.Query, p.Query}
	if p.Tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, p.Tenant)
	}
	apps, err := queryAll(ctx, s, scanApp, q+` ORDER BY tenant, display_name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find application %q: %w", p.Query, err)
	}
	return apps, nil
}

// AppList implements rotor.InventoryStore.
func (s *Store) AppList(ctx context.Context, p *rotor.AppListParams) ([]*rotor.App, error) {
	var where []string
	var args []any
	if p.Tenant != "" {
		where, args = append(where, `tenant = ?`), append(args, p.Tenant)
	}
	if p.NamePrefix != "" {
		// LIKE ignores ASCII case on SQLite and not on PostgreSQL: compare lower-cased on both.
		where, args = append(where, `LOWER(display_name) LIKE LOWER(?) ESCAPE '\'`), append(args, likePrefix(p.NamePrefix))
	}
	if !p.IncludeDeleted {
		where = append(where, `deleted_at = 0`)
	}
	if c := p.After; c != nil {
		where = append(where, `(tenant > ? OR (tenant = ? AND (display_name > ? OR (display_name = ? AND id > ?))))`)
		args = append(args, c.Tenant, c.Tenant, c.DisplayName, c.DisplayName, c.ID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + appCols + ` FROM applications` + whereClause(where) + ` ORDER BY tenant, display_name, id LIMIT ?`
	apps, err := queryAll(ctx, s, scanApp, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return apps, nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(conds, ` AND `)
}

// likePrefix escapes s for LIKE ... ESCAPE '\' and appends the wildcard.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// AppMarkDeleted implements rotor.InventoryStore.
func (s *Store) AppMarkDeleted(ctx context.Context, p *rotor.ObjectMarkDeletedParams) ([]*rotor.Credential, error) {
	return s.markDeleted(ctx, "applications", p)
}

// ServicePrincipalMarkDeleted implements rotor.InventoryStore.
func (s *Store) ServicePrincipalMarkDeleted(ctx context.Context, p *rotor.ObjectMarkDeletedParams) ([]*rotor.Credential, error) {
	return s.markDeleted(ctx, "service_principals", p)
}

func (s *Store) markDeleted(ctx context.Context, table string, p *rotor.ObjectMarkDeletedParams) ([]*rotor.Credential, error) {
	var removed []*rotor.Credential
	err := s.inTx(ctx, func(tx *Store) error {
		for _, id := range p.IDs {
			if _, err := tx.exec(ctx, `UPDATE `+table+` SET deleted_at = ? WHERE tenant = ? AND id = ? AND deleted_at = 0`,
				us(p.At), p.Tenant, id); err != nil {
				return fmt.Errorf("mark %s %s/%s deleted: %w", table, p.Tenant, id, err)
			}
			creds, err := queryAll(ctx, tx, scanCredential, `SELECT `+credentialCols+` FROM credentials
				WHERE tenant = ? AND owner_id = ? AND removed_at = 0`, p.Tenant, id)
			if err != nil {
				return fmt.Errorf("credentials of %s/%s: %w", p.Tenant, id, err)
			}
			if _, err := tx.exec(ctx, `UPDATE credentials SET removed_at = ? WHERE tenant = ? AND owner_id = ? AND removed_at = 0`,
				us(p.At), p.Tenant, id); err != nil {
				return fmt.Errorf("mark credentials of %s/%s removed: %w", p.Tenant, id, err)
			}
			for _, c := range creds {
				c.RemovedAt = p.At.UTC()
			}
			removed = append(removed, creds...)
		}
		return nil
	})
	return removed, err
}

const spCols = `tenant, id, app_id, display_name, app_owner_organization_id, service_principal_type, tags, deleted_at, synced_at`

func scanServicePrincipal(sc interface{ Scan(...any) error }) (*rotor.ServicePrincipal, error) {
	var sp rotor.ServicePrincipal
	var tags string
	var deleted, synced int64
	if err := sc.Scan(&sp.Tenant, &sp.ID, &sp.AppID, &sp.DisplayName, &sp.AppOwnerOrganizationID,
		&sp.ServicePrincipalType, &tags, &deleted, &synced); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &sp.Tags); err != nil {
		return nil, fmt.Errorf("service principal %s tags: %w", sp.ID, err)
	}
	sp.DeletedAt, sp.SyncedAt = tm(deleted), tm(synced)
	return &sp, nil
}

// ServicePrincipalUpsertBatch implements rotor.InventoryStore.
func (s *Store) ServicePrincipalUpsertBatch(ctx context.Context, sps []*rotor.ServicePrincipal) error {
	return s.inTx(ctx, func(tx *Store) error {
		stmt, err := tx.tx.PrepareContext(ctx, tx.d.rebind(`INSERT INTO service_principals (`+spCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
			ON CONFLICT (tenant, id) DO UPDATE SET app_id = excluded.app_id, display_name = excluded.display_name,
				app_owner_organization_id = excluded.app_owner_organization_id,
				service_principal_type = excluded.service_principal_type, tags = excluded.tags,
				deleted_at = 0, synced_at = excluded.synced_at`))
		if err != nil {
			return fmt.Errorf("prepare service principal upsert: %w", err)
		}
		defer stmt.Close()
		for _, sp := range sps {
			if _, err := stmt.ExecContext(ctx, sp.Tenant, sp.ID, sp.AppID, sp.DisplayName, sp.AppOwnerOrganizationID,
				sp.ServicePrincipalType, tagsText(sp.Tags), us(sp.SyncedAt)); err != nil {
				return fmt.Errorf("upsert service principal %s/%s: %w", sp.Tenant, sp.ID, err)
			}
		}
		return nil
	})
}

// ServicePrincipalGet implements rotor.InventoryStore.
func (s *Store) ServicePrincipalGet(ctx context.Context, tenant, id string) (*rotor.ServicePrincipal, error) {
	sp, err := scanServicePrincipal(s.queryRow(ctx, `SELECT `+spCols+` FROM service_principals WHERE tenant = ? AND id = ?`, tenant, id))
	if err != nil {
		return nil, notFound(err, "service principal %s/%s", tenant, id)
	}
	return sp, nil
}

const credentialCols = `tenant, key_id, kind, owner_kind, owner_id, app_id, display_name, hint, start_at, end_at,
	thumbprint, usage, key_type, subject, issuer, first_seen_at, last_seen_at, removed_at, removed_by`

func scanCredential(sc interface{ Scan(...any) error }) (*rotor.Credential, error) {
	var c rotor.Credential
	var start, end, first, last, removed int64
	if err := sc.Scan(&c.Tenant, &c.KeyID, &c.Kind, &c.OwnerKind, &c.OwnerID, &c.AppID, &c.DisplayName, &c.Hint,
		&start, &end, &c.Thumbprint, &c.Usage, &c.KeyType, &c.Subject, &c.Issuer, &first, &last, &removed, &c.RemovedBy); err != nil {
		return nil, err
	}
	c.StartAt, c.EndAt, c.FirstSeenAt, c.LastSeenAt, c.RemovedAt = tm(start), tm(end), tm(first), tm(last), tm(removed)
	return &c, nil
}

// credentialSyncBatch bounds the owners looked up in one IN (...) list.
const credentialSyncBatch = 500

// credentialUpsertRows bounds the rows of one multi-row upsert (credentialUpsertArgs parameters
// each, far below SQLite's and PostgreSQL's limits). One statement per row would cost a round
// trip per credential, which is what limits a sync on PostgreSQL.
const (
	credentialUpsertRows = 50
	credentialUpsertArgs = 17
)

// credentialUpsert returns the upsert of n synced credentials.
func credentialUpsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO credentials (` + credentialCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(`, `)
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')`)
	}
	b.WriteString(` ON CONFLICT (tenant, key_id) DO UPDATE SET kind = excluded.kind, owner_kind = excluded.owner_kind,
		owner_id = excluded.owner_id, app_id = excluded.app_id, display_name = excluded.display_name,
		hint = excluded.hint, start_at = excluded.start_at, end_at = excluded.end_at,
		thumbprint = excluded.thumbprint, usage = excluded.usage, key_type = excluded.key_type,
		subject = excluded.subject, issuer = excluded.issuer, last_seen_at = excluded.last_seen_at,
		removed_at = 0, removed_by = ''`)
	return b.String()
}

var credentialUpsertFull = credentialUpsert(credentialUpsertRows)

// CredentialSyncOwners implements rotor.InventoryStore. Credentials are upserted
// credentialUpsertRows at a time, in the order given, and the statements keep the effect of
// writing them one by one: pending upserts are written before a removal or a read, and a key id
// listed twice goes to a second statement (PostgreSQL refuses to update a row twice in one).
func (s *Store) CredentialSyncOwners(ctx context.Context, p *rotor.CredentialSyncOwnersParams) (*rotor.CredentialDiff, error) {
	diff := &rotor.CredentialDiff{}
	err := s.inTx(ctx, func(tx *Store) error {
		now := us(p.Now)
		args := make([]any, 0, credentialUpsertArgs*credentialUpsertRows)
		pending := make(map[string]bool, credentialUpsertRows)
		flush := func() error {
			rows := len(args) / credentialUpsertArgs
			if rows == 0 {
				return nil
			}
			q := credentialUpsertFull
			if rows < credentialUpsertRows {
				q = credentialUpsert(rows)
			}
			if _, err := tx.exec(ctx, q, args...); err != nil {
				return fmt.Errorf("upsert %d credentials: %w", rows, err)
			}
			args = args[:0]
			clear(pending)
			return nil
		}
		for start := 0; start < len(p.Owners); start += credentialSyncBatch {
			owners := p.Owners[start:min(start+credentialSyncBatch, len(p.Owners))]
			if err := flush(); err != nil { // the read below sees every earlier write
				return err
			}
			live, err := tx.liveCredentials(ctx, p.Tenant, owners)
			if err != nil {
				return err
			}
			liveByOwner := make(map[string][]*rotor.Credential, len(owners))
			for _, c := range live {
				liveByOwner[c.OwnerID] = append(liveByOwner[c.OwnerID], c)
			}
			for _, o := range owners {
				seen := make(map[string]bool, len(o.Credentials))
				for _, c := range o.Credentials {
					seen[c.KeyID] = true
					if pending[c.KeyID] {
						if err := flush(); err != nil {
							return err
						}
					}
					args = append(args, p.Tenant, c.KeyID, c.Kind, o.OwnerKind, o.OwnerID, o.AppID,
						c.DisplayName, c.Hint, us(c.StartAt), us(c.EndAt), c.Thumbprint, c.Usage, c.KeyType,
						c.Subject, c.Issuer, now, now)
					pending[c.KeyID] = true
					if len(args) == credentialUpsertArgs*credentialUpsertRows {
						if err := flush(); err != nil {
							return err
						}
					}
					if _, ok := live[c.KeyID]; !ok {
						added := *c
						added.Tenant, added.OwnerKind, added.OwnerID, added.AppID = p.Tenant, o.OwnerKind, o.OwnerID, o.AppID
						added.FirstSeenAt, added.LastSeenAt = p.Now.UTC(), p.Now.UTC()
						diff.Added = append(diff.Added, &added)
					}
				}
				for _, c := range liveByOwner[o.OwnerID] {
					if seen[c.KeyID] {
						continue
					}
					if err := flush(); err != nil {
						return err
					}
					if _, err := tx.exec(ctx, `UPDATE credentials SET removed_at = ? WHERE tenant = ? AND key_id = ?`,
						now, p.Tenant, c.KeyID); err != nil {
						return fmt.Errorf("mark credential %s/%s removed: %w", p.Tenant, c.KeyID, err)
					}
					c.RemovedAt = p.Now.UTC()
					diff.Removed = append(diff.Removed, c)
				}
			}
		}
		return flush()
	})
	if err != nil {
		return nil, fmt.Errorf("sync credentials of tenant %s: %w", p.Tenant, err)
	}
	return diff, nil
}

// liveCredentials returns the stored, not removed credentials of owners, by key id.
func (s *Store) liveCredentials(ctx context.Context, tenant string, owners []rotor.OwnerCredentials) (map[string]*rotor.Credential, error) {
	args := make([]any, 0, len(owners)+1)
	args = append(args, tenant)
	for _, o := range owners {
		args = append(args, o.OwnerID)
	}
	q := `SELECT ` + credentialCols + ` FROM credentials WHERE tenant = ? AND removed_at = 0 AND owner_id IN (` +
		strings.TrimSuffix(strings.Repeat("?,", len(owners)), ",") + `)`
	creds, err := queryAll(ctx, s, scanCredential, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read stored credentials: %w", err)
	}
	m := make(map[string]*rotor.Credential, len(creds))
	for _, c := range creds {
		m[c.KeyID] = c
	}
	return m, nil
}

// CredentialGet implements rotor.InventoryStore.
func (s *Store) CredentialGet(ctx context.Context, tenant, keyID string) (*rotor.Credential, error) {
	c, err := scanCredential(s.queryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE tenant = ? AND key_id = ?`, tenant, keyID))
	if err != nil {
		return nil, notFound(err, "credential %s/%s", tenant, keyID)
	}
	return c, nil
}

// CredentialList implements rotor.InventoryStore.
func (s *Store) CredentialList(ctx context.Context, p *rotor.CredentialListParams) ([]*rotor.Credential, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if p.Tenant != "" {
		add(`tenant = ?`, p.Tenant)
	}
	if p.OwnerID != "" {
		add(`owner_id = ?`, p.OwnerID)
	}
	if p.AppID != "" {
		add(`app_id = ?`, p.AppID)
	}
	if p.Kind != "" {
		add(`kind = ?`, p.Kind)
	}
	if !p.EndBefore.IsZero() {
		add(`end_at < ?`, us(p.EndBefore))
	}
	if !p.EndAfter.IsZero() {
		add(`end_at >= ?`, us(p.EndAfter))
	}
	if !p.IncludeRemoved {
		add(`removed_at = 0`)
	}
	if c := p.After; c != nil {
		e := us(c.EndAt)
		add(`(end_at > ? OR (end_at = ? AND (tenant > ? OR (tenant = ? AND key_id > ?))))`, e, e, c.Tenant, c.Tenant, c.KeyID)
	}
	q := `SELECT ` + credentialCols + ` FROM credentials` + whereClause(where) + ` ORDER BY end_at, tenant, key_id`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	creds, err := queryAll(ctx, s, scanCredential, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return creds, nil
}

// CredentialPut implements rotor.InventoryStore.
func (s *Store) CredentialPut(ctx context.Context, c *rotor.Credential, now time.Time) error {
	n := us(now)
	_, err := s.exec(ctx, `INSERT INTO credentials (`+credentialCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')
		ON CONFLICT (tenant, key_id) DO UPDATE SET display_name = excluded.display_name, hint = excluded.hint,
			start_at = excluded.start_at, end_at = excluded.end_at, last_seen_at = excluded.last_seen_at`,
		c.Tenant, c.KeyID, c.Kind, c.OwnerKind, c.OwnerID, c.AppID, c.DisplayName, c.Hint, us(c.StartAt), us(c.EndAt),
		c.Thumbprint, c.Usage, c.KeyType, c.Subject, c.Issuer, n, n)
	if err != nil {
		return fmt.Errorf("store credential %s/%s: %w", c.Tenant, c.KeyID, err)
	}
	return nil
}

// CredentialMarkRemoved implements rotor.InventoryStore.
func (s *Store) CredentialMarkRemoved(ctx context.Context, p *rotor.CredentialMarkRemovedParams) error {
	res, err := s.exec(ctx, `UPDATE credentials SET removed_at = ?, removed_by = ? WHERE tenant = ? AND key_id = ?`,
		us(p.At), p.By, p.Tenant, p.KeyID)
	if err != nil {
		return fmt.Errorf("mark credential %s/%s removed: %w", p.Tenant, p.KeyID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("mark credential %s/%s removed: %w", p.Tenant, p.KeyID, rotor.ErrNotFound)
	}
	return nil
}
