package directory

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Sentinel errors. Errors returned by a Directory wrap one of them.
var (
	// ErrTenantNotFound: no tenant has the given id or domain.
	ErrTenantNotFound = errors.New("tenant not found")
	// ErrNotFound: the object (application, service principal, user, credential, policy) does not
	// exist in the tenant.
	ErrNotFound = errors.New("object not found")
	// ErrConflict: an object with the same id, appId or domain already exists.
	ErrConflict = errors.New("object already exists")
	// ErrInvalid: the request is malformed (bad dates, unsupported key type, ...).
	ErrInvalid = errors.New("invalid request")
)

// Defaults of Options.
const (
	// DefaultTombstoneRetention is how long deleted applications and service principals stay
	// restorable. Entra keeps deleted applications in the recycle bin for 30 days.
	// https://learn.microsoft.com/entra/identity-platform/howto-restore-app
	DefaultTombstoneRetention = 30 * 24 * time.Hour
	// DefaultChangeRetention is how long the change log is kept, which bounds the lifetime of delta
	// tokens. For directory objects Graph documents seven days.
	// https://learn.microsoft.com/graph/delta-query-overview#token-duration
	DefaultChangeRetention = 7 * 24 * time.Hour
	// DefaultReplicationFailureRate is the share of sign-ins that fail with a credential that has
	// not replicated yet.
	DefaultReplicationFailureRate = 0.5
)

// Options configure a Directory. The zero value is usable: real clock, no replication delay.
type Options struct {
	// Clock is the only source of time. Nil means the real clock.
	Clock clockwork.Clock
	// Seed makes generated ids and the replication flakiness deterministic.
	Seed uint64
	// ReplicationDelay is how long after its creation a new credential becomes reliably usable
	// ("replication-ready"). Before that, sign-ins with it fail intermittently. Zero: immediately.
	ReplicationDelay time.Duration
	// ReplicationFailureRate is the probability (0..1) that a sign-in with a credential that is not
	// replication-ready fails. Zero means DefaultReplicationFailureRate; use a negative value for
	// "never fails".
	ReplicationFailureRate float64
	// TombstoneRetention: how long deleted objects stay restorable. Zero: DefaultTombstoneRetention.
	TombstoneRetention time.Duration
	// ChangeRetention: how long the change log (and so a delta token) is kept. Zero:
	// DefaultChangeRetention.
	ChangeRetention time.Duration
	// SecretSource provides the randomness of generated secrets. Nil means crypto/rand.
	SecretSource io.Reader
	// MaxCredentialsPerObject bounds passwordCredentials+keyCredentials of one object when a
	// request is enforced. Entra documents "a global limit of about 1000 items across all the
	// collection properties on the app object". Zero: 1000.
	MaxCredentialsPerObject int
}

// Directory is an in-memory set of Entra tenants. It is safe for concurrent use.
type Directory struct {
	clock    clockwork.Clock
	opts     Options
	failRate float64

	rngMu sync.Mutex
	rng   *mrand.ChaCha8

	secretMu sync.Mutex
	secrets  io.Reader

	mu       sync.RWMutex
	tenants  map[string]*tenantState // by id (lower case)
	domains  map[string]*tenantState // by default domain (lower case)
	order    []*tenantState
	tokenKey [32]byte // MACs opaque paging and delta tokens
}

// New returns an empty directory.
func New(opts Options) *Directory {
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.TombstoneRetention <= 0 {
		opts.TombstoneRetention = DefaultTombstoneRetention
	}
	if opts.ChangeRetention <= 0 {
		opts.ChangeRetention = DefaultChangeRetention
	}
	if opts.MaxCredentialsPerObject <= 0 {
		opts.MaxCredentialsPerObject = 1000
	}
	rate := opts.ReplicationFailureRate
	switch {
	case rate == 0:
		rate = DefaultReplicationFailureRate
	case rate < 0:
		rate = 0
	case rate > 1:
		rate = 1
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], opts.Seed)
	copy(seed[8:], "rotor-sim-directory")
	d := &Directory{
		clock:    opts.Clock,
		opts:     opts,
		failRate: rate,
		rng:      mrand.NewChaCha8(seed),
		secrets:  opts.SecretSource,
		tenants:  map[string]*tenantState{},
		domains:  map[string]*tenantState{},
	}
	if d.secrets == nil {
		d.secrets = rand.Reader
	}
	d.rng.Read(d.tokenKey[:])
	return d
}

