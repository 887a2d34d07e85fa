// Package targettest is the conformance suite every deployment step type runs: whatever the
// destination, a step must publish idempotently, refuse what rotor does not own without writing,
// preflight without side effects, roll back where it can, and never let the secret out.
//
// A step type's test adapts itself through a Harness:
//
//	func TestConformance(t *testing.T) {
//		t.Parallel()
//		targettest.Run(t, targettest.Harness{
//			New: func(t *testing.T, log *slog.Logger) *targettest.Fixture {
//				dir := t.TempDir()
//				tg := build(t, dir, log)
//				return &targettest.Fixture{
//					Target:  tg,
//					State:   func(t *testing.T) []byte { return readAll(t, dir) },
//					Current: func(t *testing.T) (secret.Value, bool) { return readValue(t, dir) },
//				}
//			},
//		})
//	}
package targettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

// Harness adapts one step type to the suite.
type Harness struct {
	// New returns a fresh fixture: a target whose destination no other fixture uses, absent or
	// in the state a first rotation finds it in, such that Preflight succeeds. The target must
	// log to log (pass it to the step type's dependencies); the suite checks what it logged.
	New func(t *testing.T, log *slog.Logger) *Fixture

	// AtLeastOnce marks a step that acts rather than stores (a webhook, a refresh call): it
	// cannot tell whether its receiver already acted, so publishing the same deployment again
	// repeats the action, with the same idempotency key, and may report Changed. The suite then
	// requires the fixture's State, which must deduplicate by that key, to stay the same.
	AtLeastOnce bool

	// ReadOnly marks a step that observes and changes nothing (a health check): every publish
	// reports Changed false and leaves State as it was.
	ReadOnly bool

	// Deployment adjusts the deployments the suite publishes, e.g. to name the tenant the
	// fixture's credentials are for. Optional.
	Deployment func(d *rotor.Deployment)
}

// Fixture is one target and the means to observe its destination.
type Fixture struct {
	Target rotor.Target

	// State returns everything at the destination that a publish could change, in a stable
	// encoding: the suite compares states to prove that a preflight, a second publish or a
	// refusal wrote nothing. It returns nil when the destination does not exist. Required.
	State func(t *testing.T) []byte

	// Current returns the value a consumer reading the destination gets now, false when it gets
	// none. Nil when the step's destination cannot be read back (an action); the value checks
	// and the revert checks are skipped then.
	Current func(t *testing.T) (secret.Value, bool)

	// Foreign creates the destination as something rotor does not own (no ownership marker),
	// holding a value of its own. Nil when the step type has no notion of ownership.
	Foreign func(t *testing.T)

	// Records returns anything else the step left behind that must not hold the secret: files
	// next to the destination, requests a receiver got, a command's output. Optional.
	Records func(t *testing.T) []string
}

// MaxMessageLen bounds Outcome.Message: a short, single-line, human sentence.
const MaxMessageLen = 256

// Run runs the suite against h, each check in a parallel subtest with fixtures of its own.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.New, "Harness.New is required")
	for _, c := range []struct {
		name string
		run  func(t *testing.T, b *bundle)
	}{
		{"PreflightHasNoSideEffects", testPreflightHasNoSideEffects},
		{"PublishIsIdempotent", testPublishIsIdempotent},
		{"PublishConcurrently", testPublishConcurrently},
		{"RefusesWhatRotorDoesNotOwn", testRefusesWhatRotorDoesNotOwn},
		{"HonoursCancelledContext", testHonoursCancelledContext},
		{"RevertRestoresPrevious", testRevertRestoresPrevious},
		{"RevertFirstPublish", testRevertFirstPublish},
		{"RevertWithoutUndo", testRevertWithoutUndo},
		{"RetireKeepsCurrent", testRetireKeepsCurrent},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, h)
			c.run(t, b)
			b.checkNoLeaks(t)
		})
	}
}

