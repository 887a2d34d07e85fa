package rotor

import "time"

// Tenant is one Entra ID directory rotor connects to. Name is rotor's own handle for it (the key
// in the configuration); TenantID is the directory's GUID.
type Tenant struct {
	Name        string
	TenantID    string
	DisplayName string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// OwnerKind says which kind of directory object holds a credential.
type OwnerKind string

const (
	OwnerApplication      OwnerKind = "application"
	OwnerServicePrincipal OwnerKind = "servicePrincipal"
)

// Valid reports whether k is a known owner kind.
func (k OwnerKind) Valid() bool { return k == OwnerApplication || k == OwnerServicePrincipal }

// App is an application object (an app registration). ID is its object id, AppID its client id.
type App struct {
	Tenant         string
	ID             string
	AppID          string
	DisplayName    string
	SignInAudience string
	Tags           []string
	CreatedAt      time.Time // createdDateTime in Entra; zero when unknown
	DeletedAt      time.Time // when rotor saw it deleted; zero while it exists
	SyncedAt       time.Time // when a sync last recorded a change to it
}

// ServicePrincipal is an application's instance in a tenant. It can hold credentials of its own,
// which the Entra portal does not show.
type ServicePrincipal struct {
	Tenant                 string
	ID                     string
	AppID                  string
	DisplayName            string
	AppOwnerOrganizationID string
	ServicePrincipalType   string
	Tags                   []string
	DeletedAt              time.Time
	SyncedAt               time.Time
}

// Owner is a user or service principal that owns an application, as Graph lists them.
type Owner struct {
	ID                string
	Type              string // "user" or "servicePrincipal"
	DisplayName       string
	Mail              string
	UserPrincipalName string
}

// CredentialKind distinguishes client secrets from certificates.
type CredentialKind string

const (
	KindSecret      CredentialKind = "secret"      // a passwordCredential
	KindCertificate CredentialKind = "certificate" // a keyCredential
)

// Valid reports whether k is a known credential kind.
func (k CredentialKind) Valid() bool { return k == KindSecret || k == KindCertificate }

// Credential is the metadata of one passwordCredential or keyCredential. rotor never stores a
// credential's secret value or private key here; new values it creates are sealed separately.
type Credential struct {
	Tenant      string
	KeyID       string
	Kind        CredentialKind
	OwnerKind   OwnerKind
	OwnerID     string // object id of the application or service principal
	AppID       string // client id of the application
	DisplayName string
	Hint        string // first characters of a secret, as Entra returns them
	StartAt     time.Time
	EndAt       time.Time

	// Certificates only, where Graph gives them.
	Thumbprint string // customKeyIdentifier, hex
	Usage      string // "Verify" or "Sign"
	KeyType    string // "AsymmetricX509Cert", ...
	Subject    string
	Issuer     string

	FirstSeenAt time.Time // when rotor first recorded it
	UpdatedAt   time.Time // when rotor last recorded a change to it
	RemovedAt   time.Time // when rotor saw it gone from Entra; zero while present
	RemovedBy   string    // "rotor" when a rotor cleanup removed it, empty otherwise

	// OwnerName is the owner's display name, kept with the credential for listings.
	OwnerName string
}

// Removed reports whether the credential no longer exists in Entra.
func (c *Credential) Removed() bool { return !c.RemovedAt.IsZero() }

// RemovedByRotor is the RemovedBy value of credentials that a rotor cleanup removed.
const RemovedByRotor = "rotor"
