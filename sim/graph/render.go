package graph

import (
	"strings"

	"github.com/rotorhq/rotor/sim/directory"
)

// selection is a parsed $select: which properties of a type to emit, in the type's order.
type selection struct {
	all   bool
	names map[string]bool // lower-case property names
	raw   string          // as requested, for @odata.context
	// keys: the value of keyCredentials' key is returned only when keyCredentials is selected
	// explicitly ("By default, this API doesn't return the value of the key in the keyCredentials
	// property").
	// https://learn.microsoft.com/graph/api/application-list
	keys bool
}

func (s selection) has(name string) bool { return s.all || s.names[strings.ToLower(name)] }

// parseSelect validates $select against the type's properties. Navigation properties are accepted
// and not rendered (Graph needs $expand for them).
func parseSelect(raw string, t *typeInfo) (selection, *graphError) {
	if raw == "" {
		return selection{all: true}, nil
	}
	sel := selection{names: map[string]bool{}, raw: raw}
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		lower := strings.ToLower(name)
		if !t.known[lower] {
			return selection{}, errBadRequest("Could not find a property named '" + name + "' on type 'microsoft.graph." + t.name + "'.")
		}
		sel.names[lower] = true
		if lower == "keycredentials" {
			sel.keys = true
		}
	}
	return sel, nil
}

// typeInfo describes how one resource type renders.
type typeInfo struct {
	name  string          // "application"
	set   string          // entity set: "applications"
	known map[string]bool // every structural and navigation property of the type, lower case
}

func newTypeInfo(name, set string, structural []prop, navigation ...string) *typeInfo {
	t := &typeInfo{name: name, set: set, known: map[string]bool{}}
	for _, p := range structural {
		t.known[strings.ToLower(p.name)] = true
	}
	for _, n := range navigation {
		t.known[strings.ToLower(n)] = true
	}
	return t
}

type prop struct {
	name  string
	write func(w *jw, v any, sel selection)
}

func nullProp(name string) prop { return prop{name, func(w *jw, _ any, _ selection) { w.null() }} }
func emptyList(name string) prop {
	return prop{name, func(w *jw, _ any, _ selection) { w.arrStart(); w.arrEnd() }}
}

// Properties of application, in Graph's order. The ones the simulator does not model are null or
// empty, as on a plain app registration.
// https://learn.microsoft.com/graph/api/resources/application
var appProps = []prop{
	{"id", func(w *jw, v any, _ selection) { w.str(v.(*directory.Application).ID) }},
	{"deletedDateTime", func(w *jw, v any, _ selection) { w.timeOrNull(v.(*directory.Application).DeletedDateTime) }},
	{"appId", func(w *jw, v any, _ selection) { w.str(v.(*directory.Application).AppID) }},
	nullProp("applicationTemplateId"),
	{"createdDateTime", func(w *jw, v any, _ selection) { w.timeOrNull(v.(*directory.Application).CreatedDateTime) }},
	{"description", func(w *jw, v any, _ selection) { w.strOrNull(v.(*directory.Application).Description) }},
	nullProp("disabledByMicrosoftStatus"),
	{"displayName", func(w *jw, v any, _ selection) { w.str(v.(*directory.Application).DisplayName) }},
	nullProp("groupMembershipClaims"),
	{"identifierUris", func(w *jw, v any, _ selection) { w.strings(v.(*directory.Application).IdentifierURIs) }},
	nullProp("isDeviceOnlyAuthSupported"),
	nullProp("isFallbackPublicClient"),
	nullProp("nativeAuthenticationApisEnabled"),
	{"notes", func(w *jw, v any, _ selection) { w.strOrNull(v.(*directory.Application).Notes) }},
	{"publisherDomain", func(w *jw, v any, _ selection) { w.strOrNull(v.(*directory.Application).PublisherDomain) }},
	nullProp("serviceManagementReference"),
	{"signInAudience", func(w *jw, v any, _ selection) { w.str(v.(*directory.Application).SignInAudience) }},
	{"tags", func(w *jw, v any, _ selection) { w.strings(v.(*directory.Application).Tags) }},
	nullProp("tokenEncryptionKeyId"),
	nullProp("uniqueName"),
	nullProp("samlMetadataUrl"),
	nullProp("defaultRedirectUri"),
	nullProp("certification"),
	nullProp("optionalClaims"),
	nullProp("requestSignatureVerification"),
	nullProp("servicePrincipalLockConfiguration"),
	emptyList("addIns"),
	{"api", func(w *jw, v any, _ selection) { writeAPI(w, v.(*directory.Application).RequestedTokenVersion) }},
	{"appRoles", func(w *jw, v any, _ selection) { writeAppRoles(w, v.(*directory.Application).AppRoles) }},
	nullProp("info"),
	{"keyCredentials", func(w *jw, v any, sel selection) {
		writeKeyCredentials(w, v.(*directory.Application).KeyCredentials, sel.keys)
	}},
	nullProp("parentalControlSettings"),
	{"passwordCredentials", func(w *jw, v any, _ selection) {
		writePasswordCredentials(w, v.(*directory.Application).PasswordCredentials)
	}},
	nullProp("publicClient"),
	{"requiredResourceAccess", func(w *jw, v any, _ selection) {
		writeRequiredResourceAccess(w, v.(*directory.Application).RequiredResourceAccess)
	}},
	nullProp("verifiedPublisher"),
	nullProp("web"),
	nullProp("spa"),
}

