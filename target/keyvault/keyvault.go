// Package keyvault is the "keyvault" step type: it writes the new secret as a new version of an
// Azure Key Vault secret, through the official azsecrets client.
//
//   - name: kv
//     type: keyvault
//     vault_url: https://contoso-prod.vault.azure.net
//     secret_name: orders-api-client-secret
//
// Each version rotor writes carries the expiry and not-before of the credential, a content type
// and rotor's tags: managed-by: rotor, rotor-app-id, rotor-key-id and rotor-rotation-id. Tags of
// the current version that are not rotor's are carried over to the new one (Key Vault does not
// copy tags between versions), then the step's own tags are applied.
//
// Ownership: a secret whose current version has no managed-by: rotor tag is not rotor's; the step
// refuses to add a version to it unless adopt: true. A publish whose version is already the
// current one (same rotation id tag, same value) adds nothing.
//
// Soft delete: a secret name that was deleted cannot be written until it is recovered or purged.
// With recover_deleted: true the step recovers it (when it was rotor's, or adopt is set) and
// asks to be retried once Key Vault completes the recovery; without, it refuses and says so.
//
// Rollback (Reverter): Key Vault cannot delete a version. When the version this rotation wrote
// is still the current one, Revert first writes the previous value again as the newest version
// (consumers that read the latest version keep working), then disables the rotation's version.
//
// Retire (Retirer): with disable_previous: true, once the grace period is over the versions that
// hold the previous credential (tag rotor-key-id) are disabled, never the current version.
//
// The identity rotor uses needs the Key Vault Secrets Officer role (or an access policy with
// get, list, set and, for recover_deleted, recover) on the vault or the secret.
package keyvault

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/internal/fields"
)

// Type is the step type name.
const Type = "keyvault"

// Tags rotor writes on every version.
const (
	TagManagedBy   = "managed-by"
	ManagedByValue = "rotor"
	TagAppID       = "rotor-app-id"
	TagKeyID       = "rotor-key-id"
	TagRotationID  = "rotor-rotation-id"
)

// maxTags is Key Vault's limit of tags per secret version.
const maxTags = 15

var rotorTags = []string{TagManagedBy, TagAppID, TagKeyID, TagRotationID}

// Credential returns the identity rotor uses for Key Vault in a tenant (by tenant name).
type Credential func(tenant string) (azcore.TokenCredential, error)

// Config is the step's settings.
type Config struct {
	// VaultURL is the vault, e.g. https://contoso-prod.vault.azure.net.
	VaultURL string `yaml:"vault_url,required"`
	// SecretName is the secret's name: 1-127 letters, digits and hyphens.
	SecretName string `yaml:"secret_name,required"`
	// ContentType of the versions rotor writes; default: the current version's, else none.
	ContentType string `yaml:"content_type"`
	// Tags are added to rotor's own on every version rotor writes.
	Tags map[string]string `yaml:"tags"`
	// Adopt allows adding versions to a secret that is not rotor's.
	Adopt bool `yaml:"adopt"`
	// RecoverDeleted recovers a soft-deleted secret of that name before writing.
	RecoverDeleted bool `yaml:"recover_deleted"`
	// DisablePrevious disables the versions holding the previous credential after the grace
	// period.
	DisablePrevious bool `yaml:"disable_previous"`
	// DisableChallengeResourceVerification lets the vault's authentication challenge name a
	// resource other than the vault's own domain: private endpoints with custom domains, and
	// the simulator.
	DisableChallengeResourceVerification bool `yaml:"disable_challenge_resource_verification"`
}

var secretNameRe = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// Target is a configured keyvault step.
type Target struct {
	cfg       Config
	vaultHost string
	cred      Credential
	transport policy.Transporter

	mu      sync.Mutex
	clients map[string]*azsecrets.Client // by tenant name
}

var (
	_ rotor.Target   = (*Target)(nil)
	_ rotor.Reverter = (*Target)(nil)
	_ rotor.Retirer  = (*Target)(nil)
)

