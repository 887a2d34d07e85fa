package keyvault

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/secret"
)

// Config describes a vault.
type Config struct {
	// Name of the vault: 3-24 characters, letters, digits and hyphens, starting with a letter,
	// not ending with a hyphen, without consecutive hyphens.
	Name string
	// TenantID is the directory the vault belongs to; tokens from other tenants are refused.
	TenantID string
	// Authority is the base URL of the Entra token endpoint, scheme and host only (e.g.
	// https://127.0.0.1:8443). The 401 challenge sends clients to Authority + "/" + TenantID.
	// It has no default: a default would send clients to the real Azure.
	Authority string
	// Authenticator validates bearer tokens. Required.
	Authenticator Authenticator
	// Clock drives timestamps, soft-delete retention and propagation delays. Default: real.
	Clock clockwork.Clock
	// SoftDeleteRetentionDays: 7 to 90; default 90. Soft delete cannot be turned off.
	SoftDeleteRetentionDays int
	// PurgeProtection forbids purging deleted secrets before their retention ends.
	PurgeProtection bool
	// Region reported in x-ms-keyvault-region and in 403 messages. Default "local".
	Region string
	// SubscriptionID and ResourceGroup form the vault's Azure resource id in 403 messages.
	// Defaults: the all-zero GUID and "rotor-sim".
	SubscriptionID string
	ResourceGroup  string
	// BaseURL is the vault URL used in object identifiers ("id", "recoveryId", "nextLink").
	// Default: the scheme and Host of each request, like a real vault's DNS name.
	BaseURL string
	// Propagation delays asynchronous effects; the zero value makes them immediate.
	Propagation Propagation
}

// Propagation is how long Key Vault takes before an asynchronous change becomes visible.
type Propagation struct {
	// Delete: a deleted secret vanishes from /secrets at once but appears in /deletedsecrets
	// only after this; meanwhile its name is "being deleted".
	Delete time.Duration
	// Recover: a recovered secret leaves /deletedsecrets at once but appears in /secrets only
	// after this.
	Recover time.Duration
	// Purge: a purged name stays unusable (409 on set or restore) for this long.
	Purge time.Duration
	// RoleAssignment: a new role assignment takes effect after this. Azure documents that role
	// assignment changes can take several minutes to apply.
	RoleAssignment time.Duration
}

// RealisticPropagation approximates what Microsoft's recorded Key Vault sessions show: deletes,
// recoveries and purges complete a few seconds after they are accepted.
var RealisticPropagation = Propagation{Delete: 5 * time.Second, Recover: 5 * time.Second, Purge: 5 * time.Second}

const (
	defaultRetentionDays = 90
	maxValueBytes        = 25 * 1024 // "a maximum size of 25k bytes"
	maxContentTypeLen    = 255
	maxTags              = 15
	maxTagNameLen        = 512
	maxTagValueLen       = 512
	maxNameLen           = 127
	maxBackupVersions    = 500
)

var (
	vaultNameRe  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)
	objectNameRe = regexp.MustCompile(`^[0-9a-zA-Z-]+$`)
	versionRe    = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
)

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
	if c.SoftDeleteRetentionDays == 0 {
		c.SoftDeleteRetentionDays = defaultRetentionDays
	}
	if c.Region == "" {
		c.Region = "local"
	}
	if c.SubscriptionID == "" {
		c.SubscriptionID = "00000000-0000-0000-0000-000000000000"
	}
	if c.ResourceGroup == "" {
		c.ResourceGroup = "rotor-sim"
	}
	c.Authority = strings.TrimSuffix(c.Authority, "/")
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	return c
}

func (c Config) validate() error {
	var errs []error
	if !vaultNameRe.MatchString(c.Name) || strings.Contains(c.Name, "--") {
		errs = append(errs, fmt.Errorf("name %q: want 3-24 letters, digits and hyphens, starting with a letter, not ending with a hyphen, no consecutive hyphens", c.Name))
	}
	if c.TenantID == "" {
		errs = append(errs, errors.New("tenant_id: required"))
	}
	if u, err := url.Parse(c.Authority); c.Authority == "" || err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("authority %q: want https://host[:port] without a path (azsecrets reads the tenant from the first path segment of the challenge)", c.Authority))
	}
	if c.Authenticator == nil {
		errs = append(errs, errors.New("authenticator: required"))
	}
	if c.SoftDeleteRetentionDays < 7 || c.SoftDeleteRetentionDays > 90 {
		errs = append(errs, fmt.Errorf("soft_delete_retention_days %d: want 7 to 90", c.SoftDeleteRetentionDays))
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			errs = append(errs, fmt.Errorf("base_url %q: want scheme://host[:port]", c.BaseURL))
		}
	}
	p := c.Propagation
	if p.Delete < 0 || p.Recover < 0 || p.Purge < 0 || p.RoleAssignment < 0 {
		errs = append(errs, errors.New("propagation: delays must not be negative"))
	}
	return errors.Join(errs...)
}