var applicationType = newTypeInfo("application", "applications", appProps,
	"authenticationBehaviors", "logo", "oauth2RequirePostResponse", "isDeviceOnlyAuthSupported",
	"appManagementPolicies", "createdOnBehalfOf", "extensionProperties", "federatedIdentityCredentials",
	"homeRealmDiscoveryPolicies", "owners", "synchronization", "tokenIssuancePolicies", "tokenLifetimePolicies")

// Properties of servicePrincipal, in Graph's order.
// https://learn.microsoft.com/graph/api/resources/serviceprincipal
var spProps = []prop{
	{"id", func(w *jw, v any, _ selection) { w.str(v.(*directory.ServicePrincipal).ID) }},
	{"deletedDateTime", func(w *jw, v any, _ selection) { w.timeOrNull(v.(*directory.ServicePrincipal).DeletedDateTime) }},
	{"accountEnabled", func(w *jw, v any, _ selection) { w.boolean(v.(*directory.ServicePrincipal).AccountEnabled) }},
	emptyList("alternativeNames"),
	nullProp("appDescription"),
	{"appDisplayName", func(w *jw, v any, _ selection) { w.strOrNull(v.(*directory.ServicePrincipal).AppDisplayName) }},
	{"appId", func(w *jw, v any, _ selection) { w.str(v.(*directory.ServicePrincipal).AppID) }},
	nullProp("applicationTemplateId"),
	{"appOwnerOrganizationId", func(w *jw, v any, _ selection) {
		w.strOrNull(v.(*directory.ServicePrincipal).AppOwnerOrganizationID)
	}},
	{"appRoleAssignmentRequired", func(w *jw, _ any, _ selection) { w.boolean(false) }},
	nullProp("description"),
	nullProp("disabledByMicrosoftStatus"),
	{"displayName", func(w *jw, v any, _ selection) { w.str(v.(*directory.ServicePrincipal).DisplayName) }},
	nullProp("homepage"),
	nullProp("loginUrl"),
	nullProp("logoutUrl"),
	nullProp("notes"),
	emptyList("notificationEmailAddresses"),
	nullProp("preferredSingleSignOnMode"),
	nullProp("preferredTokenSigningKeyThumbprint"),
	emptyList("replyUrls"),
	{"servicePrincipalNames", func(w *jw, v any, _ selection) { w.strings(v.(*directory.ServicePrincipal).ServicePrincipalNames) }},
	{"servicePrincipalType", func(w *jw, v any, _ selection) { w.str(v.(*directory.ServicePrincipal).ServicePrincipalType) }},
	{"signInAudience", func(w *jw, v any, _ selection) { w.strOrNull(v.(*directory.ServicePrincipal).SignInAudience) }},
	{"tags", func(w *jw, v any, _ selection) { w.strings(v.(*directory.ServicePrincipal).Tags) }},
	nullProp("tokenEncryptionKeyId"),
	nullProp("samlSingleSignOnSettings"),
	emptyList("addIns"),
	{"appRoles", func(w *jw, v any, _ selection) { writeAppRoles(w, v.(*directory.ServicePrincipal).AppRoles) }},
	nullProp("info"),
	{"keyCredentials", func(w *jw, v any, sel selection) {
		writeKeyCredentials(w, v.(*directory.ServicePrincipal).KeyCredentials, sel.keys)
	}},
	emptyList("oauth2PermissionScopes"),
	{"passwordCredentials", func(w *jw, v any, _ selection) {
		writePasswordCredentials(w, v.(*directory.ServicePrincipal).PasswordCredentials)
	}},
	emptyList("resourceSpecificApplicationPermissions"),
	nullProp("verifiedPublisher"),
}

