package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ObjectKind names the collection a credential owner lives in.
type ObjectKind string

const (
	Applications      ObjectKind = "applications"
	ServicePrincipals ObjectKind = "servicePrincipals"
)

// Query narrows a collection listing.
type Query struct {
	Select []string
	Filter Filter
	Top    int  // page size, 1 to 999; zero lets Graph choose (100)
	Count  bool // ask for @odata.count (sends ConsistencyLevel: eventual)
}

func (q Query) values() (url.Values, map[string]string, error) {
	v := url.Values{}
	var h map[string]string
	if len(q.Select) > 0 {
		v.Set("$select", strings.Join(q.Select, ","))
	}
	if q.Filter.expr != "" {
		v.Set("$filter", q.Filter.expr)
	}
	if q.Top != 0 {
		if q.Top < 1 || q.Top > 999 {
			return nil, nil, fmt.Errorf("graph: $top %d out of range 1..999", q.Top)
		}
		v.Set("$top", strconv.Itoa(q.Top))
	}
	if q.Count {
		v.Set("$count", "true")
		h = map[string]string{"ConsistencyLevel": "eventual"}
	}
	return v, h, nil
}

// ListApplications calls fn with each page of applications matching q.
func (c *Client) ListApplications(ctx context.Context, q Query, fn func([]Application) error) error {
	return list(ctx, c, Applications, q, fn)
}

// ListServicePrincipals calls fn with each page of service principals matching q.
func (c *Client) ListServicePrincipals(ctx context.Context, q Query, fn func([]ServicePrincipal) error) error {
	return list(ctx, c, ServicePrincipals, q, fn)
}

func list[T any](ctx context.Context, c *Client, kind ObjectKind, q Query, fn func([]T) error) error {
	v, h, err := q.values()
	if err != nil {
		return err
	}
	_, err = pages(ctx, c, c.endpoint("/"+string(kind), v), h, fn)
	return err
}

// pages follows @odata.nextLink from u, calling fn with each page, and returns the final
// @odata.deltaLink when the collection is a delta.
func pages[T any](ctx context.Context, c *Client, u string, h map[string]string, fn func([]T) error) (string, error) {
	for {
		var p page[T]
		if err := c.do(ctx, "GET", u, nil, h, true, &p); err != nil {
			return "", err
		}
		if err := fn(p.Value); err != nil {
			return "", err
		}
		switch {
		case p.NextLink != "":
			if err := c.checkLink(p.NextLink); err != nil {
				return "", err
			}
			u = p.NextLink
		case p.DeltaLink != "":
			if err := c.checkLink(p.DeltaLink); err != nil {
				return "", err
			}
			return p.DeltaLink, nil
		default:
			return "", nil
		}
	}
}

// ApplicationsDelta reads the changes since link (a delta link from an earlier round), calling
// fn with each page, and returns the delta link of the next round. An empty link starts a new
// round with sel as $select, reporting every application. A link Graph no longer knows fails
// with an error for which DeltaExpired is true.
func (c *Client) ApplicationsDelta(ctx context.Context, link string, sel []string, fn func([]Application) error) (string, error) {
	return delta(ctx, c, Applications, link, sel, fn)
}

// ServicePrincipalsDelta is ApplicationsDelta for service principals.
func (c *Client) ServicePrincipalsDelta(ctx context.Context, link string, sel []string, fn func([]ServicePrincipal) error) (string, error) {
	return delta(ctx, c, ServicePrincipals, link, sel, fn)
}

func delta[T any](ctx context.Context, c *Client, kind ObjectKind, link string, sel []string, fn func([]T) error) (string, error) {
	u := link
	if u == "" {
		v := url.Values{}
		if len(sel) > 0 {
			v.Set("$select", strings.Join(sel, ","))
		}
		u = c.endpoint("/"+string(kind)+"/delta", v)
	} else if err := c.checkLink(u); err != nil {
		return "", err
	}
	next, err := pages(ctx, c, u, nil, fn)
	if err != nil {
		return "", err
	}
	if next == "" {
		return "", fmt.Errorf("graph: %s delta ended without a delta link", kind)
	}
	return next, nil
}

// DeltaLatest returns a delta link for changes from now on, without reading the collection
// ($deltatoken=latest). A full listing taken after this call, followed by rounds from this
// link, misses nothing.
// https://learn.microsoft.com/graph/delta-query-overview#optional-query-parameters
func (c *Client) DeltaLatest(ctx context.Context, kind ObjectKind, sel []string) (string, error) {
	v := url.Values{"$deltatoken": {"latest"}}
	if len(sel) > 0 {
		v.Set("$select", strings.Join(sel, ","))
	}
	next, err := pages(ctx, c, c.endpoint("/"+string(kind)+"/delta", v), nil, func([]json.RawMessage) error { return nil })
	if err != nil {
		return "", err
	}
	if next == "" {
		return "", fmt.Errorf("graph: %s delta with $deltatoken=latest returned no delta link", kind)
	}
	return next, nil
}

// GetApplication reads one application by object id.
func (c *Client) GetApplication(ctx context.Context, id string, sel []string) (*Application, error) {
	var a Application
	return &a, c.get(ctx, Applications, id, false, sel, &a)
}

// GetApplicationByAppID reads one application by client id.
func (c *Client) GetApplicationByAppID(ctx context.Context, appID string, sel []string) (*Application, error) {
	var a Application
	return &a, c.get(ctx, Applications, appID, true, sel, &a)
}

// GetServicePrincipal reads one service principal by object id.
func (c *Client) GetServicePrincipal(ctx context.Context, id string, sel []string) (*ServicePrincipal, error) {
	var sp ServicePrincipal
	return &sp, c.get(ctx, ServicePrincipals, id, false, sel, &sp)
}

// GetServicePrincipalByAppID reads one service principal by client id.
func (c *Client) GetServicePrincipalByAppID(ctx context.Context, appID string, sel []string) (*ServicePrincipal, error) {
	var sp ServicePrincipal
	return &sp, c.get(ctx, ServicePrincipals, appID, true, sel, &sp)
}

func (c *Client) get(ctx context.Context, kind ObjectKind, id string, byAppID bool, sel []string, out any) error {
	if !guidRE.MatchString(id) {
		return fmt.Errorf("graph: %q is not a GUID", id)
	}
	path := "/" + string(kind) + "/" + id
	if byAppID {
		path = "/" + string(kind) + "(appId='" + id + "')"
	}
	v := url.Values{}
	if len(sel) > 0 {
		v.Set("$select", strings.Join(sel, ","))
	}
	return c.do(ctx, "GET", c.endpoint(path, v), nil, nil, true, out)
}

// ListOwners returns the owners (users and service principals) of an application.
func (c *Client) ListOwners(ctx context.Context, appObjectID string) ([]DirectoryObject, error) {
	if !guidRE.MatchString(appObjectID) {
		return nil, fmt.Errorf("graph: %q is not a GUID", appObjectID)
	}
	var owners []DirectoryObject
	v := url.Values{"$select": {"id,displayName,mail,userPrincipalName,appId"}}
	_, err := pages(ctx, c, c.endpoint("/applications/"+appObjectID+"/owners", v), nil, func(p []DirectoryObject) error {
		owners = append(owners, p...)
		return nil
	})
	return owners, err
}
