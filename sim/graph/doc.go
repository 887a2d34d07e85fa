// Package graph simulates the Microsoft Graph v1.0 endpoints rotor uses, over a sim/directory:
//
//	GET   /v1.0/applications                           list ($select, $top 1..999, $filter, $count, $skiptoken)
//	GET   /v1.0/applications/$count                    count (ConsistencyLevel: eventual)
//	GET   /v1.0/applications/delta                     delta query ($select, $filter=id eq, $deltatoken, $skiptoken)
//	GET   /v1.0/applications/{id}                      one application ($select)
//	GET   /v1.0/applications(appId='{appId}')          the same, by client id
//	PATCH /v1.0/applications/{id}                      keyCredentials, displayName, description, notes, tags
//	GET   /v1.0/applications/{id}/owners               owners (users and service principals)
//	GET   /v1.0/applications/{id}/appManagementPolicies
//	POST  /v1.0/applications/{id}/addPassword          and removePassword, addKey, removeKey
//	      the same for /v1.0/servicePrincipals
//	GET   /v1.0/policies/defaultAppManagementPolicy
//	GET   /v1.0/policies/appManagementPolicies[/{id}]
//
// Callers authenticate with access tokens of the simulated login endpoints (sim/entra) for Microsoft
// Graph; their roles decide what they may do (Application.Read.All, Application.ReadWrite.OwnedBy,
// Application.ReadWrite.All, Policy.Read.All). Errors have Graph's shape and codes; every response
// carries request-id and client-request-id headers. Absolute URLs (@odata.context,
// @odata.nextLink, @odata.deltaLink) are derived from the request's host. Throttling as Graph
// documents it for identity and access is available behind ThrottleOptions.Enabled.
package graph
