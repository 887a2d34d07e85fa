package graph

import (
	"time"

	"github.com/rotorhq/rotor/secret"
)

// Application is the part of Graph's application resource rotor reads. Pointer and slice
// fields that are nil were absent from the response: delta responses carry only what changed.
// https://learn.microsoft.com/graph/api/resources/application
type Application struct {
	ID                  string                `json:"id"`
	AppID               *string               `json:"appId,omitempty"`
	DisplayName         *string               `json:"displayName,omitempty"`
	SignInAudience      *string               `json:"signInAudience,omitempty"`
	Tags                *[]string             `json:"tags,omitempty"`
	CreatedDateTime     *time.Time            `json:"createdDateTime,omitempty"`
	PasswordCredentials *[]PasswordCredential `json:"passwordCredentials,omitempty"`
	KeyCredentials      *[]KeyCredential      `json:"keyCredentials,omitempty"`
	Removed             *Removed              `json:"@removed,omitempty"`
}

// ServicePrincipal is the part of Graph's servicePrincipal resource rotor reads.
// https://learn.microsoft.com/graph/api/resources/serviceprincipal
type ServicePrincipal struct {
	ID                     string                `json:"id"`
	AppID                  *string               `json:"appId,omitempty"`
	DisplayName            *string               `json:"displayName,omitempty"`
	AppOwnerOrganizationID *string               `json:"appOwnerOrganizationId,omitempty"`
	ServicePrincipalType   *string               `json:"servicePrincipalType,omitempty"`
	Tags                   *[]string             `json:"tags,omitempty"`
	PasswordCredentials    *[]PasswordCredential `json:"passwordCredentials,omitempty"`
	KeyCredentials         *[]KeyCredential      `json:"keyCredentials,omitempty"`
	Removed                *Removed              `json:"@removed,omitempty"`
}

// Removed marks an object a delta response reports as deleted ("changed": soft-deleted and
// restorable; "deleted": gone for good).
type Removed struct {
	Reason string `json:"reason"`
}

// PasswordCredential is a client secret. SecretText is returned by addPassword only, once.
// https://learn.microsoft.com/graph/api/resources/passwordcredential
type PasswordCredential struct {
	KeyID               string       `json:"keyId,omitempty"`
	DisplayName         string       `json:"displayName,omitempty"`
	Hint                string       `json:"hint,omitempty"`
	StartDateTime       *time.Time   `json:"startDateTime,omitempty"`
	EndDateTime         *time.Time   `json:"endDateTime,omitempty"`
	CustomKeyIdentifier []byte       `json:"customKeyIdentifier,omitempty"`
	SecretText          secret.Value `json:"secretText,omitzero"`
}

// KeyCredential is a certificate. Key holds the DER certificate when it is asked for and
// written; listings leave it out.
// https://learn.microsoft.com/graph/api/resources/keycredential
type KeyCredential struct {
	KeyID               string     `json:"keyId,omitempty"`
	DisplayName         string     `json:"displayName,omitempty"`
	Type                string     `json:"type,omitempty"`  // AsymmetricX509Cert, Symmetric, ...
	Usage               string     `json:"usage,omitempty"` // Verify, Sign
	StartDateTime       *time.Time `json:"startDateTime,omitempty"`
	EndDateTime         *time.Time `json:"endDateTime,omitempty"`
	CustomKeyIdentifier []byte     `json:"customKeyIdentifier,omitempty"` // the thumbprint
	Key                 []byte     `json:"key,omitempty"`
}

// DirectoryObject is an owner: a user or a service principal.
type DirectoryObject struct {
	ODataType         string `json:"@odata.type"`
	ID                string `json:"id"`
	DisplayName       string `json:"displayName,omitempty"`
	Mail              string `json:"mail,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	AppID             string `json:"appId,omitempty"`
}

// AppManagementPolicy is a tenant-wide or per-app restriction on credentials.
// https://learn.microsoft.com/graph/api/resources/appmanagementpolicy
type AppManagementPolicy struct {
	ID           string               `json:"id"`
	DisplayName  string               `json:"displayName,omitempty"`
	IsEnabled    bool                 `json:"isEnabled"`
	Restrictions *AppManagementConfig `json:"restrictions,omitempty"`
}

// TenantAppManagementPolicy is the tenant default (GET /policies/defaultAppManagementPolicy).
// https://learn.microsoft.com/graph/api/resources/tenantappmanagementpolicy
type TenantAppManagementPolicy struct {
	ID                           string               `json:"id"`
	IsEnabled                    bool                 `json:"isEnabled"`
	ApplicationRestrictions      *AppManagementConfig `json:"applicationRestrictions,omitempty"`
	ServicePrincipalRestrictions *AppManagementConfig `json:"servicePrincipalRestrictions,omitempty"`
}

// AppManagementConfig holds credential restrictions.
type AppManagementConfig struct {
	PasswordCredentials []CredentialRestriction `json:"passwordCredentials,omitempty"`
	KeyCredentials      []CredentialRestriction `json:"keyCredentials,omitempty"`
}

// CredentialRestriction is one restriction, e.g. passwordLifetime with an ISO 8601 duration.
// https://learn.microsoft.com/graph/api/resources/passwordcredentialconfiguration
type CredentialRestriction struct {
	RestrictionType                     string     `json:"restrictionType"` // passwordAddition, passwordLifetime, customPasswordAddition, symmetricKeyAddition, ...
	State                               string     `json:"state,omitempty"` // enabled, disabled
	MaxLifetime                         string     `json:"maxLifetime,omitempty"`
	RestrictForAppsCreatedAfterDateTime *time.Time `json:"restrictForAppsCreatedAfterDateTime,omitempty"`
}

// page is one page of a collection.
type page[T any] struct {
	Value     []T    `json:"value"`
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
	Count     *int   `json:"@odata.count"`
}
