package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// The end-to-end test of the deployment steps (docs/targets.md): rotor, driven through its CLI
// and a configuration file as an operator drives it, rotates a client secret of an application in
// the Azure simulator and deploys it, in order, to a Key Vault secret (simulator), a Kubernetes
// Secret plus a Deployment restart (a real API server), an appsettings.json file, an exec script,
// a webhook receiver that verifies the signature as docs/targets.md tells receivers to, a Spring
// Actuator refresh endpoint and a health check (loopback HTTPS servers).
//
//	go test -race -count=1 -run TestStepsEndToEnd ./cmd/rotor

// e2eSteps are the steps' names in their configured order.
var e2eSteps = []string{"vault", "k8s-secret", "k8s-restart", "appsettings", "legacy", "notify", "refresh", "healthy"}

// e2eGrace is the policy's grace period: the only wall-clock wait of the test. rotor serve removes
// the old secret once it has passed; it must be long enough that rotor rotate, which runs whatever
// is runnable, returns with the rotation in its grace period rather than cleaning up at once.
const e2eGrace = 2 * time.Second

// e2eBackoff is rotation.backoff_base: the wait before an aborted rotation's next attempt.
const e2eBackoff = 300 * time.Millisecond

const e2eSigningKey = "fake-e2e-webhook-signing-key" // not a real key

// e2eScript is the exec step's command: it deploys the secret it reads on standard input to a
// "legacy store" (a file), notes its environment and arguments, and appends to the arrivals log
// that the HTTP receivers append to as well. With E2E_FAIL set it fails, echoing the secret.
const e2eScript = `#!/bin/sh
set -eu
IFS= read -r secret
printf '%s' "$secret" > "$E2E_OUT/legacy-store"
env > "$E2E_OUT/legacy-env"
printf '%s\n' "$0 $*" > "$E2E_OUT/legacy-args"
echo legacy >> "$E2E_OUT/arrivals"
if [ -n "${E2E_FAIL:-}" ]; then
	echo "could not push $secret to the legacy store" >&2
	exit 3
fi
echo "pushed to the legacy store"
`

// e2eAppSettings is the application's configuration before the rotation; %s is the old secret.
const e2eAppSettings = `{
  // orders-api: read by ASP.NET Core at start and on change
  "Logging": { "LogLevel": { "Default": "Information", "Microsoft.AspNetCore": "Warning" } },
  "Entra": {
    "Instance": "https://login.microsoftonline.com/",
    "ClientSecret": "%s",
    "Scopes": [ "api://orders/.default" ]
  },
  "AllowedHosts": "*",
}
`

func TestStepsEndToEnd(t *testing.T) {
	t.Parallel()
	kube := testenv.Kubernetes(t)
	t.Run("every_step_type_in_order", func(t *testing.T) {
		t.Parallel()
		testEveryStepInOrder(t, newE2E(t, kube, nil))
	})
	t.Run("abort_step_stops_before_cleanup", func(t *testing.T) {
		t.Parallel()
		testAbortStopsBeforeCleanup(t, newE2E(t, kube, nil))
	})
	t.Run("continue_step_marks_needs_attention", func(t *testing.T) {
		t.Parallel()
		testContinueNeedsAttention(t, newE2E(t, kube, func(s map[string]any) {
			if s["name"] == "legacy" {
				s["on_failure"] = "continue"
				s["env"].(map[string]any)["E2E_FAIL"] = "1"
			}
		}))
	})
}