// Vault is one simulated key vault. It is safe for concurrent use.
type Vault struct {
	cfg   Config
	clock clockwork.Clock

	mu          sync.Mutex
	objects     map[string]*object    // secrets, by lower-case name: Key Vault names are case-insensitive
	keys        map[string]*keyObject // keys, by lower-case name
	assignments []RoleAssignment
}

type objState int

const (
	stateActive  objState = iota // in /secrets (from visibleAt: recovering before)
	stateDeleted                 // in /deletedsecrets (from visibleAt: being deleted before)
	statePurging                 // gone, name unusable until freeAt
)

type object struct {
	name      string              // as first created
	versions  map[string]*version // by lower-case version id
	order     []string            // version ids in creation order; the last is current
	state     objState
	visibleAt time.Time // when the current state becomes observable
	deletedAt time.Time
	purgeAt   time.Time // scheduled purge date of a deleted secret
	freeAt    time.Time // when a purging name becomes usable
}

type version struct {
	id          string
	value       []byte
	contentType string
	tags        map[string]string // nil: never set; empty: set to {}
	enabled     bool
	nbf, exp    *int64 // IntDate
	created     int64
	updated     int64
}

func (o *object) current() *version { return o.versions[o.order[len(o.order)-1]] }

// New creates a vault. Values are held in memory only.
func New(cfg Config) (*Vault, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("key vault %q: %w", cfg.Name, err)
	}
	return &Vault{cfg: cfg, clock: cfg.Clock, objects: map[string]*object{}, keys: map[string]*keyObject{}}, nil
}

// Name returns the vault's name.
func (v *Vault) Name() string { return v.cfg.Name }

// Config returns the vault's configuration with defaults applied.
func (v *Vault) Config() Config { return v.cfg }

// recoveryLevel follows the DeletionRecoveryLevel values of the Key Vault REST API.
func (v *Vault) recoveryLevel() string {
	level := "Recoverable"
	if v.cfg.SoftDeleteRetentionDays < 90 {
		level = "CustomizedRecoverable"
	}
	if !v.cfg.PurgeProtection {
		level += "+Purgeable"
	}
	return level
}

// lookup returns the object named name, forgetting it first when its retention or purge has run
// out. Callers hold v.mu.
func (v *Vault) lookup(name string, now time.Time) *object {
	key := strings.ToLower(name)
	o := v.objects[key]
	if o == nil {
		return nil
	}
	if (o.state == stateDeleted && !now.Before(o.purgeAt)) || (o.state == statePurging && !now.Before(o.freeAt)) {
		delete(v.objects, key)
		return nil
	}
	return o
}

// sortedObjects returns the live objects in name order. Callers hold v.mu.
func (v *Vault) sortedObjects(now time.Time) []*object {
	keys := slices.Sorted(maps.Keys(v.objects))
	out := make([]*object, 0, len(keys))
	for _, k := range keys {
		if o := v.lookup(k, now); o != nil {
			out = append(out, o)
		}
	}
	return out
}

