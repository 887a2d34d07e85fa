package directory

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Restriction types of app management policies, as Graph spells them.
// https://learn.microsoft.com/graph/api/resources/passwordcredentialconfiguration
// https://learn.microsoft.com/graph/api/resources/keycredentialconfiguration
const (
	RestrictPasswordAddition       = "passwordAddition"
	RestrictPasswordLifetime       = "passwordLifetime"
	RestrictSymmetricKeyAddition   = "symmetricKeyAddition"
	RestrictSymmetricKeyLifetime   = "symmetricKeyLifetime"
	RestrictCustomPasswordAddition = "customPasswordAddition"
	RestrictAsymmetricKeyLifetime  = "asymmetricKeyLifetime"
)

// Restriction states.
const (
	StateEnabled  = "enabled"
	StateDisabled = "disabled"
)

// DefaultPolicyID is the id of every tenant's default app management policy.
const DefaultPolicyID = "00000000-0000-0000-0000-000000000000"

// Restriction is a passwordCredentialConfiguration or keyCredentialConfiguration.
type Restriction struct {
	RestrictionType string
	// State is "enabled" or "disabled"; empty means enabled.
	State string
	// MaxLifetime is an ISO 8601 duration ("P90D"), required for the lifetime restrictions.
	MaxLifetime string
	// RestrictForAppsCreatedAfterDateTime: the restriction applies to objects created on or after
	// it; nil means all objects.
	RestrictForAppsCreatedAfterDateTime *time.Time
}

// AppManagementConfiguration is a set of restrictions on password and key credentials.
type AppManagementConfiguration struct {
	PasswordCredentials []Restriction
	KeyCredentials      []Restriction
}

// TenantAppManagementPolicy is a tenant's default app management policy
// (GET /policies/defaultAppManagementPolicy).
type TenantAppManagementPolicy struct {
	ID                           string
	DisplayName                  string
	Description                  string
	IsEnabled                    bool
	ApplicationRestrictions      AppManagementConfiguration
	ServicePrincipalRestrictions AppManagementConfiguration
}

// AppManagementPolicy is a policy assigned to specific applications or service principals; it
// takes precedence over the tenant default policy for them.
type AppManagementPolicy struct {
	ID           string
	DisplayName  string
	Description  string
	IsEnabled    bool
	Restrictions AppManagementConfiguration
	AppliesTo    []ObjectRef
}

func defaultTenantPolicy() TenantAppManagementPolicy {
	return TenantAppManagementPolicy{
		ID:          DefaultPolicyID,
		DisplayName: "Default app management tenant policy",
		Description: "Default tenant policy that enforces app management restrictions on applications and service principals. To apply policy to targeted resources, create a new policy under appManagementPolicies collection.",
	}
}

// PolicyViolationError: a credential request breaks an app management policy.
type PolicyViolationError struct {
	PolicyID        string
	RestrictionType string
	MaxLifetime     string // for the lifetime restrictions
}

func (e *PolicyViolationError) Error() string {
	return fmt.Sprintf("app management policy %s: restriction %s", e.PolicyID, e.RestrictionType)
}

// Lifetime reports whether the violation is of a lifetime restriction (as opposed to an addition
// being blocked).
func (e *PolicyViolationError) Lifetime() bool {
	return strings.HasSuffix(e.RestrictionType, "Lifetime")
}

// CredentialLimitError: a request would exceed the number of credentials an object may hold.
type CredentialLimitError struct {
	Limit int
	// PersonalAccounts is set when the limit is the two client secrets of applications whose
	// sign-in audience includes personal Microsoft accounts.
	PersonalAccounts bool
}

func (e *CredentialLimitError) Error() string {
	if e.PersonalAccounts {
		return fmt.Sprintf("applications that support personal Microsoft accounts have at most %d client secrets", e.Limit)
	}
	return fmt.Sprintf("an object has at most %d credentials", e.Limit)
}