// bundle is one subtest's fixture, its captured log and everything the step said.
type bundle struct {
	h      Harness
	fx     *Fixture
	log    *lockedBuffer
	said   []string // errors and messages, checked for secrets
	values []secret.Value
	mu     sync.Mutex
}

func setup(t *testing.T, h Harness) *bundle {
	t.Helper()
	b := &bundle{h: h, log: &lockedBuffer{}}
	logger := slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b.fx = h.New(t, logger)
	require.NotNil(t, b.fx, "Harness.New returned no fixture")
	require.NotNil(t, b.fx.Target, "Fixture.Target is required")
	require.NotNil(t, b.fx.State, "Fixture.State is required")
	return b
}

// Deployment returns the suite's n-th deployment (n >= 1): each has its own rotation, key id
// and obviously fake value; the n-th replaces the (n-1)-th.
func Deployment(n int) rotor.Deployment {
	start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	d := rotor.Deployment{
		RotationID:     fmt.Sprintf("rot-conformance-%04d", n),
		StepName:       "conformance",
		TenantName:     "contoso",
		TenantID:       "72f988bf-0000-4000-8000-00000000c0de",
		OwnerKind:      rotor.OwnerApplication,
		OwnerID:        "0b0b0b0b-0000-4000-8000-000000000001",
		AppID:          "a99a99a9-0000-4000-8000-000000000001",
		AppDisplayName: "conformance app",
		Kind:           rotor.KindSecret,
		KeyID:          fmt.Sprintf("11111111-0000-4000-8000-%012d", n),
		Value:          secret.New(fmt.Sprintf("fake.Conformance~Secret_%04d-NOT-REAL", n)),
		NotBefore:      start.Add(time.Duration(n) * time.Hour),
		ExpiresAt:      start.Add(time.Duration(n)*time.Hour + 180*24*time.Hour),
	}
	if n > 1 {
		d.PreviousKeyID = fmt.Sprintf("11111111-0000-4000-8000-%012d", n-1)
	}
	return d
}

func (b *bundle) deployment(n int) rotor.Deployment {
	d := Deployment(n)
	if b.h.Deployment != nil {
		b.h.Deployment(&d)
	}
	b.mu.Lock()
	b.values = append(b.values, d.Value)
	b.mu.Unlock()
	return d
}

func (b *bundle) note(err error, msgs ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.said = append(b.said, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	b.said = append(b.said, msgs...)
}

func (b *bundle) preflight(ctx context.Context, d rotor.Deployment) error {
	d.Value = secret.Value{} // "d.Value is empty during preflight"
	err := b.fx.Target.Preflight(ctx, d)
	b.note(err)
	return err
}

func (b *bundle) publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	o, err := b.fx.Target.Publish(ctx, d)
	b.note(err, o.Message)
	return o, err
}

func (b *bundle) mustPublish(t *testing.T, d rotor.Deployment) rotor.Outcome {
	t.Helper()
	o, err := b.publish(context.Background(), d)
	require.NoError(t, err, "publish %s", d.RotationID)
	checkMessage(t, o.Message)
	return o
}

func checkMessage(t *testing.T, msg string) {
	t.Helper()
	require.NotEmpty(t, msg, "Outcome.Message must say what the step did")
	require.LessOrEqual(t, len(msg), MaxMessageLen, "Outcome.Message must be short: %q", msg)
	require.NotContains(t, msg, "\n", "Outcome.Message must be one line: %q", msg)
}

func (b *bundle) requireCurrent(t *testing.T, want rotor.Deployment) {
	t.Helper()
	if b.fx.Current == nil {
		return
	}
	got, ok := b.fx.Current(t)
	require.True(t, ok, "the destination holds no value after publishing %s", want.RotationID)
	require.True(t, got.Equal(want.Value), "the destination does not hold the value of %s", want.RotationID)
}

