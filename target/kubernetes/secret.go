package kubernetes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/internal/fields"
)

// Type is the Secret step type.
const Type = "kubernetes"

// Config is the kubernetes step's settings.
type Config struct {
	Namespace string `yaml:"namespace,required"`
	// SecretName is the Secret's name. (The step's own name is "name".)
	SecretName string `yaml:"secret_name,required"`
	// Key under which the secret value is written.
	Key string `yaml:"key,required"`
	// ExtraKeys are other keys written with templates of the deployment's fields, such as
	// AZURE_CLIENT_ID: "{{.AppID}}" and AZURE_TENANT_ID: "{{.TenantID}}".
	ExtraKeys map[string]string `yaml:"extra_keys"`
	// Adopt allows writing to an existing Secret without rotor's label; rotor adds the label.
	Adopt bool `yaml:"adopt"`
	// Restart lists workloads of the namespace to roll out after the Secret changed:
	// deployment/NAME, statefulset/NAME, daemonset/NAME.
	Restart []string `yaml:"restart"`
	// Kubeconfig and Context select the cluster; without them rotor uses its in-cluster
	// service account.
	Kubeconfig string `yaml:"kubeconfig"`
	Context    string `yaml:"context"`
}

type extraKey struct {
	key string
	tpl *fields.Template
}

// Target is a configured kubernetes step.
type Target struct {
	conn      *connection
	namespace string
	name      string
	key       string
	extra     []extraKey
	adopt     bool
	r         restarter
}

var (
	_ rotor.Target   = (*Target)(nil)
	_ rotor.Reverter = (*Target)(nil)
)