// DefaultAppManagementPolicy returns the tenant's default app management policy.
func (d *Directory) DefaultAppManagementPolicy(tenantID string) (TenantAppManagementPolicy, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return TenantAppManagementPolicy{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return clonePolicyT(t.defaultPolicy), nil
}

// SetDefaultAppManagementPolicy replaces the tenant's default app management policy (its id stays
// DefaultPolicyID).
func (d *Directory) SetDefaultAppManagementPolicy(tenantID string, p TenantAppManagementPolicy) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("set default app management policy: %w", err)
	}
	if err := validateConfig(p.ApplicationRestrictions); err != nil {
		return fmt.Errorf("set default app management policy: applicationRestrictions: %w", err)
	}
	if err := validateConfig(p.ServicePrincipalRestrictions); err != nil {
		return fmt.Errorf("set default app management policy: servicePrincipalRestrictions: %w", err)
	}
	def := defaultTenantPolicy()
	p.ID = DefaultPolicyID
	if p.DisplayName == "" {
		p.DisplayName = def.DisplayName
	}
	if p.Description == "" {
		p.Description = def.Description
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.defaultPolicy = clonePolicyT(p)
	return nil
}

// AddAppManagementPolicy creates an app management policy (not yet assigned to anything; see
// AssignAppManagementPolicy).
func (d *Directory) AddAppManagementPolicy(tenantID string, p AppManagementPolicy) (AppManagementPolicy, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return AppManagementPolicy{}, fmt.Errorf("add app management policy: %w", err)
	}
	if err := validateConfig(p.Restrictions); err != nil {
		return AppManagementPolicy{}, fmt.Errorf("add app management policy %q: restrictions: %w", p.DisplayName, err)
	}
	if p.ID == "" {
		p.ID = d.newID()
	}
	p.ID = strings.ToLower(p.ID)
	p.AppliesTo = nil
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.policies[p.ID]; ok {
		return AppManagementPolicy{}, fmt.Errorf("add app management policy %s: %w", p.ID, ErrConflict)
	}
	c := clonePolicy(p)
	t.policies[p.ID] = &c
	t.policyOrder = append(t.policyOrder, p.ID)
	return clonePolicy(c), nil
}

// AssignAppManagementPolicy applies policy policyID to an application or service principal.
func (d *Directory) AssignAppManagementPolicy(tenantID, policyID string, target ObjectRef) error {
	t, err := d.tenant(tenantID)
	if err != nil {
		return fmt.Errorf("assign app management policy: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.policies[strings.ToLower(policyID)]
	if !ok {
		return fmt.Errorf("assign app management policy %s: %w", policyID, ErrNotFound)
	}
	target.ID = strings.ToLower(target.ID)
	var ids *[]string
	switch target.Kind {
	case KindApplication:
		a, ok := t.apps[target.ID]
		if !ok {
			return fmt.Errorf("assign app management policy: application %s: %w", target.ID, ErrNotFound)
		}
		ids = &a.AppManagementPolicyIDs
	case KindServicePrincipal:
		sp, ok := t.sps[target.ID]
		if !ok {
			return fmt.Errorf("assign app management policy: service principal %s: %w", target.ID, ErrNotFound)
		}
		ids = &sp.AppManagementPolicyIDs
	default:
		return fmt.Errorf("assign app management policy to %q: %w", target.Kind, ErrInvalid)
	}
	if slices.Contains(*ids, p.ID) {
		return nil
	}
	*ids = append(clip(*ids), p.ID)
	p.AppliesTo = append(clip(p.AppliesTo), target)
	return nil
}

// AppManagementPolicies returns the tenant's app management policies (not the default one).
func (d *Directory) AppManagementPolicies(tenantID string) ([]AppManagementPolicy, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]AppManagementPolicy, 0, len(t.policyOrder))
	for _, id := range t.policyOrder {
		out = append(out, clonePolicy(*t.policies[id]))
	}
	return out, nil
}

