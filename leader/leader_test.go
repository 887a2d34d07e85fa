package leader

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/store/sqlstore"
)

func TestOneLeaderAndTakeover(t *testing.T) {
	t.Parallel()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "r.db"), sqlstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))

	type term struct {
		holder string
		fence  int64
	}
	terms := make(chan term, 10)
	ended := make(chan string, 10)
	run := func(ctx context.Context, holder string, wg *sync.WaitGroup) {
		defer wg.Done()
		e := &Elector{Store: st, Clock: clock, Name: "planner", Holder: holder, TTL: 30 * time.Second}
		e.Run(ctx, func(ctx context.Context, fence int64) {
			terms <- term{holder, fence}
			<-ctx.Done()
			ended <- holder
		})
	}
	ctxA, stopA := context.WithCancel(t.Context())
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	var wgA, wgB sync.WaitGroup
	wgA.Add(1)
	go run(ctxA, "a", &wgA)
	first := <-terms
	require.Equal(t, term{"a", 1}, first)
	require.NoError(t, clock.BlockUntilContext(t.Context(), 1)) // a waits for its renewal timer
	wgB.Add(1)
	go run(ctxB, "b", &wgB)
	require.NoError(t, clock.BlockUntilContext(t.Context(), 2)) // b tried, lost, and waits too
	select {
	case tm := <-terms:
		t.Fatalf("two leaders: %v", tm)
	default:
	}

	// a stops and releases (Run returns after the release): b takes over at its next try, with
	// a new fencing token.
	stopA()
	require.Equal(t, "a", <-ended)
	wgA.Wait()
	clock.Advance(10 * time.Second)
	second := <-terms
	require.Equal(t, term{"b", 2}, second)
	stopB()
	require.Equal(t, "b", <-ended)
	wgB.Wait()
}

func TestEvery(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClock()
	ctx, cancel := context.WithCancel(t.Context())
	kick := make(chan struct{})
	runs := make(chan time.Time, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, clock, time.Minute, 0, nil, kick, func(context.Context) { runs <- clock.Now() })
	}()
	start := <-runs
	require.NoError(t, clock.BlockUntilContext(t.Context(), 1))
	clock.Advance(time.Minute)
	require.Equal(t, start.Add(time.Minute), <-runs)
	kick <- struct{}{}
	require.Equal(t, start.Add(time.Minute), <-runs, "a kick runs it now")
	cancel()
	<-done
}
