package testclock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJumping(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewJumping(start)
	<-c.NewTimer(3 * time.Second).Chan()
	<-c.After(time.Minute)
	c.Sleep(time.Hour)
	require.Equal(t, start.Add(time.Hour+time.Minute+3*time.Second), c.Now())
	require.Equal(t, []time.Duration{3 * time.Second, time.Minute, time.Hour}, c.Waits())
}
