package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testclock"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/store/sqlstore"
)

const day = 24 * time.Hour

var start = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

type bundle struct {
	t       *testing.T
	store   *sqlstore.Store
	clock   *testclock.Jumping
	dir     *fakeDir
	ver     *fakeVerifier
	targets map[string]*fakeTarget
	log     *publishLog
	logs    *bytes.Buffer
	policy  *rotor.Policy
	binding *rotor.Binding
	old     *fakeSecret
	owner   rotor.OwnerRef
	keyring *seal.Keyring
}

type option func(*bundle, *Config)

// setup makes a tenant with one app whose secret (old) expires in 20 days, a binding managing
// it under a policy with steps a, b and c, and an engine over fakes.
func setup(t *testing.T, opts ...option) (*bundle, *Engine) {
	t.Helper()
	b := &bundle{t: t, clock: testclock.NewJumping(start), logs: &bytes.Buffer{},
		log: &publishLog{current: map[string]string{}}, targets: map[string]*fakeTarget{}}
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "rotor.db"), sqlstore.Options{Clock: b.clock})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b.store = st
	b.dir = newFakeDir(b.clock)
	b.ver = &fakeVerifier{dir: b.dir}
	kv, err := seal.GenerateKEK()
	require.NoError(t, err)
	kek, err := seal.ParseKEK(kv)
	require.NoError(t, err)
	b.keyring = seal.NewKeyring(kek)

	ctx := t.Context()
	require.NoError(t, st.TenantUpsert(ctx, &rotor.Tenant{Name: "contoso", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", CreatedAt: start, UpdatedAt: start}))
	app := &rotor.App{Tenant: "contoso", ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "Payroll API", SyncedAt: start}
	require.NoError(t, st.AppUpsertBatch(ctx, []*rotor.App{app}))
	b.owner = rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: app.ID}
	b.old = b.dir.seed(b.owner, "payroll-prod", start.Add(-160*day), start.Add(20*day))
	_, err = st.CredentialSyncOwners(ctx, &rotor.CredentialSyncOwnersParams{Tenant: "contoso", Now: start, Owners: []rotor.OwnerCredentials{
		{OwnerKind: rotor.OwnerApplication, OwnerID: app.ID, AppID: app.AppID, Credentials: []*rotor.Credential{&b.old.cred}}}})
	require.NoError(t, err)

	b.policy = &rotor.Policy{Name: "standard", Lifetime: 180 * day, RotateBefore: 30 * day, GracePeriod: 7 * day, EmergencyWithin: 3 * day,
		Verify:                 rotor.VerifySettings{Successes: 3, Interval: 10 * time.Second, Timeout: 30 * time.Minute, Scope: "https://graph.microsoft.com/.default"},
		MaxConcurrentPerTenant: 5}
	for _, n := range []string{"a", "b", "c"} {
		b.policy.Steps = append(b.policy.Steps, rotor.StepSpec{Name: n, Type: "fake", OnFailure: rotor.Abort})
		b.targets[n] = &fakeTarget{name: n, log: b.log}
	}
	b.binding = &rotor.Binding{ID: uuid.NewString(), Tenant: "contoso", OwnerKind: rotor.OwnerApplication, OwnerID: app.ID, AppID: app.AppID,
		Kind: rotor.KindSecret, Policy: "standard", KeyID: b.old.cred.KeyID, Source: rotor.BindingManual, CreatedAt: start, UpdatedAt: start}
	require.NoError(t, st.BindingInsert(ctx, b.binding))

	cfg := Config{
		Store: st, Clock: b.clock, RenewClock: clockwork.NewRealClock(), Keyring: b.keyring,
		Log:       slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Directory: func(string) (rotor.Directory, error) { return b.dir, nil },
		Verifier:  b.ver,
		Target: func(tenant string, spec rotor.StepSpec) (rotor.Target, error) {
			tg, ok := b.targets[spec.Name]
			if !ok {
				return nil, fmt.Errorf("no target %s", spec.Name)
			}
			return tg, nil
		},
		Policy: func(name string) (*rotor.Policy, error) {
			if name != b.policy.Name {
				return nil, rotor.ErrNotFound
			}
			return b.policy, nil
		},
		Worker: "w1", MaxAttempts: 3, BackoffBase: time.Minute, BackoffMax: time.Hour,
	}
	for _, o := range opts {
		o(b, &cfg)
	}
	e, err := New(cfg)
	require.NoError(t, err)
	return b, e
}

func (b *bundle) rotation(id string) *rotor.Rotation {
	r, err := b.store.RotationGet(b.t.Context(), id)
	require.NoError(b.t, err)
	return r
}

func (b *bundle) stepStates(id string) map[string]rotor.StepState {
	steps, err := b.store.RotationStepList(b.t.Context(), id)
	require.NoError(b.t, err)
	m := map[string]rotor.StepState{}
	for _, s := range steps {
		m[s.Name] = s.State
	}
	return m
}

// checkInvariants asserts what must hold whatever happened: no secret in logs, step messages
// or audit; the audit chain unbroken; no credential of the rotation left behind except its own.
func (b *bundle) checkInvariants(r *rotor.Rotation) {
	t := b.t
	t.Helper()
	events, err := b.store.AuditList(t.Context(), &rotor.AuditListParams{Limit: 10000})
	require.NoError(t, err)
	_, err = rotor.VerifyChain(events, 0, nil)
	require.NoError(t, err)
	all, _ := json.Marshal(events)
	steps, err := b.store.RotationStepList(t.Context(), r.ID)
	require.NoError(t, err)
	stepText, _ := json.Marshal(steps)
	row, _ := json.Marshal(r)
	b.dir.mu.Lock()
	values := []string{b.old.value}
	for _, s := range b.dir.live {
		values = append(values, s.value)
	}
	b.dir.mu.Unlock()
	for _, v := range values {
		require.NotContains(t, b.logs.String(), v, "a secret value reached the logs")
		require.NotContains(t, string(all), v, "a secret value reached the audit trail")
		require.NotContains(t, string(stepText), v, "a secret value reached a step record")
		require.NotContains(t, string(row), v)
	}
	marked := b.dir.marked(r.ID)
	if r.NewKeyID != "" && r.State != rotor.RotationCancelled {
		require.Equal(t, []string{r.NewKeyID}, marked, "exactly one credential of the rotation lives")
	} else if r.State == rotor.RotationCancelled || r.State == rotor.RotationCompleted {
		require.Empty(t, marked)
	}
}

func TestRotationHappyPath(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.ver.replicate = 4 // the new secret fails four token requests before it works

	r, err := e.Request(ctx, b.binding.ID, "user:alice@example.com")
	require.NoError(t, err)
	_, err = e.Request(ctx, b.binding.ID, "user:bob@example.com")
	require.ErrorIs(t, err, rotor.ErrConflict, "one rotation per binding in flight")

	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)
	require.NotEmpty(t, r.NewKeyID)
	require.Equal(t, b.old.cred.KeyID, r.OldKeyID)
	newValue := b.dir.valueOf(r.NewKeyID)
	require.Equal(t, []string{"a:" + newValue, "b:" + newValue, "c:" + newValue}, b.log.entries, "published in order, once each")
	require.True(t, b.dir.has(b.old.cred.KeyID), "the old credential stays during grace")
	require.Equal(t, 7, b.ver.calls, "four failures then three consecutive successes")
	bd, err := b.store.BindingGet(ctx, b.binding.ID)
	require.NoError(t, err)
	require.Equal(t, r.NewKeyID, bd.KeyID, "the new credential is current")
	require.Equal(t, r.NewEndAt, start.Add(180*day).Truncate(time.Second).Add(r.NewEndAt.Sub(start.Add(180*day).Truncate(time.Second))))

	ss, err := b.store.SealedSecretGet(ctx, r.ID)
	require.NoError(t, err)
	v, err := b.keyring.Open(ss.Ciphertext, sealAD(r.ID, r.NewKeyID))
	require.NoError(t, err)
	require.Equal(t, newValue, v.Reveal(), "the stored value is the one Entra returned")

	// Nothing happens before the grace period ends.
	require.NoError(t, e.RunUntilIdle(ctx))
	require.True(t, b.dir.has(b.old.cred.KeyID))
	require.Equal(t, rotor.RotationGrace, b.rotation(r.ID).State)

	b.clock.Advance(7 * day)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationCompleted, r.State, r.LastError)
	require.False(t, b.dir.has(b.old.cred.KeyID), "the old credential is removed after grace")
	require.True(t, b.dir.has(r.NewKeyID))
	require.Equal(t, []string{"a:" + b.old.cred.KeyID, "b:" + b.old.cred.KeyID, "c:" + b.old.cred.KeyID}, b.log.retired)
	c, err := b.store.CredentialGet(ctx, "contoso", b.old.cred.KeyID)
	require.NoError(t, err)
	require.Equal(t, rotor.RemovedByRotor, c.RemovedBy)
	require.Equal(t, map[string]rotor.StepState{"create": rotor.StepSucceeded, "verify": rotor.StepSucceeded,
		"deploy:a": rotor.StepSucceeded, "deploy:b": rotor.StepSucceeded, "deploy:c": rotor.StepSucceeded,
		"cleanup": rotor.StepSucceeded, "retire:a": rotor.StepSucceeded, "retire:b": rotor.StepSucceeded, "retire:c": rotor.StepSucceeded},
		b.stepStates(r.ID))
	b.checkInvariants(r)

	events, err := b.store.AuditList(ctx, &rotor.AuditListParams{RotationID: r.ID, Limit: 100})
	require.NoError(t, err)
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	require.Equal(t, []string{"rotation.planned", "rotation.started", "credential.created", "credential.verified",
		"step.succeeded", "step.succeeded", "step.succeeded", "rotation.deployed", "rotation.grace_ended",
		"credential.removed", "rotation.completed"}, actions)
}

