// Package testclock provides clocks for tests that wait without sleeping.
package testclock

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Jumping is a fake clock on which every timer fires at once: creating a timer (or calling
// After or Sleep) for d advances the clock by d. Code that waits runs without delay while the
// time it reads moves exactly as if it had waited. Waits records every duration waited on.
type Jumping struct {
	*clockwork.FakeClock
	mu    sync.Mutex
	waits []time.Duration
}

var _ clockwork.Clock = (*Jumping)(nil)

// NewJumping returns a jumping clock starting at start.
func NewJumping(start time.Time) *Jumping {
	return &Jumping{FakeClock: clockwork.NewFakeClockAt(start)}
}

func (c *Jumping) record(d time.Duration) {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
}

// NewTimer implements clockwork.Clock.
func (c *Jumping) NewTimer(d time.Duration) clockwork.Timer {
	c.record(d)
	t := c.FakeClock.NewTimer(d)
	c.FakeClock.Advance(d)
	return t
}

// After implements clockwork.Clock.
func (c *Jumping) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).Chan() }

// Sleep implements clockwork.Clock.
func (c *Jumping) Sleep(d time.Duration) { c.record(d); c.FakeClock.Advance(d) }

// Waits returns the durations waited on so far.
func (c *Jumping) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}