// Factory returns the keyvault step type's factory. cred gives the identity for a tenant (the
// engine passes Deployment.TenantName); transport nil means azcore's default HTTP client.
func Factory(cred func(tenant string) (azcore.TokenCredential, error), transport policy.Transporter) target.Factory {
	return func(d *config.Decoder, params *yaml.Node, at string) rotor.Target {
		var c Config
		before := len(d.Errs())
		d.Decode(params, &c, at)
		t := &Target{cfg: c, cred: cred, transport: transport, clients: map[string]*azsecrets.Client{}}
		if c.VaultURL != "" {
			u, err := url.Parse(c.VaultURL)
			switch {
			case err != nil || u.Host == "":
				d.Errorf(at+".vault_url", "%q is not a URL such as https://NAME.vault.azure.net", c.VaultURL)
			case u.Scheme != "https":
				d.Errorf(at+".vault_url", "%q: Key Vault is reached over https", c.VaultURL)
			case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil:
				d.Errorf(at+".vault_url", "%q: give the vault's URL only, without a path", c.VaultURL)
			default:
				t.vaultHost = u.Host
				t.cfg.VaultURL = u.Scheme + "://" + u.Host
			}
		}
		if c.SecretName != "" && !secretNameRe.MatchString(c.SecretName) {
			d.Errorf(at+".secret_name", "%q: 1-127 letters, digits and hyphens", c.SecretName)
		}
		if len(c.ContentType) > 255 {
			d.Errorf(at+".content_type", "at most 255 characters")
		}
		if len(c.Tags) > maxTags-len(rotorTags) {
			d.Errorf(at+".tags", "at most %d tags (Key Vault allows %d, rotor uses %d)", maxTags-len(rotorTags), maxTags, len(rotorTags))
		}
		for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
			switch {
			case slices.Contains(rotorTags, k) || strings.HasPrefix(k, "rotor-"):
				d.Errorf(at+".tags."+k, "is rotor's own tag")
			case len(k) > 512 || len(c.Tags[k]) > 512:
				d.Errorf(at+".tags."+k, "tag names and values are at most 512 characters")
			}
		}
		if cred == nil {
			// A registry built only to check configuration has no credentials: fine until used.
			t.cred = func(string) (azcore.TokenCredential, error) {
				return nil, errors.New("no Key Vault credential configured")
			}
		}
		if len(d.Errs()) > before {
			return nil
		}
		return t
	}
}

func (t *Target) client(tenant string) (*azsecrets.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[tenant]; ok {
		return c, nil
	}
	cred, err := t.cred(tenant)
	if err != nil {
		return nil, rotor.Permanent(fmt.Errorf("key vault credential for tenant %s: %w", tenant, err))
	}
	opts := &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Transport: t.transport,
			// The engine retries a failed step by error class, with backoff it keeps across
			// restarts; the SDK's own retries would sleep on the wall clock.
			Retry:     policy.RetryOptions{MaxRetries: -1},
			Telemetry: policy.TelemetryOptions{ApplicationID: "rotor"},
		},
		DisableChallengeResourceVerification: t.cfg.DisableChallengeResourceVerification,
	}
	c, err := azsecrets.NewClient(t.cfg.VaultURL, cred, opts)
	if err != nil {
		return nil, rotor.Permanent(fmt.Errorf("key vault client for %s: %w", t.cfg.VaultURL, err))
	}
	t.clients[tenant] = c
	return c, nil
}

func (t *Target) ref() string { return t.cfg.SecretName + " in vault " + t.vaultHost }

// kvError is a Key Vault error in one line: the operation, the status and the codes. It wraps
// the azcore.ResponseError, whose own message spans many lines.
type kvError struct {
	op      string
	status  int
	code    string
	inner   string
	wrapped error
}

func (e *kvError) Error() string {
	s := fmt.Sprintf("%s: Key Vault answered %d %s", e.op, e.status, e.code)
	if e.inner != "" {
		s += " (" + e.inner + ")"
	}
	switch {
	case e.status == http.StatusUnauthorized, e.status == http.StatusForbidden && e.inner != "SecretDisabled":
		s += ": rotor's identity needs the Key Vault Secrets Officer role (or get, list and set permissions) on the vault or the secret"
	}
	return s
}