// Clock returns the directory's clock.
func (d *Directory) Clock() clockwork.Clock { return d.clock }

// ReplicationDelay returns the configured replication delay of new credentials.
func (d *Directory) ReplicationDelay() time.Duration { return d.opts.ReplicationDelay }

// newID returns a random (seeded) GUID in the canonical lower-case form.
func (d *Directory) newID() string {
	var b [16]byte
	d.rngMu.Lock()
	d.rng.Read(b[:])
	d.rngMu.Unlock()
	return formatGUID(b)
}

func formatGUID(b [16]byte) string {
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 36)
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hex[v>>4]
		out[j+1] = hex[v&0x0f]
		j += 2
	}
	return string(out)
}

// IsGUID reports whether s has the canonical 8-4-4-4-12 hexadecimal form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// replicated reports whether a sign-in with the credential keyID (ready at readyAt) succeeds now.
// Before readyAt it fails intermittently: each attempt draws deterministically from the seed, the
// key id and the attempt number.
func (d *Directory) replicated(t *tenantState, keyID string, readyAt time.Time) bool {
	now := d.clock.Now()
	if !now.Before(readyAt) {
		return true
	}
	t.attemptsMu.Lock()
	n := t.attempts[keyID]
	t.attempts[keyID] = n + 1
	t.attemptsMu.Unlock()
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], d.opts.Seed)
	binary.LittleEndian.PutUint64(b[8:], n)
	h.Write(b[:])
	h.Write([]byte(keyID))
	x := splitmix64(h.Sum64())
	return float64(x>>11)/float64(1<<53) >= d.failRate
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// AddTenantParams describe a new tenant.
type AddTenantParams struct {
	ID            string // optional GUID; generated when empty
	DisplayName   string // required
	DefaultDomain string // optional; derived from DisplayName when empty ("contoso.onmicrosoft.com")
}

// AddTenant creates a tenant with the first-party service principals every tenant has (Microsoft
// Graph, Azure Key Vault) and a disabled default app management policy.
func (d *Directory) AddTenant(p AddTenantParams) (Tenant, error) {
	if strings.TrimSpace(p.DisplayName) == "" {
		return Tenant{}, fmt.Errorf("add tenant: display name is required: %w", ErrInvalid)
	}
	id := strings.ToLower(p.ID)
	if id == "" {
		id = d.newID()
	} else if !IsGUID(id) {
		return Tenant{}, fmt.Errorf("add tenant: id %q is not a GUID: %w", p.ID, ErrInvalid)
	}
	domain := strings.ToLower(p.DefaultDomain)
	if domain == "" {
		domain = domainLabel(p.DisplayName) + ".onmicrosoft.com"
	}
	now := d.clock.Now().UTC()
	t := newTenantState(Tenant{ID: id, DisplayName: p.DisplayName, DefaultDomain: domain, CreatedAt: now})

	d.mu.Lock()
	if _, ok := d.tenants[id]; ok {
		d.mu.Unlock()
		return Tenant{}, fmt.Errorf("add tenant %s: %w", id, ErrConflict)
	}
	if _, ok := d.domains[domain]; ok {
		d.mu.Unlock()
		return Tenant{}, fmt.Errorf("add tenant: domain %s: %w", domain, ErrConflict)
	}
	d.tenants[id] = t
	d.domains[domain] = t
	d.order = append(d.order, t)
	d.mu.Unlock()

	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range firstPartyResources() {
		d.addResourceSPLocked(t, r, now)
	}
	return t.Tenant, nil
}

func domainLabel(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "tenant"
	}
	return b.String()
}

// Tenant returns the tenant named by its GUID or its default domain (case-insensitive), as the
// token endpoint accepts either.
func (d *Directory) Tenant(idOrDomain string) (Tenant, error) {
	t, err := d.tenant(idOrDomain)
	if err != nil {
		return Tenant{}, err
	}
	return t.Tenant, nil
}

// Tenants returns every tenant in creation order.
func (d *Directory) Tenants() []Tenant {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Tenant, 0, len(d.order))
	for _, t := range d.order {
		out = append(out, t.Tenant)
	}
	return out
}

