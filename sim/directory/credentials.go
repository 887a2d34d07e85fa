package directory

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // certificate thumbprints are SHA-1 by definition (x5t, customKeyIdentifier)
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rotorhq/rotor/secret"
)

// Key credential types and usages Graph accepts for certificates.
const (
	KeyTypeAsymmetricX509Cert  = "AsymmetricX509Cert"
	KeyTypeX509CertAndPassword = "X509CertAndPassword"
	KeyUsageVerify             = "Verify"
	KeyUsageSign               = "Sign"
)

// DefaultPasswordLifetime is the lifetime of a secret added without an end date: "The default
// value is startDateTime + 2 years".
// https://learn.microsoft.com/graph/api/application-addpassword
const DefaultPasswordLifetime = 2 * 365 * 24 * time.Hour

// AddPasswordParams describe a new client secret.
type AddPasswordParams struct {
	TenantID    string
	Object      ObjectRef // an application or a service principal
	DisplayName string
	// StartDateTime defaults to now; EndDateTime to StartDateTime + 2 years.
	StartDateTime time.Time
	EndDateTime   time.Time
	KeyID         string // optional
	Actor         string // who adds it, for the history
	// Enforce applies what Graph checks on addPassword: the app management policies and the
	// credential limits. Programmatic set-up (tests, seeding) leaves it false.
	Enforce bool
	// Replicated marks pre-existing state: the credential is usable at once, whatever the
	// replication delay.
	Replicated bool
}

// AddPassword generates a client secret, stores its hash and returns the credential with the
// secret text, which is never available again.
func (d *Directory) AddPassword(p AddPasswordParams) (PasswordCredential, secret.Value, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password to %s %s: %w", p.Object.Kind, p.Object.ID, err)
	}
	now := d.clock.Now().UTC()
	start, end := p.StartDateTime.UTC(), p.EndDateTime.UTC()
	if p.StartDateTime.IsZero() {
		start = now
	}
	if p.EndDateTime.IsZero() {
		end = start.Add(DefaultPasswordLifetime)
	}
	if !end.After(start) {
		return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password to %s: endDateTime %s is not after startDateTime %s: %w", p.Object.ID, end.Format(time.RFC3339), start.Format(time.RFC3339), ErrInvalid)
	}
	text, salt, err := d.generateSecret()
	if err != nil {
		return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password to %s: %w", p.Object.ID, err)
	}
	keyID := strings.ToLower(p.KeyID)
	if keyID == "" {
		keyID = d.newID()
	}
	ready := now.Add(d.opts.ReplicationDelay)
	if p.Replicated {
		ready = now
	}
	c := PasswordCredential{
		KeyID:         keyID,
		DisplayName:   p.DisplayName,
		Hint:          text[:3],
		StartDateTime: start,
		EndDateTime:   end,
		CreatedAt:     now,
		ReadyAt:       ready,
		CreatedBy:     p.Actor,
		salt:          salt,
		hash:          hashSecret(salt, text),
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := d.holderLocked(t, p.Object)
	if err != nil {
		return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password: %w", err)
	}
	if slices.ContainsFunc(*h.pw, func(x PasswordCredential) bool { return x.KeyID == keyID }) {
		return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password to %s: keyId %s: %w", p.Object.ID, keyID, ErrConflict)
	}
	if p.Enforce {
		if err := d.checkLimitsLocked(h, true); err != nil {
			return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password to %s: %w", p.Object.ID, err)
		}
		if err := checkPasswordLocked(t, h.ref, start, end); err != nil {
			return PasswordCredential{}, secret.Value{}, fmt.Errorf("add password to %s: %w", p.Object.ID, err)
		}
	}
	*h.pw = append(clip(*h.pw), c)
	h.touch()
	d.recordLocked(t, CredentialEvent{Time: now, Action: ActionAdded, Kind: CredentialPassword, Object: h.ref, AppID: h.appID, KeyID: keyID, DisplayName: c.DisplayName, Start: start, End: end, By: p.Actor})
	return c, secret.New(text), nil
}