func (e *kvError) Unwrap() error { return e.wrapped }

// wrap turns an azsecrets error into a classified, one-line error.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		ke := &kvError{op: op, status: re.StatusCode, code: re.ErrorCode, wrapped: err}
		ke.inner = innerCode(re)
		switch {
		case re.StatusCode == http.StatusTooManyRequests:
			return rotor.Throttled(ke, retryAfter(re.RawResponse))
		case re.StatusCode >= 500, re.StatusCode == http.StatusRequestTimeout:
			return rotor.Transient(ke)
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %w", ke, rotor.ErrNotFound)
		}
		return rotor.Permanent(ke)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return rotor.Permanent(fmt.Errorf("%s: %w", op, err))
	case errors.As(err, &netErr):
		return rotor.Transient(fmt.Errorf("%s: %w", op, err))
	}
	return rotor.Permanent(fmt.Errorf("%s: %w", op, err))
}

// innerCode reads error.innererror.code from a Key Vault error body (SecretDisabled,
// ObjectIsDeletedButRecoverable, ForbiddenByRbac, ...).
func innerCode(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return ""
	}
	var e struct {
		Error struct {
			InnerError struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.InnerError.Code
}

func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

func status(err error) (int, string) {
	var ke *kvError
	if errors.As(err, &ke) {
		return ke.status, ke.inner
	}
	return 0, ""
}

func isNotFound(err error) bool { s, _ := status(err); return s == http.StatusNotFound }

func isDisabled(err error) bool {
	s, inner := status(err)
	return s == http.StatusForbidden && inner == "SecretDisabled"
}

func tag(tags map[string]*string, k string) string {
	if v := tags[k]; v != nil {
		return *v
	}
	return ""
}

func ownedTags(tags map[string]*string) bool { return tag(tags, TagManagedBy) == ManagedByValue }

func (t *Target) notOwned() error {
	return fmt.Errorf("secret %s has no %s: %s tag: %w; set adopt: true to let rotor add versions to it", t.ref(), TagManagedBy, ManagedByValue, rotor.ErrNotOwned)
}

// current is what the secret's latest version is, as far as a publish needs it.
type current struct {
	exists   bool
	deleted  bool // soft-deleted (found in /deletedsecrets)
	disabled bool // the latest version is disabled (its value cannot be read)
	props    azsecrets.SecretProperties
	value    *string
}

// look reads the latest version, or the deleted secret, or nothing.
func (t *Target) look(ctx context.Context, c *azsecrets.Client) (current, error) {
	name := t.cfg.SecretName
	resp, err := c.GetSecret(ctx, name, "", nil)
	err = wrap("get secret "+t.ref(), err)
	switch {
	case err == nil:
		return current{exists: true, value: resp.Value, props: azsecrets.SecretProperties{
			Attributes: resp.Attributes, ContentType: resp.ContentType, ID: resp.ID, Tags: resp.Tags,
		}}, nil
	case isDisabled(err):
		latest, err := t.latestVersion(ctx, c)
		if err != nil {
			return current{}, err
		}
		if latest == nil {
			return current{}, fmt.Errorf("secret %s: the current version is disabled and no version is listed", t.ref())
		}
		return current{exists: true, disabled: true, props: *latest}, nil
	case !isNotFound(err):
		return current{}, err
	}
	del, err := c.GetDeletedSecret(ctx, name, nil)
	err = wrap("get deleted secret "+t.ref(), err)
	switch {
	case err == nil:
		return current{deleted: true, props: azsecrets.SecretProperties{Tags: del.Tags, ID: del.ID}}, nil
	case isNotFound(err):
		return current{}, nil
	case rotor.ClassOf(err) == rotor.ClassPermanent:
		// Not allowed to read deleted secrets: a soft-deleted name shows when writing.
		return current{}, nil
	}
	return current{}, err
}

// versions lists every version's properties, oldest first.
func (t *Target) versions(ctx context.Context, c *azsecrets.Client) ([]*azsecrets.SecretProperties, error) {
	var out []*azsecrets.SecretProperties
	pager := c.NewListSecretPropertiesVersionsPager(t.cfg.SecretName, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, wrap("list versions of secret "+t.ref(), err)
		}
		out = append(out, page.Value...)
	}
	slices.SortStableFunc(out, func(a, b *azsecrets.SecretProperties) int { return created(a).Compare(created(b)) })
	return out, nil
}

