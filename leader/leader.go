// Package leader elects one replica for work that must run once across the installation (the
// planner), through a lease with a fencing token in the shared store: no home-made protocol.
package leader

import (
	"context"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
)

// Elector runs work while this process holds the named lease.
type Elector struct {
	Store  rotor.LeaseStore
	Clock  clockwork.Clock
	Log    *slog.Logger
	Name   string        // lease name, e.g. "planner"
	Holder string        // this process, unique among replicas
	TTL    time.Duration // lease length; renewed at a third of it
}

// Run campaigns for the lease until ctx ends. While it holds the lease it runs lead with a
// context that is cancelled as soon as the lease is lost (or cannot be renewed before it
// expires); lead is started again on the next term. On return the lease is released.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context, fence int64)) {
	defer e.Store.LeaseRelease(context.WithoutCancel(ctx), e.Name, e.Holder)
	var stop func() // stops the current term; nil when not leading
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	end := func() {
		if stop != nil {
			stop()
			stop = nil
		}
	}
	var fence int64
	var until time.Time
	for {
		l, err := e.Store.LeaseAcquire(ctx, &rotor.LeaseAcquireParams{Name: e.Name, Holder: e.Holder, Now: e.Clock.Now(), TTL: e.TTL})
		held := err == nil && l.Held(e.Holder, e.Clock.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			e.log().Warn("lease", "name", e.Name, "err", err)
			if stop != nil && !e.Clock.Now().Before(until) {
				e.log().Warn("lost leadership: the lease could not be renewed in time", "name", e.Name)
				end()
			}
		case held && (stop == nil || l.Fence != fence):
			end()
			fence, until = l.Fence, l.ExpiresAt
			e.log().Info("leading", "name", e.Name, "fence", fence)
			stop = startTerm(ctx, fence, lead)
		case held:
			until = l.ExpiresAt
		case stop != nil:
			e.log().Warn("lost leadership", "name", e.Name, "holder", l.Holder)
			end()
		}
		t := e.Clock.NewTimer(e.TTL / 3)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// startTerm runs lead in a goroutine for one term and returns the function that ends the term:
// it cancels lead's context and waits for lead to return.
func startTerm(ctx context.Context, fence int64, lead func(ctx context.Context, fence int64)) func() {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lead(lctx, fence) }()
	return func() { cancel(); <-done }
}

func (e *Elector) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// Every calls fn at once and then every interval, moved by up to jitter either way, until ctx
// ends. kick, when not nil, makes it run now.
func Every(ctx context.Context, clock clockwork.Clock, interval, jitter time.Duration, rnd func() float64, kick <-chan struct{}, fn func(ctx context.Context)) {
	for {
		fn(ctx)
		d := interval
		if jitter > 0 {
			d += time.Duration((rnd()*2 - 1) * float64(jitter))
		}
		t := clock.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-kick:
		case <-t.Chan():
		}
		t.Stop()
	}
}