// RemovePassword removes a client secret by key id.
func (d *Directory) RemovePassword(tenantID string, obj ObjectRef, keyID, actor string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("remove password %s: %w", keyID, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := d.holderLocked(t, obj)
	if err != nil {
		return fmt.Errorf("remove password %s: %w", keyID, err)
	}
	i := slices.IndexFunc(*h.pw, func(x PasswordCredential) bool { return strings.EqualFold(x.KeyID, keyID) })
	if i < 0 {
		return fmt.Errorf("remove password %s from %s: %w", keyID, obj.ID, ErrNotFound)
	}
	c := (*h.pw)[i]
	*h.pw = slices.Delete(slices.Clone(*h.pw), i, i+1)
	h.touch()
	d.recordLocked(t, CredentialEvent{Action: ActionRemoved, Kind: CredentialPassword, Object: h.ref, AppID: h.appID, KeyID: c.KeyID, DisplayName: c.DisplayName, Start: c.StartDateTime, End: c.EndDateTime, By: actor})
	return nil
}

// KeyCredentialInput is a certificate to add (addKey) or one element of a keyCredentials
// replacement (PATCH).
type KeyCredentialInput struct {
	KeyID       string // optional for new keys; names the existing key to keep in a replacement
	Key         []byte // DER certificate; nil in a replacement keeps the existing key KeyID
	Type        string // default AsymmetricX509Cert
	Usage       string // default Verify
	DisplayName string // default the certificate's subject ("CN=...")
	// StartDateTime and EndDateTime default to the certificate's validity and must lie within it.
	StartDateTime time.Time
	EndDateTime   time.Time
}

// AddKeyParams describe a certificate to add to an application or service principal.
type AddKeyParams struct {
	TenantID string
	Object   ObjectRef
	KeyCredentialInput
	Actor      string
	Enforce    bool // apply the app management policies and credential limits
	Replicated bool // pre-existing state: usable at once, whatever the replication delay
}

// AddKey adds a certificate credential.
func (d *Directory) AddKey(p AddKeyParams) (KeyCredential, error) {
	t, err := d.tenant(p.TenantID)
	if err != nil {
		return KeyCredential{}, fmt.Errorf("add key to %s: %w", p.Object.ID, err)
	}
	now := d.clock.Now().UTC()
	k, err := d.newKey(p.KeyCredentialInput, p.Actor, now)
	if err != nil {
		return KeyCredential{}, fmt.Errorf("add key to %s: %w", p.Object.ID, err)
	}
	if p.Replicated {
		k.ReadyAt = now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := d.holderLocked(t, p.Object)
	if err != nil {
		return KeyCredential{}, fmt.Errorf("add key: %w", err)
	}
	if slices.ContainsFunc(*h.keys, func(x KeyCredential) bool { return x.KeyID == k.KeyID }) {
		return KeyCredential{}, fmt.Errorf("add key to %s: keyId %s: %w", p.Object.ID, k.KeyID, ErrConflict)
	}
	if p.Enforce {
		if err := d.checkLimitsLocked(h, false); err != nil {
			return KeyCredential{}, fmt.Errorf("add key to %s: %w", p.Object.ID, err)
		}
		if err := checkKeyLocked(t, h.ref, k.StartDateTime, k.EndDateTime); err != nil {
			return KeyCredential{}, fmt.Errorf("add key to %s: %w", p.Object.ID, err)
		}
	}
	*h.keys = append(clip(*h.keys), k)
	h.touch()
	d.recordLocked(t, CredentialEvent{Time: now, Action: ActionAdded, Kind: CredentialKey, Object: h.ref, AppID: h.appID, KeyID: k.KeyID, DisplayName: k.DisplayName, Start: k.StartDateTime, End: k.EndDateTime, By: p.Actor})
	return cloneKeys([]KeyCredential{k})[0], nil
}

// RemoveKey removes a certificate credential by key id.
func (d *Directory) RemoveKey(tenantID string, obj ObjectRef, keyID, actor string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("remove key %s: %w", keyID, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := d.holderLocked(t, obj)
	if err != nil {
		return fmt.Errorf("remove key %s: %w", keyID, err)
	}
	i := slices.IndexFunc(*h.keys, func(x KeyCredential) bool { return strings.EqualFold(x.KeyID, keyID) })
	if i < 0 {
		return fmt.Errorf("remove key %s from %s: %w", keyID, obj.ID, ErrNotFound)
	}
	c := (*h.keys)[i]
	*h.keys = slices.Delete(slices.Clone(*h.keys), i, i+1)
	h.touch()
	d.recordLocked(t, CredentialEvent{Action: ActionRemoved, Kind: CredentialKey, Object: h.ref, AppID: h.appID, KeyID: c.KeyID, DisplayName: c.DisplayName, Start: c.StartDateTime, End: c.EndDateTime, By: actor})
	return nil
}

// ReplaceKeyCredentials replaces the whole keyCredentials collection, as PATCH on an application or
// service principal does (the documented way to add a first certificate). An element without Key
// keeps the existing credential with the same KeyID; keys left out are removed.
func (d *Directory) ReplaceKeyCredentials(tenantID string, obj ObjectRef, keys []KeyCredentialInput, actor string, enforce bool) ([]KeyCredential, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, fmt.Errorf("update keyCredentials of %s: %w", obj.ID, err)
	}
	now := d.clock.Now().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := d.holderLocked(t, obj)
	if err != nil {
		return nil, fmt.Errorf("update keyCredentials: %w", err)
	}
	old := *h.keys
	next := make([]KeyCredential, 0, len(keys))
	var added []KeyCredential
	for i, in := range keys {
		if in.Key == nil {
			j := slices.IndexFunc(old, func(x KeyCredential) bool { return strings.EqualFold(x.KeyID, in.KeyID) })
			if in.KeyID == "" || j < 0 {
				return nil, fmt.Errorf("update keyCredentials of %s: element %d has no key and names no existing keyId: %w", obj.ID, i, ErrInvalid)
			}
			next = append(next, old[j])
			continue
		}
		if j := slices.IndexFunc(old, func(x KeyCredential) bool { return strings.EqualFold(x.KeyID, in.KeyID) }); in.KeyID != "" && j >= 0 {
			if !bytes.Equal(old[j].Key, in.Key) {
				return nil, fmt.Errorf("update keyCredentials of %s: keyId %s already names another key: %w", obj.ID, in.KeyID, ErrConflict)
			}
			next = append(next, old[j])
			continue
		}
		k, err := d.newKey(in, actor, now)
		if err != nil {
			return nil, fmt.Errorf("update keyCredentials of %s: element %d: %w", obj.ID, i, err)
		}
		if enforce {
			if err := checkKeyLocked(t, h.ref, k.StartDateTime, k.EndDateTime); err != nil {
				return nil, fmt.Errorf("update keyCredentials of %s: %w", obj.ID, err)
			}
		}
		next = append(next, k)
		added = append(added, k)
	}
	for i := range next {
		for j := i + 1; j < len(next); j++ {
			if next[i].KeyID == next[j].KeyID {
				return nil, fmt.Errorf("update keyCredentials of %s: keyId %s twice: %w", obj.ID, next[i].KeyID, ErrInvalid)
			}
		}
	}
	if enforce && len(next)+len(*h.pw) > d.opts.MaxCredentialsPerObject {
		return nil, fmt.Errorf("update keyCredentials of %s: %w", obj.ID, &CredentialLimitError{Limit: d.opts.MaxCredentialsPerObject})
	}
	*h.keys = clip(next)
	h.touch()
	for _, k := range old {
		if !slices.ContainsFunc(next, func(x KeyCredential) bool { return x.KeyID == k.KeyID }) {
			d.recordLocked(t, CredentialEvent{Time: now, Action: ActionRemoved, Kind: CredentialKey, Object: h.ref, AppID: h.appID, KeyID: k.KeyID, DisplayName: k.DisplayName, Start: k.StartDateTime, End: k.EndDateTime, By: actor})
		}
	}
	for _, k := range added {
		d.recordLocked(t, CredentialEvent{Time: now, Action: ActionAdded, Kind: CredentialKey, Object: h.ref, AppID: h.appID, KeyID: k.KeyID, DisplayName: k.DisplayName, Start: k.StartDateTime, End: k.EndDateTime, By: actor})
	}
	return cloneKeys(next), nil
}

func (d *Directory) newKey(in KeyCredentialInput, actor string, now time.Time) (KeyCredential, error) {
	cert, err := x509.ParseCertificate(in.Key)
	if err != nil {
		return KeyCredential{}, fmt.Errorf("key is not a DER X.509 certificate: %v: %w", err, ErrInvalid)
	}
	typ, usage := in.Type, in.Usage
	if typ == "" {
		typ = KeyTypeAsymmetricX509Cert
	}
	if usage == "" {
		usage = KeyUsageVerify
		if typ == KeyTypeX509CertAndPassword {
			usage = KeyUsageSign
		}
	}
	switch {
	case typ == KeyTypeAsymmetricX509Cert && usage == KeyUsageVerify:
	case typ == KeyTypeX509CertAndPassword && usage == KeyUsageSign:
	default:
		return KeyCredential{}, fmt.Errorf("key type %q with usage %q: supported are AsymmetricX509Cert/Verify and X509CertAndPassword/Sign: %w", typ, usage, ErrInvalid)
	}
	start, end := in.StartDateTime.UTC(), in.EndDateTime.UTC()
	if in.StartDateTime.IsZero() {
		start = cert.NotBefore.UTC()
	}
	if in.EndDateTime.IsZero() {
		end = cert.NotAfter.UTC()
	}
	if start.Before(cert.NotBefore.Add(-time.Second)) || end.After(cert.NotAfter.Add(time.Second)) || !end.After(start) {
		return KeyCredential{}, fmt.Errorf("startDateTime/endDateTime %s..%s must lie within the certificate's validity %s..%s: %w",
			start.Format(time.RFC3339), end.Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), ErrInvalid)
	}
	name := in.DisplayName
	if name == "" {
		name = cert.Subject.String()
	}
	keyID := strings.ToLower(in.KeyID)
	if keyID == "" {
		keyID = d.newID()
	}
	thumb := sha1.Sum(in.Key) //nolint:gosec // the thumbprint Entra stores
	return KeyCredential{
		KeyID:               keyID,
		DisplayName:         name,
		Type:                typ,
		Usage:               usage,
		CustomKeyIdentifier: thumb[:],
		Key:                 slices.Clone(in.Key),
		StartDateTime:       start,
		EndDateTime:         end,
		CreatedAt:           now,
		ReadyAt:             now.Add(d.opts.ReplicationDelay),
		CreatedBy:           actor,
	}, nil
}

// credHolder points at the credentials of one application or service principal.
type credHolder struct {
	ref      ObjectRef
	appID    string
	audience string
	pw       *[]PasswordCredential
	keys     *[]KeyCredential
	touch    func()
}

func (d *Directory) holderLocked(t *tenantState, obj ObjectRef) (credHolder, error) {
	id := strings.ToLower(obj.ID)
	switch obj.Kind {
	case KindApplication:
		a, ok := t.apps[id]
		if !ok {
			return credHolder{}, fmt.Errorf("application %s: %w", obj.ID, ErrNotFound)
		}
		return credHolder{ref: a.Ref(), appID: a.AppID, audience: a.SignInAudience, pw: &a.PasswordCredentials, keys: &a.KeyCredentials,
			touch: func() { a.lastChange = d.touchLocked(t, KindApplication, a.ID) }}, nil
	case KindServicePrincipal:
		sp, ok := t.sps[id]
		if !ok {
			return credHolder{}, fmt.Errorf("service principal %s: %w", obj.ID, ErrNotFound)
		}
		return credHolder{ref: sp.Ref(), appID: sp.AppID, audience: sp.SignInAudience, pw: &sp.PasswordCredentials, keys: &sp.KeyCredentials,
			touch: func() { sp.lastChange = d.touchLocked(t, KindServicePrincipal, sp.ID) }}, nil
	}
	return credHolder{}, fmt.Errorf("%q objects hold no credentials: %w", obj.Kind, ErrInvalid)
}

// checkLimitsLocked applies the documented credential limits to one more credential: applications
// that support personal Microsoft accounts hold at most two client secrets, and any object about
// 1000 collection items.
// https://learn.microsoft.com/entra/identity-platform/supported-accounts-validation
func (d *Directory) checkLimitsLocked(h credHolder, password bool) error {
	personal := h.audience == AudienceMultipleOrgsAndPerson || h.audience == AudiencePersonal
	if password && personal && h.ref.Kind == KindApplication && len(*h.pw) >= 2 {
		return &CredentialLimitError{Limit: 2, PersonalAccounts: true}
	}
	if len(*h.pw)+len(*h.keys) >= d.opts.MaxCredentialsPerObject {
		return &CredentialLimitError{Limit: d.opts.MaxCredentialsPerObject}
	}
	return nil
}

// Secret format: three characters (returned as the hint), a digit and "Q~", then 34 characters;
// 40 in all, as the secrets Entra generates today look.
const (
	secretHead = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretTail = secretHead + "~._-"
	secretLen  = 40
)

func (d *Directory) generateSecret() (text string, salt []byte, err error) {
	d.secretMu.Lock()
	defer d.secretMu.Unlock()
	// One read for the salt and, in most cases, every character: rejection sampling keeps the
	// characters uniform and rarely needs a second read.
	pool := make([]byte, 16+2*secretLen)
	fill := func() error {
		if _, err := io.ReadFull(d.secrets, pool); err != nil {
			return fmt.Errorf("generate secret: %w", err)
		}
		return nil
	}
	if err := fill(); err != nil {
		return "", nil, err
	}
	salt = slices.Clone(pool[:16])
	next := 16
	buf := make([]byte, 0, secretLen)
	pick := func(alphabet string) error {
		limit := 256 - 256%len(alphabet)
		for {
			if next == len(pool) {
				if err := fill(); err != nil {
					return err
				}
				next = 0
			}
			b := int(pool[next])
			next++
			if b < limit {
				buf = append(buf, alphabet[b%len(alphabet)])
				return nil
			}
		}
	}
	for i := 0; i < 3; i++ {
		if err := pick(secretHead); err != nil {
			return "", nil, err
		}
	}
	if err := pick("0123456789"); err != nil {
		return "", nil, err
	}
	buf = append(buf, 'Q', '~')
	for len(buf) < secretLen {
		if err := pick(secretTail); err != nil {
			return "", nil, err
		}
	}
	return string(buf), salt, nil
}

func hashSecret(salt []byte, text string) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(text))
	return h.Sum(nil)
}

