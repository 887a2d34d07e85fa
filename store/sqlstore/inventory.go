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

// AppUpsertBatch implements rotor.InventoryStore. An app seen again after deletion is live
// again; an app whose stored row already says the same is not written.
func (s *Store) AppUpsertBatch(ctx context.Context, apps []*rotor.App) error {
	return s.inTx(ctx, func(tx *Store) error {
		for start := 0; start < len(apps); start += inBatch {
			batch := apps[start:min(start+inBatch, len(apps))]
			stored, err := tx.appsByID(ctx, batch)
			if err != nil {
				return err
			}
			var rows [][]any
			var renamed []owner
			for _, a := range batch {
				tags := tagsText(a.Tags)
				old, ok := stored[a.Tenant+"/"+a.ID]
				if ok && old.AppID == a.AppID && old.DisplayName == a.DisplayName &&
					old.SignInAudience == a.SignInAudience && tagsText(old.Tags) == tags && old.CreatedAt.Equal(tm(us(a.CreatedAt))) && old.DeletedAt.IsZero() {
					continue
				}
				if ok && old.DisplayName != a.DisplayName {
					renamed = append(renamed, owner{a.Tenant, a.ID, a.DisplayName})
				}
				rows = append(rows, []any{a.Tenant, a.ID, a.AppID, a.DisplayName, a.SignInAudience, tags, us(a.CreatedAt), 0, us(a.SyncedAt)})
			}
			if err := tx.renameOwners(ctx, renamed); err != nil {
				return err
			}
			if err := tx.execRows(ctx, `INSERT INTO applications (`+appCols+`) VALUES `, `
				ON CONFLICT (tenant, id) DO UPDATE SET app_id = excluded.app_id, display_name = excluded.display_name,
					sign_in_audience = excluded.sign_in_audience, tags = excluded.tags,
					created_at = excluded.created_at, deleted_at = 0, synced_at = excluded.synced_at`, rows); err != nil {
				return fmt.Errorf("upsert applications: %w", err)
			}
		}
		return nil
	})
}

// owner names a renamed application or service principal.
type owner struct{ tenant, id, name string }

// renameOwners gives the credentials of renamed owners their new name.
func (s *Store) renameOwners(ctx context.Context, owners []owner) error {
	for _, o := range owners {
		if _, err := s.exec(ctx, `UPDATE credentials SET owner_name = ? WHERE tenant = ? AND owner_id = ?`, o.name, o.tenant, o.id); err != nil {
			return fmt.Errorf("rename the credentials of %s/%s: %w", o.tenant, o.id, err)
		}
	}
	return nil
}

// inBatch bounds the ids in one IN (...) list.
const inBatch = 500

func (s *Store) appsByID(ctx context.Context, apps []*rotor.App) (map[string]*rotor.App, error) {
	if len(apps) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(apps)+1)
	args = append(args, apps[0].Tenant)
	for _, a := range apps {
		args = append(args, a.ID)
	}
	stored, err := queryAll(ctx, s, scanApp, `SELECT `+appCols+` FROM applications WHERE tenant = ? AND id IN (`+placeholders(len(apps))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read stored applications: %w", err)
	}
	m := make(map[string]*rotor.App, len(stored))
	for _, a := range stored {
		m[a.Tenant+"/"+a.ID] = a
	}
	return m, nil
}

// execRows runs head + VALUES (...),(...) + tail over rows, several rows per statement.
func (s *Store) execRows(ctx context.Context, head, tail string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	cols := len(rows[0])
	per := max(1, 2000/cols)
	row := "(" + placeholders(cols) + ")"
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, len(chunk)*cols)
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(row)
			args = append(args, r...)
		}
		b.WriteString(tail)
		if _, err := s.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

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
		for start := 0; start < len(sps); start += inBatch {
			batch := sps[start:min(start+inBatch, len(sps))]
			args := make([]any, 0, len(batch)+1)
			args = append(args, batch[0].Tenant)
			for _, sp := range batch {
				args = append(args, sp.ID)
			}
			stored, err := queryAll(ctx, tx, scanServicePrincipal, `SELECT `+spCols+` FROM service_principals WHERE tenant = ? AND id IN (`+placeholders(len(batch))+`)`, args...)
			if err != nil {
				return fmt.Errorf("read stored service principals: %w", err)
			}
			old := make(map[string]*rotor.ServicePrincipal, len(stored))
			for _, sp := range stored {
				old[sp.Tenant+"/"+sp.ID] = sp
			}
			var rows [][]any
			var renamed []owner
			for _, sp := range batch {
				tags := tagsText(sp.Tags)
				o, ok := old[sp.Tenant+"/"+sp.ID]
				if ok && o.AppID == sp.AppID && o.DisplayName == sp.DisplayName &&
					o.AppOwnerOrganizationID == sp.AppOwnerOrganizationID && o.ServicePrincipalType == sp.ServicePrincipalType &&
					tagsText(o.Tags) == tags && o.DeletedAt.IsZero() {
					continue
				}
				if ok && o.DisplayName != sp.DisplayName {
					renamed = append(renamed, owner{sp.Tenant, sp.ID, sp.DisplayName})
				}
				rows = append(rows, []any{sp.Tenant, sp.ID, sp.AppID, sp.DisplayName, sp.AppOwnerOrganizationID, sp.ServicePrincipalType, tags, 0, us(sp.SyncedAt)})
			}
			if err := tx.renameOwners(ctx, renamed); err != nil {
				return err
			}
			if err := tx.execRows(ctx, `INSERT INTO service_principals (`+spCols+`) VALUES `, `
				ON CONFLICT (tenant, id) DO UPDATE SET app_id = excluded.app_id, display_name = excluded.display_name,
					app_owner_organization_id = excluded.app_owner_organization_id,
					service_principal_type = excluded.service_principal_type, tags = excluded.tags,
					deleted_at = 0, synced_at = excluded.synced_at`, rows); err != nil {
				return fmt.Errorf("upsert service principals: %w", err)
			}
		}
		return nil
	})
}