func testEveryStepInOrder(t *testing.T, e *e2e) {
	// Preflight, as rotor rotate --dry-run runs it, passes for every step and changes nothing.
	r := e.rotor("rotate", e.appName, "--dry-run")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	for _, name := range e2eSteps {
		require.Regexp(t, `(?m)^  ok +`+regexp.QuoteMeta("step "+name)+` `, r.stdout, "preflight of step %s", name)
	}
	require.Empty(t, e.vaultVersions(), "preflight wrote nothing to Key Vault")
	require.Nil(t, e.kubeSecret(), "preflight created no Kubernetes Secret")
	require.Empty(t, e.restartAnnotations(), "preflight restarted nothing")
	require.Equal(t, e.appSettingsBefore, e.readFile(e.appSettings), "preflight left appsettings.json alone")
	require.NoFileExists(t, filepath.Join(e.dir, "legacy-store"), "preflight did not run the script")
	require.Empty(t, e.recv.events(), "preflight delivered no webhook")
	require.Zero(t, e.recv.count("refresh"), "preflight refreshed nothing")
	require.Equal(t, []string{"healthy-preflight"}, e.arrivals(), "the health check's preflight sends one check")
	e.resetArrivals()

	id, r := e.rotate()
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Regexp(t, `rotation `+id+` deployed new secret [0-9a-f-]+; `+e.oldKeyID+` stays valid until \S+ and is then removed by rotor serve`, r.stdout)
	rot := e.rotation(id)
	require.Equal(t, rotor.RotationGrace, rot.State)
	require.False(t, rot.NeedsAttention)

	// Every consumer holds the same new secret, and it gets tokens from the simulated Entra.
	value := e.kvCurrent()
	require.NotEmpty(t, value)
	require.NotEqual(t, e.oldSecret.Reveal(), value, "the secret was replaced")
	e.secrets = append(e.secrets, value)
	ev := e.recv.events()
	require.Len(t, ev, 1, "one webhook delivery")
	held := map[string]string{
		"key vault":         value,
		"kubernetes secret": string(e.kubeSecret().Data["AZURE_CLIENT_SECRET"]),
		"appsettings.json":  e.appSettingsSecret(),
		"exec script":       e.readFile(filepath.Join(e.dir, "legacy-store")),
		"webhook event":     ev[0].Secret,
	}
	for who, v := range held {
		require.Equal(t, value, v, "%s holds the new secret", who)
	}
	require.NoError(t, e.token(value), "the new secret gets a token")
	require.NoError(t, e.token(e.oldSecret.Reveal()), "during the grace period the old secret still works")
	require.True(t, e.appHasKey(e.oldKeyID), "the old secret is kept for the grace period")

	// The webhook receiver verified the signature and found every earlier step done.
	require.Empty(t, e.recv.failures())
	require.Equal(t, "credential.rotated", ev[0].Type)
	require.Equal(t, id+":notify", ev[0].ID)
	require.Equal(t, id+":notify", ev[0].IdempotencyKey)
	require.Equal(t, rot.NewKeyID, ev[0].KeyID)
	require.Equal(t, e.oldKeyID, ev[0].PreviousKeyID)
	require.Equal(t, e.app.AppID, ev[0].AppID)
	require.Len(t, ev[0].Before, 4, "the receiver looked at every store")
	for who, v := range ev[0].Before {
		require.Equal(t, value, v, "when the webhook arrived, %s already held the new secret", who)
	}
	require.Equal(t, id, ev[0].RestartedFor, "when the webhook arrived, the Deployment was already restarted")

	// The receivers, the script and the store saw the steps in their configured order.
	require.Equal(t, []string{"healthy-preflight", "legacy", "notify", "refresh", "healthy"}, e.arrivals(),
		"every step's preflight before the secret was created, then the steps")
	e.requireStepOrder(id, e2eSteps)

	// The other steps' own effects.
	ann := e.restartAnnotations()
	require.Equal(t, id, ann["rotor.dev/restarted-for"])
	restarted, err := time.Parse(time.RFC3339, ann["kubectl.kubernetes.io/restartedAt"])
	require.NoError(t, err, "kubectl's restart annotation")
	require.WithinDuration(t, time.Now(), restarted, time.Minute)
	ks := e.kubeSecret()
	require.Equal(t, "rotor", ks.Labels["app.kubernetes.io/managed-by"])
	require.Equal(t, e.app.AppID, string(ks.Data["AZURE_CLIENT_ID"]))
	require.Equal(t, id, ks.Annotations["rotor.dev/rotation-id"])
	require.Equal(t, strings.Replace(e.appSettingsBefore, e.oldSecret.Reveal(), value, 1), e.readFile(e.appSettings),
		"appsettings.json is byte for byte the same apart from the secret")
	backups, _ := filepath.Glob(e.appSettings + ".rotor-backup.*")
	require.Len(t, backups, 1, "the file step keeps a backup until the old secret is removed")
	kv := e.vaultVersions()
	require.Len(t, kv, 1)
	require.Equal(t, id, kv[0].Tags["rotor-rotation-id"])
	require.Equal(t, rot.NewKeyID, kv[0].Tags["rotor-key-id"])
	e.requireScriptContract(id, rot.NewKeyID)

	// After the grace period rotor serve removes the old secret, and the old secret stops working.
	rot = e.serveUntil(id, "completed", func(r *rotor.Rotation) bool { return r.State == rotor.RotationCompleted })
	require.False(t, rot.NeedsAttention)
	require.False(t, e.appHasKey(e.oldKeyID), "the old secret was removed")
	require.True(t, e.appHasKey(rot.NewKeyID))
	removedAt := e.removedAt(e.oldKeyID)
	require.False(t, removedAt.Before(rot.GraceUntil), "removed at %s, before the grace period ended at %s", removedAt, rot.GraceUntil)
	require.ErrorContains(t, e.token(e.oldSecret.Reveal()), "AADSTS7000215", "the old secret no longer gets tokens")
	require.NoError(t, e.token(value), "the new secret still does")
	backups, _ = filepath.Glob(e.appSettings + ".rotor-backup.*")
	require.Empty(t, backups, "the backup holding the old secret is deleted with it")
	require.Equal(t, 1, len(e.recv.events()), "nothing was delivered again")

	r = e.rotor("rotation", "show", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "rotation "+id+" completed")
	require.Regexp(t, `(?m)^  succeeded +cleanup .*removed old credential `+e.oldKeyID, r.stdout)
	r = e.rotor("history", e.appName)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, id+"  completed, manual")
	require.Contains(t, r.stdout, e.oldKeyID+" -> "+rot.NewKeyID)
	r = e.rotor("audit", "verify")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	e.requireNoLeak(id)
}