// AuthStatus is the outcome of checking a client credential at sign-in.
type AuthStatus int

// Outcomes of CheckClientSecret and FindClientCertificate.
const (
	// AuthNoMatch: no credential of the application matches.
	AuthNoMatch AuthStatus = iota
	// AuthValid: the credential matches and is usable now.
	AuthValid
	// AuthExpired: the credential matches but its endDateTime has passed.
	AuthExpired
	// AuthNotYetValid: the credential matches but its startDateTime is in the future.
	AuthNotYetValid
	// AuthNotReplicated: the credential matches but has not replicated to the instance that served
	// this sign-in (only before its replication-ready time).
	AuthNotReplicated
)

// ClientAuth is the result of checking a client credential of an application at sign-in.
type ClientAuth struct {
	Status      AuthStatus
	Holder      ObjectRef // the application or service principal holding the credential
	KeyID       string
	Start, End  time.Time
	Certificate *x509.Certificate // certificates only
}

// Principal identifies an application signing in to a tenant: its application (nil when the
// application lives in another tenant) and its service principal.
type Principal struct {
	Application      *Application
	ServicePrincipal *ServicePrincipal
}

// SignInPrincipal returns the application and service principal of appID in the tenant. It fails
// with ErrNotFound when the tenant has neither, and returns a nil ServicePrincipal when the
// application exists but its service principal does not.
func (d *Directory) SignInPrincipal(tenantID, appID string) (Principal, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return Principal{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	key := strings.ToLower(appID)
	var p Principal
	if a, ok := t.appsByAppID[key]; ok {
		c := a.deepCopy()
		p.Application = &c
	}
	if sp, ok := t.spsByAppID[key]; ok {
		c := sp.deepCopy()
		p.ServicePrincipal = &c
	}
	if p.Application == nil && p.ServicePrincipal == nil {
		return Principal{}, fmt.Errorf("application %s: %w", appID, ErrNotFound)
	}
	return p, nil
}

// CheckClientSecret checks a client secret presented by application appID against the client
// secrets of its application object and of its service principal.
func (d *Directory) CheckClientSecret(tenantID, appID, secretText string) (ClientAuth, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return ClientAuth{}, err
	}
	t.mu.RLock()
	key := strings.ToLower(appID)
	var holders []struct {
		ref ObjectRef
		pw  []PasswordCredential
	}
	if a, ok := t.appsByAppID[key]; ok {
		holders = append(holders, struct {
			ref ObjectRef
			pw  []PasswordCredential
		}{a.Ref(), a.PasswordCredentials})
	}
	if sp, ok := t.spsByAppID[key]; ok {
		holders = append(holders, struct {
			ref ObjectRef
			pw  []PasswordCredential
		}{sp.Ref(), sp.PasswordCredentials})
	}
	t.mu.RUnlock()
	now := d.clock.Now()
	for _, h := range holders {
		for _, c := range h.pw {
			if subtle.ConstantTimeCompare(hashSecret(c.salt, secretText), c.hash) != 1 {
				continue
			}
			res := ClientAuth{Holder: h.ref, KeyID: c.KeyID, Start: c.StartDateTime, End: c.EndDateTime}
			switch {
			case !now.Before(c.EndDateTime):
				res.Status = AuthExpired
			case now.Before(c.StartDateTime):
				res.Status = AuthNotYetValid
			case !d.replicated(t, c.KeyID, c.ReadyAt):
				res.Status = AuthNotReplicated
			default:
				res.Status = AuthValid
			}
			return res, nil
		}
	}
	return ClientAuth{Status: AuthNoMatch}, nil
}

