// Package verify proves that a credential works by acquiring a token with it through azidentity,
// the client credentials flow rotor's users' applications use themselves.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
)

// Endpoint says where a tenant signs in.
type Endpoint struct {
	AuthorityHost            string             // e.g. https://login.microsoftonline.com/
	Transport                policy.Transporter // nil for the default
	DisableInstanceDiscovery bool               // for authority hosts Microsoft's instance discovery does not know
	Scope                    string             // asked for when the policy names none: the cloud's Microsoft Graph
}

// defaultScope is asked for when neither the policy nor the endpoint names a scope.
const defaultScope = "https://graph.microsoft.com/.default"

// Prober is a rotor.Verifier.
type Prober struct {
	endpoint func(tenantID string) (Endpoint, error)
}

var _ rotor.Verifier = (*Prober)(nil)

// New returns a prober that finds each tenant's endpoint with endpoint.
func New(endpoint func(tenantID string) (Endpoint, error)) *Prober {
	return &Prober{endpoint: endpoint}
}

// AADSTS codes the classification uses.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
const (
	codeInvalidSecret  = 7000215 // invalid client secret: also what a not-yet-replicated secret gets
	codeExpiredSecret  = 7000222 // the secret has expired
	codeTenantNotFound = 90002
	codeAppNotFound    = 700016 // the app is not in the tenant (or not replicated yet)
)

// Verify implements rotor.Verifier. A fresh credential is built for every call so that each call
// reaches the token endpoint (azidentity caches tokens per credential).
func (p *Prober) Verify(ctx context.Context, tenantID, clientID, scope string, value secret.Value) error {
	ep, err := p.endpoint(tenantID)
	if err != nil {
		return rotor.Permanent(err)
	}
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, value.Reveal(), &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ep.AuthorityHost},
			Transport: ep.Transport,
			Retry:     policy.RetryOptions{MaxRetries: -1}, // the engine paces its own retries
		},
		DisableInstanceDiscovery: ep.DisableInstanceDiscovery,
	})
	if err != nil {
		return rotor.Permanent(fmt.Errorf("token probe for client %s: %w", clientID, err))
	}
	if scope == "" {
		scope = ep.Scope
	}
	if scope == "" {
		scope = defaultScope
	}
	if _, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}}); err == nil {
		return nil
	}
	return classify(clientID, err)
}

// classify turns a token failure into a classified error whose text names the AADSTS codes but
// never the request (which carried the secret).
func classify(clientID string, err error) error {
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return rotor.Transient(fmt.Errorf("token request for client %s: no answer from the token endpoint: %s", clientID, firstLine(err.Error())))
	}
	status := afe.RawResponse.StatusCode
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Codes       []int  `json:"error_codes"`
	}
	if b, rerr := runtime.Payload(afe.RawResponse); rerr == nil {
		json.Unmarshal(b, &body)
	}
	e := fmt.Errorf("token request for client %s: %d %s: %s", clientID, status, body.Error, firstLine(body.Description))
	switch {
	case status == http.StatusTooManyRequests:
		return rotor.Throttled(e, 0)
	case status >= 500:
		return rotor.Transient(e)
	case has(body.Codes, codeInvalidSecret):
		// A new secret is rejected this way until it has replicated: worth waiting for.
		return rotor.Transient(e)
	case has(body.Codes, codeExpiredSecret), has(body.Codes, codeTenantNotFound), has(body.Codes, codeAppNotFound):
		return rotor.Permanent(e)
	default:
		return rotor.Permanent(e)
	}
}

func has(codes []int, c int) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