// AssignRole grants a role to a principal, on the vault, one secret or one key, effective after
// Propagation.RoleAssignment unless a.EffectiveAt is set. It returns the assignment with its id.
func (v *Vault) AssignRole(a RoleAssignment) (RoleAssignment, error) {
	if err := v.validateAssignment(a); err != nil {
		return RoleAssignment{}, err
	}
	if a.ID == "" {
		a.ID = newUUID()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if a.EffectiveAt.IsZero() {
		a.EffectiveAt = v.clock.Now().Add(v.cfg.Propagation.RoleAssignment)
	}
	for _, old := range v.assignments {
		if old.ID == a.ID {
			return RoleAssignment{}, fmt.Errorf("role assignment %s already exists", a.ID)
		}
	}
	v.assignments = append(v.assignments, a)
	return a, nil
}

// RemoveRoleAssignment deletes the assignment with the given id.
func (v *Vault) RemoveRoleAssignment(id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, a := range v.assignments {
		if a.ID == id {
			v.assignments = slices.Delete(v.assignments, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("role assignment %s: not found", id)
}

// RoleAssignments returns the vault's role assignments.
func (v *Vault) RoleAssignments() []RoleAssignment {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.assignments)
}

// SecretProperties are the optional properties of a new secret version.
type SecretProperties struct {
	ContentType string
	Tags        map[string]string
	Enabled     *bool // default true
	NotBefore   *time.Time
	Expires     *time.Time
}

// SetSecret adds a version to a secret, as the Set Secret operation does, without going through
// HTTP or RBAC: for seeding a vault. It returns the new version's id.
func (v *Vault) SetSecret(name string, value secret.Value, p SecretProperties) (string, error) {
	req := setRequest{Value: ptr(value.Reveal()), ContentType: &p.ContentType, Tags: p.Tags}
	if p.ContentType == "" {
		req.ContentType = nil
	}
	req.Attributes = &attributesRequest{Enabled: p.Enabled}
	if p.NotBefore != nil {
		req.Attributes.NotBefore = ptr(p.NotBefore.Unix())
	}
	if p.Expires != nil {
		req.Attributes.Expires = ptr(p.Expires.Unix())
	}
	if err := validateName(name); err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	ver, kerr := v.set(name, req, v.clock.Now())
	if kerr != nil {
		return "", kerr
	}
	return ver.id, nil
}

// Snapshot is everything a vault stores, for tests and the simulator's inspection API.
type Snapshot struct {
	Name                    string
	TenantID                string
	SoftDeleteRetentionDays int
	PurgeProtection         bool
	RecoveryLevel           string
	Secrets                 []SecretSnapshot // in name order, active and deleted alike
	Keys                    []KeySnapshot    // in name order
	RoleAssignments         []RoleAssignment
}

// Secret states in a snapshot.
const (
	StateActive     = "active"
	StateRecovering = "recovering" // recovered, not yet visible in /secrets
	StateDeleting   = "deleting"   // deleted, not yet visible in /deletedsecrets
	StateDeleted    = "deleted"
	StatePurging    = "purging" // purged, name not yet reusable
)

// SecretSnapshot is one secret with all its versions.
type SecretSnapshot struct {
	Name               string
	State              string
	DeletedDate        time.Time         // zero unless deleted
	ScheduledPurgeDate time.Time         // zero unless deleted
	Versions           []VersionSnapshot // in creation order; the last is current
}

// VersionSnapshot is one version of a secret. Value prints as [REDACTED].
type VersionSnapshot struct {
	ID          string
	Value       secret.Value
	ContentType string
	Tags        map[string]string
	Enabled     bool
	NotBefore   *time.Time
	Expires     *time.Time
	Created     time.Time
	Updated     time.Time
}

// Snapshot returns a copy of the vault's contents.
func (v *Vault) Snapshot() Snapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.clock.Now()
	s := Snapshot{
		Name:                    v.cfg.Name,
		TenantID:                v.cfg.TenantID,
		SoftDeleteRetentionDays: v.cfg.SoftDeleteRetentionDays,
		PurgeProtection:         v.cfg.PurgeProtection,
		RecoveryLevel:           v.recoveryLevel(),
		RoleAssignments:         slices.Clone(v.assignments),
		Keys:                    v.keySnapshots(),
	}
	for _, o := range v.sortedObjects(now) {
		ss := SecretSnapshot{Name: o.name}
		visible := !now.Before(o.visibleAt)
		switch {
		case o.state == stateActive && visible:
			ss.State = StateActive
		case o.state == stateActive:
			ss.State = StateRecovering
		case o.state == stateDeleted && visible:
			ss.State = StateDeleted
		case o.state == stateDeleted:
			ss.State = StateDeleting
		default:
			ss.State = StatePurging
		}
		if o.state == stateDeleted {
			ss.DeletedDate, ss.ScheduledPurgeDate = o.deletedAt, o.purgeAt
		}
		for _, id := range o.order {
			ver := o.versions[id]
			ss.Versions = append(ss.Versions, VersionSnapshot{
				ID:          ver.id,
				Value:       secret.FromBytes(ver.value),
				ContentType: ver.contentType,
				Tags:        maps.Clone(ver.tags),
				Enabled:     ver.enabled,
				NotBefore:   intDateTime(ver.nbf),
				Expires:     intDateTime(ver.exp),
				Created:     time.Unix(ver.created, 0).UTC(),
				Updated:     time.Unix(ver.updated, 0).UTC(),
			})
		}
		s.Secrets = append(s.Secrets, ss)
	}
	return s
}

func intDateTime(p *int64) *time.Time {
	if p == nil {
		return nil
	}
	t := time.Unix(*p, 0).UTC()
	return &t
}

func validateName(name string) *kvError {
	if len(name) == 0 || len(name) > maxNameLen || !objectNameRe.MatchString(name) {
		return badParameter(fmt.Sprintf("The request URI contains an invalid name: %s", name))
	}
	return nil
}

func newVersionID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("keyvault: read random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("keyvault: read random bytes: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func ptr[T any](v T) *T { return &v }