// FindClientCertificate finds the certificate of application appID (on its application object or
// its service principal) whose thumbprint is thumbprint: SHA-1 (the x5t header) or SHA-256
// (x5t#S256) of the DER certificate.
func (d *Directory) FindClientCertificate(tenantID, appID string, thumbprint []byte) (ClientAuth, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return ClientAuth{}, err
	}
	t.mu.RLock()
	key := strings.ToLower(appID)
	type holder struct {
		ref  ObjectRef
		keys []KeyCredential
	}
	var holders []holder
	if a, ok := t.appsByAppID[key]; ok {
		holders = append(holders, holder{a.Ref(), a.KeyCredentials})
	}
	if sp, ok := t.spsByAppID[key]; ok {
		holders = append(holders, holder{sp.Ref(), sp.KeyCredentials})
	}
	t.mu.RUnlock()
	now := d.clock.Now()
	for _, h := range holders {
		for _, k := range h.keys {
			if !MatchesThumbprint(k.Key, thumbprint) {
				continue
			}
			cert, err := x509.ParseCertificate(k.Key)
			if err != nil {
				return ClientAuth{}, fmt.Errorf("certificate %s of %s: %w", k.KeyID, appID, err)
			}
			res := ClientAuth{Holder: h.ref, KeyID: k.KeyID, Start: k.StartDateTime, End: k.EndDateTime, Certificate: cert}
			switch {
			case !now.Before(k.EndDateTime):
				res.Status = AuthExpired
			case now.Before(k.StartDateTime):
				res.Status = AuthNotYetValid
			case !d.replicated(t, k.KeyID, k.ReadyAt):
				res.Status = AuthNotReplicated
			default:
				res.Status = AuthValid
			}
			return res, nil
		}
	}
	return ClientAuth{Status: AuthNoMatch}, nil
}

// MatchesThumbprint reports whether thumbprint is the SHA-1 or SHA-256 digest of the DER
// certificate der.
func MatchesThumbprint(der, thumbprint []byte) bool {
	switch len(thumbprint) {
	case sha1.Size:
		s := sha1.Sum(der) //nolint:gosec // x5t
		return bytes.Equal(s[:], thumbprint)
	case sha256.Size:
		s := sha256.Sum256(der)
		return bytes.Equal(s[:], thumbprint)
	}
	return false
}