func TestGraceNeverOutlivesTheOldCredential(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.policy.GracePeriod = 25 * day // longer than the 20 days the old secret has left
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State)
	require.Equal(t, b.old.cred.EndAt, r.GraceUntil)
}

func TestLostAddPasswordAnswerIsReconciled(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.dir.loseAdds = 2 // created in Entra, answer lost, twice
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)

	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationFailed, r.State)
	require.Equal(t, rotor.RotationCreating, r.ResumeState)
	require.Len(t, b.dir.marked(r.ID), 1, "the lost secret exists in Entra")
	orphan := b.dir.marked(r.ID)[0]

	b.clock.Advance(time.Hour)
	require.NoError(t, e.RunUntilIdle(ctx))
	b.clock.Advance(time.Hour)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)
	require.Equal(t, 3, b.dir.adds)
	require.Contains(t, b.dir.removes, orphan, "the unrecorded secret was removed")
	require.Equal(t, []string{r.NewKeyID}, b.dir.marked(r.ID))
	b.checkInvariants(r)
}

func TestReplicationLagInListingsLeavesNoOrphan(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.dir.loseAdds = 1
	b.dir.lagLists = 1 // the retry's reconcile listing does not show the lost secret yet
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	b.clock.Advance(time.Hour)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)
	require.Equal(t, 2, b.dir.adds, "two secrets were created")
	require.Equal(t, []string{r.NewKeyID}, b.dir.marked(r.ID), "the one the listing missed is swept before deploying ends")
}

