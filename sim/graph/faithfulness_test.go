package graph_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/graph"
)

// nested says which model describes a member of a type: an object member, or the elements of an
// array member. "@odata.type" means: polymorphic, look at each element's @odata.type.
var nested = map[string]map[string]string{
	"models.Application": {"passwordCredentials": "models.PasswordCredential", "keyCredentials": "models.KeyCredential",
		"api": "models.ApiApplication", "appRoles": "models.AppRole", "requiredResourceAccess": "models.RequiredResourceAccess"},
	"models.RequiredResourceAccess": {"resourceAccess": "models.ResourceAccess"},
	"models.ServicePrincipal": {"passwordCredentials": "models.PasswordCredential", "keyCredentials": "models.KeyCredential",
		"appRoles": "models.AppRole"},
	"models.TenantAppManagementPolicy": {"applicationRestrictions": "models.AppManagementApplicationConfiguration",
		"servicePrincipalRestrictions": "models.AppManagementServicePrincipalConfiguration"},
	"models.AppManagementPolicy": {"restrictions": "models.CustomAppManagementConfiguration"},
	"models.AppManagementApplicationConfiguration": {"passwordCredentials": "models.PasswordCredentialConfiguration",
		"keyCredentials": "models.KeyCredentialConfiguration"},
	"models.AppManagementServicePrincipalConfiguration": {"passwordCredentials": "models.PasswordCredentialConfiguration",
		"keyCredentials": "models.KeyCredentialConfiguration"},
	"models.CustomAppManagementConfiguration": {"passwordCredentials": "models.PasswordCredentialConfiguration",
		"keyCredentials": "models.KeyCredentialConfiguration"},
	"models.ApplicationCollectionResponse":           {"value": "models.Application"},
	"models.ServicePrincipalCollectionResponse":      {"value": "models.ServicePrincipal"},
	"models.DirectoryObjectCollectionResponse":       {"value": "@odata.type"},
	"models.AppManagementPolicyCollectionResponse":   {"value": "models.AppManagementPolicy"},
	"applications.DeltaGetResponse":                  {"value": "models.Application"},
	"serviceprincipals.DeltaGetResponse":             {"value": "models.ServicePrincipal"},
	"odataerrors.ODataError":                         {"error": "odataerrors.MainError"},
	"odataerrors.MainError":                          {"details": "odataerrors.ErrorDetails", "innerError": "odataerrors.InnerError"},
	"applications.ItemAddKeyPostRequestBody":         {"keyCredential": "models.KeyCredential", "passwordCredential": "models.PasswordCredential"},
	"applications.ItemAddPasswordPostRequestBody":    {"passwordCredential": "models.PasswordCredential"},
	"serviceprincipals.ItemAddKeyPostRequestBody":    {"keyCredential": "models.KeyCredential", "passwordCredential": "models.PasswordCredential"},
	"models.KeyCredentialConfiguration":              {},
	"models.PasswordCredentialConfiguration":         {},
	"models.AppManagementConfiguration":              {},
	"models.ApiApplication":                          {},
	"odataerrors.InnerError":                         {},
	"applications.ItemRemoveKeyPostRequestBody":      {},
	"applications.ItemRemovePasswordPostRequestBody": {},
}

var polymorphic = map[string]string{
	"#microsoft.graph.user":             "models.User",
	"#microsoft.graph.servicePrincipal": "models.ServicePrincipal",
	"#microsoft.graph.application":      "models.Application",
}

// checker walks JSON values against the SDK's models and collects the members no model knows.
type checker struct {
	models  *graph.GraphModels
	unknown []string
	checked map[string]int // type -> members checked
	// extra members allowed on a type beyond the model, with the reason.
	extra map[string]map[string]bool
}

func (c *checker) walk(path string, v any, typ string, top bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	fields, ok := c.models.Fields(typ)
	if !ok {
		c.unknown = append(c.unknown, path+": no model "+typ)
		return
	}
	for k, val := range obj {
		switch {
		case top && k == "@odata.context":
			continue
		case fields[k] || c.extra[typ][k]:
		default:
			c.unknown = append(c.unknown, fmt.Sprintf("%s.%s (not a member of %s)", path, k, typ))
			continue
		}
		c.checked[typ]++
		sub, ok := nested[typ][k]
		if !ok {
			continue
		}
		elems := []any{val}
		if arr, isArr := val.([]any); isArr {
			elems = arr
		}
		for i, e := range elems {
			t := sub
			if t == "@odata.type" {
				m, _ := e.(map[string]any)
				t = polymorphic[fmt.Sprint(m["@odata.type"])]
			}
			c.walk(fmt.Sprintf("%s.%s[%d]", path, k, i), e, t, false)
		}
	}
}