func testAbortStopsBeforeCleanup(t *testing.T, e *e2e) {
	e.recv.setRefreshStatus(http.StatusInternalServerError)
	id, r := e.rotate()
	require.Equal(t, 1, r.code, "a failed rotation fails rotor rotate: %s", r.stdout)
	require.Regexp(t, `rotation `+id+` failed in deploying \(attempt 1\): step refresh: .*HTTP 500`, r.stdout)
	require.Contains(t, r.stdout, "retried at ")
	rot := e.rotation(id)
	require.Equal(t, rotor.RotationFailed, rot.State)
	require.Equal(t, rotor.RotationDeploying, rot.ResumeState)
	wait := rot.NextAttemptAt.Sub(rot.UpdatedAt)
	require.True(t, wait >= e2eBackoff/2 && wait <= e2eBackoff, "the next attempt waits rotation.backoff_base (jittered): %s", wait)

	// rotor serve retries after the backoff; after rotation.max_attempts the rotation is parked.
	rot = e.serveUntil(id, "parked", func(r *rotor.Rotation) bool {
		return r.State == rotor.RotationFailed && r.Attempt == 2 && r.NextAttemptAt.IsZero()
	})
	require.Equal(t, rotor.RotationDeploying, rot.ResumeState)
	require.Contains(t, rot.LastError, "step refresh")
	times := e.recv.times("refresh")
	require.Len(t, times, 2, "one refresh per attempt (the step's own max_attempts is 1)")
	require.GreaterOrEqual(t, times[1].Sub(times[0]), e2eBackoff*7/10, "the second attempt came after the backoff")

	// The old secret is untouched and current; the aborting step's successors never ran.
	require.True(t, e.appHasKey(e.oldKeyID), "no cleanup: the old secret is still on the app")
	require.NoError(t, e.token(e.oldSecret.Reveal()), "the old secret still works")
	require.Zero(t, e.recv.count("healthy"), "the step after the aborting one never ran")
	require.Equal(t, []string{"healthy-preflight", "legacy", "notify", "refresh", "refresh"}, e.arrivals(),
		"the steps before the failed one ran once: a retry resumes at the failed step")
	require.Equal(t, e.oldKeyID, e.binding().KeyID, "the binding still manages the old secret")
	steps := e.steps(id)
	require.NotContains(t, names(steps), "cleanup")
	require.NotContains(t, names(steps), "deploy:healthy")
	for _, s := range steps {
		if s.Name == "deploy:refresh" {
			require.Equal(t, rotor.StepFailed, s.State)
			require.Equal(t, 2, s.Attempt)
			require.Contains(t, s.Message, "HTTP 500")
		}
	}

	// What the operator sees names the step, the reason and what to do.
	r = e.rotor("rotation", "show", id)
	require.Equal(t, 1, r.code, "show exits non-zero for a failed rotation")
	require.Regexp(t, `(?m)^  failed +deploy:refresh .*HTTP 500`, r.stdout)
	require.Regexp(t, `rotation `+id+` failed in deploying \(attempt 2\): step refresh: .*HTTP 500`, r.stdout)
	require.Contains(t, r.stdout, "parked: rotor rotation retry or cancel "+id)
	r = e.rotor("rotation", "list", "--state", "failed")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, id)
	r = e.rotor("audit", "list", "--rotation", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "rotation.parked")

	// Once the consumer is fixed, a retry resumes at the failed step and deploys the rest.
	e.recv.setRefreshStatus(http.StatusOK)
	r = e.rotor("rotation", "retry", id)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "rotation "+id+" deployed new secret")
	require.Equal(t, []string{"healthy-preflight", "legacy", "notify", "refresh", "refresh", "refresh", "healthy"}, e.arrivals())
	require.Len(t, e.recv.events(), 1, "the webhook was not delivered again")
	e.requireStepOrder(id, e2eSteps)
	e.secrets = append(e.secrets, e.kvCurrent())
	e.requireNoLeak(id)
}

func testContinueNeedsAttention(t *testing.T, e *e2e) {
	id, r := e.rotate()
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Regexp(t, `(?m)^  failed +deploy:legacy .*legacy\.sh exited 3: could not push \[REDACTED\] to the legacy store`, r.stdout)
	require.Contains(t, r.stdout, "rotation "+id+" deployed new secret")
	require.Contains(t, r.stdout, "needs attention: a step with on_failure: continue failed")
	value := e.kvCurrent()
	e.secrets = append(e.secrets, value)
	require.Equal(t, value, e.readFile(filepath.Join(e.dir, "legacy-store")), "the script got the secret before failing")
	require.Equal(t, []string{"healthy-preflight", "legacy", "notify", "refresh", "healthy"}, e.arrivals(), "the steps after the failed one ran")
	e.requireStepOrder(id, e2eSteps)

	rot := e.serveUntil(id, "completed", func(r *rotor.Rotation) bool { return r.State == rotor.RotationCompleted })
	require.True(t, rot.NeedsAttention)
	require.False(t, e.appHasKey(e.oldKeyID), "the old secret was removed after the grace period")
	require.False(t, e.removedAt(e.oldKeyID).Before(rot.GraceUntil))

	r = e.rotor("rotation", "show", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "rotation "+id+" completed\nneeds attention")
	r = e.rotor("rotation", "list", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var list []struct {
		ID             string
		State          rotor.RotationState
		NeedsAttention bool
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &list), r.stdout)
	require.Len(t, list, 1)
	require.Equal(t, id, list[0].ID)
	require.Equal(t, rotor.RotationCompleted, list[0].State)
	require.True(t, list[0].NeedsAttention)
	r = e.rotor("audit", "list", "--rotation", id)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "rotation.completed_needs_attention")
	require.Regexp(t, `step\.failed +failure .*step legacy failed \(on_failure: continue\)`, r.stdout)
	e.requireNoLeak(id)
}