func created(p *azsecrets.SecretProperties) time.Time {
	if p.Attributes != nil && p.Attributes.Created != nil {
		return *p.Attributes.Created
	}
	return time.Time{}
}

func enabled(p *azsecrets.SecretProperties) bool {
	return p.Attributes == nil || p.Attributes.Enabled == nil || *p.Attributes.Enabled
}

func version(p *azsecrets.SecretProperties) string {
	if p.ID == nil {
		return ""
	}
	return p.ID.Version()
}

// currentVersion returns the id of the version consumers get when they ask for the latest one.
// Key Vault's creation times have a resolution of one second: when the current version is
// disabled (its value cannot be read), the newest by creation time stands in for it.
func (t *Target) currentVersion(ctx context.Context, c *azsecrets.Client, vs []*azsecrets.SecretProperties) (string, error) {
	resp, err := c.GetSecret(ctx, t.cfg.SecretName, "", nil)
	err = wrap("get secret "+t.ref(), err)
	switch {
	case err == nil && resp.ID != nil:
		return resp.ID.Version(), nil
	case err == nil, isDisabled(err), isNotFound(err):
		if len(vs) == 0 {
			return "", nil
		}
		return version(vs[len(vs)-1]), nil
	}
	return "", err
}

func (t *Target) latestVersion(ctx context.Context, c *azsecrets.Client) (*azsecrets.SecretProperties, error) {
	vs, err := t.versions(ctx, c)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	return vs[len(vs)-1], nil
}

// Preflight reads the secret: it checks that rotor is authorised, that the secret is rotor's
// (or adopt is set) and that a soft-deleted name will be recovered.
func (t *Target) Preflight(ctx context.Context, d rotor.Deployment) error {
	c, err := t.client(d.TenantName)
	if err != nil {
		return err
	}
	cur, err := t.look(ctx, c)
	if err != nil {
		return err
	}
	return t.checkOwner(cur)
}

func (t *Target) checkOwner(cur current) error {
	if (cur.exists || cur.deleted) && !ownedTags(cur.props.Tags) && !t.cfg.Adopt {
		return t.notOwned()
	}
	if cur.deleted && !t.cfg.RecoverDeleted {
		return rotor.Permanent(fmt.Errorf("secret %s is soft-deleted: set recover_deleted: true to let rotor recover it, or purge it", t.ref()))
	}
	return nil
}

// undo names the version a publish wrote.
type undo struct {
	Version string `json:"version"`
}

func encodeUndo(v string) secret.Value {
	b, _ := json.Marshal(undo{Version: v}) // a string field: cannot fail
	return secret.FromBytes(b)
}

func short(v string) string {
	if len(v) > 8 {
		return v[:8]
	}
	return v
}

