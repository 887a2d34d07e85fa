package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/fault"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// The points where the crash test kills rotor: every step boundary of the protocol (the
// failpoint.Hit calls in package runner).
var failpoints = []string{
	"create.before_reconcile", "create.before_add", "create.after_add", "create.after_store",
	"verify.after_success", "deploy.before_publish", "deploy.after_publish", "finish.after_commit",
	"cleanup.before_remove", "cleanup.after_remove",
}

// crashPolicy: bound secrets are due at once, verification is quick to retry, the grace period
// is two seconds, and a dead worker's lease expires in two.
const crashPolicy = `policies:
  - name: demo
    lifetime: 30d
    rotate_before: 719h
    grace_period: 2s
    emergency_within: 1h
    verify: {successes: 3, interval: 200ms, timeout: 3m}
rotation:
  plan_interval: 1m
  poll: 200ms
  lease: 2s
  backoff_base: 500ms
  backoff_max: 2s
server:
  listen: 127.0.0.1:0
`

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// rotorBinary builds rotor once for the tests that run it as a separate process.
func rotorBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rotor-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "rotor")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

// crashEnv is a simulator, a configuration, and bound apps rotor will rotate.
type crashEnv struct {
	t      *testing.T
	sim    *sim.Server
	dir    string
	config string
	tenant string
	apps   []string
	logs   bytes.Buffer // every rotor process's output
	logsMu sync.Mutex
}

func newCrashEnv(t *testing.T, opts sim.Options, apps int) *crashEnv {
	t.Helper()
	opts.Tenants = 1
	s, err := sim.Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	dir := t.TempDir()
	cfg, err := writeSimConfig(dir, s, simConfigOptions{extra: crashPolicy})
	require.NoError(t, err)
	e := &crashEnv{t: t, sim: s, dir: dir, config: cfg}

	// Sync and bind in process, as rotor dev does: each app deploys to its own Key Vault secret
	// and appsettings.json.
	c := &cli{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, clock: clockwork.NewRealClock(),
		lookupEnv: func(string) (string, bool) { return "", false }}
	root := c.rootCmd() // registers the flags, which set their defaults
	c.configPath, c.logLevel, c.logFormat = cfg, "warn", "json"
	root.SetContext(t.Context())
	require.NoError(t, c.setupLogging())
	a, err := c.openApp(root)
	require.NoError(t, err)
	defer a.Close()
	e.tenant = a.cfg.Tenants[0].Name
	_, err = a.syncer().Sync(t.Context(), e.tenant, false)
	require.NoError(t, err)
	e.apps, err = a.bindDemo(t.Context(), s, dir, e.tenant, apps)
	require.NoError(t, err)
	require.Len(t, e.apps, apps)
	return e
}

