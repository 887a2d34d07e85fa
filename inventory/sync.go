// Package inventory discovers every application, service principal and credential of a tenant
// and keeps the store's copy current: a full sync lists both collections at $top=999, then
// incremental syncs read only what changed from stored delta links. Only credential metadata is
// stored, never a secret or a private key. Credentials added or removed outside rotor become
// audit events.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
)

// Reader is what a sync needs of Microsoft Graph; *graph.Client implements it.
type Reader interface {
	ListApplications(ctx context.Context, q graph.Query, fn func([]graph.Application) error) error
	ListServicePrincipals(ctx context.Context, q graph.Query, fn func([]graph.ServicePrincipal) error) error
	ApplicationsDelta(ctx context.Context, link string, sel []string, fn func([]graph.Application) error) (string, error)
	ServicePrincipalsDelta(ctx context.Context, link string, sel []string, fn func([]graph.ServicePrincipal) error) (string, error)
	DeltaLatest(ctx context.Context, kind graph.ObjectKind, sel []string) (string, error)
}

var _ Reader = (*graph.Client)(nil)

// The properties rotor reads: $select keeps responses small and costs one resource unit less.
var (
	appSelect = []string{"id", "appId", "displayName", "signInAudience", "tags", "createdDateTime", "passwordCredentials", "keyCredentials"}
	spSelect  = []string{"id", "appId", "displayName", "appOwnerOrganizationId", "servicePrincipalType", "tags", "passwordCredentials", "keyCredentials"}
)

// Collections, as sync cursors name them.
const (
	CollectionApplications      = "applications"
	CollectionServicePrincipals = "servicePrincipals"
)

// Syncer syncs tenants into the store.
type Syncer struct {
	Store  rotor.Store
	Clock  clockwork.Clock
	Log    *slog.Logger
	Reader func(tenant string) (Reader, error)
	// Progress, when set, is called after each page.
	Progress func(Progress)
}

// Progress reports a sync under way.
type Progress struct {
	Tenant      string
	Collection  string
	Pages       int
	Objects     int
	Credentials int
}

// Result summarises one tenant's sync.
type Result struct {
	Tenant      string
	Full        bool
	Pages       int
	Objects     int // applications and service principals read
	Credentials int // credentials read
	Added       int // credentials that appeared
	Removed     int // credentials that disappeared
	Deleted     int // objects that disappeared
	Duration    time.Duration
}

func (r *Result) add(o *Result) {
	r.Pages += o.Pages
	r.Objects += o.Objects
	r.Credentials += o.Credentials
	r.Added += o.Added
	r.Removed += o.Removed
	r.Deleted += o.Deleted
	r.Full = r.Full || o.Full
}

