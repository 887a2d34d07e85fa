package graph

import (
	"context"
	"fmt"
	"time"
)

// AddPassword adds a client secret to an application or service principal and returns it with
// its SecretText, which Graph never returns again. The call is not retried: if it fails and
// Ambiguous(err) is true, the secret may exist; the caller finds it by its display name.
// https://learn.microsoft.com/graph/api/application-addpassword
func (c *Client) AddPassword(ctx context.Context, kind ObjectKind, id, displayName string, start, end time.Time) (*PasswordCredential, error) {
	if err := checkOwner(kind, id); err != nil {
		return nil, err
	}
	pc := PasswordCredential{DisplayName: displayName}
	if !start.IsZero() {
		s := start.UTC()
		pc.StartDateTime = &s
	}
	if !end.IsZero() {
		e := end.UTC()
		pc.EndDateTime = &e
	}
	var out PasswordCredential
	body := map[string]any{"passwordCredential": pc}
	if err := c.do(ctx, "POST", c.endpoint("/"+string(kind)+"/"+id+"/addPassword", nil), body, nil, false, &out); err != nil {
		return nil, fmt.Errorf("add password to %s %s: %w", kind, id, err)
	}
	if out.KeyID == "" || out.SecretText.IsZero() {
		return nil, fmt.Errorf("add password to %s %s: response lacks keyId or secretText", kind, id)
	}
	return &out, nil
}

// RemovePassword removes a client secret. Removing a secret that is already gone fails with a
// not-found error class; callers that reconcile treat that as done.
// https://learn.microsoft.com/graph/api/application-removepassword
func (c *Client) RemovePassword(ctx context.Context, kind ObjectKind, id, keyID string) error {
	if err := checkOwner(kind, id); err != nil {
		return err
	}
	if !guidRE.MatchString(keyID) {
		return fmt.Errorf("graph: keyId %q is not a GUID", keyID)
	}
	body := map[string]string{"keyId": keyID}
	if err := c.do(ctx, "POST", c.endpoint("/"+string(kind)+"/"+id+"/removePassword", nil), body, nil, false, nil); err != nil {
		return fmt.Errorf("remove password %s from %s %s: %w", keyID, kind, id, err)
	}
	return nil
}

// AddKey adds a certificate, proving possession of an existing valid certificate's key with
// proof, a JWT signed by it.
// https://learn.microsoft.com/graph/api/application-addkey
func (c *Client) AddKey(ctx context.Context, kind ObjectKind, id string, kc KeyCredential, proof string) (*KeyCredential, error) {
	if err := checkOwner(kind, id); err != nil {
		return nil, err
	}
	var out KeyCredential
	body := map[string]any{"keyCredential": kc, "passwordCredential": nil, "proof": proof}
	if err := c.do(ctx, "POST", c.endpoint("/"+string(kind)+"/"+id+"/addKey", nil), body, nil, false, &out); err != nil {
		return nil, fmt.Errorf("add key to %s %s: %w", kind, id, err)
	}
	return &out, nil
}

// RemoveKey removes a certificate, with a proof-of-possession JWT as AddKey.
// https://learn.microsoft.com/graph/api/application-removekey
func (c *Client) RemoveKey(ctx context.Context, kind ObjectKind, id, keyID, proof string) error {
	if err := checkOwner(kind, id); err != nil {
		return err
	}
	if !guidRE.MatchString(keyID) {
		return fmt.Errorf("graph: keyId %q is not a GUID", keyID)
	}
	body := map[string]string{"keyId": keyID, "proof": proof}
	if err := c.do(ctx, "POST", c.endpoint("/"+string(kind)+"/"+id+"/removeKey", nil), body, nil, false, nil); err != nil {
		return fmt.Errorf("remove key %s from %s %s: %w", keyID, kind, id, err)
	}
	return nil
}

func checkOwner(kind ObjectKind, id string) error {
	if kind != Applications && kind != ServicePrincipals {
		return fmt.Errorf("graph: unknown object kind %q", kind)
	}
	if !guidRE.MatchString(id) {
		return fmt.Errorf("graph: object id %q is not a GUID", id)
	}
	return nil
}

// DefaultAppManagementPolicy reads the tenant's default app management policy.
// https://learn.microsoft.com/graph/api/tenantappmanagementpolicy-get
func (c *Client) DefaultAppManagementPolicy(ctx context.Context) (*TenantAppManagementPolicy, error) {
	var p TenantAppManagementPolicy
	if err := c.do(ctx, "GET", c.endpoint("/policies/defaultAppManagementPolicy", nil), nil, nil, true, &p); err != nil {
		return nil, fmt.Errorf("read default app management policy: %w", err)
	}
	return &p, nil
}

// AppManagementPoliciesOf lists the app management policies applied to an application.
// https://learn.microsoft.com/graph/api/application-list-appmanagementpolicies
func (c *Client) AppManagementPoliciesOf(ctx context.Context, appObjectID string) ([]AppManagementPolicy, error) {
	if !guidRE.MatchString(appObjectID) {
		return nil, fmt.Errorf("graph: %q is not a GUID", appObjectID)
	}
	var out []AppManagementPolicy
	_, err := pages(ctx, c, c.endpoint("/applications/"+appObjectID+"/appManagementPolicies", nil), nil, func(p []AppManagementPolicy) error {
		out = append(out, p...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read app management policies of %s: %w", appObjectID, err)
	}
	return out, nil
}