var allSP = newView(spProps, selection{all: true})

var servicePrincipalType = newTypeInfo("servicePrincipal", "servicePrincipals", spProps,
	"customSecurityAttributes", "appManagementPolicies", "appRoleAssignedTo", "appRoleAssignments",
	"claimsMappingPolicies", "createdObjects", "delegatedPermissionClassifications", "endpoints",
	"federatedIdentityCredentials", "homeRealmDiscoveryPolicies", "memberOf", "oauth2PermissionGrants",
	"ownedObjects", "owners", "remoteDesktopSecurityConfiguration", "synchronization",
	"tokenIssuancePolicies", "tokenLifetimePolicies", "transitiveMemberOf")

// view is a selection resolved against a type's properties, computed once per request.
type view struct {
	props []prop
	keep  []bool
	sel   selection
}

func newView(props []prop, sel selection) view {
	keep := make([]bool, len(props))
	for i, p := range props {
		keep[i] = sel.has(p.name)
	}
	return view{props: props, keep: keep, sel: sel}
}

// writeObject writes the selected properties of v (a *directory.Application or
// *directory.ServicePrincipal) as an object; extra members (such as @odata.context) come first.
func writeObject(w *jw, vw view, v any, extra func(*jw)) {
	w.objStart()
	if extra != nil {
		extra(w)
	}
	for i, p := range vw.props {
		if !vw.keep[i] {
			continue
		}
		w.key(p.name)
		p.write(w, v, vw.sel)
	}
	w.objEnd()
}

func writeAPI(w *jw, version int) {
	w.objStart()
	w.key("acceptMappedClaims")
	w.null()
	w.key("knownClientApplications")
	w.arrStart()
	w.arrEnd()
	w.key("requestedAccessTokenVersion")
	if version == 0 {
		w.null()
	} else {
		w.integer(int64(version))
	}
	w.key("oauth2PermissionScopes")
	w.arrStart()
	w.arrEnd()
	w.key("preAuthorizedApplications")
	w.arrStart()
	w.arrEnd()
	w.objEnd()
}

func writeAppRoles(w *jw, roles []directory.AppRole) {
	w.arrStart()
	for _, r := range roles {
		w.objStart()
		w.key("allowedMemberTypes")
		w.strings(r.AllowedMemberTypes)
		w.key("description")
		w.strOrNull(r.Description)
		w.key("displayName")
		w.strOrNull(r.DisplayName)
		w.key("id")
		w.str(r.ID)
		w.key("isEnabled")
		w.boolean(r.IsEnabled)
		w.key("origin")
		w.str("Application")
		w.key("value")
		w.strOrNull(r.Value)
		w.objEnd()
	}
	w.arrEnd()
}

func writeRequiredResourceAccess(w *jw, rra []directory.RequiredResourceAccess) {
	w.arrStart()
	for _, r := range rra {
		w.objStart()
		w.key("resourceAppId")
		w.str(r.ResourceAppID)
		w.key("resourceAccess")
		w.arrStart()
		for _, a := range r.ResourceAccess {
			w.objStart()
			w.key("id")
			w.str(a.ID)
			w.key("type")
			w.str(a.Type)
			w.objEnd()
		}
		w.arrEnd()
		w.objEnd()
	}
	w.arrEnd()
}

// writePasswordCredential writes a passwordCredential; secretText only in the addPassword response.
// https://learn.microsoft.com/graph/api/resources/passwordcredential
func writePasswordCredential(w *jw, c directory.PasswordCredential, secretText string, extra func(*jw)) {
	w.objStart()
	if extra != nil {
		extra(w)
	}
	w.key("customKeyIdentifier")
	w.null()
	w.key("displayName")
	w.strOrNull(c.DisplayName)
	w.key("endDateTime")
	w.timeOrNull(c.EndDateTime)
	w.key("hint")
	w.strOrNull(c.Hint)
	w.key("keyId")
	w.str(c.KeyID)
	w.key("secretText")
	w.strOrNull(secretText)
	w.key("startDateTime")
	w.timeOrNull(c.StartDateTime)
	w.objEnd()
}

