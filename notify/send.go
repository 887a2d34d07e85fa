package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rotorhq/rotor"
)

// sendConcurrency bounds deliveries in flight per SendDue pass.
const sendConcurrency = 4

// SendDue claims the notifications that are due, delivers them and records the outcome: sent, or
// a failure with its error and, while attempts remain and the error is not permanent, the next
// attempt after a backoff computed from the stored attempt count. It returns how many
// notifications it processed.
func (s *Service) SendDue(ctx context.Context) (int, error) {
	total := 0
	for {
		claimed, err := s.cfg.Store.NotificationClaim(ctx, &rotor.NotificationClaimParams{Worker: s.cfg.Worker,
			Now: s.cfg.Clock.Now(), LeaseFor: s.cfg.LeaseFor, Limit: s.cfg.BatchSize})
		if err != nil {
			return total, fmt.Errorf("send: %w", err)
		}
		if len(claimed) == 0 {
			return total, nil
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		sem := make(chan struct{}, sendConcurrency)
		for _, n := range claimed {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := s.deliver(ctx, n); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		total += len(claimed)
		if err := errors.Join(errs...); err != nil {
			return total, err
		}
		if len(claimed) < s.cfg.BatchSize || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// deliver makes one attempt at n and records its outcome under n's fencing token.
func (s *Service) deliver(ctx context.Context, n *rotor.Notification) error {
	log := s.log.With("notification_id", n.ID, "notifier", n.Notifier, "route", n.Route, "event", n.Event)
	m, notifier, err := s.prepare(ctx, n)
	if err == nil {
		sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
		err = notifier.Send(sctx, m)
		cancel()
		if rc, ok := notifier.(Recipienter); ok {
			n.Recipients = rc.Recipients(m)
		}
	}
	if ctx.Err() != nil {
		// Shutting down: leave the row to its lease; the next claim retries it without counting
		// an attempt that never got a fair chance.
		return nil
	}
	now := s.cfg.Clock.Now()
	n.LeaseOwner, n.LeaseExpiresAt, n.UpdatedAt = "", time.Time{}, now
	if err == nil {
		n.Status, n.SentAt, n.NextAttemptAt, n.LastError = rotor.NotificationSent, now, time.Time{}, ""
		log.Info("notify: sent", "attempt", n.Attempt+1, "recipients", len(n.Recipients))
	} else {
		n.Attempt++
		n.LastError = truncate(2000, err.Error())
		permanent := !retryable(err)
		if permanent || n.Attempt >= s.cfg.MaxAttempts {
			n.Status, n.NextAttemptAt = rotor.NotificationFailed, time.Time{}
			log.Error("notify: delivery failed; giving up", "attempt", n.Attempt, "permanent", permanent, "err", err)
		} else {
			next := now.Add(s.backoff(n.Attempt))
			if ra := rotor.RetryAfterOf(err); ra > 0 && now.Add(ra).After(next) {
				next = now.Add(ra)
			}
			n.Status, n.NextAttemptAt = rotor.NotificationRetrying, next
			log.Warn("notify: delivery failed; will retry", "attempt", n.Attempt, "next_attempt_at", next, "err", err)
		}
	}
	if err := s.cfg.Store.NotificationUpdate(ctx, n); err != nil {
		if errors.Is(err, rotor.ErrLeaseLost) {
			log.Warn("notify: lost the claim on a notification while sending it", "err", err)
			return nil
		}
		return fmt.Errorf("record delivery of notification %s: %w", n.ID, err)
	}
	return nil
}

// prepare builds the message for n from the current configuration: the route's owner and secret
// options are read now, so that turning include_secret off takes effect for queued messages too.
func (s *Service) prepare(ctx context.Context, n *rotor.Notification) (*Message, Notifier, error) {
	notifier, ok := s.cfg.Notifiers[n.Notifier]
	if !ok {
		return nil, nil, rotor.Permanent(fmt.Errorf("notifier %q is not configured (any more)", n.Notifier))
	}
	m := &Message{ID: n.ID}
	if err := json.Unmarshal(n.Payload, &m.Event); err != nil {
		return nil, nil, rotor.Permanent(fmt.Errorf("decode the stored event: %w", err))
	}
	r := s.routes[n.Route] // nil when the route was removed: no owners, no secret
	if r != nil && r.ToOwners && m.Event.AppObjectID != "" {
		mails, err := s.cfg.Owners.OwnerMails(ctx, m.Event.Tenant, m.Event.AppObjectID)
		if err != nil {
			return nil, nil, rotor.Transient(fmt.Errorf("look up the owners of app %s: %w", m.Event.AppObjectID, err))
		}
		m.To = dedupe(mails)
	}
	if r != nil && r.IncludeSecret && m.Event.RotationID != "" && slices.Contains(SecretEvents, m.Event.Type) {
		v, err := s.cfg.Secrets.RotationSecret(ctx, m.Event.RotationID)
		switch {
		case errors.Is(err, rotor.ErrNotFound):
			// The rotation stored no secret (a certificate, say): the message goes without.
		case err != nil:
			return nil, nil, rotor.Transient(fmt.Errorf("open the new secret of rotation %s: %w", m.Event.RotationID, err))
		default:
			m.Secret = v // only the notifier reads it; secret.Value never prints
		}
	}
	return m, notifier, nil
}

// retryable reports whether a delivery error is worth another attempt: transient and throttled
// errors are, permanent ones are not, and unclassified ones are (attempts bound them; a duplicate
// message is a smaller harm than a lost alert).
func retryable(err error) bool {
	var ce *rotor.ClassifiedError
	if errors.As(err, &ce) {
		return ce.Class == rotor.ClassTransient || ce.Class == rotor.ClassThrottled
	}
	return true
}

// backoff is the wait after the attempt-th failure: doubling from the base up to the maximum,
// jittered down by up to 20%. It depends only on the stored attempt count, so it survives
// restarts and moves between replicas with the row.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffBase << min(attempt-1, 30)
	if d > s.cfg.BackoffMax || d <= 0 {
		d = s.cfg.BackoffMax
	}
	return d - time.Duration(rand.Float64()*0.2*float64(d))
}

func dedupe(addrs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		k := strings.ToLower(a)
		if a == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	return out
}