// InventoryObjectIDs implements rotor.InventoryStore.
func (s *Store) InventoryObjectIDs(ctx context.Context, tenant string, kind rotor.OwnerKind) ([]string, error) {
	table := "applications"
	if kind == rotor.OwnerServicePrincipal {
		table = "service_principals"
	}
	ids, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT id FROM `+table+` WHERE tenant = ? AND deleted_at = 0`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list %s of %s: %w", table, tenant, err)
	}
	return ids, nil
}

// ServicePrincipalGet implements rotor.InventoryStore.
func (s *Store) ServicePrincipalGet(ctx context.Context, tenant, id string) (*rotor.ServicePrincipal, error) {
	sp, err := scanServicePrincipal(s.queryRow(ctx, `SELECT `+spCols+` FROM service_principals WHERE tenant = ? AND id = ?`, tenant, id))
	if err != nil {
		return nil, notFound(err, "service principal %s/%s", tenant, id)
	}
	return sp, nil
}

const credentialCols = `tenant, key_id, kind, owner_kind, owner_id, owner_name, app_id, display_name, hint, start_at, end_at,
	thumbprint, usage, key_type, subject, issuer, first_seen_at, updated_at, removed_at, removed_by`

func scanCredential(sc interface{ Scan(...any) error }) (*rotor.Credential, error) {
	var c rotor.Credential
	var start, end, first, updated, removed int64
	if err := sc.Scan(&c.Tenant, &c.KeyID, &c.Kind, &c.OwnerKind, &c.OwnerID, &c.OwnerName, &c.AppID, &c.DisplayName, &c.Hint,
		&start, &end, &c.Thumbprint, &c.Usage, &c.KeyType, &c.Subject, &c.Issuer, &first, &updated, &removed, &c.RemovedBy); err != nil {
		return nil, err
	}
	c.StartAt, c.EndAt, c.FirstSeenAt, c.UpdatedAt, c.RemovedAt = tm(start), tm(end), tm(first), tm(updated), tm(removed)
	return &c, nil
}

// sameCredential reports whether stored already holds what c says.
func sameCredential(stored, c *rotor.Credential, o rotor.OwnerCredentials) bool {
	return stored.Kind == c.Kind && stored.OwnerKind == o.OwnerKind && stored.OwnerID == o.OwnerID && stored.AppID == o.AppID &&
		stored.OwnerName == o.OwnerName &&
		stored.DisplayName == c.DisplayName && stored.Hint == c.Hint && stored.StartAt.Equal(tm(us(c.StartAt))) &&
		stored.EndAt.Equal(tm(us(c.EndAt))) && stored.Thumbprint == c.Thumbprint && stored.Usage == c.Usage &&
		stored.KeyType == c.KeyType && stored.Subject == c.Subject && stored.Issuer == c.Issuer && !stored.Removed()
}

// CredentialSyncOwners implements rotor.InventoryStore. Only new and changed credentials are
// written, several per statement; a key id listed twice in one batch is written once, as the last
// listing says (PostgreSQL refuses to update a row twice in one statement).
func (s *Store) CredentialSyncOwners(ctx context.Context, p *rotor.CredentialSyncOwnersParams) (*rotor.CredentialDiff, error) {
	diff := &rotor.CredentialDiff{}
	now := us(p.Now)
	err := s.inTx(ctx, func(tx *Store) error {
		for start := 0; start < len(p.Owners); start += inBatch {
			owners := p.Owners[start:min(start+inBatch, len(p.Owners))]
			stored, err := tx.storedCredentials(ctx, p.Tenant, owners)
			if err != nil {
				return err
			}
			var rows [][]any
			rowOf := map[string]int{} // key id -> its row, so a repeated key id is written once
			var removed []any
			for _, o := range owners {
				seen := make(map[string]bool, len(o.Credentials))
				for _, c := range o.Credentials {
					seen[c.KeyID] = true
					old, known := stored[c.KeyID]
					first := now
					if known {
						first = us(old.FirstSeenAt)
					}
					row := []any{p.Tenant, c.KeyID, c.Kind, o.OwnerKind, o.OwnerID, o.OwnerName, o.AppID, c.DisplayName, c.Hint,
						us(c.StartAt), us(c.EndAt), c.Thumbprint, c.Usage, c.KeyType, c.Subject, c.Issuer, first, now, 0, ""}
					if i, dup := rowOf[c.KeyID]; dup {
						rows[i] = row // listed again: the last listing wins, even when it equals what is stored
						continue
					}
					if known && sameCredential(old, c, o) {
						continue
					}
					rowOf[c.KeyID] = len(rows)
					rows = append(rows, row)
					if !known || old.Removed() {
						added := *c
						added.Tenant, added.OwnerKind, added.OwnerID, added.OwnerName, added.AppID = p.Tenant, o.OwnerKind, o.OwnerID, o.OwnerName, o.AppID
						added.FirstSeenAt, added.UpdatedAt = tm(first), p.Now.UTC()
						diff.Added = append(diff.Added, &added)
					}
				}
				for keyID, c := range stored {
					if c.OwnerID != o.OwnerID || c.Removed() || seen[keyID] || !hasKind(o.Kinds, c.Kind) {
						continue
					}
					removed = append(removed, keyID)
					c.RemovedAt = p.Now.UTC()
					diff.Removed = append(diff.Removed, c)
				}
			}
			if err := tx.execRows(ctx, `INSERT INTO credentials (`+credentialCols+`) VALUES `, `
				ON CONFLICT (tenant, key_id) DO UPDATE SET kind = excluded.kind, owner_kind = excluded.owner_kind,
					owner_id = excluded.owner_id, owner_name = excluded.owner_name, app_id = excluded.app_id, display_name = excluded.display_name,
					hint = excluded.hint, start_at = excluded.start_at, end_at = excluded.end_at,
					thumbprint = excluded.thumbprint, usage = excluded.usage, key_type = excluded.key_type,
					subject = excluded.subject, issuer = excluded.issuer, updated_at = excluded.updated_at,
					removed_at = 0, removed_by = ''`, rows); err != nil {
				return fmt.Errorf("upsert credentials: %w", err)
			}
			for i := 0; i < len(removed); i += inBatch {
				ids := removed[i:min(i+inBatch, len(removed))]
				if _, err := tx.exec(ctx, `UPDATE credentials SET removed_at = ?, updated_at = ? WHERE tenant = ? AND key_id IN (`+placeholders(len(ids))+`)`,
					append([]any{now, now, p.Tenant}, ids...)...); err != nil {
					return fmt.Errorf("mark credentials removed: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync credentials of tenant %s: %w", p.Tenant, err)
	}
	return diff, nil
}

func hasKind(kinds []rotor.CredentialKind, k rotor.CredentialKind) bool {
	if kinds == nil {
		return true
	}
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// storedCredentials returns the stored credentials (removed ones too) of owners, by key id.
func (s *Store) storedCredentials(ctx context.Context, tenant string, owners []rotor.OwnerCredentials) (map[string]*rotor.Credential, error) {
	args := make([]any, 0, len(owners)+1)
	args = append(args, tenant)
	for _, o := range owners {
		args = append(args, o.OwnerID)
	}
	creds, err := queryAll(ctx, s, scanCredential, `SELECT `+credentialCols+` FROM credentials WHERE tenant = ? AND owner_id IN (`+placeholders(len(owners))+`)`, args...)
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
	if p.OwnerKind != "" {
		add(`owner_kind = ?`, p.OwnerKind)
	}
	if p.AppID != "" {
		add(`app_id = ?`, p.AppID)
	}
	if p.Kind != "" {
		add(`kind = ?`, p.Kind)
	}
	if len(p.KeyIDs) > 0 {
		ids := make([]any, len(p.KeyIDs))
		for i, id := range p.KeyIDs {
			ids[i] = id
		}
		add(`key_id IN (`+placeholders(len(ids))+`)`, ids...)
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
	if cur := p.After; cur != nil {
		e := us(cur.EndAt)
		add(`(end_at > ? OR (end_at = ? AND (tenant > ? OR (tenant = ? AND key_id > ?))))`, e, e, cur.Tenant, cur.Tenant, cur.KeyID)
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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')
		ON CONFLICT (tenant, key_id) DO UPDATE SET display_name = excluded.display_name, hint = excluded.hint,
			start_at = excluded.start_at, end_at = excluded.end_at, updated_at = excluded.updated_at`,
		c.Tenant, c.KeyID, c.Kind, c.OwnerKind, c.OwnerID, c.OwnerName, c.AppID, c.DisplayName, c.Hint, us(c.StartAt), us(c.EndAt),
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
