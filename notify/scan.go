package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
)

// Limits of what one digest lists (everything is counted).
const (
	digestMaxExpiring = 100
	digestMaxEvents   = 50
	scanPage          = 500
)

// Scan enqueues expiry alerts for credentials that crossed a threshold and the daily digests that
// are due, and prunes old notifications. It returns how many notifications it enqueued.
func (s *Service) Scan(ctx context.Context) (int, error) {
	n1, err1 := s.scanThresholds(ctx)
	n2, err2 := s.scanDigests(ctx)
	var err3 error
	if pruned, err := s.cfg.Store.NotificationPrune(ctx, s.cfg.Clock.Now().Add(-s.cfg.Retention)); err != nil {
		err3 = err
	} else if pruned > 0 {
		s.log.Info("notify: pruned old notifications", "count", pruned, "retention", s.cfg.Retention)
	}
	return n1 + n2, errors.Join(err1, err2, err3)
}

// crossed returns the tightest threshold a credential ending at end has crossed at now, and the
// event type: credential.expired (threshold 0) once end has passed.
func (s *Service) crossed(end, now time.Time) (time.Duration, string, bool) {
	if !now.Before(end) {
		return 0, EventExpired, true
	}
	left := end.Sub(now)
	var th time.Duration
	for _, t := range s.cfg.Thresholds { // largest first
		if left <= t {
			th = t
		}
	}
	return th, EventExpiring, th > 0
}

// scanThresholds enqueues one alert per credential and crossed threshold. The record of the
// crossing, keyed (tenant, key id, threshold) in the database, is written in the same transaction
// as the alert's notifications: of several replicas, or a process before and after a restart,
// exactly one announces each crossing. A credential first seen inside several thresholds is
// announced for the tightest only.
func (s *Service) scanThresholds(ctx context.Context) (int, error) {
	if !s.immediateRouteWants(EventExpiring) && !s.immediateRouteWants(EventExpired) {
		return 0, nil
	}
	now := s.cfg.Clock.Now()
	res := newResolver(s.cfg.Store, s.cfg.Lifecycle)
	total := 0
	var after *rotor.CredentialCursor
	for {
		creds, err := s.cfg.Store.CredentialList(ctx, &rotor.CredentialListParams{
			EndAfter: now.Add(-s.cfg.ExpiredWithin), EndBefore: now.Add(s.cfg.Thresholds[0] + time.Microsecond),
			After: after, Limit: scanPage})
		if err != nil {
			return total, fmt.Errorf("scan thresholds: list credentials: %w", err)
		}
		if len(creds) == 0 {
			return total, nil
		}
		recorded, err := s.recordedCrossings(ctx, creds)
		if err != nil {
			return total, err
		}
		for _, c := range creds {
			th, typ, ok := s.crossed(c.EndAt, now)
			if !ok || recorded[crossingKey(c.Tenant, c.KeyID, th)] {
				continue
			}
			n, err := s.announceCrossing(ctx, res, c, th, typ, now)
			if err != nil {
				return total, err
			}
			total += n
		}
		last := creds[len(creds)-1]
		after = &rotor.CredentialCursor{EndAt: last.EndAt, Tenant: last.Tenant, KeyID: last.KeyID}
		if len(creds) < scanPage {
			return total, nil
		}
	}
}

func crossingKey(tenant, keyID string, th time.Duration) string {
	return fmt.Sprintf("%s/%s/%d", tenant, keyID, th.Microseconds())
}

// recordedCrossings returns the crossings already recorded for creds, keyed by crossingKey.
func (s *Service) recordedCrossings(ctx context.Context, creds []*rotor.Credential) (map[string]bool, error) {
	byTenant := map[string][]string{}
	for _, c := range creds {
		byTenant[c.Tenant] = append(byTenant[c.Tenant], c.KeyID)
	}
	out := map[string]bool{}
	for tenant, keys := range byTenant {
		ths, err := s.cfg.Store.NotificationThresholdList(ctx, &rotor.NotificationThresholdListParams{Tenant: tenant, KeyIDs: keys})
		if err != nil {
			return nil, fmt.Errorf("scan thresholds: %w", err)
		}
		for _, th := range ths {
			out[crossingKey(th.Tenant, th.KeyID, th.Threshold)] = true
		}
	}
	return out, nil
}