func TestVerificationTimeoutParksAndRetryResumes(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.ver.replicate = 1 << 30 // never replicates
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, e.RunUntilIdle(ctx))
		b.clock.Advance(2 * time.Hour)
	}
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationFailed, r.State)
	require.Equal(t, rotor.RotationVerifying, r.ResumeState)
	require.Equal(t, 3, r.Attempt)
	require.True(t, r.NextAttemptAt.IsZero(), "parked after max attempts")
	require.Contains(t, r.LastError, "did not get 3 consecutive tokens within 30m0s")
	require.Empty(t, b.log.entries, "nothing is published before verification passes")
	require.True(t, b.dir.has(b.old.cred.KeyID))

	b.ver.mu.Lock()
	b.ver.replicate = 0
	b.ver.mu.Unlock()
	_, err = e.RequestRetry(ctx, r.ID, "user:alice@example.com")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)
	require.Equal(t, 1, b.dir.adds, "the retry resumed verification; no second secret")
}

func TestAbortingStepStopsBeforeCleanupAndResumesThere(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.targets["b"].fails, b.targets["b"].err = 1, errors.New("vault unreachable")
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationFailed, r.State)
	require.Equal(t, rotor.RotationDeploying, r.ResumeState)
	require.Contains(t, r.LastError, "step b: vault unreachable")
	require.True(t, b.dir.has(b.old.cred.KeyID), "the old credential is untouched")
	bd, _ := b.store.BindingGet(ctx, b.binding.ID)
	require.Equal(t, b.old.cred.KeyID, bd.KeyID, "the old credential is still current")

	b.clock.Advance(time.Hour)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)
	newValue := b.dir.valueOf(r.NewKeyID)
	require.Equal(t, []string{"a:" + newValue, "b:" + newValue, "c:" + newValue}, b.log.entries, "a was not published twice")
	b.checkInvariants(r)
}

