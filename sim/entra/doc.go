// Package entra simulates the Microsoft Entra ID login endpoints rotor and the Azure SDK for Go
// talk to, backed by a sim/directory.Directory:
//
//	POST /{tenant}/oauth2/v2.0/token                      client credentials grant (secret or certificate)
//	GET  /{tenant}/v2.0/.well-known/openid-configuration  OpenID Connect discovery (MSAL reads it)
//	GET  /{tenant}/discovery/v2.0/keys                    token signing keys (JWKS), also /discovery/keys
//	GET  /common/discovery/instance                       instance discovery (MSAL's authority validation)
//	GET  /{tenant}/oauth2/v2.0/authorize                  user sign-in: a page listing the tenant's users
//	POST /{tenant}/login                                  the sign-in page's form: issues an authorization code
//	GET, POST /{tenant}/oauth2/v2.0/logout                sign-out (end_session_endpoint)
//
// The token endpoint also redeems authorization codes (PKCE checked) for access and ID tokens;
// ID tokens carry the user's app roles and security groups as the application asks.
//
// {tenant} is a tenant GUID or default domain; "common", "organizations" and "consumers" work for
// the discovery documents. Absolute URLs in responses (issuer, endpoints) are derived from the
// request's host, so the server works on any address; it is meant to be served over HTTPS.
//
// Access tokens are RS256 JWTs in the format Entra issues for the resource: v1.0 tokens for
// Microsoft Graph, Azure Key Vault and resources that do not ask for v2.0 (aud is the requested
// resource, iss "https://{host}/{tid}/", appid/appidacr), v2.0 tokens for resources whose
// application sets api.requestedAccessTokenVersion to 2 (aud is the resource's appId, iss
// "https://{host}/{tid}/v2.0", azp/azpacr). roles carry the application permissions granted to the
// client on that resource. Verifier validates such tokens for the simulated resource servers
// (Graph, Key Vault).
//
// Errors have Entra's shape (error, error_description starting with "AADSTSnnnn:", error_codes,
// timestamp, trace_id, correlation_id, error_uri) and status codes.
package entra
