package graph

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/rotorhq/rotor"
)

// Directory is a rotor.Directory over a Graph client: one tenant's client secrets.
type Directory struct {
	c *Client
}

var (
	_ rotor.Directory   = (*Directory)(nil)
	_ rotor.OwnerLister = (*Directory)(nil)
)

// NewDirectory returns the directory the client reaches.
func NewDirectory(c *Client) *Directory { return &Directory{c: c} }

func kindOf(o rotor.OwnerRef) (ObjectKind, error) {
	switch o.Kind {
	case rotor.OwnerApplication:
		return Applications, nil
	case rotor.OwnerServicePrincipal:
		return ServicePrincipals, nil
	}
	return "", fmt.Errorf("graph: unknown owner kind %q", o.Kind)
}

// AddSecret implements rotor.Directory.
func (d *Directory) AddSecret(ctx context.Context, owner rotor.OwnerRef, displayName string, end time.Time) (*rotor.NewSecret, error) {
	kind, err := kindOf(owner)
	if err != nil {
		return nil, err
	}
	pc, err := d.c.AddPassword(ctx, kind, owner.ID, displayName, time.Time{}, end)
	if err != nil {
		return nil, err
	}
	ns := &rotor.NewSecret{KeyID: pc.KeyID, DisplayName: pc.DisplayName, Hint: pc.Hint, Value: pc.SecretText}
	if pc.StartDateTime != nil {
		ns.StartAt = pc.StartDateTime.UTC()
	}
	if pc.EndDateTime != nil {
		ns.EndAt = pc.EndDateTime.UTC()
	}
	return ns, nil
}

// RemoveSecret implements rotor.Directory. Graph answers a removePassword for a keyId the object
// does not have with a 4xx whose code is not documented as distinct, so after a 4xx the owner's
// secrets are listed again: a secret that is not there is reported as ErrNotFound.
func (d *Directory) RemoveSecret(ctx context.Context, owner rotor.OwnerRef, keyID string) error {
	kind, err := kindOf(owner)
	if err != nil {
		return err
	}
	err = d.c.RemovePassword(ctx, kind, owner.ID, keyID)
	var ge *Error
	if err == nil || !errors.As(err, &ge) || ge.StatusCode < 400 || ge.StatusCode >= 500 || ge.StatusCode == 429 {
		return err
	}
	secrets, lerr := d.ListSecrets(ctx, owner)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	for _, s := range secrets {
		if s.KeyID == keyID {
			return err // it is there: the refusal stands
		}
	}
	return fmt.Errorf("remove secret %s from %s %s: %w", keyID, kind, owner.ID, rotor.ErrNotFound)
}

// ListSecrets implements rotor.Directory.
func (d *Directory) ListSecrets(ctx context.Context, owner rotor.OwnerRef) ([]*rotor.Credential, error) {
	var pcs *[]PasswordCredential
	var appID *string
	switch owner.Kind {
	case rotor.OwnerApplication:
		a, err := d.c.GetApplication(ctx, owner.ID, []string{"id", "appId", "passwordCredentials"})
		if err != nil {
			return nil, err
		}
		pcs, appID = a.PasswordCredentials, a.AppID
	case rotor.OwnerServicePrincipal:
		sp, err := d.c.GetServicePrincipal(ctx, owner.ID, []string{"id", "appId", "passwordCredentials"})
		if err != nil {
			return nil, err
		}
		pcs, appID = sp.PasswordCredentials, sp.AppID
	default:
		return nil, fmt.Errorf("graph: unknown owner kind %q", owner.Kind)
	}
	var out []*rotor.Credential
	if pcs == nil {
		return out, nil
	}
	for _, pc := range *pcs {
		c := PasswordToCredential(pc)
		c.OwnerKind, c.OwnerID = owner.Kind, owner.ID
		if appID != nil {
			c.AppID = *appID
		}
		out = append(out, c)
	}
	return out, nil
}

// PasswordToCredential converts Graph's passwordCredential to rotor's metadata.
func PasswordToCredential(pc PasswordCredential) *rotor.Credential {
	c := &rotor.Credential{KeyID: pc.KeyID, Kind: rotor.KindSecret, DisplayName: pc.DisplayName, Hint: pc.Hint}
	if pc.StartDateTime != nil {
		c.StartAt = pc.StartDateTime.UTC()
	}
	if pc.EndDateTime != nil {
		c.EndAt = pc.EndDateTime.UTC()
	}
	return c
}

// SecretRestriction implements rotor.Directory: the app's own enabled app management policy
// wins over the tenant default, as Entra applies them. A restriction applies only to objects
// created after its restrictForAppsCreatedAfterDateTime.
// https://learn.microsoft.com/graph/api/resources/appmanagementpolicy
func (d *Directory) SecretRestriction(ctx context.Context, owner rotor.OwnerRef) (rotor.SecretRestriction, error) {
	var created time.Time
	if owner.Kind == rotor.OwnerApplication {
		a, err := d.c.GetApplication(ctx, owner.ID, []string{"id", "createdDateTime"})
		if err != nil {
			return rotor.SecretRestriction{}, err
		}
		if a.CreatedDateTime != nil {
			created = *a.CreatedDateTime
		}
		own, err := d.c.AppManagementPoliciesOf(ctx, owner.ID)
		if err != nil {
			return rotor.SecretRestriction{}, err
		}
		for _, p := range own {
			if p.IsEnabled && p.Restrictions != nil {
				return restriction(p.Restrictions.PasswordCredentials, created, "app policy "+p.DisplayName)
			}
		}
	}
	def, err := d.c.DefaultAppManagementPolicy(ctx)
	if err != nil {
		return rotor.SecretRestriction{}, err
	}
	if !def.IsEnabled {
		return rotor.SecretRestriction{}, nil
	}
	cfg := def.ApplicationRestrictions
	if owner.Kind == rotor.OwnerServicePrincipal {
		cfg = def.ServicePrincipalRestrictions
	}
	if cfg == nil {
		return rotor.SecretRestriction{}, nil
	}
	return restriction(cfg.PasswordCredentials, created, "tenant default")
}

func restriction(rs []CredentialRestriction, created time.Time, source string) (rotor.SecretRestriction, error) {
	out := rotor.SecretRestriction{Source: source}
	for _, r := range rs {
		if r.State != "" && r.State != "enabled" {
			continue
		}
		if r.RestrictForAppsCreatedAfterDateTime != nil && !created.IsZero() && !created.After(*r.RestrictForAppsCreatedAfterDateTime) {
			continue
		}
		switch r.RestrictionType {
		case "passwordAddition", "customPasswordAddition":
			out.Blocked = true
		case "passwordLifetime":
			d, err := ParseISODuration(r.MaxLifetime)
			if err != nil {
				return out, fmt.Errorf("%s: passwordLifetime: %w", source, err)
			}
			if out.MaxLifetime == 0 || d < out.MaxLifetime {
				out.MaxLifetime = d
			}
		}
	}
	return out, nil
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// ParseISODuration parses an ISO 8601 duration as app management policies write them
// (P90D, P1Y, PT12H). Years count 365 days and months 30, as lifetimes are checked in days.
func ParseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration", s)
	}
	unit := []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, v := range m[1:] {
		if v == "" {
			continue
		}
		n, _ := strconv.Atoi(v)
		d += time.Duration(n) * unit[i]
	}
	return d, nil
}