// A step that is not ready stops the rotation before a secret is created; once it is, the
// rotation goes through. A step allowed to fail does not stop it.
func TestStepNotReadyCreatesNoSecret(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.targets["b"].preflightErr = errors.New("vault contoso-kv: 403 Forbidden")
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationFailed, r.State)
	require.Equal(t, rotor.RotationCreating, r.ResumeState)
	require.Contains(t, r.LastError, "step b (fake) is not ready, so no secret was created: vault contoso-kv: 403 Forbidden")
	require.Equal(t, 1, b.dir.count(b.owner), "only the old secret")
	require.Empty(t, b.log.entries, "nothing published")

	b.targets["b"].log.mu.Lock()
	b.targets["b"].preflightErr = nil
	b.targets["b"].log.mu.Unlock()
	b.targets["c"].preflightErr = errors.New("not ready either")
	b.policy.Steps[2].OnFailure = rotor.Continue
	b.clock.Advance(time.Hour)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State, r.LastError)
	require.Equal(t, 2, b.dir.count(b.owner))
	b.checkInvariants(r)
}

func TestContinuingStepMarksNeedsAttention(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.policy.Steps[1].OnFailure = rotor.Continue
	b.targets["b"].fails, b.targets["b"].err = 10, errors.New("webhook answered 500")
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationGrace, r.State)
	require.True(t, r.NeedsAttention)
	require.Equal(t, rotor.StepFailed, b.stepStates(r.ID)["deploy:b"])
	require.Equal(t, rotor.StepSucceeded, b.stepStates(r.ID)["deploy:c"])
	b.clock.Advance(8 * day)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationCompleted, r.State)
	require.True(t, r.NeedsAttention)
	events, err := b.store.AuditList(ctx, &rotor.AuditListParams{RotationID: r.ID, Limit: 100})
	require.NoError(t, err)
	require.Equal(t, "rotation.completed_needs_attention", events[len(events)-1].Action)
}

// echoTarget quotes the secret in its answer as a server may echo what it was sent: base64, as
// in a Kubernetes Secret's data, and base64url. With fail it answers with an error.
type echoTarget struct{ fail bool }

func (echoTarget) Preflight(context.Context, rotor.Deployment) error { return nil }

func (t echoTarget) Publish(_ context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	v := d.Value.RevealBytes()
	msg := fmt.Sprintf("server echoed data=%s token=%s", base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v))
	if t.fail {
		return rotor.Outcome{}, errors.New(msg)
	}
	return rotor.Outcome{Changed: true, Message: msg}, nil
}

