package directory

import "time"

// Kind is the kind of a directory object.
type Kind string

// The kinds of directory objects the simulator models.
const (
	KindApplication      Kind = "application"
	KindServicePrincipal Kind = "servicePrincipal"
	KindUser             Kind = "user"
)

// ObjectRef names one directory object of a tenant.
type ObjectRef struct {
	Kind Kind
	ID   string
}

// Sign-in audiences of applications, as Graph spells them.
const (
	AudienceMyOrg                 = "AzureADMyOrg"
	AudienceMultipleOrgs          = "AzureADMultipleOrgs"
	AudienceMultipleOrgsAndPerson = "AzureADandPersonalMicrosoftAccount"
	AudiencePersonal              = "PersonalMicrosoftAccount"
)

// Tenant is one Entra ID directory.
type Tenant struct {
	ID            string // GUID
	DisplayName   string
	DefaultDomain string // e.g. contoso.onmicrosoft.com
	CreatedAt     time.Time
}

// AppRole is a role an application (a resource) defines and grants to other applications.
type AppRole struct {
	ID                 string
	Value              string
	DisplayName        string
	Description        string
	AllowedMemberTypes []string // "Application", "User"
	IsEnabled          bool
}

// RequiredResourceAccess lists the permissions an application asks for on one resource.
type RequiredResourceAccess struct {
	ResourceAppID  string
	ResourceAccess []ResourceAccess
}

// ResourceAccess is one requested permission: an app role ("Role") or a delegated scope ("Scope").
type ResourceAccess struct {
	ID   string
	Type string
}

// PasswordCredential is a client secret of an application or service principal. The secret itself
// is never kept: only its hint and a salted hash.
type PasswordCredential struct {
	KeyID         string
	DisplayName   string
	Hint          string
	StartDateTime time.Time
	EndDateTime   time.Time
	// CreatedAt is when the credential was added; ReadyAt when it has replicated everywhere.
	CreatedAt time.Time
	ReadyAt   time.Time
	CreatedBy string

	salt []byte
	hash []byte
}

// KeyCredential is a certificate credential of an application or service principal.
type KeyCredential struct {
	KeyID               string
	DisplayName         string
	Type                string // "AsymmetricX509Cert" (usage Verify) or "X509CertAndPassword" (usage Sign)
	Usage               string
	CustomKeyIdentifier []byte // SHA-1 thumbprint of the certificate, as Entra sets it
	Key                 []byte // DER certificate
	StartDateTime       time.Time
	EndDateTime         time.Time
	CreatedAt           time.Time
	ReadyAt             time.Time
	CreatedBy           string
}

// Application is a snapshot of an application object (an app registration).
type Application struct {
	TenantID               string
	ID                     string // object id
	AppID                  string // client id
	DisplayName            string
	Description            string
	Notes                  string
	SignInAudience         string
	Tags                   []string
	CreatedDateTime        time.Time
	IdentifierURIs         []string
	AppRoles               []AppRole
	RequiredResourceAccess []RequiredResourceAccess
	RequestedTokenVersion  int // api.requestedAccessTokenVersion; 0 means null (v1 tokens)
	PasswordCredentials    []PasswordCredential
	KeyCredentials         []KeyCredential
	Owners                 []ObjectRef
	AppManagementPolicyIDs []string
	DeletedDateTime        time.Time // set on tombstones
	PublisherDomain        string
}

// Ref returns the application's ObjectRef.
func (a Application) Ref() ObjectRef { return ObjectRef{Kind: KindApplication, ID: a.ID} }

// ServicePrincipal is a snapshot of a service principal (an application's instance in a tenant).
type ServicePrincipal struct {
	TenantID               string
	ID                     string
	AppID                  string
	DisplayName            string
	AppDisplayName         string
	AppOwnerOrganizationID string
	ServicePrincipalType   string // "Application", "ManagedIdentity", ...
	ServicePrincipalNames  []string
	SignInAudience         string
	AccountEnabled         bool
	Tags                   []string
	AppRoles               []AppRole
	IdentifierURIs         []string // resources only: what a token request may name as the resource
	RequestedTokenVersion  int
	PasswordCredentials    []PasswordCredential
	KeyCredentials         []KeyCredential
	Owners                 []ObjectRef
	AppManagementPolicyIDs []string
	CreatedDateTime        time.Time
	DeletedDateTime        time.Time
}

// Ref returns the service principal's ObjectRef.
func (s ServicePrincipal) Ref() ObjectRef { return ObjectRef{Kind: KindServicePrincipal, ID: s.ID} }

// User is a user of a tenant (here: an owner of applications).
type User struct {
	TenantID          string
	ID                string
	DisplayName       string
	Mail              string
	UserPrincipalName string
	GivenName         string
	Surname           string
	JobTitle          string
}

// Ref returns the user's ObjectRef.
func (u User) Ref() ObjectRef { return ObjectRef{Kind: KindUser, ID: u.ID} }

// Owner is an owner of an application or service principal, resolved: a user or a service
// principal.
type Owner struct {
	Ref              ObjectRef
	User             *User
	ServicePrincipal *ServicePrincipal
}

// AppRoleAssignment grants an app role of a resource service principal to a client service
// principal (an application permission with admin consent).
type AppRoleAssignment struct {
	ID                   string
	PrincipalID          string // client service principal
	ResourceID           string // resource service principal
	AppRoleID            string
	AppRoleValue         string
	ResourceAppID        string
	ResourceDisplayName  string
	PrincipalDisplayName string
	CreatedDateTime      time.Time
}