// e2e is one test's world: a simulator with an application holding an old secret, the
// consumers of its secret, and a rotor configuration that deploys to them.
type e2e struct {
	t       *testing.T
	sim     *sim.Server
	dir     string
	config  string
	env     map[string]string
	appName string
	app     directory.Application
	tenant  directory.Tenant

	oldKeyID  string
	oldSecret secret.Value
	secrets   []string // new secret values seen, for the leak checks

	kube *testenv.KubeAPI
	cs   k8s.Interface
	ns   string

	appSettings, appSettingsBefore string
	recv                           *receivers

	logMu sync.Mutex
	logs  bytes.Buffer // everything every rotor run printed
}

// newE2E builds the world; edit, when set, changes each step's settings before the
// configuration is written.
func newE2E(t *testing.T, kube *testenv.KubeAPI, edit func(step map[string]any)) *e2e {
	t.Helper()
	s, err := sim.Start(t.Context(), sim.Options{Seed: 7, Tenants: 1, AppsPerTenant: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	e := &e2e{t: t, sim: s, dir: t.TempDir(), kube: kube, appName: "e2e-orders-api", tenant: s.Seeded.Tenants[0].Tenant}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("ROTOR_E2E_LOGS") != "" {
			e.logMu.Lock()
			t.Logf("what rotor printed:\n%s", e.logs.String())
			e.logMu.Unlock()
		}
	})

	// The application and its current secret, made outside rotor.
	e.app, err = s.Directory.AddApplication(directory.AddApplicationParams{TenantID: e.tenant.ID, DisplayName: e.appName})
	require.NoError(t, err)
	old, value, err := s.Directory.AddPassword(directory.AddPasswordParams{TenantID: e.tenant.ID,
		Object: directory.ObjectRef{Kind: directory.KindApplication, ID: e.app.ID}, DisplayName: "orders-api, by hand",
		EndDateTime: time.Now().Add(20 * 24 * time.Hour), Actor: "e2e", Replicated: true})
	require.NoError(t, err)
	e.oldKeyID, e.oldSecret = old.KeyID, value

	// Its consumers.
	cfg, err := clientcmd.BuildConfigFromFlags("", kube.Kubeconfig)
	require.NoError(t, err)
	e.cs, err = k8s.NewForConfig(cfg)
	require.NoError(t, err)
	e.ns = kube.Namespace(t)
	labels := map[string]string{"app": "orders-api"}
	_, err = e.cs.AppsV1().Deployments(e.ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "orders-api"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "registry.invalid/orders-api:1"}}},
		}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	e.appSettings = filepath.Join(e.dir, "appsettings.json")
	e.appSettingsBefore = fmt.Sprintf(e2eAppSettings, e.oldSecret.Reveal())
	require.NoError(t, os.WriteFile(e.appSettings, []byte(e.appSettingsBefore), 0o640))
	script := filepath.Join(e.dir, "legacy.sh")
	require.NoError(t, os.WriteFile(script, []byte(e2eScript), 0o700))
	e.recv = startReceivers(t, filepath.Join(e.dir, "arrivals"), []byte(e2eSigningKey), e.observe)
	ca := filepath.Join(e.dir, "receivers-ca.pem")
	require.NoError(t, os.WriteFile(ca, e.recv.caPEM(), 0o600))

	vault, ok := s.Vault(sim.VaultName(e.tenant))
	require.True(t, ok)
	steps := []map[string]any{
		{"name": "vault", "type": "keyvault", "vault_url": strings.TrimSuffix(vault.URL, "/"), "secret_name": "orders-api-client-secret",
			"disable_challenge_resource_verification": true},
		{"name": "k8s-secret", "type": "kubernetes", "namespace": e.ns, "secret_name": "orders-entra", "key": "AZURE_CLIENT_SECRET",
			"extra_keys": map[string]any{"AZURE_CLIENT_ID": "{{.AppID}}"}, "kubeconfig": kube.Kubeconfig},
		{"name": "k8s-restart", "type": "kubernetes_restart", "namespace": e.ns, "workloads": []string{"deployment/orders-api"},
			"kubeconfig": kube.Kubeconfig},
		{"name": "appsettings", "type": "file", "path": e.appSettings, "key": "Entra:ClientSecret"},
		{"name": "legacy", "type": "exec", "command": []string{script, "--app", "orders-api"}, "secret_via": "stdin",
			"env": map[string]any{"E2E_OUT": e.dir}, "timeout": "30s"},
		// Loopback is refused unless allowed (docs/targets.md, Outbound address policy): by address
		// here, for every private address below.
		{"name": "notify", "type": "webhook", "url": e.recv.url + "/hooks/rotor", "signing_key": "env:E2E_WEBHOOK_KEY",
			"include_secret": true, "ca_file": ca, "allow_hosts": []string{"127.0.0.1"}, "max_attempts": 1},
		{"name": "refresh", "type": "spring_refresh", "url": e.recv.url + "/actuator/refresh", "ca_file": ca, "allow_private": true,
			"max_attempts": 1},
		{"name": "healthy", "type": "http_check", "url": e.recv.url + "/actuator/health", "json_field": "status", "json_value": "UP",
			"interval": "1s", "timeout": "5s", "ca_file": ca, "allow_private": true},
	}
	for _, st := range steps {
		if edit != nil {
			edit(st)
		}
	}
	extra, err := yaml.Marshal(map[string]any{
		"policies": []any{map[string]any{"name": "e2e", "lifetime": "30d", "rotate_before": "7d", "grace_period": e2eGrace.String(),
			"verify": map[string]any{"successes": 1, "interval": "100ms", "timeout": "1m"}, "steps": steps}},
		"rotation": map[string]any{"plan_interval": "1m", "poll": "100ms", "lease": "10s", "max_attempts": 2,
			"backoff_base": e2eBackoff.String(), "backoff_max": "1s"},
		"server": map[string]any{"listen": "127.0.0.1:0"},
	})
	require.NoError(t, err)
	e.config, err = writeSimConfig(e.dir, s, simConfigOptions{extra: string(extra)})
	require.NoError(t, err)
	e.env = map[string]string{"E2E_WEBHOOK_KEY": e2eSigningKey, "E2E_CANARY": "rotor-environment-only",
		"PATH": os.Getenv("PATH"), "HOME": e.dir}

	r := e.rotor("config", "validate")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = e.rotor("sync")
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	r = e.rotor("bind", e.appName, "--policy", "e2e", "--adopt", e.oldKeyID)
	require.Equal(t, 0, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "manages secret "+e.oldKeyID)
	return e
}