func TestStepMessagesAreScrubbedOfTheSecretsEncodedForms(t *testing.T) {
	t.Parallel()
	for _, onFailure := range []rotor.OnFailure{rotor.Continue, rotor.Abort} {
		t.Run(string(onFailure), func(t *testing.T) {
			t.Parallel()
			b, e := setup(t, func(b *bundle, cfg *Config) {
				fakes := cfg.Target
				cfg.Target = func(tenant string, spec rotor.StepSpec) (rotor.Target, error) {
					switch spec.Name {
					case "a":
						return echoTarget{}, nil
					case "b":
						return echoTarget{fail: true}, nil
					}
					return fakes(tenant, spec)
				}
			})
			b.policy.Steps[1].OnFailure = onFailure
			ctx := t.Context()
			r, err := e.Request(ctx, b.binding.ID, "test")
			require.NoError(t, err)
			require.NoError(t, e.RunUntilIdle(ctx))
			r = b.rotation(r.ID)
			require.NotEmpty(t, r.NewKeyID)
			steps, err := b.store.RotationStepList(ctx, r.ID)
			require.NoError(t, err)
			events, err := b.store.AuditList(ctx, &rotor.AuditListParams{RotationID: r.ID, Limit: 100})
			require.NoError(t, err)
			recorded, _ := json.Marshal([]any{steps, events, r})
			v := []byte(b.dir.valueOf(r.NewKeyID))
			for _, form := range []string{base64.StdEncoding.EncodeToString(v), base64.RawURLEncoding.EncodeToString(v)} {
				require.False(t, strings.Contains(string(recorded), form), "an encoded secret in a step record, an audit event or the rotation")
				require.False(t, strings.Contains(b.logs.String(), form), "an encoded secret in the logs")
			}
			require.Contains(t, string(recorded), "server echoed data=[REDACTED] token=[REDACTED]")
		})
	}
}

func TestCancelRollsBackAndRemovesTheNewCredential(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.log.current["a"], b.log.current["b"] = "value-before-a", "value-before-b"
	b.targets["c"].fails, b.targets["c"].err = 1, errors.New("cluster unreachable")
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationFailed, r.State)
	newKey := r.NewKeyID

	_, err = e.RequestCancel(ctx, r.ID, "user:alice@example.com")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	require.Equal(t, rotor.RotationCancelled, r.State, r.LastError)
	require.False(t, b.dir.has(newKey), "the rotation's credential is removed")
	require.True(t, b.dir.has(b.old.cred.KeyID))
	require.Equal(t, []string{"b", "a"}, b.log.reverted, "rolled back last first")
	require.Equal(t, "value-before-a", b.log.deployed("a"))
	require.Equal(t, "value-before-b", b.log.deployed("b"))
	bd, _ := b.store.BindingGet(ctx, b.binding.ID)
	require.Equal(t, b.old.cred.KeyID, bd.KeyID)
	b.checkInvariants(r)

	_, err = e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err, "a cancelled rotation frees the binding")
}

// A failed rollback's error may quote the value it was putting back or the new one: neither is
// recorded.
func TestCancelScrubsRollbackErrors(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	b.log.current["a"] = "previous-value-of-a-0123456789"
	b.targets["a"].revertEcho = true
	b.targets["c"].fails, b.targets["c"].err = 1, errors.New("cluster unreachable")
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	newValue := b.dir.valueOf(b.rotation(r.ID).NewKeyID)
	_, err = e.RequestCancel(ctx, r.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	r = b.rotation(r.ID)
	steps, err := b.store.RotationStepList(ctx, r.ID)
	require.NoError(t, err)
	events, err := b.store.AuditList(ctx, &rotor.AuditListParams{RotationID: r.ID, Limit: 100})
	require.NoError(t, err)
	recorded, _ := json.Marshal([]any{steps, events, r})
	require.Contains(t, string(recorded), "server refused value=[REDACTED] (base64 [REDACTED]), current=[REDACTED]")
	for _, v := range []string{"previous-value-of-a-0123456789", newValue} {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			require.NotContains(t, string(recorded), form)
			require.NotContains(t, b.logs.String(), form)
		}
	}
}