// Sync brings the tenant's applications and service principals up to date, both collections at
// once. full forces a full listing; otherwise a collection with a stored delta link syncs
// incrementally (and fully when the service no longer knows the link).
func (s *Syncer) Sync(ctx context.Context, tenant string, full bool) (*Result, error) {
	start := s.Clock.Now()
	r, err := s.Reader(tenant)
	if err != nil {
		return nil, err
	}
	res := &Result{Tenant: tenant}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, col := range []string{CollectionApplications, CollectionServicePrincipals} {
		g.Go(func() error {
			cr, err := s.syncCollection(gctx, r, tenant, col, full)
			if err != nil {
				return fmt.Errorf("sync %s of tenant %s: %w", col, tenant, err)
			}
			mu.Lock()
			res.add(cr)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.Duration = s.Clock.Since(start)
	s.log().Info("synced tenant", "tenant", tenant, "full", res.Full, "pages", res.Pages, "objects", res.Objects,
		"credentials", res.Credentials, "added", res.Added, "removed", res.Removed, "deleted", res.Deleted, "duration", res.Duration)
	return res, nil
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Syncer) syncCollection(ctx context.Context, r Reader, tenant, col string, full bool) (*Result, error) {
	cur, err := s.Store.SyncCursorGet(ctx, tenant, col)
	switch {
	case errors.Is(err, rotor.ErrNotFound):
		return s.full(ctx, r, tenant, col, false)
	case err != nil:
		return nil, err
	case full:
		return s.full(ctx, r, tenant, col, true)
	}
	res, err := s.incremental(ctx, r, tenant, col, cur)
	if graph.DeltaExpired(err) {
		s.log().Warn("delta link no longer known to Graph: syncing fully", "tenant", tenant, "collection", col)
		return s.full(ctx, r, tenant, col, true)
	}
	return res, err
}

// full lists the whole collection. The delta link for later rounds is taken first, so that
// changes made during the listing are read again by the next incremental sync, not missed.
func (s *Syncer) full(ctx context.Context, r Reader, tenant, col string, audit bool) (*Result, error) {
	res := &Result{Tenant: tenant, Full: true}
	kind, sel := graph.Applications, appSelect
	if col == CollectionServicePrincipals {
		kind, sel = graph.ServicePrincipals, spSelect
	}
	link, err := r.DeltaLatest(ctx, kind, sel)
	if err != nil {
		return nil, err
	}
	ownerKind := ownerKindOf(col)
	ids, err := s.Store.InventoryObjectIDs(ctx, tenant, ownerKind)
	if err != nil {
		return nil, err
	}
	live := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		live[id] = struct{}{}
	}
	now := s.Clock.Now()
	store := func(b *batch) error {
		for _, id := range b.ids {
			delete(live, id)
		}
		return s.store(ctx, tenant, b, res, audit, now, col)
	}
	q := graph.Query{Select: sel, Top: 999}
	if col == CollectionApplications {
		err = pipeline(ctx, func(ctx context.Context, emit func(*batch) error) error {
			return r.ListApplications(ctx, q, func(p []graph.Application) error { return emit(appBatch(tenant, p, nil, now)) })
		}, store)
	} else {
		err = pipeline(ctx, func(ctx context.Context, emit func(*batch) error) error {
			return r.ListServicePrincipals(ctx, q, func(p []graph.ServicePrincipal) error { return emit(spBatch(tenant, p, nil, now)) })
		}, store)
	}
	if err != nil {
		return nil, err
	}
	gone := make([]string, 0, len(live))
	for id := range live {
		gone = append(gone, id)
	}
	if err := s.markDeleted(ctx, tenant, col, gone, res, audit, now); err != nil {
		return nil, err
	}
	if err := s.Store.SyncCursorPut(ctx, &rotor.SyncCursor{Tenant: tenant, Collection: col, DeltaLink: link, FullSyncAt: s.Clock.Now(), SyncedAt: s.Clock.Now()}); err != nil {
		return nil, err
	}
	return res, nil
}

// incremental reads the changes since the stored delta link.
func (s *Syncer) incremental(ctx context.Context, r Reader, tenant, col string, cur *rotor.SyncCursor) (*Result, error) {
	res := &Result{Tenant: tenant}
	now := s.Clock.Now()
	var next string
	var err error
	if col == CollectionApplications {
		next, err = r.ApplicationsDelta(ctx, cur.DeltaLink, nil, func(p []graph.Application) error {
			stored, err := s.storedApps(ctx, tenant, p)
			if err != nil {
				return err
			}
			return s.applyDelta(ctx, tenant, col, appBatch(tenant, p, stored, now), res, now)
		})
	} else {
		next, err = r.ServicePrincipalsDelta(ctx, cur.DeltaLink, nil, func(p []graph.ServicePrincipal) error {
			stored, err := s.storedSPs(ctx, tenant, p)
			if err != nil {
				return err
			}
			return s.applyDelta(ctx, tenant, col, spBatch(tenant, p, stored, now), res, now)
		})
	}
	if err != nil {
		return nil, err
	}
	cur.DeltaLink, cur.SyncedAt = next, s.Clock.Now()
	if err := s.Store.SyncCursorPut(ctx, cur); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *Syncer) applyDelta(ctx context.Context, tenant, col string, b *batch, res *Result, now time.Time) error {
	if err := s.store(ctx, tenant, b, res, true, now, col); err != nil {
		return err
	}
	return s.markDeleted(ctx, tenant, col, b.removed, res, true, now)
}

// store writes one page, objects then their credentials and the audit events of what changed,
// in one transaction.
func (s *Syncer) store(ctx context.Context, tenant string, b *batch, res *Result, audit bool, now time.Time, col string) error {
	var diff *rotor.CredentialDiff
	err := s.Store.InTx(ctx, func(tx rotor.Store) error {
		if len(b.apps) > 0 {
			if err := tx.AppUpsertBatch(ctx, b.apps); err != nil {
				return err
			}
		}
		if len(b.sps) > 0 {
			if err := tx.ServicePrincipalUpsertBatch(ctx, b.sps); err != nil {
				return err
			}
		}
		if len(b.owners) == 0 {
			return nil
		}
		var err error
		if diff, err = tx.CredentialSyncOwners(ctx, &rotor.CredentialSyncOwnersParams{Tenant: tenant, Owners: b.owners, Now: now}); err != nil {
			return err
		}
		if audit {
			return s.auditChanges(ctx, tx, tenant, diff)
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.Pages += max(b.pages, 1)
	res.Objects += len(b.ids)
	for _, o := range b.owners {
		res.Credentials += len(o.Credentials)
	}
	if diff != nil {
		res.Added += len(diff.Added)
		res.Removed += len(diff.Removed)
	}
	if s.Progress != nil {
		s.Progress(Progress{Tenant: tenant, Collection: col, Pages: res.Pages, Objects: res.Objects, Credentials: res.Credentials})
	}
	return nil
}

func (s *Syncer) markDeleted(ctx context.Context, tenant, col string, ids []string, res *Result, audit bool, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	p := &rotor.ObjectMarkDeletedParams{Tenant: tenant, IDs: ids, At: now}
	var removed []*rotor.Credential
	var err error
	if col == CollectionApplications {
		removed, err = s.Store.AppMarkDeleted(ctx, p)
	} else {
		removed, err = s.Store.ServicePrincipalMarkDeleted(ctx, p)
	}
	if err != nil {
		return err
	}
	res.Deleted += len(ids)
	res.Removed += len(removed)
	if !audit {
		return nil
	}
	for _, id := range ids {
		ev := &rotor.AuditEvent{At: now, Actor: "sync", Action: string(ownerKindOf(col)) + ".deleted", Tenant: tenant,
			Outcome: rotor.OutcomeInfo, Reason: "no longer in Entra", Details: map[string]string{"object_id": id}}
		if err := s.Store.AuditAppend(ctx, ev); err != nil {
			return err
		}
	}
	return s.auditChanges(ctx, s.Store, tenant, &rotor.CredentialDiff{Removed: removed})
}

// auditChanges records credentials that appeared or disappeared without rotor doing it.
// Credentials carrying rotor's marker were created by rotor and are recorded by the engine.
func (s *Syncer) auditChanges(ctx context.Context, st rotor.AuditStore, tenant string, diff *rotor.CredentialDiff) error {
	record := func(action string, c *rotor.Credential, at time.Time) error {
		if strings.HasPrefix(c.DisplayName, "rotor:") {
			return nil
		}
		ev := &rotor.AuditEvent{At: at, Actor: "sync", Action: action, Tenant: tenant, AppID: c.AppID, KeyID: c.KeyID,
			Outcome: rotor.OutcomeInfo, Reason: "changed outside rotor", Details: map[string]string{
				"owner_kind": string(c.OwnerKind), "owner_id": c.OwnerID, "kind": string(c.Kind),
				"display_name": c.DisplayName, "end": c.EndAt.UTC().Format(time.RFC3339)}}
		return st.AuditAppend(ctx, ev)
	}
	for _, c := range diff.Added {
		if err := record("credential.added_out_of_band", c, c.FirstSeenAt); err != nil {
			return err
		}
	}
	for _, c := range diff.Removed {
		if err := record("credential.removed_out_of_band", c, c.RemovedAt); err != nil {
			return err
		}
	}
	return nil
}

func ownerKindOf(col string) rotor.OwnerKind {
	if col == CollectionServicePrincipals {
		return rotor.OwnerServicePrincipal
	}
	return rotor.OwnerApplication
}

// pipeline runs produce and consume concurrently, so that the next page is fetched while the
// current one is stored. Pages that are already waiting when consume is free are handed over
// together (at most maxGroup), so that a store slower than the network commits fewer, larger
// transactions; memory stays bounded by the buffer.
func pipeline(ctx context.Context, produce func(ctx context.Context, emit func(*batch) error) error, consume func(*batch) error) error {
	const buffer, maxGroup = 4, 4
	g, gctx := errgroup.WithContext(ctx)
	ch := make(chan *batch, buffer)
	g.Go(func() error {
		defer close(ch)
		return produce(gctx, func(b *batch) error {
			select {
			case ch <- b:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	g.Go(func() error {
		for b := range ch {
			group := b
		drain:
			for n := 1; n < maxGroup; n++ {
				select {
				case next, ok := <-ch:
					if !ok {
						break drain
					}
					group = group.merge(next)
				default:
					break drain
				}
			}
			if err := consume(group); err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}
