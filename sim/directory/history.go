package directory

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// CredentialAction is what happened to a credential.
type CredentialAction string

// Credential actions recorded in the history.
const (
	ActionAdded   CredentialAction = "added"
	ActionRemoved CredentialAction = "removed"
)

// CredentialType distinguishes client secrets from certificates in the history.
type CredentialType string

// Credential types.
const (
	CredentialPassword CredentialType = "password"
	CredentialKey      CredentialType = "key"
)

// CredentialEvent is one entry of the credential history: a credential was added or removed.
type CredentialEvent struct {
	Time        time.Time
	Action      CredentialAction
	Kind        CredentialType
	Object      ObjectRef // the application or service principal holding the credential
	AppID       string
	KeyID       string
	DisplayName string
	Start, End  time.Time
	By          string // the actor: the calling application's appId, a user, or "seed"
	Reason      string // optional, e.g. "application deleted"
}

// CredentialUse is the last successful sign-in of an application.
type CredentialUse struct {
	AppID  string
	KeyID  string
	Kind   CredentialType
	Object ObjectRef // the object holding the credential (the application or its service principal)
	Time   time.Time
	Count  int // successful sign-ins so far
}

func (d *Directory) recordLocked(t *tenantState, e CredentialEvent) {
	if e.Time.IsZero() {
		e.Time = d.clock.Now().UTC()
	}
	t.history = append(t.history, e)
}

// CredentialHistory returns every credential event of the tenant in order. Filter by application
// with appID (empty: all).
func (d *Directory) CredentialHistory(tenantID, appID string) ([]CredentialEvent, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, fmt.Errorf("credential history: %w", err)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if appID == "" {
		return slices.Clone(t.history), nil
	}
	var out []CredentialEvent
	for _, e := range t.history {
		if strings.EqualFold(e.AppID, appID) {
			out = append(out, e)
		}
	}
	return out, nil
}

// RecordSignIn notes that application appID obtained a token with credential keyID. The login
// endpoints call it.
func (d *Directory) RecordSignIn(tenantID, appID string, kind CredentialType, holder ObjectRef, keyID string) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("record sign-in: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	key := strings.ToLower(appID)
	u := t.lastUse[key]
	t.lastUse[key] = CredentialUse{AppID: key, KeyID: keyID, Kind: kind, Object: holder, Time: d.clock.Now().UTC(), Count: u.Count + 1}
	return nil
}

// LastSignIn returns the last successful sign-in of application appID; ok is false when it never
// signed in.
func (d *Directory) LastSignIn(tenantID, appID string) (use CredentialUse, ok bool, err error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return CredentialUse{}, false, fmt.Errorf("last sign-in: %w", err)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	use, ok = t.lastUse[strings.ToLower(appID)]
	return use, ok, nil
}
