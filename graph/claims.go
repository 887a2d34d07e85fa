package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/rotorhq/rotor"
)

// Claims are what rotor's own Graph access token says of it.
type Claims struct {
	TenantID string   `json:"tid"`
	ObjectID string   `json:"oid"` // rotor's service principal
	AppID    string   `json:"appid"`
	Roles    []string `json:"roles"`
	Audience string   `json:"aud"`
}

// Application permissions rotor uses.
const (
	PermReadAll      = "Application.Read.All"
	PermWriteOwnedBy = "Application.ReadWrite.OwnedBy"
	PermWriteAll     = "Application.ReadWrite.All"
	PermPolicyRead   = "Policy.Read.All"
)

// TokenClaims acquires a token as the client does and reads its claims, without verifying it:
// it came straight from the token endpoint over TLS and is read only to report permissions.
func (c *Client) TokenClaims(ctx context.Context) (*Claims, error) {
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.opts.Scope}})
	if err != nil {
		return nil, fmt.Errorf("get a token: %w", err)
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("the access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("access token payload: %w", err)
	}
	var cl Claims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, fmt.Errorf("access token claims: %w", err)
	}
	return &cl, nil
}

// Has reports whether the token carries the role.
func (cl *Claims) Has(role string) bool { return slices.Contains(cl.Roles, role) }

// CheckWrite implements rotor.WriteChecker: rotor may write to the owner when its token carries
// Application.ReadWrite.All, or Application.ReadWrite.OwnedBy and rotor's service principal is
// an owner of the application (of the service principal's application, for a service principal).
// https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby
func (d *Directory) CheckWrite(ctx context.Context, owner rotor.OwnerRef) error {
	cl, err := d.c.TokenClaims(ctx)
	if err != nil {
		return err
	}
	switch {
	case cl.Has(PermWriteAll):
		return nil
	case !cl.Has(PermWriteOwnedBy):
		return fmt.Errorf("rotor's token has neither %s nor %s: it cannot change credentials", PermWriteAll, PermWriteOwnedBy)
	}
	appObject := owner.ID
	if owner.Kind == rotor.OwnerServicePrincipal {
		sp, err := d.c.GetServicePrincipal(ctx, owner.ID, []string{"id", "appId"})
		if err != nil {
			return err
		}
		a, err := d.c.GetApplicationByAppID(ctx, str(sp.AppID), []string{"id"})
		if err != nil {
			return fmt.Errorf("application of service principal %s: %w", owner.ID, err)
		}
		appObject = a.ID
	}
	owners, err := d.c.ListOwners(ctx, appObject)
	if err != nil {
		return err
	}
	for _, o := range owners {
		if o.ID == cl.ObjectID {
			return nil
		}
	}
	return fmt.Errorf("rotor has %s but its service principal %s is not an owner of application %s", PermWriteOwnedBy, cl.ObjectID, appObject)
}

// AppOwners implements rotor.OwnerLister.
func (d *Directory) AppOwners(ctx context.Context, appObjectID string) ([]rotor.Owner, error) {
	objs, err := d.c.ListOwners(ctx, appObjectID)
	if err != nil {
		return nil, err
	}
	out := make([]rotor.Owner, 0, len(objs))
	for _, o := range objs {
		typ := strings.TrimPrefix(o.ODataType, "#microsoft.graph.")
		out = append(out, rotor.Owner{ID: o.ID, Type: typ, DisplayName: o.DisplayName, Mail: o.Mail, UserPrincipalName: o.UserPrincipalName})
	}
	return out, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