func TestCancelAfterDeployIsRefused(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	require.NoError(t, e.RunUntilIdle(ctx))
	_, err = e.RequestCancel(ctx, r.ID, "test")
	require.ErrorIs(t, err, rotor.ErrConflict)
	require.Contains(t, err.Error(), "already current")
}

func TestAppManagementPolicy(t *testing.T) {
	t.Parallel()
	t.Run("caps the lifetime", func(t *testing.T) {
		t.Parallel()
		b, e := setup(t)
		b.dir.restriction = rotor.SecretRestriction{MaxLifetime: 90 * day, Source: "tenant default"}
		r, err := e.Request(t.Context(), b.binding.ID, "test")
		require.NoError(t, err)
		require.NoError(t, e.RunUntilIdle(t.Context()))
		r = b.rotation(r.ID)
		require.Equal(t, rotor.RotationGrace, r.State)
		require.WithinDuration(t, start.Add(90*day), r.NewEndAt, time.Hour)
		steps, err := b.store.RotationStepList(t.Context(), r.ID)
		require.NoError(t, err)
		require.Contains(t, steps[0].Message, "lifetime capped from 180d to 90d by app management policy tenant default")
	})
	t.Run("blocks: parked at once", func(t *testing.T) {
		t.Parallel()
		b, e := setup(t)
		b.dir.restriction = rotor.SecretRestriction{Blocked: true, Source: "no-secrets"}
		r, err := e.Request(t.Context(), b.binding.ID, "test")
		require.NoError(t, err)
		require.NoError(t, e.RunUntilIdle(t.Context()))
		r = b.rotation(r.ID)
		require.Equal(t, rotor.RotationFailed, r.State)
		require.True(t, r.NextAttemptAt.IsZero(), "retrying cannot help")
		require.Contains(t, r.LastError, "app management policy no-secrets blocks adding secrets")
		require.Zero(t, b.dir.adds)
	})
}

func TestStaleWorkerCannotWrite(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	r, err := e.Request(ctx, b.binding.ID, "test")
	require.NoError(t, err)
	claimed, err := b.store.RotationClaim(ctx, &rotor.RotationClaimParams{Worker: "w0", Now: b.clock.Now(), LeaseFor: time.Minute, Limit: 1})
	require.NoError(t, err)
	stale := claimed[0]
	b.clock.Advance(2 * time.Minute) // w0 stalls; its lease expires
	require.NoError(t, e.RunUntilIdle(ctx))
	require.Equal(t, rotor.RotationGrace, b.rotation(r.ID).State)

	stale.State = rotor.RotationCreating
	err = e.drive(ctx, stale, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, rotor.ErrLeaseLost, "the stale worker's first write is refused")
	require.Equal(t, 1, b.dir.adds, "and it created nothing")
}

func TestPlan(t *testing.T) {
	t.Parallel()
	b, e := setup(t)
	ctx := t.Context()
	items, err := e.Plan(ctx, PlanOptions{DryRun: true})
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.True(t, items[0].Decision.Due, "20 days left, rotate_before 30 days")
	require.Empty(t, items[0].RotationID, "a dry run plans nothing")
	rs, err := b.store.RotationList(ctx, &rotor.RotationListParams{})
	require.NoError(t, err)
	require.Empty(t, rs)

	items, err = e.Plan(ctx, PlanOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, items[0].RotationID)
	items, err = e.Plan(ctx, PlanOptions{})
	require.NoError(t, err)
	require.False(t, items[0].Decision.Due)
	require.Contains(t, items[0].Decision.Reason, "already in flight")

	require.NoError(t, e.RunUntilIdle(ctx))
	require.NoError(t, e.RunUntilIdle(ctx))
	b.clock.Advance(8 * day)
	require.NoError(t, e.RunUntilIdle(ctx))
	items, err = e.Plan(ctx, PlanOptions{DryRun: true})
	require.NoError(t, err)
	require.False(t, items[0].Decision.Due, "the new credential is far from expiry")
	require.True(t, strings.HasPrefix(items[0].Decision.Reason, "not due until"), items[0].Decision.Reason)
}

var _ = context.Background