func (b *bundle) checkNoLeaks(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	texts := append([]string{b.log.String()}, b.said...)
	values := append([]secret.Value(nil), b.values...)
	b.mu.Unlock()
	if b.fx.Records != nil {
		texts = append(texts, b.fx.Records(t)...)
	}
	for _, s := range texts {
		require.False(t, secret.Contains(s, values...), "a secret value leaked into: %s", secret.Scrub(s, values...))
	}
}

func testPreflightHasNoSideEffects(t *testing.T, b *bundle) {
	ctx := context.Background()
	before := b.fx.State(t)
	require.NoError(t, b.preflight(ctx, b.deployment(1)), "preflight of a fresh destination")
	require.Equal(t, before, b.fx.State(t), "preflight changed the destination")

	b.mustPublish(t, b.deployment(1))
	published := b.fx.State(t)
	require.NoError(t, b.preflight(ctx, b.deployment(2)), "preflight of a destination rotor published to")
	require.Equal(t, published, b.fx.State(t), "preflight changed the destination")
}

func testPublishIsIdempotent(t *testing.T, b *bundle) {
	d1, d2 := b.deployment(1), b.deployment(2)
	if b.h.ReadOnly {
		before := b.fx.State(t)
		for _, d := range []rotor.Deployment{d1, d1, d2} {
			o := b.mustPublish(t, d)
			require.False(t, o.Changed, "a read-only step reports Changed false")
			require.Equal(t, before, b.fx.State(t), "a read-only step changed the destination")
		}
		return
	}
	o := b.mustPublish(t, d1)
	require.True(t, o.Changed, "a first publish to a fresh destination changes it")
	b.requireCurrent(t, d1)
	first := b.fx.State(t)
	require.NotNil(t, first, "the destination exists after a publish")

	o = b.mustPublish(t, d1)
	if !b.h.AtLeastOnce {
		require.False(t, o.Changed, "publishing the same deployment again must report Changed false")
	}
	require.Equal(t, first, b.fx.State(t), "publishing the same deployment again changed the destination")
	b.requireCurrent(t, d1)

	o = b.mustPublish(t, d2)
	require.True(t, o.Changed, "publishing a new rotation changes the destination")
	b.requireCurrent(t, d2)
	second := b.fx.State(t)
	require.NotEqual(t, first, second)
	o = b.mustPublish(t, d2)
	if !b.h.AtLeastOnce {
		require.False(t, o.Changed)
	}
	require.Equal(t, second, b.fx.State(t))
}

func testPublishConcurrently(t *testing.T, b *bundle) {
	d := b.deployment(1)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = b.publish(context.Background(), d) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...), "concurrent publishes of one deployment")
	b.requireCurrent(t, d)
	if !b.h.AtLeastOnce {
		o := b.mustPublish(t, d)
		require.False(t, o.Changed, "after concurrent publishes, the next reports Changed false")
	}
}

func testRefusesWhatRotorDoesNotOwn(t *testing.T, b *bundle) {
	if b.fx.Foreign == nil {
		t.Skip("the step type has no notion of ownership")
	}
	ctx := context.Background()
	b.fx.Foreign(t)
	before := b.fx.State(t)
	require.NotNil(t, before, "Foreign must create the destination")
	var foreignValue secret.Value
	if b.fx.Current != nil {
		foreignValue, _ = b.fx.Current(t)
	}

	err := b.preflight(ctx, b.deployment(1))
	require.ErrorIs(t, err, rotor.ErrNotOwned, "preflight must report a destination rotor does not own")
	_, err = b.publish(ctx, b.deployment(1))
	require.ErrorIs(t, err, rotor.ErrNotOwned, "publish must refuse a destination rotor does not own")
	require.Equal(t, before, b.fx.State(t), "a refused publish wrote to the destination")
	if b.fx.Current != nil {
		got, _ := b.fx.Current(t)
		require.True(t, got.Equal(foreignValue), "a refused publish changed the value")
	}
}