// Publish writes the value as a new version, unless the current version is this rotation's.
func (t *Target) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	if err := ctx.Err(); err != nil {
		return rotor.Outcome{}, err
	}
	if d.Value.IsZero() {
		return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("secret %s: %w", t.ref(), fields.ErrNoValue))
	}
	c, err := t.client(d.TenantName)
	if err != nil {
		return rotor.Outcome{}, err
	}
	cur, err := t.look(ctx, c)
	if err != nil {
		return rotor.Outcome{}, err
	}
	if err := t.checkOwner(cur); err != nil {
		return rotor.Outcome{}, err
	}
	if cur.deleted {
		if _, err := c.RecoverDeletedSecret(ctx, t.cfg.SecretName, nil); err != nil {
			return rotor.Outcome{}, wrap("recover deleted secret "+t.ref(), err)
		}
		return rotor.Outcome{}, rotor.Transient(fmt.Errorf("secret %s was soft-deleted: rotor started its recovery; the step will write once Key Vault completes it", t.ref()))
	}
	if cur.exists && !cur.disabled && tag(cur.props.Tags, TagRotationID) == d.RotationID && ownedTags(cur.props.Tags) &&
		cur.value != nil && secret.New(*cur.value).Equal(d.Value) {
		v := version(&cur.props)
		return rotor.Outcome{Message: "current version " + short(v) + " of secret " + t.ref() + " is this rotation's", Undo: encodeUndo(v)}, nil
	}
	tags, err := t.tags(cur, d)
	if err != nil {
		return rotor.Outcome{}, err
	}
	params := azsecrets.SetSecretParameters{
		Value:            to(d.Value.Reveal()),
		Tags:             tags,
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to(true)},
	}
	if ct := t.contentType(cur); ct != "" {
		params.ContentType = &ct
	}
	if !d.NotBefore.IsZero() {
		params.SecretAttributes.NotBefore = to(d.NotBefore.UTC())
	}
	if !d.ExpiresAt.IsZero() {
		params.SecretAttributes.Expires = to(d.ExpiresAt.UTC())
	}
	resp, err := c.SetSecret(ctx, t.cfg.SecretName, params, nil)
	if err != nil {
		err = wrap("set secret "+t.ref(), err)
		s, inner := status(err)
		switch {
		case s == http.StatusConflict && inner == "ObjectIsDeletedButRecoverable" && !t.cfg.RecoverDeleted:
			return rotor.Outcome{}, rotor.Permanent(fmt.Errorf("secret %s is soft-deleted: set recover_deleted: true to let rotor recover it, or purge it", t.ref()))
		case s == http.StatusConflict && inner == "ObjectIsDeletedButRecoverable":
			// rotor may not read deleted secrets, so it could not check the owner: the
			// recovered secret's owner is checked by the next attempt.
			if _, err := c.RecoverDeletedSecret(ctx, t.cfg.SecretName, nil); err != nil {
				return rotor.Outcome{}, wrap("recover deleted secret "+t.ref(), err)
			}
			return rotor.Outcome{}, rotor.Transient(fmt.Errorf("secret %s was soft-deleted: rotor started its recovery; the step will write once Key Vault completes it", t.ref()))
		case s == http.StatusConflict:
			// Being deleted or recovered since we looked: worth another try.
			return rotor.Outcome{}, rotor.Transient(err)
		}
		return rotor.Outcome{}, err
	}
	v := ""
	if resp.ID != nil {
		v = resp.ID.Version()
	}
	msg := "wrote version " + short(v) + " of secret " + t.ref()
	if cur.exists && !ownedTags(cur.props.Tags) {
		msg = "adopted secret " + t.ref() + ": wrote version " + short(v)
	}
	return rotor.Outcome{Changed: true, Message: msg, Undo: encodeUndo(v)}, nil
}

func to[T any](v T) *T { return &v }

func (t *Target) contentType(cur current) string {
	if t.cfg.ContentType != "" {
		return t.cfg.ContentType
	}
	if cur.props.ContentType != nil {
		return *cur.props.ContentType
	}
	return ""
}

// tags returns the new version's tags: the current version's except rotor's, the step's, then
// rotor's.
func (t *Target) tags(cur current, d rotor.Deployment) (map[string]*string, error) {
	out := map[string]*string{}
	for k, v := range cur.props.Tags {
		if !slices.Contains(rotorTags, k) {
			out[k] = v
		}
	}
	for k, v := range t.cfg.Tags {
		out[k] = to(v)
	}
	out[TagManagedBy] = to(ManagedByValue)
	out[TagAppID] = to(d.AppID)
	out[TagKeyID] = to(d.KeyID)
	out[TagRotationID] = to(d.RotationID)
	if len(out) > maxTags {
		return nil, rotor.Permanent(fmt.Errorf("secret %s: the new version would carry %d tags, Key Vault allows %d: remove tags from the current version or the step", t.ref(), len(out), maxTags))
	}
	return out, nil
}