// rotor runs rotor in process with the test's configuration and environment, at debug level so
// that the leak checks see everything it logs.
func (e *e2e) rotor(args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	code := run(e.t.Context(), append([]string{"-c", e.config, "--log-level", "debug", "--log-format", "json"}, args...),
		strings.NewReader(""), &out, &errb, e.lookupEnv)
	e.logMu.Lock()
	fmt.Fprintf(&e.logs, "$ rotor %s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	e.logMu.Unlock()
	return result{code, out.String(), errb.String()}
}

func (e *e2e) lookupEnv(k string) (string, bool) { v, ok := e.env[k]; return v, ok }

// rotate runs rotor rotate and returns the rotation's id.
func (e *e2e) rotate() (string, result) {
	e.t.Helper()
	r := e.rotor("rotate", e.appName)
	m := regexp.MustCompile(`(?m)^planned rotation (\S+)$`).FindStringSubmatch(r.stdout)
	require.NotNil(e.t, m, "rotor rotate planned no rotation: %s%s", r.stdout, r.stderr)
	return m[1], r
}

// serveUntil runs rotor serve until the rotation satisfies done, then stops it and returns the
// rotation. The store is the signal: rotor serve works on its own schedule.
func (e *e2e) serveUntil(id, what string, done func(*rotor.Rotation) bool) *rotor.Rotation {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.t.Context())
	defer cancel()
	out := &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"-c", e.config, "--log-level", "debug", "--log-format", "json", "serve"},
			strings.NewReader(""), out, out, e.lookupEnv)
	}()
	var r *rotor.Rotation
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for r == nil || !done(r) {
		select {
		case code := <-exited:
			e.t.Fatalf("rotor serve exited with %d before the rotation was %s:\n%s", code, what, out.String())
		case <-tick.C:
		}
		r = e.rotation(id)
		if time.Now().After(deadline) {
			e.t.Fatalf("rotation %s is %s (attempt %d, %s), not %s, after 20s of rotor serve:\n%s", id, r.State, r.Attempt, r.LastError, what, out.String())
		}
	}
	cancel()
	code := <-exited
	e.logMu.Lock()
	fmt.Fprintf(&e.logs, "$ rotor serve\n%s", out.String())
	e.logMu.Unlock()
	require.Equal(e.t, 0, code, "rotor serve stops cleanly: %s", out.String())
	return r
}

// store opens rotor's store read-only for a look.
func (e *e2e) store() *sqlstore.Store {
	e.t.Helper()
	st, err := sqlstore.OpenSQLite(e.t.Context(), filepath.Join(e.dir, "rotor.db"), sqlstore.Options{SkipMigrate: true})
	require.NoError(e.t, err)
	return st
}

func (e *e2e) rotation(id string) *rotor.Rotation {
	e.t.Helper()
	st := e.store()
	defer st.Close()
	r, err := st.RotationGet(e.t.Context(), id)
	require.NoError(e.t, err)
	return r
}

