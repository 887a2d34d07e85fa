package runner

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

// fakeDir is an in-memory Entra directory with faults on demand.
type fakeDir struct {
	mu    sync.Mutex
	clock clockwork.Clock
	live  map[string]*fakeSecret // keyID -> secret, for every owner

	loseAdds    int // next AddSecret calls create the secret but lose the answer
	failAdds    int // next AddSecret calls fail without creating anything
	lagLists    int // next ListSecrets calls do not show the secret created last
	failRemoves int // next RemoveSecret calls fail
	restriction rotor.SecretRestriction
	appOwners   map[string][]rotor.Owner // app object id -> owners
	ownerReads  int

	lastAdded string
	adds      int
	removes   []string
}

type fakeSecret struct {
	owner rotor.OwnerRef
	cred  rotor.Credential
	value string
}

func newFakeDir(clock clockwork.Clock) *fakeDir {
	return &fakeDir{clock: clock, live: map[string]*fakeSecret{}}
}

func randomValue() string {
	b := make([]byte, 20)
	rand.Read(b)
	return "fake~" + hex.EncodeToString(b)
}

// seed adds a secret as if someone had created it outside rotor.
func (d *fakeDir) seed(owner rotor.OwnerRef, name string, start, end time.Time) *fakeSecret {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &fakeSecret{owner: owner, value: randomValue(), cred: rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret,
		OwnerKind: owner.Kind, OwnerID: owner.ID, DisplayName: name, StartAt: start, EndAt: end}}
	d.live[s.cred.KeyID] = s
	return s
}

func (d *fakeDir) AddSecret(ctx context.Context, owner rotor.OwnerRef, name string, end time.Time) (*rotor.NewSecret, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failAdds > 0 {
		d.failAdds--
		return nil, rotor.Transient(errors.New("graph: 503 serviceNotAvailable"))
	}
	now := d.clock.Now()
	s := &fakeSecret{owner: owner, value: randomValue(), cred: rotor.Credential{KeyID: uuid.NewString(), Kind: rotor.KindSecret,
		OwnerKind: owner.Kind, OwnerID: owner.ID, DisplayName: name, Hint: "fak", StartAt: now, EndAt: end}}
	d.live[s.cred.KeyID] = s
	d.lastAdded = s.cred.KeyID
	d.adds++
	if d.loseAdds > 0 {
		d.loseAdds--
		return nil, rotor.Transient(errors.New("graph POST addPassword: connection reset"))
	}
	return &rotor.NewSecret{KeyID: s.cred.KeyID, DisplayName: name, Hint: "fak", StartAt: now, EndAt: end, Value: secret.New(s.value)}, nil
}

func (d *fakeDir) RemoveSecret(ctx context.Context, owner rotor.OwnerRef, keyID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failRemoves > 0 {
		d.failRemoves--
		return rotor.Transient(errors.New("graph: 500"))
	}
	s, ok := d.live[keyID]
	if !ok || s.owner != owner {
		return fmt.Errorf("secret %s: %w", keyID, rotor.ErrNotFound)
	}
	delete(d.live, keyID)
	d.removes = append(d.removes, keyID)
	return nil
}

func (d *fakeDir) ListSecrets(ctx context.Context, owner rotor.OwnerRef) ([]*rotor.Credential, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	lag := d.lagLists > 0
	if lag {
		d.lagLists--
	}
	var out []*rotor.Credential
	for id, s := range d.live {
		if s.owner != owner || (lag && id == d.lastAdded) {
			continue
		}
		c := s.cred
		out = append(out, &c)
	}
	return out, nil
}

func (d *fakeDir) SecretRestriction(ctx context.Context, owner rotor.OwnerRef) (rotor.SecretRestriction, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.restriction, nil
}

// marked returns the live secrets carrying rotor's marker for rotation id.
func (d *fakeDir) marked(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for k, s := range d.live {
		if s.cred.DisplayName == Marker(id) {
			out = append(out, k)
		}
	}
	return out
}

