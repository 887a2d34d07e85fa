package runner

import (
	"context"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"
)

// Graph's documented write quota for identity and access, per application and tenant: 3,000
// requests per 2 minutes 30 seconds.
// https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits
const (
	GraphWriteQuota       = 3000
	GraphWriteQuotaWindow = 150 * time.Second
)

// WriteLimiter is a token bucket that keeps one tenant's Graph writes under share of the
// documented quota. Its burst is small, so that no 150 s window ever holds more than
// share x 3,000 + burst writes.
type WriteLimiter struct {
	clock clockwork.Clock
	lim   *rate.Limiter
}

// NewWriteLimiter returns a limiter allowing share (0 < share <= 1) of Graph's write quota.
func NewWriteLimiter(clock clockwork.Clock, share float64) *WriteLimiter {
	perSecond := share * GraphWriteQuota / GraphWriteQuotaWindow.Seconds()
	burst := max(1, int(perSecond/2))
	return &WriteLimiter{clock: clock, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// Wait blocks until one write may be sent.
func (l *WriteLimiter) Wait(ctx context.Context) error {
	now := l.clock.Now()
	r := l.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	t := l.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		r.CancelAt(l.clock.Now())
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}