func (e *e2e) steps(id string) []*rotor.RotationStep {
	e.t.Helper()
	st := e.store()
	defer st.Close()
	steps, err := st.RotationStepList(e.t.Context(), id)
	require.NoError(e.t, err)
	return steps
}

func (e *e2e) binding() *rotor.Binding {
	e.t.Helper()
	st := e.store()
	defer st.Close()
	bs, err := st.BindingList(e.t.Context(), &rotor.BindingListParams{})
	require.NoError(e.t, err)
	require.Len(e.t, bs, 1)
	return bs[0]
}

func names(steps []*rotor.RotationStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}

// requireStepOrder checks that rotor rotation show lists the deployment steps in the configured
// order, and that their recorded times follow it: each started after the previous one finished,
// and the first after verification.
func (e *e2e) requireStepOrder(id string, want []string) {
	e.t.Helper()
	r := e.rotor("rotation", "show", id)
	var shown []string
	for line := range strings.SplitSeq(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "deploy:") {
			shown = append(shown, strings.TrimPrefix(f[1], "deploy:"))
		}
	}
	require.Equal(e.t, want, shown, "rotor rotation show lists the steps in order:\n%s", r.stdout)
	var prev *rotor.RotationStep
	for _, s := range e.steps(id) {
		if s.Name != "verify" && !strings.HasPrefix(s.Name, "deploy:") {
			continue
		}
		require.False(e.t, s.FinishedAt.Before(s.StartedAt), "step %s finished before it started", s.Name)
		if prev != nil {
			require.False(e.t, s.StartedAt.Before(prev.FinishedAt), "step %s started at %s, before %s finished at %s",
				s.Name, s.StartedAt.Format(time.RFC3339Nano), prev.Name, prev.FinishedAt.Format(time.RFC3339Nano))
		}
		prev = s
	}
}

// requireScriptContract checks what docs/targets.md promises an exec command: the secret on
// standard input only (never in its arguments or environment), the deployment's fields in its
// environment, and nothing else of rotor's environment.
func (e *e2e) requireScriptContract(id, keyID string) {
	e.t.Helper()
	env := e.readFile(filepath.Join(e.dir, "legacy-env"))
	args := e.readFile(filepath.Join(e.dir, "legacy-args"))
	for _, v := range e.secrets {
		require.NotContains(e.t, env, v, "the secret is not in the script's environment with secret_via: stdin")
		require.NotContains(e.t, args, v, "the secret is never in the arguments")
	}
	require.Contains(e.t, args, "--app orders-api")
	for _, kv := range []string{"ROTOR_ROTATION_ID=" + id, "ROTOR_STEP=legacy", "ROTOR_KEY_ID=" + keyID,
		"ROTOR_PREVIOUS_KEY_ID=" + e.oldKeyID, "ROTOR_APP_ID=" + e.app.AppID, "ROTOR_APP_NAME=" + e.appName, "E2E_OUT=" + e.dir} {
		require.Contains(e.t, strings.Split(env, "\n"), kv)
	}
	require.NotContains(e.t, env, "E2E_CANARY", "rotor's own environment is not passed on")
	require.NotContains(e.t, env, "E2E_WEBHOOK_KEY", "rotor's own environment is not passed on")
}

// requireNoLeak checks that no secret value, in clear, JSON or base64, reached what rotor
// printed, logged, recorded in steps and audit events, or stored in clear in its database.
func (e *e2e) requireNoLeak(id string) {
	e.t.Helper()
	r := e.rotor("audit", "list", "--rotation", id, "-o", "json", "--limit", "1000")
	require.Equal(e.t, 0, r.code, r.stderr)
	var recorded strings.Builder
	for _, s := range e.steps(id) {
		fmt.Fprintln(&recorded, s.Name, s.Message)
	}
	fmt.Fprintln(&recorded, e.rotation(id).LastError)
	db := e.readFile(filepath.Join(e.dir, "rotor.db"))
	if wal, err := os.ReadFile(filepath.Join(e.dir, "rotor.db-wal")); err == nil {
		db += string(wal)
	}
	e.logMu.Lock()
	logs := e.logs.String()
	e.logMu.Unlock()
	require.NotEmpty(e.t, e.secrets)
	for _, v := range append(slices.Clone(e.secrets), e.oldSecret.Reveal()) {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v))} {
			requireAbsent(e.t, logs, form, "rotor's output")
			requireAbsent(e.t, recorded.String(), form, "the step records")
			requireAbsent(e.t, db, form, "rotor's database, in clear")
		}
	}
}

// requireAbsent fails when text contains the secret value v, quoting the line it is on with the
// value masked (so that the failure does not print it, nor pages of logs).
func requireAbsent(t *testing.T, text, v, where string) {
	t.Helper()
	i := strings.Index(text, v)
	if i < 0 {
		return
	}
	start := strings.LastIndexByte(text[:i], '\n') + 1
	end := strings.IndexByte(text[i:], '\n')
	if end < 0 {
		end = len(text) - i
	}
	line := strings.ReplaceAll(text[start:i+end], v, "<THE SECRET>")
	if len(line) > 600 {
		line = line[:600] + "..."
	}
	t.Fatalf("a secret value leaked into %s:\n%s", where, line)
}

