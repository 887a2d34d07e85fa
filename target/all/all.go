// Package all registers every deployment step type rotor ships, with its dependencies, so that
// cmd/rotor wires them in one line:
//
//	reg := all.Registry(all.Deps{KeyVaultCredential: kvCred, Clock: clock, LookupEnv: lookupEnv, Logger: log})
//
// Building the registry does no I/O, and neither do the factories: a registry with zero Deps
// validates configurations (rotor config validate); its keyvault steps fail at use with a clear
// error until a credential is given.
package all

import (
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/exec"
	"github.com/rotorhq/rotor/target/file"
	"github.com/rotorhq/rotor/target/httpcheck"
	"github.com/rotorhq/rotor/target/keyvault"
	"github.com/rotorhq/rotor/target/kubernetes"
	"github.com/rotorhq/rotor/target/netpolicy"
	"github.com/rotorhq/rotor/target/springrefresh"
	"github.com/rotorhq/rotor/target/webhook"
)

// Deps are what the step types need from the process. Every field is optional.
type Deps struct {
	// KeyVaultCredential returns the identity rotor uses for Key Vault in a tenant, by tenant
	// name (the engine passes Deployment.TenantName): usually the tenant connection's
	// credential.
	KeyVaultCredential func(tenant string) (azcore.TokenCredential, error)
	// KeyVaultTransport carries Key Vault requests (e.g. one trusting the simulator's CA);
	// nil means azcore's default. Do not pass a typed nil.
	KeyVaultTransport policy.Transporter
	// Clock times waits, timeouts and restart annotations; nil means the real clock.
	Clock clockwork.Clock
	// LookupEnv resolves env: references and is the environment exec passes on from; nil
	// means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Resolver resolves host names for the HTTP steps' address policy; nil means the system's.
	Resolver netpolicy.Resolver
	// Logger receives the steps' logs (retries, failed health checks); nil discards them.
	Logger *slog.Logger
}

// Registry returns every step type, keyed by its type name.
func Registry(deps Deps) target.Registry {
	log := deps.Logger
	if log != nil {
		log = log.With("component", "target")
	}
	http := webhook.Deps{Clock: deps.Clock, LookupEnv: deps.LookupEnv, Resolver: deps.Resolver, Logger: log}
	return target.Registry{
		keyvault.Type:          keyvault.Factory(deps.KeyVaultCredential, deps.KeyVaultTransport),
		kubernetes.Type:        kubernetes.Factory(kubernetes.Deps{Clock: deps.Clock}),
		kubernetes.RestartType: kubernetes.RestartFactory(kubernetes.Deps{Clock: deps.Clock}),
		file.Type:              file.Factory(),
		exec.Type:              exec.Factory(exec.Deps{Clock: deps.Clock, LookupEnv: deps.LookupEnv, Logger: log}),
		webhook.Type:           webhook.Factory(http),
		springrefresh.Type:     springrefresh.Factory(http),
		httpcheck.Type:         httpcheck.Factory(http),
	}
}
