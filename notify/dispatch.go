package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rotorhq/rotor"
)

// dispatchCursor names the dispatcher's position in the audit trail.
const dispatchCursor = "dispatch"

// Dispatch reads the audit trail after the stored cursor and enqueues a notification for each
// event, immediate route and notifier that match, advancing the cursor in the same transaction
// as the inserts. It returns how many notifications it enqueued. Several replicas may dispatch at
// once: the cursor only moves from the position a dispatcher read, so one of them wins each batch
// and the others re-read.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := s.dispatchBatch(ctx)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (s *Service) dispatchBatch(ctx context.Context) (enqueued int, more bool, err error) {
	pos, err := s.cursor(ctx, dispatchCursor)
	if err != nil {
		return 0, false, fmt.Errorf("dispatch: %w", err)
	}
	evs, err := s.cfg.Store.AuditList(ctx, &rotor.AuditListParams{AfterSeq: pos, Limit: s.cfg.BatchSize})
	if err != nil {
		return 0, false, fmt.Errorf("dispatch: read audit events after %d: %w", pos, err)
	}
	if len(evs) == 0 {
		return 0, false, nil
	}
	now := s.cfg.Clock.Now()
	res := newResolver(s.cfg.Store, s.cfg.Lifecycle)
	var rows []*rotor.Notification
	for _, ev := range evs {
		if !s.immediateRouteWants(ev.Action) {
			continue
		}
		e, err := res.fromAudit(ctx, ev)
		if err != nil {
			return 0, false, fmt.Errorf("dispatch: audit event %d: %w", ev.Seq, err)
		}
		rows, err = s.route(rows, e, dedupeKey(e), now)
		if err != nil {
			return 0, false, err
		}
	}
	last := evs[len(evs)-1].Seq
	err = s.cfg.Store.InTx(ctx, func(tx rotor.Store) error {
		enqueued = 0
		for _, n := range rows {
			ok, err := tx.NotificationInsert(ctx, n)
			if err != nil {
				return err
			}
			if ok {
				enqueued++
			}
		}
		return tx.NotifyCursorAdvance(ctx, &rotor.NotifyCursorAdvanceParams{Name: dispatchCursor, From: pos, To: last, Now: now})
	})
	if errors.Is(err, rotor.ErrConflict) {
		// Another replica dispatched these events first; read on from where it stopped.
		s.log.Debug("notify: another process dispatched the batch", "after_seq", pos)
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("dispatch: enqueue events %d to %d: %w", pos+1, last, err)
	}
	if enqueued > 0 {
		s.log.Info("notify: enqueued notifications", "count", enqueued, "from_seq", pos+1, "to_seq", last)
	}
	return enqueued, len(evs) == s.cfg.BatchSize, nil
}

// immediateRouteWants reports whether any route that sends per event is about events of typ.
func (s *Service) immediateRouteWants(typ string) bool {
	for i := range s.cfg.Routes {
		r := &s.cfg.Routes[i]
		if r.Digest == nil && r.MatchType(typ) {
			return true
		}
	}
	return false
}

// dedupeKey is what makes a notification about e unique (route and notifier are appended). A
// rotation that keeps failing is announced on its first failure only: its later attempts are
// the same news, and parking it (attempts exhausted) is an event of its own.
func dedupeKey(e *Event) string {
	if e.Type == ActionRotationFailed && e.RotationID != "" {
		return "rotation-failed/" + e.RotationID
	}
	return fmt.Sprintf("audit/%d", e.AuditSeq)
}

// route appends to rows one notification per immediate route that matches e and per notifier of
// that route.
func (s *Service) route(rows []*rotor.Notification, e *Event, key string, now time.Time) ([]*rotor.Notification, error) {
	var payload []byte
	for i := range s.cfg.Routes {
		r := &s.cfg.Routes[i]
		if r.Digest != nil || !r.Match(e) {
			continue
		}
		if payload == nil {
			var err error
			if payload, err = json.Marshal(e); err != nil {
				return nil, fmt.Errorf("encode event %s: %w", e.Type, err)
			}
		}
		for _, n := range r.Notifiers {
			rows = append(rows, s.notification(key, r, n, e, payload, now))
		}
	}
	return rows, nil
}