// TestFieldFaithfulness checks that every JSON member the simulated Graph emits, and every member
// it reads from request bodies, exists in Microsoft's model of the type (msgraph-sdk-go v1.89.0).
func TestFieldFaithfulness(t *testing.T) {
	t.Parallel()
	models := graph.LoadGraphModels(t)
	for typ := range nested {
		_, ok := models.Fields(typ)
		require.True(t, ok, "the SDK has a model for %s", typ)
	}
	c := &checker{models: models, checked: map[string]int{}, extra: map[string]map[string]bool{
		// Delta responses mark removed objects with the @removed annotation.
		// https://learn.microsoft.com/graph/delta-query-overview#resource-representation-in-the-delta-query-response
		"models.Application":      {"@removed": true},
		"models.ServicePrincipal": {"@removed": true},
		// Graph's documented 429 body carries code, message and status in innerError, which the
		// SDK's InnerError model leaves to its additional data.
		// https://learn.microsoft.com/graph/throttling#sample-response
		"odataerrors.InnerError": {"code": true, "message": true, "status": true},
	}}

	b := setup(t, setupOptions{graph: graph.Options{DeltaPageSize: 2, Throttle: graph.ThrottleOptions{Enabled: true, WritesPer150s: 20}}})
	writer := b.client(t, "writer", "Application.ReadWrite.All", "Policy.Read.All")
	nobody := b.client(t, "nobody")
	api, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "orders-api", Description: "Orders", Notes: "n",
		Tags: []string{"team:orders"}, IdentifierURIs: []string{"api://orders"}, RequestedTokenVersion: 2,
		AppRoles:               []directory.AppRole{{Value: "Orders.Read", DisplayName: "Read orders", AllowedMemberTypes: []string{"Application"}, IsEnabled: true}},
		RequiredResourceAccess: []directory.RequiredResourceAccess{{ResourceAppID: directory.MicrosoftGraphAppID, ResourceAccess: []directory.ResourceAccess{{ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "Scope"}}}}})
	require.NoError(t, err)
	u, err := b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Avery Evans", GivenName: "Avery", Surname: "Evans", JobTitle: "SRE"})
	require.NoError(t, err)
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, api.Ref(), u.Ref()))
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, api.Ref(), writer.sp.Ref()))
	cert := newCert(t, "orders-api", t0.Add(-time.Hour), t0.Add(90*24*time.Hour))
	_, err = b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: api.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: cert.Raw}})
	require.NoError(t, err)
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, api.AppID)
	require.NoError(t, err)
	_, _, err = b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: sp.Ref(), DisplayName: "sp secret"})
	require.NoError(t, err)
	cutoff := t0.AddDate(-1, 0, 0)
	require.NoError(t, b.dir.SetDefaultAppManagementPolicy(b.tenant.ID, directory.TenantAppManagementPolicy{IsEnabled: true,
		ApplicationRestrictions: directory.AppManagementConfiguration{
			PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordLifetime, MaxLifetime: "P365D", RestrictForAppsCreatedAfterDateTime: &cutoff}},
			KeyCredentials:      []directory.Restriction{{RestrictionType: directory.RestrictAsymmetricKeyLifetime, MaxLifetime: "P730D"}}},
		ServicePrincipalRestrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordAddition, State: directory.StateDisabled}}}}))
	pol, err := b.dir.AddAppManagementPolicy(b.tenant.ID, directory.AppManagementPolicy{DisplayName: "short secrets", Description: "d", IsEnabled: true,
		Restrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordLifetime, MaxLifetime: "P30D"}}}})
	require.NoError(t, err)
	require.NoError(t, b.dir.AssignAppManagementPolicy(b.tenant.ID, pol.ID, api.Ref()))
	doomed := b.apps(t, 1, "doomed")[0]
	_, link, _ := b.round(t, writer, "/v1.0/applications/delta")
	require.NoError(t, b.dir.DeleteApplication(b.tenant.ID, doomed.ID, "test"))

	type exchange struct {
		method, path string
		body         any
		headers      []string
		typ          string
		status       int
	}
	ex := []exchange{
		{"GET", "/v1.0/applications", nil, nil, "models.ApplicationCollectionResponse", 200},
		{"GET", "/v1.0/applications?$top=1&$count=true&$select=id,keyCredentials", nil, []string{"ConsistencyLevel", "eventual"}, "models.ApplicationCollectionResponse", 200},
		{"GET", "/v1.0/applications/" + api.ID, nil, nil, "models.Application", 200},
		{"GET", "/v1.0/servicePrincipals", nil, nil, "models.ServicePrincipalCollectionResponse", 200},
		{"GET", "/v1.0/servicePrincipals(appId='" + api.AppID + "')", nil, nil, "models.ServicePrincipal", 200},
		{"GET", "/v1.0/applications/" + api.ID + "/owners", nil, nil, "models.DirectoryObjectCollectionResponse", 200},
		{"GET", "/v1.0/applications/delta", nil, nil, "applications.DeltaGetResponse", 200},
		{"GET", strings.TrimPrefix(link, b.https.URL), nil, nil, "applications.DeltaGetResponse", 200},
		{"GET", "/v1.0/servicePrincipals/delta", nil, nil, "serviceprincipals.DeltaGetResponse", 200},
		{"GET", "/v1.0/policies/defaultAppManagementPolicy", nil, nil, "models.TenantAppManagementPolicy", 200},
		{"GET", "/v1.0/policies/appManagementPolicies", nil, nil, "models.AppManagementPolicyCollectionResponse", 200},
		{"GET", "/v1.0/policies/appManagementPolicies/" + pol.ID, nil, nil, "models.AppManagementPolicy", 200},
		{"GET", "/v1.0/applications/" + api.ID + "/appManagementPolicies", nil, nil, "models.AppManagementPolicyCollectionResponse", 200},
		{"POST", "/v1.0/applications/" + api.ID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"displayName": "rotor:x", "startDateTime": t0.Format(time.RFC3339), "endDateTime": t0.Add(24 * time.Hour).Format(time.RFC3339)}}, nil, "models.PasswordCredential", 200},
		{"POST", "/v1.0/applications/" + api.ID + "/addPassword", map[string]any{"passwordCredential": map[string]any{"endDateTime": t0.Add(90 * 24 * time.Hour).Format(time.RFC3339)}}, nil, "odataerrors.ODataError", 400},
		{"POST", "/v1.0/applications/" + api.ID + "/addKey", map[string]any{"keyCredential": map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": "CN=next",
			"key": base64.StdEncoding.EncodeToString(newCert(t, "next", t0, t0.Add(24*time.Hour)).Raw)}, "passwordCredential": nil, "proof": proof(t, api.ID, cert, t0, nil)}, nil, "models.KeyCredential", 200},
		{"GET", "/v1.0/applications/7f6d5c4b-3a29-4187-8695-a4b3c2d1e0f9", nil, nil, "odataerrors.ODataError", 404},
		{"GET", "/v1.0/applications?$top=1000", nil, nil, "odataerrors.ODataError", 400},
		{"GET", "/v1.0/applications?$filter=" + url.QueryEscape("displayName eq"), nil, nil, "odataerrors.ODataError", 400},
	}
	for _, e := range ex {
		r := b.do(t, writer, e.method, e.path, e.body, e.headers...)
		require.Equal(t, e.status, r.status, "%s %s: %s", e.method, e.path, r.raw)
		c.walk(e.method+" "+e.path, r.body, e.typ, true)
		if m, ok := e.body.(map[string]any); ok {
			body := "applications.ItemAddPasswordPostRequestBody"
			if strings.HasSuffix(e.path, "/addKey") {
				body = "applications.ItemAddKeyPostRequestBody"
			}
			c.walk("request "+e.path, m, body, false)
		}
	}
	// Errors of other kinds: 401, 403, 429.
	c.walk("401", b.do(t, nil, "GET", "/v1.0/applications", nil).body, "odataerrors.ODataError", true)
	c.walk("403", b.do(t, nobody, "GET", "/v1.0/applications", nil).body, "odataerrors.ODataError", true)
	var throttled map[string]any
	for i := 0; i < 40 && throttled == nil; i++ {
		if r := b.do(t, writer, "PATCH", "/v1.0/applications/"+api.ID, map[string]any{"tags": []string{"team:orders"}}); r.status == 429 {
			throttled = r.body
		}
	}
	require.NotNil(t, throttled)
	c.walk("429", throttled, "odataerrors.ODataError", true)

	// What the handlers read from request bodies.
	for typ, fields := range graph.AcceptedFields() {
		m, ok := models.Fields(typ)
		require.True(t, ok, "model %s", typ)
		for _, f := range fields {
			if !m[f] {
				c.unknown = append(c.unknown, fmt.Sprintf("accepted %s.%s (not a member)", typ, f))
			}
		}
	}

	sort.Strings(c.unknown)
	require.Empty(t, c.unknown, "members missing from Microsoft's models")
	for _, typ := range []string{"models.Application", "models.ServicePrincipal", "models.PasswordCredential", "models.KeyCredential", "models.User",
		"models.TenantAppManagementPolicy", "models.AppManagementPolicy", "models.PasswordCredentialConfiguration", "models.KeyCredentialConfiguration",
		"odataerrors.MainError", "odataerrors.InnerError", "odataerrors.ErrorDetails", "models.ApiApplication", "models.AppRole"} {
		require.Positive(t, c.checked[typ], "responses exercised %s", typ)
	}
}
