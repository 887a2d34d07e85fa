// Package kubernetes holds two step types:
//
//   - "kubernetes" writes the new secret under a key of a Secret (and, optionally, other keys
//     from templates such as {{.AppID}}), then rolls out named workloads;
//   - "kubernetes_restart" only rolls out named workloads, as `kubectl rollout restart` does.
//
// A Secret rotor creates carries the label app.kubernetes.io/managed-by: rotor and annotations
// naming the rotation, the credential and the app. rotor refuses to write a Secret without that
// label unless the step says adopt: true (and then adds the label). A publish that would change
// nothing does not write. The rollout restart sets the pod template annotation
// kubectl.kubernetes.io/restartedAt, as kubectl does, together with rotor.dev/restarted-for
// naming the rotation: a workload already restarted for the rotation is not restarted again.
//
// rotor reaches the API server with its in-cluster service account, or with a kubeconfig file
// and context. The permissions it needs: get, create and update on secrets, get and patch on the
// named deployments, statefulsets and daemonsets, in the step's namespace; Preflight checks them
// with SelfSubjectAccessReviews.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	authv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
)

// Labels and annotations rotor reads and writes.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "rotor"

	AnnotationRotationID = "rotor.dev/rotation-id"
	AnnotationKeyID      = "rotor.dev/key-id"
	AnnotationAppID      = "rotor.dev/app-id"
	AnnotationTenantID   = "rotor.dev/tenant-id"

	// AnnotationRestartedAt is the pod template annotation `kubectl rollout restart` sets.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationRestartedFor names the rotation a rollout restart was made for.
	AnnotationRestartedFor = "rotor.dev/restarted-for"

	// FieldManager is the field manager of rotor's writes.
	FieldManager = "rotor"
)

// Deps are the step types' dependencies.
type Deps struct {
	// Clock gives the restartedAt time. Default: the real clock.
	Clock clockwork.Clock
}

func (d Deps) clock() clockwork.Clock {
	if d.Clock == nil {
		return clockwork.NewRealClock()
	}
	return d.Clock
}

// connection is how a step reaches the API server; the client is made on first use (a factory
// does no I/O) and kept.
type connection struct {
	kubeconfig, context string
	mu                  sync.Mutex
	cs                  k8s.Interface
}

func (c *connection) validate(d *config.Decoder, at string) {
	if c.context != "" && c.kubeconfig == "" {
		d.Errorf(at+".context", "needs kubeconfig (without kubeconfig rotor uses its in-cluster service account)")
	}
}

func (c *connection) client() (k8s.Interface, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cs != nil {
		return c.cs, nil
	}
	var cfg *rest.Config
	var err error
	if c.kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, rotor.Permanent(fmt.Errorf("in-cluster configuration (set kubeconfig when rotor runs outside the cluster): %w", err))
		}
	} else {
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.kubeconfig}
		over := &clientcmd.ConfigOverrides{CurrentContext: c.context}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, over).ClientConfig()
		if err != nil {
			return nil, rotor.Permanent(fmt.Errorf("kubeconfig %s: %w", c.kubeconfig, err))
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "rotor"
	cs, err := k8s.NewForConfig(cfg)
	if err != nil {
		return nil, rotor.Permanent(fmt.Errorf("kubernetes client: %w", err))
	}
	c.cs = cs
	return cs, nil
}

// classify marks an API error with its class so that the engine retries what is worth it.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var netErr net.Error
	switch {
	case apierrors.IsTooManyRequests(err):
		after := time.Duration(0)
		if s, ok := apierrors.SuggestsClientDelay(err); ok {
			after = time.Duration(s) * time.Second
		}
		return rotor.Throttled(err, after)
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsInternalError(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err), errors.As(err, &netErr):
		return rotor.Transient(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return rotor.Permanent(err)
}

// allowed asks the API server whether rotor may do verb on resource (group "" for core) in
// namespace, without doing it.
func allowed(ctx context.Context, cs k8s.Interface, namespace, group, resource, verb, name string) error {
	review := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authv1.ResourceAttributes{Namespace: namespace, Group: group, Resource: resource, Verb: verb, Name: name},
	}}
	res, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return classify(fmt.Errorf("check permission to %s %s: %w", verb, resource, err))
	}
	if !res.Status.Allowed {
		what := resource
		if group != "" {
			what += "." + group
		}
		return rotor.Permanent(fmt.Errorf("rotor may not %s %s %s/%s: grant it in a Role of namespace %s", verb, what, namespace, name, namespace))
	}
	return nil
}

func checkNames(d *config.Decoder, at, namespace, name string) {
	if namespace != "" {
		for _, m := range validation.IsDNS1123Label(namespace) {
			d.Errorf(at+".namespace", "%q: %s", namespace, m)
		}
	}
	if name != "" {
		for _, m := range validation.IsDNS1123Subdomain(name) {
			d.Errorf(at+".secret_name", "%q: %s", name, m)
		}
	}
}
