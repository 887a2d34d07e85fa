package runner

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
)

type recordingObserver struct {
	mu       sync.Mutex
	steps    []string
	outcomes []string
}

func (o *recordingObserver) StepFinished(r *rotor.Rotation, st *rotor.RotationStep) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.steps = append(o.steps, st.Name+"="+string(st.State))
}

func (o *recordingObserver) RotationOutcome(r *rotor.Rotation, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, outcome)
}

func TestObserverSeesFinishedStepsAndOutcomes(t *testing.T) {
	t.Parallel()
	obs := &recordingObserver{}
	b, e := setup(t, func(_ *bundle, c *Config) { c.Observer = obs })
	ctx := t.Context()
	b.targets["b"].fails, b.targets["b"].err = 1, errors.New("vault unreachable") // the attempt fails and is retried

	_, err := e.Request(ctx, b.binding.ID, "user:alice@example.com")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	require.Equal(t, []string{"failed"}, obs.outcomes)
	b.clock.Advance(time.Hour)
	require.NoError(t, e.RunUntilIdle(ctx))
	b.clock.Advance(7 * day)
	require.NoError(t, e.RunUntilIdle(ctx))

	require.Equal(t, []string{"failed", "completed"}, obs.outcomes)
	require.Equal(t, []string{"create=succeeded", "verify=succeeded", "deploy:a=succeeded", "deploy:b=failed",
		"deploy:b=succeeded", "deploy:c=succeeded", "retire:a=succeeded", "retire:b=succeeded", "retire:c=succeeded", "cleanup=succeeded"},
		obs.steps, "each step once per time it finished; running (intent) records are not reported")
}