func testHonoursCancelledContext(t *testing.T, b *bundle) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := b.fx.State(t)
	_, err := b.publish(ctx, b.deployment(1))
	require.Error(t, err, "publish with a cancelled context must fail")
	require.Equal(t, before, b.fx.State(t), "publish with a cancelled context changed the destination")
}

func (b *bundle) reverter(t *testing.T) rotor.Reverter {
	t.Helper()
	r, ok := b.fx.Target.(rotor.Reverter)
	if !ok {
		t.Skip("the step type does not implement rotor.Reverter")
	}
	if b.fx.Current == nil {
		t.Skip("the fixture cannot read the value back")
	}
	return r
}

// revert calls Revert as the engine does: with the deployment's fields but not its value (the
// engine does not open the sealed secret to roll back), and the Undo the publish returned.
func (b *bundle) revert(ctx context.Context, r rotor.Reverter, d rotor.Deployment, undo secret.Value) error {
	d.Value = secret.Value{}
	err := r.Revert(ctx, d, undo)
	b.note(err)
	return err
}

func testRevertRestoresPrevious(t *testing.T, b *bundle) {
	r := b.reverter(t)
	ctx := context.Background()
	d1, d2 := b.deployment(1), b.deployment(2)
	b.mustPublish(t, d1)
	o := b.mustPublish(t, d2)
	b.requireCurrent(t, d2)

	require.NoError(t, b.revert(ctx, r, d2, o.Undo))
	b.requireCurrent(t, d1)
	require.NoError(t, b.revert(ctx, r, d2, o.Undo), "reverting twice must be harmless")
	b.requireCurrent(t, d1)
}

func testRevertFirstPublish(t *testing.T, b *bundle) {
	r := b.reverter(t)
	ctx := context.Background()
	d1 := b.deployment(1)
	o := b.mustPublish(t, d1)
	require.NoError(t, b.revert(ctx, r, d1, o.Undo))
	got, ok := b.fx.Current(t)
	require.False(t, ok && got.Equal(d1.Value), "after reverting a first publish, consumers must not get its value")
	require.NoError(t, b.revert(ctx, r, d1, o.Undo), "reverting twice must be harmless")
}

// testRevertWithoutUndo: a publish interrupted by a crash leaves a step without Undo. Revert must
// then either roll back from what it can find at the destination or fail, without writing.
func testRevertWithoutUndo(t *testing.T, b *bundle) {
	r := b.reverter(t)
	d1, d2 := b.deployment(1), b.deployment(2)
	b.mustPublish(t, d1)
	b.mustPublish(t, d2)
	before := b.fx.State(t)
	if err := b.revert(context.Background(), r, d2, secret.Value{}); err != nil {
		require.Equal(t, before, b.fx.State(t), "a failed revert changed the destination")
		return
	}
	b.requireCurrent(t, d1)
}

func testRetireKeepsCurrent(t *testing.T, b *bundle) {
	rt, ok := b.fx.Target.(rotor.Retirer)
	if !ok {
		t.Skip("the step type does not implement rotor.Retirer")
	}
	ctx := context.Background()
	d1, d2 := b.deployment(1), b.deployment(2)
	b.mustPublish(t, d1)
	b.mustPublish(t, d2)
	noValue := d2
	noValue.Value = secret.Value{} // the engine retires without opening the secret
	err := rt.Retire(ctx, noValue)
	b.note(err)
	require.NoError(t, err)
	b.requireCurrent(t, d2)
	err = rt.Retire(ctx, noValue)
	b.note(err)
	require.NoError(t, err, "retiring twice must be harmless")
	b.requireCurrent(t, d2)
	o := b.mustPublish(t, d2)
	if !b.h.AtLeastOnce {
		require.False(t, o.Changed, "retire must not disturb the current value")
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (a target may log from goroutines).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Clone(l.b.String())
}
