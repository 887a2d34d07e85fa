// Package tenant connects rotor to one Entra tenant from its configuration: an azidentity
// credential of the configured kind, an HTTP transport (trusting extra CAs when configured), and
// the Graph client and directory over them.
package tenant

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/verify"
)

// Conn is rotor's connection to one tenant.
type Conn struct {
	Config        config.Tenant
	Credential    azcore.TokenCredential
	Transport     *http.Client
	AuthorityHost string
	Graph         *graph.Client
	Directory     *graph.Directory
}

// Options tune Connect.
type Options struct {
	LookupEnv func(string) (string, bool)
	Clock     clockwork.Clock
	// GraphObserve, when set, sees every Graph call (metrics).
	GraphObserve func(tenant string, call graph.Call)
	// Interactive gives reads a short retry budget (3 attempts, waits up to 5 s): a person at a
	// terminal should hear about an unreachable tenant in seconds. The server keeps the default.
	Interactive bool
}

// Connect builds the connection of tenant t. It does no network I/O: a credential that does not
// work fails at the first request (rotor tenant check tells early).
func Connect(t config.Tenant, opts Options) (*Conn, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	var cas []string
	if t.CAFile != "" {
		cas = append(cas, t.CAFile)
	}
	tr, err := Transport(cas...)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	cred, err := Credential(t, tr, opts.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	gopts := graph.Options{Transport: tr, Clock: opts.Clock, Scope: t.GraphScope()}
	if opts.Interactive {
		gopts.MaxAttempts, gopts.MaxBackoff = 3, 5*time.Second
	}
	if opts.GraphObserve != nil {
		name := t.Name
		gopts.Observe = func(c graph.Call) { opts.GraphObserve(name, c) }
	}
	gc, err := graph.New(t.GraphURL, cred, gopts)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	return &Conn{Config: t, Credential: cred, Transport: tr, AuthorityHost: t.AuthorityHost, Graph: gc, Directory: graph.NewDirectory(gc)}, nil
}

// Endpoint is where the tenant signs in, for the token probe.
func (c *Conn) Endpoint() verify.Endpoint {
	return verify.Endpoint{AuthorityHost: c.AuthorityHost, Transport: c.Transport, DisableInstanceDiscovery: c.Config.DisableInstanceDiscovery,
		Scope: c.Config.GraphScope()}
}

// Transport returns an HTTP client trusting the system roots plus the certificates in caFiles.
func Transport(caFiles ...string) (*http.Client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caFiles) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, f := range caFiles {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("ca_file: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", f)
			}
		}
		base.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: base, Timeout: 2 * time.Minute}, nil
}

// Credential builds the azidentity credential the tenant's auth section describes.
func Credential(t config.Tenant, tr policy.Transporter, lookupEnv func(string) (string, bool)) (azcore.TokenCredential, error) {
	co := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: t.AuthorityHost}, Transport: tr}
	a := t.Auth
	switch a.Method {
	case config.AuthClientSecret:
		s, err := a.ClientSecret.Resolve(lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("auth.client_secret: %w", err)
		}
		return azidentity.NewClientSecretCredential(t.TenantID, a.ClientID, s.Reveal(), &azidentity.ClientSecretCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: t.DisableInstanceDiscovery})
	case config.AuthClientCertificate:
		data, err := a.Certificate.Resolve(lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("auth.certificate: %w", err)
		}
		var password []byte
		if !a.CertificatePassword.IsZero() {
			p, err := a.CertificatePassword.Resolve(lookupEnv)
			if err != nil {
				return nil, fmt.Errorf("auth.certificate_password: %w", err)
			}
			password = p.RevealBytes()
		}
		certs, key, err := azidentity.ParseCertificates(data.RevealBytes(), password)
		if err != nil {
			return nil, fmt.Errorf("auth.certificate: %w", err)
		}
		return azidentity.NewClientCertificateCredential(t.TenantID, a.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: t.DisableInstanceDiscovery})
	case config.AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if a.ClientID != "" {
			o.ID = azidentity.ClientID(a.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(o)
	case config.AuthWorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co,
			ClientID: a.ClientID, TenantID: t.TenantID, TokenFilePath: a.TokenFile, DisableInstanceDiscovery: t.DisableInstanceDiscovery})
	case config.AuthAzureCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: t.TenantID})
	}
	return nil, fmt.Errorf("auth.method %q is not supported", a.Method)
}

// Claims acquires a Graph token and reads what it says of rotor's identity in the tenant.
func (c *Conn) Claims(ctx context.Context) (*graph.Claims, error) {
	cl, err := c.Graph.TokenClaims(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", c.Config.Name, err)
	}
	return cl, nil
}
