package kubernetes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/internal/testenv"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target/kubernetes"
	"github.com/rotorhq/rotor/target/targettest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var clockStart = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

type testBundle struct {
	api   *testenv.KubeAPI
	cs    k8s.Interface
	ns    string
	clock *clockwork.FakeClock
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	api := testenv.Kubernetes(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", api.Kubeconfig)
	require.NoError(t, err)
	cs, err := k8s.NewForConfig(cfg)
	require.NoError(t, err)
	return &testBundle{api: api, cs: cs, ns: api.Namespace(t), clock: clockwork.NewFakeClockAt(clockStart)}
}

// build decodes settings (a YAML flow mapping, %[1]s is the kubeconfig path) into a target.
func (b *testBundle) build(t *testing.T, typ, settings string) rotor.Target {
	t.Helper()
	tg, err := b.tryBuild(typ, settings)
	require.NoError(t, err)
	return tg
}

func (b *testBundle) tryBuild(typ, settings string) (rotor.Target, error) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(settings), &n); err != nil {
		return nil, err
	}
	d := config.NewDecoder(func(string) (string, bool) { return "", false })
	deps := kubernetes.Deps{Clock: b.clock}
	var tg rotor.Target
	if typ == kubernetes.RestartType {
		tg = kubernetes.RestartFactory(deps)(d, n.Content[0], "steps.k")
	} else {
		tg = kubernetes.Factory(deps)(d, n.Content[0], "steps.k")
	}
	if errs := d.Errs(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "\n"))
	}
	return tg, nil
}

func (b *testBundle) deployment(t *testing.T, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := b.cs.AppsV1().Deployments(b.ns).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

func (b *testBundle) statefulSet(t *testing.T, name string) {
	t.Helper()
	labels := map[string]string{"app": name}
	_, err := b.cs.AppsV1().StatefulSets(b.ns).Create(context.Background(), &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
}

func (b *testBundle) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	s, err := b.cs.CoreV1().Secrets(b.ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return s
}

func (b *testBundle) templateAnnotations(t *testing.T, name string) map[string]string {
	t.Helper()
	d, err := b.cs.AppsV1().Deployments(b.ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return d.Spec.Template.Annotations
}

// state renders what a publish may change: the Secret's labels, annotations, type and data,
// and the pod template annotations of the deployment "web".
func (b *testBundle) state(t *testing.T, name string) []byte {
	t.Helper()
	out := map[string]any{"web": b.templateAnnotations(t, "web")}
	if s := b.secret(t, name); s != nil {
		out["secret"] = map[string]any{"labels": s.Labels, "annotations": s.Annotations, "type": s.Type, "data": s.Data}
	}
	j, err := json.Marshal(out)
	require.NoError(t, err)
	return j
}

func TestConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, _ *slog.Logger) *targettest.Fixture {
			b := setup(t)
			b.deployment(t, "web")
			tg := b.build(t, kubernetes.Type, fmt.Sprintf(`{namespace: %s, secret_name: app-credentials, key: client-secret,
				extra_keys: {client-id: "{{.AppID}}", tenant-id: "{{.TenantID}}"}, restart: [deployment/web], kubeconfig: %q}`, b.ns, b.api.Kubeconfig))
			return &targettest.Fixture{
				Target: tg,
				State:  func(t *testing.T) []byte { return b.state(t, "app-credentials") },
				Current: func(t *testing.T) (secret.Value, bool) {
					s := b.secret(t, "app-credentials")
					if s == nil {
						return secret.Value{}, false
					}
					v, ok := s.Data["client-secret"]
					return secret.FromBytes(v), ok
				},
				Foreign: func(t *testing.T) {
					_, err := b.cs.CoreV1().Secrets(b.ns).Create(context.Background(), &corev1.Secret{
						ObjectMeta: metav1.ObjectMeta{Name: "app-credentials", Labels: map[string]string{"app.kubernetes.io/managed-by": "helm"}},
						Data:       map[string][]byte{"client-secret": []byte("fake-foreign-value")},
					}, metav1.CreateOptions{})
					require.NoError(t, err)
				},
			}
		},
	})
}

