package inventory

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
)

// batch is one page converted for the store.
type batch struct {
	pages   int      // pages merged into this batch (0 means 1)
	ids     []string // every live object in the page
	apps    []*rotor.App
	sps     []*rotor.ServicePrincipal
	owners  []rotor.OwnerCredentials
	removed []string // objects a delta reports deleted
}

// merge appends o's objects to b's.
func (b *batch) merge(o *batch) *batch {
	b.pages = max(b.pages, 1) + max(o.pages, 1)
	b.ids = append(b.ids, o.ids...)
	b.apps = append(b.apps, o.apps...)
	b.sps = append(b.sps, o.sps...)
	b.owners = append(b.owners, o.owners...)
	b.removed = append(b.removed, o.removed...)
	return b
}

func str(p *string, fallback string) string {
	if p == nil {
		return fallback
	}
	return *p
}

// appBatch converts a page of applications. stored holds the stored copy of objects that may
// come partially (deltas carry only what changed); nil for a full listing.
func appBatch(tenant string, page []graph.Application, stored map[string]*rotor.App, now time.Time) *batch {
	b := &batch{}
	for _, a := range page {
		if a.Removed != nil {
			b.removed = append(b.removed, a.ID)
			continue
		}
		old := stored[a.ID]
		if old == nil {
			old = &rotor.App{}
		}
		app := &rotor.App{Tenant: tenant, ID: a.ID, AppID: str(a.AppID, old.AppID), DisplayName: str(a.DisplayName, old.DisplayName),
			SignInAudience: str(a.SignInAudience, old.SignInAudience), Tags: old.Tags, CreatedAt: old.CreatedAt, SyncedAt: now}
		if a.Tags != nil {
			app.Tags = *a.Tags
		}
		if a.CreatedDateTime != nil {
			app.CreatedAt = a.CreatedDateTime.UTC()
		}
		b.ids = append(b.ids, a.ID)
		b.apps = append(b.apps, app)
		if o, ok := ownerCredentials(rotor.OwnerApplication, a.ID, app.AppID, app.DisplayName, a.PasswordCredentials, a.KeyCredentials); ok {
			b.owners = append(b.owners, o)
		}
	}
	return b
}

// spBatch is appBatch for service principals.
func spBatch(tenant string, page []graph.ServicePrincipal, stored map[string]*rotor.ServicePrincipal, now time.Time) *batch {
	b := &batch{}
	for _, p := range page {
		if p.Removed != nil {
			b.removed = append(b.removed, p.ID)
			continue
		}
		old := stored[p.ID]
		if old == nil {
			old = &rotor.ServicePrincipal{}
		}
		sp := &rotor.ServicePrincipal{Tenant: tenant, ID: p.ID, AppID: str(p.AppID, old.AppID), DisplayName: str(p.DisplayName, old.DisplayName),
			AppOwnerOrganizationID: str(p.AppOwnerOrganizationID, old.AppOwnerOrganizationID),
			ServicePrincipalType:   str(p.ServicePrincipalType, old.ServicePrincipalType), Tags: old.Tags, SyncedAt: now}
		if p.Tags != nil {
			sp.Tags = *p.Tags
		}
		b.ids = append(b.ids, p.ID)
		b.sps = append(b.sps, sp)
		if o, ok := ownerCredentials(rotor.OwnerServicePrincipal, p.ID, sp.AppID, sp.DisplayName, p.PasswordCredentials, p.KeyCredentials); ok {
			b.owners = append(b.owners, o)
		}
	}
	return b
}

// ownerCredentials gathers an object's credentials; the set is complete for the kinds the
// response carried (both in a full listing, maybe one in a delta).
func ownerCredentials(kind rotor.OwnerKind, id, appID, name string, pcs *[]graph.PasswordCredential, kcs *[]graph.KeyCredential) (rotor.OwnerCredentials, bool) {
	o := rotor.OwnerCredentials{OwnerKind: kind, OwnerID: id, OwnerName: name, AppID: appID, Kinds: []rotor.CredentialKind{}}
	if pcs != nil {
		o.Kinds = append(o.Kinds, rotor.KindSecret)
		for _, pc := range *pcs {
			o.Credentials = append(o.Credentials, graph.PasswordToCredential(pc))
		}
	}
	if kcs != nil {
		o.Kinds = append(o.Kinds, rotor.KindCertificate)
		for _, kc := range *kcs {
			o.Credentials = append(o.Credentials, keyToCredential(kc))
		}
	}
	if len(o.Kinds) == 2 {
		o.Kinds = nil // complete for every kind
	}
	return o, pcs != nil || kcs != nil
}

// keyToCredential keeps a certificate's metadata: thumbprint (customKeyIdentifier), and subject
// and issuer when Graph included the certificate itself. Never the key.
func keyToCredential(kc graph.KeyCredential) *rotor.Credential {
	c := &rotor.Credential{KeyID: kc.KeyID, Kind: rotor.KindCertificate, DisplayName: kc.DisplayName, Usage: kc.Usage, KeyType: kc.Type}
	if kc.StartDateTime != nil {
		c.StartAt = kc.StartDateTime.UTC()
	}
	if kc.EndDateTime != nil {
		c.EndAt = kc.EndDateTime.UTC()
	}
	if len(kc.CustomKeyIdentifier) > 0 {
		c.Thumbprint = hex.EncodeToString(kc.CustomKeyIdentifier)
	}
	if len(kc.Key) > 0 {
		if cert, err := x509.ParseCertificate(kc.Key); err == nil {
			c.Subject, c.Issuer = cert.Subject.String(), cert.Issuer.String()
		}
	}
	return c
}

func (s *Syncer) storedApps(ctx context.Context, tenant string, page []graph.Application) (map[string]*rotor.App, error) {
	m := map[string]*rotor.App{}
	for _, a := range page {
		if a.Removed != nil || a.AppID != nil && a.DisplayName != nil && a.SignInAudience != nil && a.Tags != nil {
			continue
		}
		got, err := s.Store.AppGet(ctx, tenant, a.ID)
		if errors.Is(err, rotor.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m[a.ID] = got
	}
	return m, nil
}

func (s *Syncer) storedSPs(ctx context.Context, tenant string, page []graph.ServicePrincipal) (map[string]*rotor.ServicePrincipal, error) {
	m := map[string]*rotor.ServicePrincipal{}
	for _, p := range page {
		if p.Removed != nil || p.AppID != nil && p.DisplayName != nil && p.Tags != nil {
			continue
		}
		got, err := s.Store.ServicePrincipalGet(ctx, tenant, p.ID)
		if errors.Is(err, rotor.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m[p.ID] = got
	}
	return m, nil
}
