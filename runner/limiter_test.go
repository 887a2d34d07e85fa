package runner

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/internal/testclock"
)

func TestWriteLimiterStaysUnderTheQuota(t *testing.T) {
	t.Parallel()
	clock := testclock.NewJumping(start)
	l := NewWriteLimiter(clock, 0.9) // 18 writes per second, burst 9
	var at []time.Time
	for range 6000 {
		require.NoError(t, l.Wait(t.Context()))
		at = append(at, clock.Now())
	}
	// In every 150 s window: at most 0.9 x 3,000 + burst.
	j := 0
	for i := range at {
		for at[i].Sub(at[j]) >= GraphWriteQuotaWindow {
			j++
		}
		require.LessOrEqual(t, i-j+1, 2700+9, "window ending at write %d", i)
	}
	total := at[len(at)-1].Sub(at[0])
	require.InDelta(t, (6000-9)/18.0, total.Seconds(), 1.0, "and it goes as fast as that allows")
}