func TestRestartConformance(t *testing.T) {
	t.Parallel()
	targettest.Run(t, targettest.Harness{
		New: func(t *testing.T, _ *slog.Logger) *targettest.Fixture {
			b := setup(t)
			b.deployment(t, "web")
			b.statefulSet(t, "db")
			tg := b.build(t, kubernetes.RestartType, fmt.Sprintf(`{namespace: %s, workloads: [deployment/web, sts/db], kubeconfig: %q}`, b.ns, b.api.Kubeconfig))
			return &targettest.Fixture{
				Target: tg,
				State: func(t *testing.T) []byte {
					s, err := b.cs.AppsV1().StatefulSets(b.ns).Get(context.Background(), "db", metav1.GetOptions{})
					require.NoError(t, err)
					j, err := json.Marshal([]map[string]string{b.templateAnnotations(t, "web"), s.Spec.Template.Annotations})
					require.NoError(t, err)
					return j
				},
			}
		},
	})
}

func TestPublishCreatesAndRestarts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deployment(t, "web")
	tg := b.build(t, kubernetes.Type, fmt.Sprintf(`{namespace: %s, secret_name: creds, key: AZURE_CLIENT_SECRET,
		extra_keys: {AZURE_CLIENT_ID: "{{.AppID}}"}, restart: [deployment/web], kubeconfig: %q}`, b.ns, b.api.Kubeconfig))
	ctx := context.Background()
	d := targettest.Deployment(1)
	require.NoError(t, tg.Preflight(ctx, rotor.Deployment{RotationID: d.RotationID, AppID: d.AppID}))

	o, err := tg.Publish(ctx, d)
	require.NoError(t, err)
	require.True(t, o.Changed)
	require.Equal(t, "created secret "+b.ns+"/creds with key AZURE_CLIENT_SECRET; restarted deployment/web", o.Message)
	s := b.secret(t, "creds")
	require.Equal(t, "rotor", s.Labels["app.kubernetes.io/managed-by"])
	require.Equal(t, map[string]string{
		"rotor.dev/rotation-id": d.RotationID, "rotor.dev/key-id": d.KeyID,
		"rotor.dev/app-id": d.AppID, "rotor.dev/tenant-id": d.TenantID,
	}, s.Annotations)
	require.Equal(t, d.Value.Reveal(), string(s.Data["AZURE_CLIENT_SECRET"]))
	require.Equal(t, d.AppID, string(s.Data["AZURE_CLIENT_ID"]))
	require.Equal(t, map[string]string{
		"kubectl.kubernetes.io/restartedAt": "2026-11-21T10:00:00Z",
		"rotor.dev/restarted-for":           d.RotationID,
	}, b.templateAnnotations(t, "web"))

	// Same deployment again: no write, no restart.
	rv := s.ResourceVersion
	b.clock.Advance(time.Hour)
	o, err = tg.Publish(ctx, d)
	require.NoError(t, err)
	require.False(t, o.Changed)
	require.Equal(t, rv, b.secret(t, "creds").ResourceVersion)
	require.Equal(t, "2026-11-21T10:00:00Z", b.templateAnnotations(t, "web")["kubectl.kubernetes.io/restartedAt"])

	// A new rotation updates the key in place and restarts again.
	d2 := targettest.Deployment(2)
	o, err = tg.Publish(ctx, d2)
	require.NoError(t, err)
	require.Equal(t, "updated key AZURE_CLIENT_SECRET of secret "+b.ns+"/creds; restarted deployment/web", o.Message)
	require.Equal(t, "2026-11-21T11:00:00Z", b.templateAnnotations(t, "web")["kubectl.kubernetes.io/restartedAt"])

	// Revert restores the previous value and restarts once more.
	require.NoError(t, tg.(rotor.Reverter).Revert(ctx, rotor.Deployment{RotationID: d2.RotationID}, o.Undo))
	s = b.secret(t, "creds")
	require.Equal(t, d.Value.Reveal(), string(s.Data["AZURE_CLIENT_SECRET"]))
	require.Equal(t, d.RotationID, s.Annotations["rotor.dev/rotation-id"])
	require.Equal(t, d2.RotationID+"/revert", b.templateAnnotations(t, "web")["rotor.dev/restarted-for"])
}