func writePasswordCredentials(w *jw, cs []directory.PasswordCredential) {
	w.arrStart()
	for _, c := range cs {
		writePasswordCredential(w, c, "", nil)
	}
	w.arrEnd()
}

// writeKeyCredential writes a keyCredential; key (the certificate) only when asked for.
// https://learn.microsoft.com/graph/api/resources/keycredential
func writeKeyCredential(w *jw, k directory.KeyCredential, withKey bool, extra func(*jw)) {
	w.objStart()
	if extra != nil {
		extra(w)
	}
	w.key("customKeyIdentifier")
	w.bytesOrNull(k.CustomKeyIdentifier)
	w.key("displayName")
	w.strOrNull(k.DisplayName)
	w.key("endDateTime")
	w.timeOrNull(k.EndDateTime)
	w.key("key")
	if withKey {
		w.bytesOrNull(k.Key)
	} else {
		w.null()
	}
	w.key("keyId")
	w.str(k.KeyID)
	w.key("startDateTime")
	w.timeOrNull(k.StartDateTime)
	w.key("type")
	w.str(k.Type)
	w.key("usage")
	w.str(k.Usage)
	w.objEnd()
}

func writeKeyCredentials(w *jw, ks []directory.KeyCredential, withKey bool) {
	w.arrStart()
	for _, k := range ks {
		writeKeyCredential(w, k, withKey, nil)
	}
	w.arrEnd()
}

// writeOwner writes an owner as a directoryObject with its @odata.type.
// https://learn.microsoft.com/graph/api/application-list-owners
func writeOwner(w *jw, o directory.Owner) {
	switch {
	case o.User != nil:
		u := o.User
		w.objStart()
		w.key("@odata.type")
		w.str("#microsoft.graph.user")
		w.key("id")
		w.str(u.ID)
		w.key("businessPhones")
		w.arrStart()
		w.arrEnd()
		w.key("displayName")
		w.str(u.DisplayName)
		w.key("givenName")
		w.strOrNull(u.GivenName)
		w.key("jobTitle")
		w.strOrNull(u.JobTitle)
		w.key("mail")
		w.strOrNull(u.Mail)
		w.key("mobilePhone")
		w.null()
		w.key("officeLocation")
		w.null()
		w.key("preferredLanguage")
		w.null()
		w.key("surname")
		w.strOrNull(u.Surname)
		w.key("userPrincipalName")
		w.str(u.UserPrincipalName)
		w.objEnd()
	case o.ServicePrincipal != nil:
		sp := o.ServicePrincipal
		writeObject(w, allSP, sp, func(w *jw) {
			w.key("@odata.type")
			w.str("#microsoft.graph.servicePrincipal")
		})
	}
}

// writeRestrictions writes an appManagementConfiguration.
// https://learn.microsoft.com/graph/api/resources/appmanagementconfiguration
func writeRestrictions(w *jw, c directory.AppManagementConfiguration) {
	w.objStart()
	w.key("passwordCredentials")
	writeRestrictionList(w, c.PasswordCredentials)
	w.key("keyCredentials")
	writeRestrictionList(w, c.KeyCredentials)
	w.objEnd()
}

func writeRestrictionList(w *jw, rs []directory.Restriction) {
	w.arrStart()
	for _, r := range rs {
		w.objStart()
		w.key("restrictionType")
		w.str(r.RestrictionType)
		w.key("state")
		if r.State == "" {
			w.str(directory.StateEnabled)
		} else {
			w.str(r.State)
		}
		w.key("maxLifetime")
		w.strOrNull(r.MaxLifetime)
		w.key("restrictForAppsCreatedAfterDateTime")
		if r.RestrictForAppsCreatedAfterDateTime == nil {
			w.null()
		} else {
			w.timeOrNull(*r.RestrictForAppsCreatedAfterDateTime)
		}
		w.objEnd()
	}
	w.arrEnd()
}

func writeAppManagementPolicy(w *jw, p directory.AppManagementPolicy, extra func(*jw)) {
	w.objStart()
	if extra != nil {
		extra(w)
	}
	w.key("id")
	w.str(p.ID)
	w.key("deletedDateTime")
	w.null()
	w.key("description")
	w.strOrNull(p.Description)
	w.key("displayName")
	w.strOrNull(p.DisplayName)
	w.key("isEnabled")
	w.boolean(p.IsEnabled)
	w.key("restrictions")
	writeRestrictions(w, p.Restrictions)
	w.objEnd()
}
