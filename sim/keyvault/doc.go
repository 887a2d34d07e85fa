// Package keyvault simulates the secrets part of the Azure Key Vault data plane, and the keys
// operations a client needs to wrap a key with a vault key (create, get, wrapKey and unwrapKey of
// RSA keys), faithfully enough that the official azsecrets and azkeys clients work against it
// unchanged.
//
// A Vault is one key vault. It is an http.Handler serving Key Vault's paths at the root
// (/secrets/..., /deletedsecrets/..., /keys/...), because real vaults each have their own host and
// azsecrets.ID parsing expects the object path right after the host: the assembled simulator
// serves each vault on its own listener.
//
//	auth := keyvault.NewTestAuthenticator(clock) // or the Entra simulator's verifier
//	v, err := keyvault.New(keyvault.Config{
//		Name:          "rotor-demo",
//		TenantID:      tenantID,
//		Authority:     "https://127.0.0.1:8443", // the Entra simulator's login endpoint
//		Authenticator: auth,
//		Clock:         clock,
//	})
//	_, err = v.AssignRole(keyvault.RoleAssignment{PrincipalID: appObjectID, Role: keyvault.RoleSecretsOfficer})
//	srv := &http.Server{Handler: v, TLSConfig: tlsConfig} // one listener per vault
//
// # Authentication
//
// Like Key Vault, a vault answers an unauthenticated request with 401 and the challenge
//
//	WWW-Authenticate: Bearer authorization="<Authority>/<TenantID>", resource="https://vault.azure.net"
//
// from which azsecrets learns the tenant and the scope to request a token for. azsecrets also
// checks by default that the challenge's resource matches the vault's host
// (*.vault.azure.net); the simulator listens on 127.0.0.1, so clients must set
// azsecrets.ClientOptions.DisableChallengeResourceVerification to true:
//
//	client, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{
//		ClientOptions:                        azcore.ClientOptions{Transport: httpClientTrustingTheSimulatorCA},
//		DisableChallengeResourceVerification: true,
//	})
//
// azkeys has the same option (azkeys.ClientOptions.DisableChallengeResourceVerification).
//
// Tokens are validated by the Authenticator the vault is given; the vault then checks the
// token's tenant and authorizes the call with Azure RBAC role assignments (AssignRole): the
// secrets roles, and Key Vault Crypto Officer, Crypto User and Crypto Service Encryption User
// for keys.
//
// # Keys
//
// CreateKey seeds an RSA key without HTTP; POST /keys/{name}/create does the same through the
// API. wrapKey and unwrapKey use RSA-OAEP-256, RSA-OAEP or RSA1_5 with the key's private half,
// which never leaves the vault (snapshots carry the public key only).
//
// # Eventual consistency
//
// Key Vault completes deletes, recoveries and purges asynchronously: Microsoft's recorded sessions
// show a deleted secret missing from /deletedsecrets for seconds, and a recovered one missing
// from /secrets. Config.Propagation reproduces this on the vault's clock; the zero value makes
// every operation take effect at once, RealisticPropagation approximates the recordings.
//
// docs/simulator.md lists every simulated behaviour with the Microsoft documentation it follows, and
// what is not simulated.
package keyvault
