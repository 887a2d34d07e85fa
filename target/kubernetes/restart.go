package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/target"
)

// RestartType is the restart-only step type.
const RestartType = "kubernetes_restart"

// Workload is a workload rotor can restart: kind (deployment, statefulset or daemonset) and name.
type Workload struct {
	Kind string // canonical: deployment, statefulset, daemonset
	Name string
}

func (w Workload) String() string { return w.Kind + "/" + w.Name }

var workloadKinds = map[string]string{
	"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
	"statefulset": "statefulset", "statefulsets": "statefulset", "sts": "statefulset",
	"daemonset": "daemonset", "daemonsets": "daemonset", "ds": "daemonset",
}

// ParseWorkload parses "kind/name" as kubectl writes it (deployment/web, sts/db, ds/agent).
func ParseWorkload(s string) (Workload, error) {
	kind, name, ok := strings.Cut(s, "/")
	canon, known := workloadKinds[strings.ToLower(kind)]
	if !ok || !known {
		return Workload{}, fmt.Errorf("%q: want deployment/NAME, statefulset/NAME or daemonset/NAME", s)
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		return Workload{}, fmt.Errorf("%q: %s", s, msgs[0])
	}
	return Workload{Kind: canon, Name: name}, nil
}

func parseWorkloads(d *config.Decoder, at string, in []string) []Workload {
	var out []Workload
	seen := map[Workload]bool{}
	for i, s := range in {
		w, err := ParseWorkload(s)
		if err != nil {
			d.Errorf(fmt.Sprintf("%s[%d]", at, i), "%v", err)
			continue
		}
		if seen[w] {
			d.Errorf(fmt.Sprintf("%s[%d]", at, i), "%s is listed twice", w)
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	return out
}

// restarter rolls out workloads of one namespace.
type restarter struct {
	namespace string
	workloads []Workload
	clock     clockwork.Clock
}

// templateAnnotations reads the pod template annotations of w.
func (r *restarter) templateAnnotations(ctx context.Context, cs k8s.Interface, w Workload) (map[string]string, error) {
	apps := cs.AppsV1()
	var err error
	var ann map[string]string
	switch w.Kind {
	case "deployment":
		dep, e := apps.Deployments(r.namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if e == nil {
			ann = dep.Spec.Template.Annotations
		}
		err = e
	case "statefulset":
		sts, e := apps.StatefulSets(r.namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if e == nil {
			ann = sts.Spec.Template.Annotations
		}
		err = e
	case "daemonset":
		ds, e := apps.DaemonSets(r.namespace).Get(ctx, w.Name, metav1.GetOptions{})
		if e == nil {
			ann = ds.Spec.Template.Annotations
		}
		err = e
	}
	if err != nil {
		return nil, classify(fmt.Errorf("%s in namespace %s: %w", w, r.namespace, err))
	}
	return ann, nil
}

// restart rolls out every workload not yet restarted for marker (a rotation id). It returns the
// workloads it restarted.
func (r *restarter) restart(ctx context.Context, cs k8s.Interface, marker string) ([]Workload, error) {
	var done []Workload
	for _, w := range r.workloads {
		ann, err := r.templateAnnotations(ctx, cs, w)
		if err != nil {
			return done, err
		}
		if ann[AnnotationRestartedFor] == marker {
			continue
		}
		patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{
				AnnotationRestartedAt:  r.clock.Now().UTC().Format(time.RFC3339),
				AnnotationRestartedFor: marker,
			},
		}}}})
		opts := metav1.PatchOptions{FieldManager: FieldManager}
		apps := cs.AppsV1()
		switch w.Kind {
		case "deployment":
			_, err = apps.Deployments(r.namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, opts)
		case "statefulset":
			_, err = apps.StatefulSets(r.namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, opts)
		case "daemonset":
			_, err = apps.DaemonSets(r.namespace).Patch(ctx, w.Name, types.StrategicMergePatchType, patch, opts)
		}
		if err != nil {
			return done, classify(fmt.Errorf("restart %s in namespace %s: %w", w, r.namespace, err))
		}
		done = append(done, w)
	}
	return done, nil
}

// preflight checks that every workload exists and that rotor may patch it.
func (r *restarter) preflight(ctx context.Context, cs k8s.Interface) error {
	for _, w := range r.workloads {
		if _, err := r.templateAnnotations(ctx, cs, w); err != nil {
			return err
		}
		if err := allowed(ctx, cs, r.namespace, "apps", w.Kind+"s", "patch", w.Name); err != nil {
			return err
		}
	}
	return nil
}

func names(ws []Workload) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = w.String()
	}
	return strings.Join(s, ", ")
}

// RestartConfig is the kubernetes_restart step's settings.
type RestartConfig struct {
	Namespace  string   `yaml:"namespace,required"`
	Workloads  []string `yaml:"workloads,required"` // deployment/NAME, statefulset/NAME, daemonset/NAME
	Kubeconfig string   `yaml:"kubeconfig"`
	Context    string   `yaml:"context"`
}

// RestartTarget is a configured kubernetes_restart step. It has no Revert: a restart has nothing
// to undo, and a rollback that needs the workloads restarted after the Secret is restored uses
// the kubernetes step's restart option instead.
type RestartTarget struct {
	conn *connection
	r    restarter
}

var _ rotor.Target = (*RestartTarget)(nil)

// RestartFactory returns the kubernetes_restart step type's factory.
func RestartFactory(deps Deps) target.Factory {
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c RestartConfig
		before := len(d.Errs())
		d.Decode(params, &c, at)
		checkNames(d, at, c.Namespace, "")
		t := &RestartTarget{conn: &connection{kubeconfig: c.Kubeconfig, context: c.Context},
			r: restarter{namespace: c.Namespace, clock: deps.clock()}}
		t.conn.validate(d, at)
		t.r.workloads = parseWorkloads(d, at+".workloads", c.Workloads)
		if c.Workloads != nil && len(c.Workloads) == 0 {
			d.Errorf(at+".workloads", "list at least one workload")
		}
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

// Preflight checks that the workloads exist and that rotor may patch them.
func (t *RestartTarget) Preflight(ctx context.Context, _ rotor.Deployment) error {
	cs, err := t.conn.client()
	if err != nil {
		return err
	}
	return t.r.preflight(ctx, cs)
}

// Publish restarts the workloads not yet restarted for this rotation.
func (t *RestartTarget) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	cs, err := t.conn.client()
	if err != nil {
		return rotor.Outcome{}, err
	}
	done, err := t.r.restart(ctx, cs, d.RotationID)
	if err != nil {
		return rotor.Outcome{}, err
	}
	if len(done) == 0 {
		return rotor.Outcome{Message: "already restarted for this rotation: " + names(t.r.workloads)}, nil
	}
	return rotor.Outcome{Changed: true, Message: "restarted " + names(done) + " in namespace " + t.r.namespace}, nil
}