func TestAdopt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.cs.CoreV1().Secrets(b.ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy"},
		Data:       map[string][]byte{"password": []byte("fake-legacy-value"), "username": []byte("svc")},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	refuse := b.build(t, kubernetes.Type, fmt.Sprintf(`{namespace: %s, secret_name: legacy, key: password, kubeconfig: %q}`, b.ns, b.api.Kubeconfig))
	err = refuse.Preflight(ctx, rotor.Deployment{})
	require.ErrorIs(t, err, rotor.ErrNotOwned)
	require.ErrorContains(t, err, "secret "+b.ns+"/legacy exists without label app.kubernetes.io/managed-by=rotor")
	require.ErrorContains(t, err, "set adopt: true")

	adopt := b.build(t, kubernetes.Type, fmt.Sprintf(`{namespace: %s, secret_name: legacy, key: password, adopt: true, kubeconfig: %q}`, b.ns, b.api.Kubeconfig))
	require.NoError(t, adopt.Preflight(ctx, rotor.Deployment{}))
	o, err := adopt.Publish(ctx, targettest.Deployment(1))
	require.NoError(t, err)
	require.Equal(t, "adopted secret "+b.ns+"/legacy and updated key password", o.Message)
	s := b.secret(t, "legacy")
	require.Equal(t, "rotor", s.Labels["app.kubernetes.io/managed-by"])
	require.Equal(t, "svc", string(s.Data["username"]), "other keys are kept")
	// Once adopted, the step without adopt may write it.
	_, err = refuse.Publish(ctx, targettest.Deployment(2))
	require.NoError(t, err)
}

// TestPreflightChecksPermissions runs as a user who may only read the Secret.
func TestPreflightChecksPermissions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	user := "rotor-limited-" + b.ns
	_, err := b.cs.RbacV1().Roles(b.ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-secrets"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = b.cs.RbacV1().RoleBindings(b.ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-secrets"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-secrets"},
		Subjects:   []rbacv1.Subject{{Kind: "User", Name: user}},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	kc, err := clientcmd.LoadFromFile(b.api.Kubeconfig)
	require.NoError(t, err)
	for _, ai := range kc.AuthInfos {
		ai.Impersonate = user
	}
	limited := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*kc, limited))

	tg := b.build(t, kubernetes.Type, fmt.Sprintf(`{namespace: %s, secret_name: creds, key: k, kubeconfig: %q}`, b.ns, limited))
	err = tg.Preflight(ctx, rotor.Deployment{})
	require.ErrorContains(t, err, "rotor may not create secrets "+b.ns+"/: grant it in a Role of namespace "+b.ns)
	require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err))
	require.Nil(t, b.secret(t, "creds"), "preflight wrote nothing")

	b.deployment(t, "web")
	rs := b.build(t, kubernetes.RestartType, fmt.Sprintf(`{namespace: %s, workloads: [deployment/web], kubeconfig: %q}`, b.ns, limited))
	err = rs.Preflight(ctx, rotor.Deployment{})
	require.ErrorContains(t, err, "forbidden")

	missing := b.build(t, kubernetes.RestartType, fmt.Sprintf(`{namespace: %s, workloads: [daemonset/nope], kubeconfig: %q}`, b.ns, b.api.Kubeconfig))
	err = missing.Preflight(ctx, rotor.Deployment{})
	require.ErrorContains(t, err, "daemonset/nope in namespace "+b.ns)
	require.ErrorContains(t, err, "not found")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	b := &testBundle{}
	for _, tc := range []struct{ typ, settings, want string }{
		{kubernetes.Type, `{secret_name: x, key: k}`, "steps.k.namespace: required field is missing"},
		{kubernetes.Type, `{namespace: Bad_NS, secret_name: x, key: k}`, `steps.k.namespace: "Bad_NS": a lowercase RFC 1123 label`},
		{kubernetes.Type, `{namespace: ns, secret_name: x, key: "a/b"}`, `steps.k.key: "a/b": a valid config key must consist of alphanumeric characters`},
		{kubernetes.Type, `{namespace: ns, secret_name: x, key: k, extra_keys: {id: "{{.Value}}"}}`, "steps.k.extra_keys.id: template: "},
		{kubernetes.Type, `{namespace: ns, secret_name: x, key: k, extra_keys: {k: "{{.AppID}}"}}`, "steps.k.extra_keys.k: is the secret's own key"},
		{kubernetes.Type, `{namespace: ns, secret_name: x, key: k, restart: [pod/x]}`, `steps.k.restart[0]: "pod/x": want deployment/NAME`},
		{kubernetes.Type, `{namespace: ns, secret_name: x, key: k, restart: [deploy/a, deployment/a]}`, "steps.k.restart[1]: deployment/a is listed twice"},
		{kubernetes.Type, `{namespace: ns, secret_name: x, key: k, context: prod}`, "steps.k.context: needs kubeconfig"},
		{kubernetes.RestartType, `{namespace: ns}`, "steps.k.workloads: required field is missing"},
		{kubernetes.RestartType, `{namespace: ns, workloads: []}`, "steps.k.workloads: list at least one workload"},
	} {
		_, err := b.tryBuild(tc.typ, tc.settings)
		require.ErrorContains(t, err, tc.want, tc.settings)
	}
}