// AppOwners implements rotor.OwnerLister.
func (d *fakeDir) AppOwners(ctx context.Context, appObjectID string) ([]rotor.Owner, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ownerReads++
	return d.appOwners[appObjectID], nil
}

// count returns how many secrets owner has.
func (d *fakeDir) count(owner rotor.OwnerRef) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, s := range d.live {
		if s.owner == owner {
			n++
		}
	}
	return n
}

func (d *fakeDir) has(keyID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.live[keyID]
	return ok
}

func (d *fakeDir) valueOf(keyID string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.live[keyID].value
}

// fakeVerifier accepts a live secret's value after it has been asked replicate times.
type fakeVerifier struct {
	mu        sync.Mutex
	dir       *fakeDir
	replicate int
	seen      map[string]int
	calls     int
}

func (v *fakeVerifier) Verify(ctx context.Context, tenantID, clientID, scope string, value secret.Value) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls++
	v.dir.mu.Lock()
	var found bool
	for _, s := range v.dir.live {
		if s.value == value.Reveal() {
			found = true
		}
	}
	v.dir.mu.Unlock()
	if !found {
		return rotor.Permanent(errors.New("AADSTS7000215: Invalid client secret provided"))
	}
	if v.seen == nil {
		v.seen = map[string]int{}
	}
	v.seen[value.Reveal()]++
	if v.seen[value.Reveal()] <= v.replicate {
		return rotor.Transient(errors.New("AADSTS7000215: Invalid client secret provided (not replicated yet)"))
	}
	return nil
}

// fakeTarget records what it published in a log shared by every target of a test.
type fakeTarget struct {
	name  string
	log   *publishLog
	fails int   // next Publish calls fail
	err   error // the failure

	preflightErr error // what Preflight answers
	revertEcho   bool  // Revert fails, quoting the value it was to put back and the new one
}

type publishLog struct {
	mu       sync.Mutex
	entries  []string          // "name:value" in publish order
	current  map[string]string // name -> value now deployed
	reverted []string
	retired  []string
}

func (t *fakeTarget) Preflight(ctx context.Context, d rotor.Deployment) error {
	t.log.mu.Lock()
	defer t.log.mu.Unlock()
	return t.preflightErr
}

func (t *fakeTarget) Publish(ctx context.Context, d rotor.Deployment) (rotor.Outcome, error) {
	t.log.mu.Lock()
	defer t.log.mu.Unlock()
	if t.fails > 0 {
		t.fails--
		return rotor.Outcome{}, t.err
	}
	prev := t.log.current[t.name]
	if prev == d.Value.Reveal() {
		return rotor.Outcome{Changed: false}, nil
	}
	t.log.entries = append(t.log.entries, t.name+":"+d.Value.Reveal())
	t.log.current[t.name] = d.Value.Reveal()
	return rotor.Outcome{Changed: true, Message: "wrote " + t.name, Undo: secret.New(prev)}, nil
}

func (t *fakeTarget) Revert(ctx context.Context, d rotor.Deployment, undo secret.Value) error {
	t.log.mu.Lock()
	defer t.log.mu.Unlock()
	if t.revertEcho {
		return fmt.Errorf("server refused value=%s (base64 %s), current=%s", undo.Reveal(),
			base64.StdEncoding.EncodeToString(undo.RevealBytes()), t.log.current[t.name])
	}
	t.log.current[t.name] = undo.Reveal()
	t.log.reverted = append(t.log.reverted, t.name)
	return nil
}

func (t *fakeTarget) Retire(ctx context.Context, d rotor.Deployment) error {
	t.log.mu.Lock()
	defer t.log.mu.Unlock()
	t.log.retired = append(t.log.retired, t.name+":"+d.PreviousKeyID)
	return nil
}

func (l *publishLog) deployed(name string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.current[name]
}