func (d *Directory) tenant(idOrDomain string) (*tenantState, error) {
	key := strings.ToLower(idOrDomain)
	d.mu.RLock()
	t, ok := d.tenants[key]
	if !ok {
		t, ok = d.domains[key]
	}
	d.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("tenant %q: %w", idOrDomain, ErrTenantNotFound)
	}
	return t, nil
}

// tenantState is one tenant's objects, guarded by mu.
type tenantState struct {
	Tenant

	mu  sync.RWMutex
	seq uint64 // last change sequence number

	apps        map[string]*appEntry // live, by object id
	appsByAppID map[string]*appEntry
	appOrder    []*appEntry // live, sorted by createSeq
	deadApps    map[string]*appEntry

	sps        map[string]*spEntry
	spsByAppID map[string]*spEntry
	spOrder    []*spEntry
	deadSPs    map[string]*spEntry

	users     map[string]*User
	userOrder []string

	groups     map[string]*Group
	groupOrder []string
	userRoles  map[string][]string     // user id|app id -> app role ids assigned to the user
	web        map[string]*WebSettings // by app id

	grants   []AppRoleAssignment
	grantSet map[string]bool // principal|resource|role of grants

	defaultPolicy TenantAppManagementPolicy
	policies      map[string]*AppManagementPolicy
	policyOrder   []string

	changes     []changeEntry
	changeFloor uint64 // changes with seq <= changeFloor were dropped

	history []CredentialEvent
	lastUse map[string]CredentialUse // by appId

	attemptsMu sync.Mutex
	attempts   map[string]uint64 // sign-in attempts per credential key id, for replication flakiness
}

func newTenantState(t Tenant) *tenantState {
	return &tenantState{
		Tenant:        t,
		apps:          map[string]*appEntry{},
		appsByAppID:   map[string]*appEntry{},
		deadApps:      map[string]*appEntry{},
		sps:           map[string]*spEntry{},
		spsByAppID:    map[string]*spEntry{},
		deadSPs:       map[string]*spEntry{},
		users:         map[string]*User{},
		groups:        map[string]*Group{},
		userRoles:     map[string][]string{},
		web:           map[string]*WebSettings{},
		grantSet:      map[string]bool{},
		policies:      map[string]*AppManagementPolicy{},
		lastUse:       map[string]CredentialUse{},
		attempts:      map[string]uint64{},
		defaultPolicy: defaultTenantPolicy(),
	}
}

type appEntry struct {
	Application
	createSeq  uint64
	lastChange uint64
	purged     bool // permanently deleted (no longer restorable)
}

type spEntry struct {
	ServicePrincipal
	createSeq  uint64
	lastChange uint64
	purged     bool
	firstParty bool
}

type changeEntry struct {
	seq  uint64
	at   time.Time
	kind Kind
	id   string
}

// touchLocked records a change to the object (kind, id) and returns its sequence number.
func (d *Directory) touchLocked(t *tenantState, kind Kind, id string) uint64 {
	t.seq++
	now := d.clock.Now()
	t.changes = append(t.changes, changeEntry{seq: t.seq, at: now, kind: kind, id: id})
	d.compactLocked(t, now)
	return t.seq
}

// compactLocked drops change-log entries older than the retention, and tombstones that are past
// both retentions.
func (d *Directory) compactLocked(t *tenantState, now time.Time) {
	cutoff := now.Add(-d.opts.ChangeRetention)
	if len(t.changes) == 0 || !t.changes[0].at.Before(cutoff) {
		return
	}
	i := sort.Search(len(t.changes), func(i int) bool { return !t.changes[i].at.Before(cutoff) })
	t.changeFloor = t.changes[i-1].seq
	t.changes = append([]changeEntry(nil), t.changes[i:]...)
	gone := now.Add(-d.opts.TombstoneRetention - d.opts.ChangeRetention)
	for id, e := range t.deadApps {
		if e.DeletedDateTime.Before(gone) {
			delete(t.deadApps, id)
		}
	}
	for id, e := range t.deadSPs {
		if e.DeletedDateTime.Before(gone) {
			delete(t.deadSPs, id)
		}
	}
}

func clip[S ~[]E, E any](s S) S { return s[:len(s):len(s)] }