// appHasKey reports whether the application still holds the secret keyID.
func (e *e2e) appHasKey(keyID string) bool {
	e.t.Helper()
	app, err := e.sim.Directory.Application(e.tenant.ID, e.app.ID)
	require.NoError(e.t, err)
	return slices.ContainsFunc(app.PasswordCredentials, func(c directory.PasswordCredential) bool { return c.KeyID == keyID })
}

// removedAt is when the simulated Entra removed the secret keyID.
func (e *e2e) removedAt(keyID string) time.Time {
	e.t.Helper()
	h, err := e.sim.Directory.CredentialHistory(e.tenant.ID, e.app.AppID)
	require.NoError(e.t, err)
	for _, ev := range h {
		if ev.KeyID == keyID && ev.Action == directory.ActionRemoved {
			return ev.Time
		}
	}
	e.t.Fatalf("secret %s was never removed", keyID)
	return time.Time{}
}

// token asks the simulated Entra for a token with the application's secret, as a consumer does.
func (e *e2e) token(value string) error {
	hc := e.sim.CA.HTTPClient()
	cred, err := azidentity.NewClientSecretCredential(e.tenant.ID, e.app.AppID, value, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: e.sim.URL() + "/"}, Transport: hc},
		DisableInstanceDiscovery: true})
	if err != nil {
		return err
	}
	_, err = cred.GetToken(e.t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	return err
}

// kvVersion is one version of the Key Vault secret.
type kvVersion struct {
	Value string
	Tags  map[string]string
}

// vaultVersions returns the Key Vault secret's versions, oldest first.
func (e *e2e) vaultVersions() []kvVersion {
	vault, _ := e.sim.Vault(sim.VaultName(e.tenant))
	var out []kvVersion
	for _, s := range vault.KV.Snapshot().Secrets {
		if s.Name != "orders-api-client-secret" {
			continue
		}
		for _, v := range s.Versions {
			out = append(out, kvVersion{v.Value.Reveal(), v.Tags})
		}
	}
	return out
}

// kvCurrent is the Key Vault secret's current value.
func (e *e2e) kvCurrent() string {
	vs := e.vaultVersions()
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1].Value
}

func (e *e2e) kubeSecret() *corev1.Secret {
	s, err := e.cs.CoreV1().Secrets(e.ns).Get(context.Background(), "orders-entra", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(e.t, err)
	return s
}

func (e *e2e) restartAnnotations() map[string]string {
	d, err := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), "orders-api", metav1.GetOptions{})
	require.NoError(e.t, err)
	return d.Spec.Template.Annotations
}

func (e *e2e) readFile(path string) string {
	b, err := os.ReadFile(path)
	require.NoError(e.t, err)
	return string(b)
}

// appSettingsSecret reads Entra:ClientSecret from appsettings.json (which has comments and a
// trailing comma, as .NET allows, so encoding/json cannot read it).
func (e *e2e) appSettingsSecret() string {
	b, _ := os.ReadFile(e.appSettings) // also called by the webhook receiver: no require
	m := regexp.MustCompile(`"ClientSecret": "([^"]*)"`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func (e *e2e) arrivals() []string {
	b, err := os.ReadFile(filepath.Join(e.dir, "arrivals"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(e.t, err)
	return strings.Fields(string(b))
}

func (e *e2e) resetArrivals() {
	require.NoError(e.t, os.Remove(filepath.Join(e.dir, "arrivals")))
	e.recv.reset()
}

// observe is what the webhook receiver notes when the event arrives: what the earlier steps'
// destinations hold at that moment.
func (e *e2e) observe() (map[string]string, string) {
	held := map[string]string{"key vault": e.kvCurrent(), "appsettings.json": e.appSettingsSecret()}
	if b, err := os.ReadFile(filepath.Join(e.dir, "legacy-store")); err == nil {
		held["exec script"] = string(b)
	}
	if s, err := e.cs.CoreV1().Secrets(e.ns).Get(context.Background(), "orders-entra", metav1.GetOptions{}); err == nil {
		held["kubernetes secret"] = string(s.Data["AZURE_CLIENT_SECRET"])
	}
	var restartedFor string
	if d, err := e.cs.AppsV1().Deployments(e.ns).Get(context.Background(), "orders-api", metav1.GetOptions{}); err == nil {
		restartedFor = d.Spec.Template.Annotations["rotor.dev/restarted-for"]
	}
	return held, restartedFor
}

// receivers are the consumers reached over HTTPS: a webhook receiver, a Spring Boot Actuator and
// its health endpoint. Each request a step makes is appended to the arrivals log the exec
// script appends to as well.
type receivers struct {
	srv      *httptest.Server
	url      string
	arrivals string
	key      []byte
	observe  func() (map[string]string, string)

	mu            sync.Mutex
	refreshStatus int
	hits          map[string][]time.Time
	delivered     []webhookEvent
	seenKeys      map[string]bool
	problems      []string
}

// webhookEvent is a delivery the receiver accepted, with what it observed on arrival.
type webhookEvent struct {
	Type           string `json:"type"`
	ID             string `json:"id"`
	RotationID     string `json:"rotation_id"`
	KeyID          string `json:"key_id"`
	PreviousKeyID  string `json:"previous_key_id"`
	AppID          string `json:"app_id"`
	Secret         string `json:"secret"`
	IdempotencyKey string `json:"-"`
	Before         map[string]string
	RestartedFor   string
}

func startReceivers(t *testing.T, arrivals string, key []byte, observe func() (map[string]string, string)) *receivers {
	rc := &receivers{arrivals: arrivals, key: key, observe: observe, refreshStatus: http.StatusOK,
		hits: map[string][]time.Time{}, seenKeys: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hooks/rotor", rc.webhook)
	mux.HandleFunc("GET /actuator", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.spring-boot.actuator.v3+json")
		io.WriteString(w, `{"_links":{"self":{"href":"/actuator"},"health":{"href":"/actuator/health"},"refresh":{"href":"/actuator/refresh"}}}`)
	})
	mux.HandleFunc("POST /actuator/refresh", func(w http.ResponseWriter, r *http.Request) {
		rc.arrive("refresh")
		rc.mu.Lock()
		status := rc.refreshStatus
		rc.mu.Unlock()
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, `{"status":500,"error":"Internal Server Error","path":"/actuator/refresh"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `["entra.client-secret"]`)
	})
	mux.HandleFunc("GET /actuator/health", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Rotor-Preflight") == "1" {
			rc.arrive("healthy-preflight")
		} else {
			rc.arrive("healthy")
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"UP"}`)
	})
	rc.srv = httptest.NewTLSServer(mux)
	t.Cleanup(rc.srv.Close)
	rc.url = rc.srv.URL
	return rc
}

func (rc *receivers) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rc.srv.Certificate().Raw})
}

