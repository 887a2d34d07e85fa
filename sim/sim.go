// Package sim assembles rotor's Azure simulator: the Entra login endpoints and Microsoft Graph
// (sim/entra, sim/graph over sim/directory) on one HTTPS listener, each Key Vault (sim/keyvault)
// on a listener of its own as real vaults have hosts of their own, fault injection in front of
// every service (sim/fault), and an inspection API under /_sim/ for tests and demos. The
// certificates come from a throwaway CA (sim/tlsca) whose certificate clients are given to trust.
//
// The simulator is a test instrument and the engine of `rotor dev`. rotor reaches it only through
// configurable endpoints (authority host, Graph URL, vault URL) and never special-cases it. See
// docs/simulator.md for what it simulates, after which Microsoft page, and what it does not.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/entra"
	"github.com/rotorhq/rotor/sim/fault"
	"github.com/rotorhq/rotor/sim/graph"
	"github.com/rotorhq/rotor/sim/keyvault"
	"github.com/rotorhq/rotor/sim/tlsca"
)

// Options configure a simulator.
type Options struct {
	// Addr is the main listener's address (login, Graph, inspection); default 127.0.0.1:0.
	Addr string
	// Clock is the only source of time; default the real clock.
	Clock clockwork.Clock
	// Seed makes generated names, ids and faults reproducible.
	Seed uint64
	// Tenants and AppsPerTenant seed the directory (see directory.Seed); zero tenants seeds
	// nothing. Every seeded tenant gets a vault named VaultName(tenant) on which its manager
	// application is a Key Vault Secrets Officer.
	Tenants       int
	AppsPerTenant int
	// ManagerRoles are the Graph permissions of each tenant's manager application; nil means
	// Application.ReadWrite.All and Policy.Read.All.
	ManagerRoles []string
	// ReplicationDelay makes new credentials work only after this long, failing intermittently
	// before, as Entra does. Zero: at once.
	ReplicationDelay time.Duration
	// Throttle turns on Graph's documented throttling for identity and access.
	Throttle bool
	// Faults are injected in front of every service (see fault.ParseRules).
	Faults []fault.Rule
	// CADir keeps the CA's certificate and key between runs; empty: a fresh CA in memory.
	CADir string
	// Logger receives the services' debug lines; nil discards them.
	Logger *slog.Logger
}

// Server is a running simulator.
type Server struct {
	Directory *directory.Directory
	Login     *entra.Server
	Graph     *graph.Server
	Faults    *fault.Injector
	CA        *tlsca.CA
	Seeded    directory.SeedResult

	clock clockwork.Clock
	log   *slog.Logger
	url   string
	main  *http.Server
	ln    net.Listener

	mu     sync.Mutex
	vaults map[string]*Vault
	wg     sync.WaitGroup
}

// Vault is a simulated Key Vault and its listener.
type Vault struct {
	KV       *keyvault.Vault
	URL      string // https://127.0.0.1:port/
	TenantID string
	srv      *http.Server
}

// Start starts a simulator. Close stops it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	var ca *tlsca.CA
	var err error
	if opts.CADir != "" {
		ca, err = tlsca.LoadOrCreate(opts.CADir, tlsca.Options{Clock: opts.Clock})
	} else {
		ca, err = tlsca.New(tlsca.Options{Clock: opts.Clock})
	}
	if err != nil {
		return nil, fmt.Errorf("sim: certificate authority: %w", err)
	}
	dir := directory.New(directory.Options{Clock: opts.Clock, Seed: opts.Seed, ReplicationDelay: opts.ReplicationDelay})
	login, err := entra.New(dir, entra.Options{Clock: opts.Clock, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("sim: login: %w", err)
	}
	gr := graph.New(dir, login.Verifier(), graph.Options{Clock: opts.Clock, Logger: opts.Logger,
		Throttle: graph.ThrottleOptions{Enabled: opts.Throttle}})
	inj, err := fault.New(fault.Options{Seed: opts.Seed, Clock: opts.Clock, Rules: opts.Faults})
	if err != nil {
		return nil, fmt.Errorf("sim: faults: %w", err)
	}
	s := &Server{Directory: dir, Login: login, Graph: gr, Faults: inj, CA: ca, clock: opts.Clock, log: opts.Logger, vaults: map[string]*Vault{}}

	tlsConf, err := ca.ServerTLSConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen on %s: %w", opts.Addr, err)
	}
	s.ln = ln
	s.url = "https://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", inj.Handler("graph", gr.FaultErrorWriter, gr.Handler()))
	mux.Handle("/_sim/", s.inspection())
	mux.Handle("/", inj.Handler("login", login.FaultErrorWriter, login.Handler()))
	s.main = &http.Server{Handler: mux, TLSConfig: tlsConf, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
	s.wg.Go(func() { s.main.ServeTLS(ln, "", "") })

	if opts.Tenants > 0 {
		res, err := dir.Seed(directory.SeedParams{Seed: opts.Seed, Tenants: opts.Tenants, AppsPerTenant: opts.AppsPerTenant, ManagerRoles: opts.ManagerRoles})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sim: seed: %w", err)
		}
		s.Seeded = res
		for _, t := range res.Tenants {
			v, err := s.AddVault(VaultName(t.Tenant), t.Tenant.ID)
			if err != nil {
				s.Close()
				return nil, err
			}
			if _, err := v.KV.AssignRole(keyvault.RoleAssignment{PrincipalID: t.Manager.ServicePrincipalID, Role: keyvault.RoleSecretsOfficer}); err != nil {
				s.Close()
				return nil, fmt.Errorf("sim: vault role: %w", err)
			}
		}
	}
	return s, nil
}