// announceCrossing records that c crossed th and enqueues its alerts, unless a rotation is
// replacing c (the rotation's own events tell that story) or another process got there first.
func (s *Service) announceCrossing(ctx context.Context, res *resolver, c *rotor.Credential, th time.Duration, typ string, now time.Time) (int, error) {
	facts, err := res.lifecycleFacts(ctx, c)
	if err != nil {
		return 0, fmt.Errorf("scan thresholds: credential %s/%s: %w", c.Tenant, c.KeyID, err)
	}
	switch lifecycle.StateOf(facts, s.cfg.Lifecycle, now) {
	case lifecycle.Rotating, lifecycle.Grace, lifecycle.CleanedUp, lifecycle.Removed:
		return 0, nil // looked at again next scan: a rotation that fails leaves the credential expiring
	}
	e, err := res.fromCredential(ctx, c, typ, th, now)
	if err != nil {
		return 0, fmt.Errorf("scan thresholds: credential %s/%s: %w", c.Tenant, c.KeyID, err)
	}
	key := "threshold/" + crossingKey(c.Tenant, c.KeyID, th)
	rows, err := s.route(nil, e, key, now)
	if err != nil {
		return 0, err
	}
	enqueued := 0
	err = s.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		enqueued = 0
		first, err := tx.NotificationThresholdPut(ctx, &rotor.NotificationThreshold{Tenant: c.Tenant, KeyID: c.KeyID,
			Threshold: th, EndAt: c.EndAt, CreatedAt: now})
		if err != nil || !first {
			return err
		}
		for _, n := range rows {
			ok, err := tx.NotificationInsert(ctx, n)
			if err != nil {
				return err
			}
			if ok {
				enqueued++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("scan thresholds: credential %s/%s: %w", c.Tenant, c.KeyID, err)
	}
	if enqueued > 0 {
		s.log.Info("notify: credential crossed an expiry threshold", "tenant", c.Tenant, "key_id", c.KeyID,
			"app_id", c.AppID, "event", typ, "threshold", th, "end_at", c.EndAt, "notifications", enqueued)
	}
	return enqueued, nil
}

// scanDigests enqueues the digests that are due.
func (s *Service) scanDigests(ctx context.Context) (int, error) {
	total := 0
	var errs []error
	for i := range s.cfg.Routes {
		r := &s.cfg.Routes[i]
		if r.Digest == nil {
			continue
		}
		n, err := s.digest(ctx, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("digest of route %s: %w", r.Name, err))
		}
		total += n
	}
	return total, errors.Join(errs...)
}

// digest enqueues route r's digest for today when it is due and not sent yet: the events since
// the route's digest cursor, and what expires soon. The notifications (keyed by route, date and
// notifier) and the cursor move together, so each day's digest is made once across replicas.
func (s *Service) digest(ctx context.Context, r *Route) (int, error) {
	name := "digest/" + r.Name
	pos, err := s.cursor(ctx, name) // the first digest covers events from when the route was first seen
	if err != nil {
		return 0, err
	}
	now := s.cfg.Clock.Now()
	date, due := r.Digest.day(now)
	if !due {
		return 0, nil
	}
	key := "digest/" + r.Name + "/" + date
	prev, err := s.cfg.Store.NotificationList(ctx, &rotor.NotificationListParams{Route: r.Name, Event: EventDigest, Limit: 1})
	if err != nil {
		return 0, err
	}
	d := &Digest{Route: r.Name, Date: date}
	if len(prev) > 0 {
		if strings.HasPrefix(prev[0].Key, key+"/") {
			return 0, nil // today's is made
		}
		d.Since = prev[0].CreatedAt
	}
	res := newResolver(s.cfg.Store, s.cfg.Lifecycle)
	last, err := s.digestEvents(ctx, res, r, d, pos)
	if err != nil {
		return 0, err
	}
	if err := s.digestExpiring(ctx, res, r, d, now); err != nil {
		return 0, err
	}
	e := &Event{Type: EventDigest, At: now, Actor: "rotor", Digest: d}
	e.Severity = severityOf(e, s.cfg.Lifecycle)
	payload, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	enqueued := 0
	err = s.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		enqueued = 0
		for _, notifier := range r.Notifiers {
			ok, err := tx.NotificationInsert(ctx, s.notification(key, r, notifier, e, payload, now))
			if err != nil {
				return err
			}
			if ok {
				enqueued++
			}
		}
		if enqueued == 0 {
			return nil
		}
		if last > pos {
			return tx.NotifyCursorAdvance(ctx, &rotor.NotifyCursorAdvanceParams{Name: name, From: pos, To: last, Now: now})
		}
		return nil
	})
	if errors.Is(err, rotor.ErrConflict) {
		return 0, nil // another replica made it
	}
	if err != nil {
		return 0, err
	}
	if enqueued > 0 {
		s.log.Info("notify: enqueued digest", "route", r.Name, "date", date, "expiring", len(d.Expiring)+d.MoreExpiring,
			"events", len(d.Events)+d.MoreEvents)
	}
	return enqueued, nil
}