// serve starts rotor serve as a process; failpoint, when set, arms a kill point.
func (e *crashEnv) serve(failpoint string) *exec.Cmd {
	cmd := exec.Command(rotorBinary(e.t), "-c", e.config, "--log-format", "json", "serve")
	cmd.Env = append(os.Environ(), "ROTOR_FAILPOINT="+failpoint)
	w := &lockedWriter{mu: &e.logsMu, w: &e.logs}
	cmd.Stdout, cmd.Stderr = w, w
	require.NoError(e.t, cmd.Start())
	return cmd
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitKilled waits for a process that was armed to kill itself, and checks that it did.
func (e *crashEnv) waitKilled(cmd *exec.Cmd, what string) {
	err := cmd.Wait()
	require.Error(e.t, err, "%s: rotor exited by itself instead of dying at the failpoint", what)
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(e.t, ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, "%s: rotor did not die of SIGKILL: %v", what, err)
}

// rotations reads the rotations from the store.
func (e *crashEnv) rotations() []*rotor.Rotation {
	st, err := sqlstore.OpenSQLite(e.t.Context(), filepath.Join(e.dir, "rotor.db"), sqlstore.Options{SkipMigrate: true})
	require.NoError(e.t, err)
	defer st.Close()
	rs, err := st.RotationList(e.t.Context(), &rotor.RotationListParams{Limit: 1000})
	require.NoError(e.t, err)
	return rs
}

// finish runs rotor serve until every bound app's rotation has completed, then stops it.
func (e *crashEnv) finish(timeout time.Duration) {
	cmd := e.serve("")
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	deadline := time.Now().Add(timeout)
	for {
		done := 0
		for _, r := range e.rotations() {
			if r.State == rotor.RotationCompleted {
				done++
			}
		}
		if done >= len(e.apps) {
			return
		}
		if time.Now().After(deadline) {
			var states []string
			for _, r := range e.rotations() {
				states = append(states, fmt.Sprintf("%s %s %s", r.ID, r.State, r.LastError))
			}
			e.t.Fatalf("rotations did not complete in %s:\n%s\nlogs:\n%s", timeout, strings.Join(states, "\n"), e.tail())
		}
		waitFor(100 * time.Millisecond) // observing another process: its store is the signal
	}
}

func (e *crashEnv) tail() string {
	e.logsMu.Lock()
	defer e.logsMu.Unlock()
	s := e.logs.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

// waitFor pauses between two looks at another process's state.
func waitFor(d time.Duration) { <-time.After(d) }

func TestCrashAtEveryStepBoundary(t *testing.T) {
	t.Parallel()
	for _, fp := range failpoints {
		t.Run(fp, func(t *testing.T) {
			t.Parallel()
			e := newCrashEnv(t, sim.Options{Seed: 3, AppsPerTenant: 40}, 3)
			e.waitKilled(e.serve(fp), fp)
			// A second crash at the same point, on a rotation the first one left behind.
			e.waitKilled(e.serve(fp), fp+" again")
			e.finish(2 * time.Minute)
			e.checkInvariants()
		})
	}
}

func TestCrashAtRandomPointsDuringManyRotations(t *testing.T) {
	t.Parallel()
	e := newCrashEnv(t, sim.Options{Seed: 4, AppsPerTenant: 60}, 8)
	rnd := rand.New(rand.NewPCG(4, 4))
	for range 8 {
		cmd := e.serve("")
		waitFor(time.Duration(200+rnd.IntN(1500)) * time.Millisecond) // a random moment
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		cmd.Wait()
	}
	e.finish(3 * time.Minute)
	e.checkInvariants()
}

// TestRotationsThroughFaults runs rotations with Graph answering 30% of requests with 429 or
// 5xx, losing the answers to writes after making them, Key Vault failing 20% of writes, and new
// credentials taking 30 s to replicate.
func TestRotationsThroughFaults(t *testing.T) {
	t.Parallel()
	e := newCrashEnv(t, sim.Options{Seed: 5, AppsPerTenant: 40, ReplicationDelay: 30 * time.Second}, 4)
	rules, err := fault.ParseRules(strings.Join([]string{
		"POST /v1.0/applications/*/addPassword lost=0.3",
		"POST /v1.0/applications/*/removePassword lost=0.3",
		"GET /v1.0/** 429=0.15 500=0.05 503=0.1 retry-after=1s",
		"POST /v1.0/** 429=0.1 503=0.1 retry-after=1s",
		"PUT /secrets/* 500=0.1 503=0.1",
	}, ";"))
	require.NoError(t, err)
	require.NoError(t, e.sim.Faults.SetRules(rules))
	e.finish(5 * time.Minute)
	stats := e.sim.Faults.Stats()
	var lost, errors uint64
	for _, s := range stats {
		lost += s.Lost
		errors += s.Throttled + s.InternalErrors + s.Unavailable
	}
	require.Positive(t, lost, "answers to writes were lost: %+v", stats)
	require.Positive(t, errors, "errors were met: %+v", stats)
	require.NoError(t, e.sim.Faults.SetRules(nil))
	e.checkInvariants()
}

// checkInvariants checks, from the simulator's and the store's state, what the rotation protocol
// promises (docs/rotation.md, Guarantees).
func (e *crashEnv) checkInvariants() {
	t := e.t
	t.Helper()
	ctx := t.Context()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(e.dir, "rotor.db"), sqlstore.Options{SkipMigrate: true})
	require.NoError(t, err)
	defer st.Close()
	kr, err := loadKeyring(ctx, config.Encryption{Key: secret.Ref("file:" + filepath.Join(e.dir, "kek"))}, os.LookupEnv, nil)
	require.NoError(t, err)
	seeded := e.sim.Seeded.Tenants[0]
	tenantID := seeded.Tenant.ID
	hc := e.sim.CA.HTTPClient()
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.sim.URL() + "/"}, Transport: hc}
	manager, err := azidentity.NewClientSecretCredential(tenantID, seeded.Manager.AppID, seeded.Manager.Secret.Reveal(),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	require.NoError(t, err)
	vault, ok := e.sim.Vault(sim.VaultName(seeded.Tenant))
	require.True(t, ok)
	kv, err := azsecrets.NewClient(vault.URL, manager, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: hc},
		DisableChallengeResourceVerification: true})
	require.NoError(t, err)
	history, err := e.sim.Directory.CredentialHistory(tenantID, "")
	require.NoError(t, err)

	bindings, err := st.BindingList(ctx, &rotor.BindingListParams{})
	require.NoError(t, err)
	require.Len(t, bindings, len(e.apps))
	for _, b := range bindings {
		rs, err := st.RotationList(ctx, &rotor.RotationListParams{BindingID: b.ID})
		require.NoError(t, err)
		require.Len(t, rs, 1, "one rotation per binding")
		r := rs[0]
		require.Equal(t, rotor.RotationCompleted, r.State)
		require.Equal(t, r.NewKeyID, b.KeyID, "the new credential is the binding's")

		// Entra: the rotation's credential is the only one carrying its marker; every other one
		// it created was removed; the old one is gone.
		app, err := e.sim.Directory.Application(tenantID, b.OwnerID)
		require.NoError(t, err)
		var live []string
		for _, c := range app.PasswordCredentials {
			require.NotEqual(t, r.OldKeyID, c.KeyID, "the old credential was removed")
			if strings.HasPrefix(c.DisplayName, runner.MarkerPrefix) {
				live = append(live, c.KeyID)
			}
		}
		require.Equal(t, []string{r.NewKeyID}, live, "exactly one new credential per rotation, none orphaned")
		added, removed := map[string]bool{}, map[string]time.Time{}
		for _, ev := range history {
			if ev.Object.ID != b.OwnerID {
				continue
			}
			switch ev.Action {
			case directory.ActionAdded:
				if ev.DisplayName == runner.Marker(r.ID) {
					added[ev.KeyID] = true
				}
			case directory.ActionRemoved:
				removed[ev.KeyID] = ev.Time
			}
		}
		for k := range added {
			if k != r.NewKeyID {
				require.Contains(t, removed, k, "a secret created by an interrupted attempt was removed")
			}
		}

		// No lost secret: the sealed value opens and gets a token.
		ss, err := st.SealedSecretGet(ctx, r.ID)
		require.NoError(t, err)
		value, err := kr.Open(ss.Ciphertext, []byte("rotor/secret/"+r.ID+"/"+ss.KeyID))
		require.NoError(t, err)
		cred, err := azidentity.NewClientSecretCredential(tenantID, b.AppID, value.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
		require.NoError(t, err)
		// Entra replicates a new secret within a delay during which it fails intermittently
		// (the simulator's ReplicationDelay): it must get a token once that has passed.
		deadline := time.Now().Add(time.Minute)
		for {
			_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
			if err == nil || time.Now().After(deadline) {
				break
			}
			waitFor(time.Second)
		}
		require.NoError(t, err, "the stored secret gets a token")

		// The Key Vault secret holds it, written after verification passed.
		steps, err := st.RotationStepList(ctx, r.ID)
		require.NoError(t, err)
		byName := map[string]*rotor.RotationStep{}
		for _, s := range steps {
			byName[s.Name] = s
		}
		verified := byName["verify"].FinishedAt
		require.False(t, verified.IsZero())
		name := app.DisplayName + "-client-secret"
		got, err := kv.GetSecret(ctx, name, "", nil)
		require.NoError(t, err)
		require.Equal(t, value.Reveal(), *got.Value, "the Key Vault secret holds the new secret")
		require.Equal(t, r.ID, *got.Tags["rotor-rotation-id"])
		pager := kv.NewListSecretPropertiesVersionsPager(name, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			require.NoError(t, err)
			for _, v := range page.Value {
				if v.Tags["rotor-rotation-id"] != nil && *v.Tags["rotor-rotation-id"] == r.ID {
					require.False(t, v.Attributes.Created.Before(verified.Truncate(time.Second)), "nothing was published before verification")
				}
			}
		}

		// The old credential was removed only after every aborting step and the grace period.
		if r.OldKeyID != "" {
			at, ok := removed[r.OldKeyID]
			require.True(t, ok, "the old credential's removal is in Entra's history")
			require.False(t, at.Before(r.GraceUntil), "removed at %s, before the grace period ended at %s", at, r.GraceUntil)
			for _, s := range steps {
				if strings.HasPrefix(s.Name, "deploy:") {
					require.Equal(t, rotor.StepSucceeded, s.State)
					require.False(t, at.Before(s.FinishedAt), "removed before step %s finished", s.Name)
				}
			}
		}
		e.logsMu.Lock()
		require.NotContains(t, e.logs.String(), value.Reveal(), "no secret in rotor's logs")
		e.logsMu.Unlock()
	}
	evs, err := st.AuditList(ctx, &rotor.AuditListParams{Limit: 100000})
	require.NoError(t, err)
	_, err = rotor.VerifyChain(evs, 0, nil)
	require.NoError(t, err, "the audit chain is intact")
}