// Factory returns the kubernetes step type's factory.
func Factory(deps Deps) target.Factory {
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		t := &Target{
			conn:      &connection{kubeconfig: c.Kubeconfig, context: c.Context},
			namespace: c.Namespace, name: c.SecretName, key: c.Key, adopt: c.Adopt,
			r: restarter{namespace: c.Namespace, clock: deps.clock()},
		}
		checkNames(d, at, c.Namespace, c.SecretName)
		t.conn.validate(d, at)
		if c.Key != "" {
			for _, m := range validation.IsConfigMapKey(c.Key) {
				d.Errorf(at+".key", "%q: %s", c.Key, m)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(c.ExtraKeys)) {
			p := at + ".extra_keys." + k
			if msgs := validation.IsConfigMapKey(k); len(msgs) > 0 {
				d.Errorf(p, "%s", msgs[0])
				continue
			}
			if k == c.Key {
				d.Errorf(p, "is the secret's own key")
				continue
			}
			tpl, err := fields.ParseTemplate(c.ExtraKeys[k])
			if err != nil {
				d.Errorf(p, "%v", err)
				continue
			}
			t.extra = append(t.extra, extraKey{key: k, tpl: tpl})
		}
		t.r.workloads = parseWorkloads(d, at+".restart", c.Restart)
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

func (t *Target) ref() string { return t.namespace + "/" + t.name }

func owned(s *corev1.Secret) bool { return s.Labels[ManagedByLabel] == ManagedByValue }

func (t *Target) notOwned() error {
	return fmt.Errorf("secret %s exists without label %s=%s: %w; set adopt: true to let rotor manage it", t.ref(), ManagedByLabel, ManagedByValue, rotor.ErrNotOwned)
}

// Preflight checks that rotor may read and write the Secret, that an existing one is rotor's
// (or adopt is set) and not immutable, and that the workloads to restart exist and may be patched.
func (t *Target) Preflight(ctx context.Context, d rotor.Deployment) error {
	cs, err := t.conn.client()
	if err != nil {
		return err
	}
	s, err := cs.CoreV1().Secrets(t.namespace).Get(ctx, t.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if err := allowed(ctx, cs, t.namespace, "", "secrets", "create", ""); err != nil {
			return err
		}
	case err != nil:
		return classify(fmt.Errorf("secret %s: %w", t.ref(), err))
	default:
		if !owned(s) && !t.adopt {
			return t.notOwned()
		}
		if s.Immutable != nil && *s.Immutable {
			return rotor.Permanent(fmt.Errorf("secret %s is immutable: rotor cannot update it", t.ref()))
		}
		if err := allowed(ctx, cs, t.namespace, "", "secrets", "update", t.name); err != nil {
			return err
		}
	}
	for _, x := range t.extra {
		if _, err := x.tpl.Render(d); err != nil {
			return rotor.Permanent(fmt.Errorf("extra_keys.%s: %w", x.key, err))
		}
	}
	return t.r.preflight(ctx, cs)
}

// desired returns the keys the step writes.
func (t *Target) desired(d rotor.Deployment) (map[string][]byte, error) {
	out := map[string][]byte{t.key: d.Value.RevealBytes()}
	for _, x := range t.extra {
		v, err := x.tpl.Render(d)
		if err != nil {
			return nil, rotor.Permanent(fmt.Errorf("extra_keys.%s: %w", x.key, err))
		}
		out[x.key] = []byte(v)
	}
	return out, nil
}

func (t *Target) annotations(d rotor.Deployment) map[string]string {
	return map[string]string{
		AnnotationRotationID: d.RotationID,
		AnnotationKeyID:      d.KeyID,
		AnnotationAppID:      d.AppID,
		AnnotationTenantID:   d.TenantID,
	}
}

// undo is what Revert needs: the keys' previous values (nil: absent) and annotations. The
// engine seals it.
type undo struct {
	Created     bool              `json:"created,omitempty"`
	Keys        map[string][]byte `json:"keys"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Value       string            `json:"value"` // sha256 of the value written
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Publish writes the keys, creating the Secret when missing, and restarts the workloads.
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	if d.Value.IsZero() {
		return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("secret %s: %w", t.ref(), fields.ErrNoValue))
	}
	cs, err := t.conn.client()
	if err != nil {
		return rotor.Outcome{}, err
	}
	want, err := t.desired(d)
	if err != nil {
		return rotor.Outcome{}, err
	}
	u := undo{Keys: map[string][]byte{}, Value: digest(d.Value.RevealBytes())}
	var changed bool
	var msg string
	for attempt := 0; ; attempt++ {
		changed, msg, err = t.write(ctx, cs, d, want, &u)
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue // lost a race with another writer: read again
		}
		if err != nil {
			return rotor.Outcome{}, err
		}
		break
	}
	restarted, err := t.r.restart(ctx, cs, d.RotationID)
	if err != nil {
		return rotor.Outcome{}, fmt.Errorf("secret %s is written; %w", t.ref(), err)
	}
	if len(restarted) > 0 {
		changed = true
		msg += "; restarted " + names(restarted)
	}
	o := rotor.Outcome{Changed: changed, Message: msg}
	if u.Keys != nil {
		b, _ := json.Marshal(u) // plain fields: cannot fail
		o.Undo = secret.FromBytes(b)
	}
	return o, nil
}

// write makes the Secret hold want. It fills u with what it replaced; it sets u.Keys to nil when
// the Secret held want already and what it held before is unknown.
func (t *Target) write(ctx context.Context, cs k8s.Interface, d rotor.Deployment, want map[string][]byte, u *undo) (bool, string, error) {
	secrets := cs.CoreV1().Secrets(t.namespace)
	s, err := secrets.Get(ctx, t.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ns := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: t.name, Namespace: t.namespace,
				Labels:      map[string]string{ManagedByLabel: ManagedByValue},
				Annotations: t.annotations(d),
			},
			Type: corev1.SecretTypeOpaque,
			Data: want,
		}
		if _, err := secrets.Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return false, "", err
			}
			return false, "", classify(fmt.Errorf("create secret %s: %w", t.ref(), err))
		}
		u.Created = true
		for k := range want {
			u.Keys[k] = nil
		}
		return true, "created secret " + t.ref() + " with key " + t.key, nil
	}
	if err != nil {
		return false, "", classify(fmt.Errorf("secret %s: %w", t.ref(), err))
	}
	if !owned(s) && !t.adopt {
		return false, "", t.notOwned()
	}
	same := owned(s) && s.Annotations[AnnotationRotationID] == d.RotationID
	for k, v := range want {
		if cur, ok := s.Data[k]; !ok || !bytes.Equal(cur, v) {
			same = false
		}
	}
	if same {
		u.Keys = nil // what was there before this rotation is gone
		return false, "secret " + t.ref() + " already holds this rotation's value", nil
	}
	if s.Immutable != nil && *s.Immutable {
		return false, "", rotor.Permanent(fmt.Errorf("secret %s is immutable: rotor cannot update it", t.ref()))
	}
	u.Annotations = map[string]string{}
	for k := range t.annotations(d) {
		u.Annotations[k] = s.Annotations[k]
	}
	for k := range want {
		if cur, ok := s.Data[k]; ok {
			u.Keys[k] = cur
		} else {
			u.Keys[k] = nil
		}
	}
	s = s.DeepCopy()
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	maps.Copy(s.Data, want)
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	adopted := !owned(s)
	s.Labels[ManagedByLabel] = ManagedByValue
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	maps.Copy(s.Annotations, t.annotations(d))
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		if apierrors.IsConflict(err) {
			return false, "", err
		}
		return false, "", classify(fmt.Errorf("update secret %s: %w", t.ref(), err))
	}
	msg := "updated key " + t.key + " of secret " + t.ref()
	if adopted {
		msg = "adopted secret " + t.ref() + " and updated key " + t.key
	}
	return true, msg, nil
}

// Revert restores the keys' previous values (deleting the Secret when this rotation created it)
// and, when the step restarts workloads, restarts them again. It works from undo alone and
// refuses when someone changed the key since.
func (t *Target) Revert(ctx context.Context, d rotor.Deployment, undoVal secret.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cs, err := t.conn.client()
	if err != nil {
		return err
	}
	secrets := cs.CoreV1().Secrets(t.namespace)
	if undoVal.IsZero() {
		s, err := secrets.Get(ctx, t.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return classify(fmt.Errorf("secret %s: %w", t.ref(), err))
		}
		if s.Annotations[AnnotationRotationID] != d.RotationID {
			return nil // the publish never wrote
		}
		return rotor.Permanent(fmt.Errorf("secret %s holds this rotation's value but the publish left no record of the previous one; restore it by hand", t.ref()))
	}
	var u undo
	if err := json.Unmarshal(undoVal.RevealBytes(), &u); err != nil || u.Value == "" {
		return rotor.Permanent(fmt.Errorf("secret %s: revert: undo state does not parse", t.ref()))
	}
	for attempt := 0; ; attempt++ {
		err = t.revert(ctx, secrets, d, u)
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if len(t.r.workloads) > 0 {
		if _, err := t.r.restart(ctx, cs, d.RotationID+"/revert"); err != nil {
			return fmt.Errorf("secret %s is restored; %w", t.ref(), err)
		}
	}
	return nil
}

func (t *Target) revert(ctx context.Context, secrets interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Secret, error)
	Update(context.Context, *corev1.Secret, metav1.UpdateOptions) (*corev1.Secret, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}, d rotor.Deployment, u undo) error {
	s, err := secrets.Get(ctx, t.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if u.Created {
			return nil
		}
		return rotor.Permanent(fmt.Errorf("secret %s: revert: the secret is gone", t.ref()))
	}
	if err != nil {
		return classify(fmt.Errorf("secret %s: %w", t.ref(), err))
	}
	cur, has := s.Data[t.key]
	prev := u.Keys[t.key]
	switch {
	case has && digest(cur) == u.Value:
		// ours: revert below
	case prev == nil && !has, prev != nil && has && bytes.Equal(cur, prev):
		return nil // reverted already
	default:
		return rotor.Permanent(fmt.Errorf("secret %s: revert: key %s changed since rotor wrote it; not reverting", t.ref(), t.key))
	}
	if u.Created {
		rv := s.ResourceVersion
		err := secrets.Delete(ctx, t.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		if err != nil && !apierrors.IsNotFound(err) {
			if apierrors.IsConflict(err) {
				return err
			}
			return classify(fmt.Errorf("delete secret %s: %w", t.ref(), err))
		}
		return nil
	}
	s = s.DeepCopy()
	for k, v := range u.Keys {
		if v == nil {
			delete(s.Data, k)
		} else {
			s.Data[k] = v
		}
	}
	for k, v := range u.Annotations {
		if v == "" {
			delete(s.Annotations, k)
		} else {
			s.Annotations[k] = v
		}
	}
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		if apierrors.IsConflict(err) {
			return err
		}
		return classify(fmt.Errorf("update secret %s: %w", t.ref(), err))
	}
	return nil
}