// digestEvents adds the audit events after pos that r matches, and returns the last sequence
// number read.
func (s *Service) digestEvents(ctx context.Context, res *resolver, r *Route, d *Digest, pos int64) (int64, error) {
	counts := map[string]int{}
	last := pos
	for {
		evs, err := s.cfg.Store.AuditList(ctx, &rotor.AuditListParams{AfterSeq: last, Limit: scanPage})
		if err != nil {
			return 0, fmt.Errorf("read audit events after %d: %w", last, err)
		}
		for _, ev := range evs {
			last = ev.Seq
			if !r.MatchType(ev.Action) {
				continue
			}
			e, err := res.fromAudit(ctx, ev)
			if err != nil {
				return 0, fmt.Errorf("audit event %d: %w", ev.Seq, err)
			}
			if !r.Match(e) {
				continue
			}
			counts[e.Type]++
			if len(d.Events) < digestMaxEvents {
				d.Events = append(d.Events, DigestEvent{At: e.At, Type: e.Type, Severity: e.Severity, Title: e.Title(),
					Tenant: e.Tenant, AppID: e.AppID, Reason: e.Reason})
			} else {
				d.MoreEvents++
			}
		}
		if len(evs) < scanPage {
			break
		}
	}
	for typ, n := range counts {
		d.Counts = append(d.Counts, DigestCount{Type: typ, Count: n})
	}
	sort.Slice(d.Counts, func(i, j int) bool {
		if d.Counts[i].Count != d.Counts[j].Count {
			return d.Counts[i].Count > d.Counts[j].Count
		}
		return d.Counts[i].Type < d.Counts[j].Type
	})
	return last, nil
}

// digestExpiring adds the credentials r matches that expire within the largest threshold or
// expired in the last day, soonest first, leaving out those a rotation is replacing.
func (s *Service) digestExpiring(ctx context.Context, res *resolver, r *Route, d *Digest, now time.Time) error {
	if !r.MatchType(EventExpiring) && !r.MatchType(EventExpired) {
		return nil
	}
	var after *rotor.CredentialCursor
	for {
		creds, err := s.cfg.Store.CredentialList(ctx, &rotor.CredentialListParams{EndAfter: now.Add(-24 * time.Hour),
			EndBefore: now.Add(s.cfg.Thresholds[0] + time.Microsecond), After: after, Limit: scanPage})
		if err != nil {
			return fmt.Errorf("list credentials: %w", err)
		}
		for _, c := range creds {
			facts, err := res.lifecycleFacts(ctx, c)
			if err != nil {
				return err
			}
			state := lifecycle.StateOf(facts, s.cfg.Lifecycle, now)
			if state != lifecycle.Expiring && state != lifecycle.Expired && state != lifecycle.Active {
				continue
			}
			typ := EventExpiring
			if state == lifecycle.Expired {
				typ = EventExpired
			}
			th, _, _ := s.crossed(c.EndAt, now)
			e, err := res.fromCredential(ctx, c, typ, th, now)
			if err != nil {
				return err
			}
			if !r.MatchType(typ) || !r.matchSubject(e.Tenant, e.Policy, e.AppID, e.AppDisplayName) {
				continue
			}
			if len(d.Expiring) >= digestMaxExpiring {
				d.MoreExpiring++
				continue
			}
			d.Expiring = append(d.Expiring, DigestCredential{Tenant: c.Tenant, AppID: c.AppID, AppDisplayName: e.AppDisplayName,
				KeyID: c.KeyID, CredentialKind: string(c.Kind), CredentialName: c.DisplayName, EndAt: c.EndAt, Severity: e.Severity})
		}
		if len(creds) < scanPage {
			return nil
		}
		last := creds[len(creds)-1]
		after = &rotor.CredentialCursor{EndAt: last.EndAt, Tenant: last.Tenant, KeyID: last.KeyID}
	}
}