// Revert rolls back the version this rotation wrote: when it is the current one, the previous
// value is written again as the newest version, then the rotation's version is disabled. Without
// undo it finds the rotation's versions by their tag.
func (t *Target) Revert(ctx context.Context, d rotor.Deployment, undoVal secret.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := t.client(d.TenantName)
	if err != nil {
		return err
	}
	var u undo
	if !undoVal.IsZero() {
		if err := json.Unmarshal(undoVal.RevealBytes(), &u); err != nil {
			return rotor.Permanent(fmt.Errorf("secret %s: revert: undo state does not parse", t.ref()))
		}
	}
	vs, err := t.versions(ctx, c)
	if err != nil {
		return err
	}
	ours := func(p *azsecrets.SecretProperties) bool {
		if u.Version != "" {
			return version(p) == u.Version
		}
		return ownedTags(p.Tags) && tag(p.Tags, TagRotationID) == d.RotationID
	}
	if len(vs) == 0 {
		return nil
	}
	cur, err := t.currentVersion(ctx, c, vs)
	if err != nil {
		return err
	}
	if i := slices.IndexFunc(vs, func(p *azsecrets.SecretProperties) bool { return version(p) == cur }); i >= 0 && ours(vs[i]) {
		if err := t.republishPrevious(ctx, c, vs, d, ours); err != nil {
			return err
		}
	}
	for _, p := range vs {
		if ours(p) && enabled(p) {
			if err := t.disable(ctx, c, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// republishPrevious writes again, as the newest version, the value of the version that was
// current before the rotation's: the newest enabled version holding the previous credential,
// else the newest enabled version older than the rotation's. With none, there is nothing to
// put back.
func (t *Target) republishPrevious(ctx context.Context, c *azsecrets.Client, vs []*azsecrets.SecretProperties, d rotor.Deployment, ours func(*azsecrets.SecretProperties) bool) error {
	first := slices.IndexFunc(vs, ours)
	var prev *azsecrets.SecretProperties
	for i := len(vs) - 1; i >= 0; i-- {
		p := vs[i]
		if ours(p) || !enabled(p) {
			continue
		}
		if d.PreviousKeyID != "" && tag(p.Tags, TagKeyID) == d.PreviousKeyID {
			prev = p
			break
		}
		if prev == nil && i < first {
			prev = p
		}
	}
	if prev == nil {
		return nil
	}
	old, err := c.GetSecret(ctx, t.cfg.SecretName, version(prev), nil)
	if err != nil {
		return wrap("revert: get previous version of secret "+t.ref(), err)
	}
	attrs := &azsecrets.SecretAttributes{Enabled: to(true)}
	if prev.Attributes != nil {
		attrs.NotBefore, attrs.Expires = prev.Attributes.NotBefore, prev.Attributes.Expires
	}
	_, err = c.SetSecret(ctx, t.cfg.SecretName, azsecrets.SetSecretParameters{
		Value: old.Value, ContentType: prev.ContentType, Tags: prev.Tags, SecretAttributes: attrs,
	}, nil)
	return wrap("revert: write previous value of secret "+t.ref(), err)
}

func (t *Target) disable(ctx context.Context, c *azsecrets.Client, p *azsecrets.SecretProperties) error {
	_, err := c.UpdateSecretProperties(ctx, t.cfg.SecretName, version(p), azsecrets.UpdateSecretPropertiesParameters{
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to(false)},
	}, nil)
	return wrap("disable version "+short(version(p))+" of secret "+t.ref(), err)
}

// Retire disables, with disable_previous, the enabled versions rotor wrote for the previous
// credential (tag rotor-key-id = d.PreviousKeyID). It never disables the current version.
func (t *Target) Retire(ctx context.Context, d rotor.Deployment) error {
	if !t.cfg.DisablePrevious || d.PreviousKeyID == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := t.client(d.TenantName)
	if err != nil {
		return err
	}
	vs, err := t.versions(ctx, c)
	if err != nil || len(vs) == 0 {
		return err
	}
	cur, err := t.currentVersion(ctx, c, vs)
	if err != nil {
		return err
	}
	for _, p := range vs {
		if version(p) != cur && enabled(p) && ownedTags(p.Tags) && tag(p.Tags, TagKeyID) == d.PreviousKeyID && tag(p.Tags, TagRotationID) != d.RotationID {
			if err := t.disable(ctx, c, p); err != nil {
				return err
			}
		}
	}
	return nil
}