// arrive notes a request: its time, and its place in the arrivals log.
func (rc *receivers) arrive(name string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits[name] = append(rc.hits[name], time.Now())
	f, err := os.OpenFile(rc.arrivals, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		rc.problems = append(rc.problems, err.Error())
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, name); err != nil {
		rc.problems = append(rc.problems, err.Error())
	}
}

// webhook is a receiver written from docs/targets.md ("Verifying the signature"): it verifies
// the signature over the raw body, rejects stale timestamps, and processes each Idempotency-Key
// once.
func (rc *receivers) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if err := verifySignature(rc.key, r.Header, body, time.Now()); err != nil {
		rc.mu.Lock()
		rc.problems = append(rc.problems, "webhook: "+err.Error())
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.arrive("notify")
	key := r.Header.Get("Idempotency-Key")
	rc.mu.Lock()
	dup := rc.seenKeys[key]
	rc.seenKeys[key] = true
	rc.mu.Unlock()
	if dup {
		w.WriteHeader(http.StatusOK)
		return
	}
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	ev.IdempotencyKey = key
	ev.Before, ev.RestartedFor = rc.observe()
	rc.mu.Lock()
	rc.delivered = append(rc.delivered, ev)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// verifySignature is docs/targets.md's receiver algorithm: Rotor-Signature is "v1=" and the hex
// HMAC-SHA256, keyed with the signing key, of the Rotor-Timestamp value, ".", and the raw body,
// compared in constant time; a timestamp more than five minutes away is refused.
func verifySignature(key []byte, h http.Header, body []byte, now time.Time) error {
	ts := h.Get("Rotor-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("Rotor-Timestamp %q is not a Unix time", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("Rotor-Timestamp %s is %s from now", ts, d)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(h.Get("Rotor-Signature"))) {
		return errors.New("Rotor-Signature does not match")
	}
	return nil
}

func TestWebhookReceiverFollowsTheDocumentedTestVector(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("Rotor-Timestamp", "1763715600")
	h.Set("Rotor-Signature", "v1=246a6abfddb561fe7a34723865b3bcf2c33756306ad22a37019beb624ad0bc43")
	body := []byte(`{"type":"credential.rotated","id":"rot-1:notify"}`)
	at := time.Unix(1763715600, 0).Add(time.Minute)
	require.NoError(t, verifySignature([]byte("fake-signing-key"), h, body, at))
	require.Error(t, verifySignature([]byte("fake-signing-key"), h, append(body, ' '), at), "a changed body")
	require.Error(t, verifySignature([]byte("another-key"), h, body, at), "another key")
	require.Error(t, verifySignature([]byte("fake-signing-key"), h, body, at.Add(5*time.Minute)), "a replay")
}

func (rc *receivers) setRefreshStatus(s int) { rc.mu.Lock(); rc.refreshStatus = s; rc.mu.Unlock() }

func (rc *receivers) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits = map[string][]time.Time{}
}

func (rc *receivers) count(name string) int { return len(rc.times(name)) }

func (rc *receivers) times(name string) []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.hits[name])
}

func (rc *receivers) events() []webhookEvent {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.delivered)
}

func (rc *receivers) failures() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.problems)
}