// VaultName is the name of the vault seeded for a tenant: its domain's first label and "-kv".
func VaultName(t directory.Tenant) string {
	name, _, _ := strings.Cut(t.DefaultDomain, ".")
	return strings.ToLower(name) + "-kv"
}

// URL is the main listener's base URL: the authority host and, with /v1.0, Graph's URL.
func (s *Server) URL() string { return s.url }

// GraphURL is Microsoft Graph's base URL.
func (s *Server) GraphURL() string { return s.url + "/v1.0" }

// AddVault creates a vault of tenantID served on a listener of its own.
func (s *Server) AddVault(name, tenantID string) (*Vault, error) {
	kv, err := keyvault.New(keyvault.Config{Name: name, TenantID: tenantID, Authority: s.url, Clock: s.clock,
		Authenticator: authenticator{s.Login.Verifier()}, SoftDeleteRetentionDays: 7})
	if err != nil {
		return nil, fmt.Errorf("sim: vault %s: %w", name, err)
	}
	tlsConf, err := s.CA.ServerTLSConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sim: vault %s: %w", name, err)
	}
	v := &Vault{KV: kv, URL: "https://" + ln.Addr().String() + "/", TenantID: tenantID,
		srv: &http.Server{Handler: s.Faults.Handler("keyvault:"+name, keyvault.FaultErrorWriter, kv), TLSConfig: tlsConf,
			ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}}
	s.mu.Lock()
	if _, dup := s.vaults[name]; dup {
		s.mu.Unlock()
		ln.Close()
		return nil, fmt.Errorf("sim: vault %s exists", name)
	}
	s.vaults[name] = v
	s.mu.Unlock()
	s.wg.Go(func() { v.srv.ServeTLS(ln, "", "") })
	return v, nil
}

// Vault returns the vault called name.
func (s *Server) Vault(name string) (*Vault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vaults[name]
	return v, ok
}

// Vaults returns every vault, by name.
func (s *Server) Vaults() []*Vault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Vault, 0, len(s.vaults))
	for _, v := range s.vaults {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KV.Name() < out[j].KV.Name() })
	return out
}

// Close stops every listener.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.main.Shutdown(ctx)
	s.mu.Lock()
	for _, v := range s.vaults {
		err = errors.Join(err, v.srv.Shutdown(ctx))
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// authenticator lets vaults verify the simulated Entra's tokens.
type authenticator struct{ v *entra.Verifier }

func (a authenticator) Authenticate(_ context.Context, token, audience string) (keyvault.Principal, error) {
	auds := entra.KeyVaultAudiences
	if audience != keyvault.Audience {
		auds = []string{audience}
	}
	c, err := a.v.Verify(token, auds...)
	if err != nil {
		var kind error
		switch {
		case errors.Is(err, entra.ErrTokenExpired):
			kind = keyvault.ErrTokenExpired
		case errors.Is(err, entra.ErrTokenNotYetValid):
			kind = keyvault.ErrTokenNotYetValid
		case errors.Is(err, entra.ErrTokenAudience):
			kind = keyvault.ErrTokenAudience
		default:
			kind = keyvault.ErrTokenInvalid
		}
		return keyvault.Principal{}, fmt.Errorf("%w: %v", kind, err)
	}
	return keyvault.Principal{TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID}, nil
}