// AppManagementPolicy returns one app management policy.
func (d *Directory) AppManagementPolicy(tenantID, id string) (AppManagementPolicy, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return AppManagementPolicy{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.policies[strings.ToLower(id)]
	if !ok {
		return AppManagementPolicy{}, fmt.Errorf("app management policy %s: %w", id, ErrNotFound)
	}
	return clonePolicy(*p), nil
}

// AppManagementPoliciesOf returns the policies assigned to an application or service principal.
func (d *Directory) AppManagementPoliciesOf(tenantID string, target ObjectRef) ([]AppManagementPolicy, error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	ids, _, _, err := policyTargetLocked(t, target)
	if err != nil {
		return nil, err
	}
	out := make([]AppManagementPolicy, 0, len(ids))
	for _, id := range ids {
		if p, ok := t.policies[id]; ok {
			out = append(out, clonePolicy(*p))
		}
	}
	return out, nil
}

func policyTargetLocked(t *tenantState, target ObjectRef) (ids []string, created time.Time, isApp bool, err error) {
	switch target.Kind {
	case KindApplication:
		a, ok := t.apps[strings.ToLower(target.ID)]
		if !ok {
			return nil, time.Time{}, false, fmt.Errorf("application %s: %w", target.ID, ErrNotFound)
		}
		return a.AppManagementPolicyIDs, a.CreatedDateTime, true, nil
	case KindServicePrincipal:
		sp, ok := t.sps[strings.ToLower(target.ID)]
		if !ok {
			return nil, time.Time{}, false, fmt.Errorf("service principal %s: %w", target.ID, ErrNotFound)
		}
		return sp.AppManagementPolicyIDs, sp.CreatedDateTime, false, nil
	}
	return nil, time.Time{}, false, fmt.Errorf("policies of %q: %w", target.Kind, ErrInvalid)
}

// EffectiveRestrictions returns the restrictions that apply to target and the id of the policy
// they come from: an enabled app management policy assigned to it takes precedence over the
// tenant default policy; ok is false when no enabled policy applies.
// https://learn.microsoft.com/graph/api/resources/appmanagementpolicy
func (d *Directory) EffectiveRestrictions(tenantID string, target ObjectRef) (policyID string, cfg AppManagementConfiguration, ok bool, err error) {
	t, err := d.tenant(tenantID)
	if err != nil {
		return "", AppManagementConfiguration{}, false, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	id, cfg, _, ok, err := effectiveLocked(t, target)
	return id, cloneConfig(cfg), ok, err
}

func effectiveLocked(t *tenantState, target ObjectRef) (string, AppManagementConfiguration, time.Time, bool, error) {
	ids, created, isApp, err := policyTargetLocked(t, target)
	if err != nil {
		return "", AppManagementConfiguration{}, time.Time{}, false, err
	}
	for _, id := range ids {
		if p, ok := t.policies[id]; ok && p.IsEnabled {
			return p.ID, p.Restrictions, created, true, nil
		}
	}
	if !t.defaultPolicy.IsEnabled {
		return "", AppManagementConfiguration{}, created, false, nil
	}
	if isApp {
		return DefaultPolicyID, t.defaultPolicy.ApplicationRestrictions, created, true, nil
	}
	return DefaultPolicyID, t.defaultPolicy.ServicePrincipalRestrictions, created, true, nil
}

// checkPasswordLocked applies the effective password restrictions to a new secret valid from start
// to end.
func checkPasswordLocked(t *tenantState, target ObjectRef, start, end time.Time) error {
	id, cfg, created, ok, err := effectiveLocked(t, target)
	if err != nil || !ok {
		return err
	}
	for _, r := range cfg.PasswordCredentials {
		if !applies(r, created) {
			continue
		}
		switch r.RestrictionType {
		case RestrictPasswordAddition:
			return &PolicyViolationError{PolicyID: id, RestrictionType: r.RestrictionType}
		case RestrictPasswordLifetime:
			max, err := ParseISODuration(r.MaxLifetime)
			if err == nil && end.Sub(start) > max {
				return &PolicyViolationError{PolicyID: id, RestrictionType: r.RestrictionType, MaxLifetime: r.MaxLifetime}
			}
		}
	}
	return nil
}

// checkKeyLocked applies the effective key restrictions to a new certificate valid from start to
// end.
func checkKeyLocked(t *tenantState, target ObjectRef, start, end time.Time) error {
	id, cfg, created, ok, err := effectiveLocked(t, target)
	if err != nil || !ok {
		return err
	}
	for _, r := range cfg.KeyCredentials {
		if !applies(r, created) || r.RestrictionType != RestrictAsymmetricKeyLifetime {
			continue
		}
		max, err := ParseISODuration(r.MaxLifetime)
		if err == nil && end.Sub(start) > max {
			return &PolicyViolationError{PolicyID: id, RestrictionType: r.RestrictionType, MaxLifetime: r.MaxLifetime}
		}
	}
	return nil
}

func applies(r Restriction, created time.Time) bool {
	if r.State == StateDisabled {
		return false
	}
	return r.RestrictForAppsCreatedAfterDateTime == nil || !created.Before(*r.RestrictForAppsCreatedAfterDateTime)
}

func validateConfig(c AppManagementConfiguration) error {
	seen := map[string]bool{}
	check := func(r Restriction, allowed ...string) error {
		if !slices.Contains(allowed, r.RestrictionType) {
			return fmt.Errorf("restrictionType %q is not one of %v: %w", r.RestrictionType, allowed, ErrInvalid)
		}
		if seen[r.RestrictionType] {
			return fmt.Errorf("restrictionType %q used twice: %w", r.RestrictionType, ErrInvalid)
		}
		seen[r.RestrictionType] = true
		if r.State != "" && r.State != StateEnabled && r.State != StateDisabled {
			return fmt.Errorf("state %q: %w", r.State, ErrInvalid)
		}
		if strings.HasSuffix(r.RestrictionType, "Lifetime") {
			if _, err := ParseISODuration(r.MaxLifetime); err != nil {
				return fmt.Errorf("maxLifetime of %s: %w", r.RestrictionType, err)
			}
		}
		return nil
	}
	for _, r := range c.PasswordCredentials {
		if err := check(r, RestrictPasswordAddition, RestrictPasswordLifetime, RestrictSymmetricKeyAddition, RestrictSymmetricKeyLifetime, RestrictCustomPasswordAddition); err != nil {
			return err
		}
	}
	for _, r := range c.KeyCredentials {
		if err := check(r, RestrictAsymmetricKeyLifetime); err != nil {
			return err
		}
	}
	return nil
}

// ParseISODuration parses the ISO 8601 durations Graph uses for maxLifetime ("P90D",
// "P4DT12H30M5S", "PT1H"). A year counts 365 days and a month 30 days.
func ParseISODuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not an ISO 8601 duration: %w", s, ErrInvalid)
	if len(s) < 3 || s[0] != 'P' {
		return 0, bad
	}
	var total time.Duration
	inTime := false
	num := ""
	any := false
	for _, c := range s[1:] {
		switch {
		case c >= '0' && c <= '9' || c == '.':
			num += string(c)
			continue
		case c == 'T':
			if inTime || num != "" {
				return 0, bad
			}
			inTime = true
			continue
		}
		if num == "" {
			return 0, bad
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, bad
		}
		num = ""
		var unit time.Duration
		switch {
		case !inTime && c == 'Y':
			unit = 365 * 24 * time.Hour
		case !inTime && c == 'M':
			unit = 30 * 24 * time.Hour
		case !inTime && c == 'W':
			unit = 7 * 24 * time.Hour
		case !inTime && c == 'D':
			unit = 24 * time.Hour
		case inTime && c == 'H':
			unit = time.Hour
		case inTime && c == 'M':
			unit = time.Minute
		case inTime && c == 'S':
			unit = time.Second
		default:
			return 0, bad
		}
		total += time.Duration(v * float64(unit))
		any = true
	}
	if num != "" || !any {
		return 0, bad
	}
	return total, nil
}

func cloneConfig(c AppManagementConfiguration) AppManagementConfiguration {
	cl := func(rs []Restriction) []Restriction {
		out := slices.Clone(rs)
		for i := range out {
			if out[i].RestrictForAppsCreatedAfterDateTime != nil {
				v := *out[i].RestrictForAppsCreatedAfterDateTime
				out[i].RestrictForAppsCreatedAfterDateTime = &v
			}
		}
		return out
	}
	return AppManagementConfiguration{PasswordCredentials: cl(c.PasswordCredentials), KeyCredentials: cl(c.KeyCredentials)}
}

func clonePolicy(p AppManagementPolicy) AppManagementPolicy {
	p.Restrictions = cloneConfig(p.Restrictions)
	p.AppliesTo = slices.Clone(p.AppliesTo)
	return p
}

func clonePolicyT(p TenantAppManagementPolicy) TenantAppManagementPolicy {
	p.ApplicationRestrictions = cloneConfig(p.ApplicationRestrictions)
	p.ServicePrincipalRestrictions = cloneConfig(p.ServicePrincipalRestrictions)
	return p
}

// IsPolicyViolation reports whether err is a *PolicyViolationError and returns it.
func IsPolicyViolation(err error) (*PolicyViolationError, bool) {
	var v *PolicyViolationError
	ok := errors.As(err, &v)
	return v, ok
}
