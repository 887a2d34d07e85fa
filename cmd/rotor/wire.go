package main

import (
	"context"

	"errors"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"os"
	"sort"
	"sync"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/metrics"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/seal/kvkey"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/store/sqlstore"
	"github.com/rotorhq/rotor/target"
	"github.com/rotorhq/rotor/target/all"
	"github.com/rotorhq/rotor/tenant"
	"github.com/rotorhq/rotor/verify"
)

// app is what commands share once the configuration is loaded: the store, one connection per
// tenant, the step types, the keyring and the policies. Everything is wired here, explicitly.
type app struct {
	cli      *cli
	cfg      *config.Config
	store    *sqlstore.Store
	tenants  map[string]*tenant.Conn
	registry target.Registry
	policies map[string]*rotor.Policy

	// The keyring is loaded by the first command part that needs it (see keyring).
	keyringMu     sync.Mutex
	keyringLoaded bool
	keyringCache  *seal.Keyring

	metrics *metrics.Metrics

	limMu    sync.Mutex
	limiters map[string]*runner.WriteLimiter
	kicks    map[string]chan struct{}
}

// stepRegistry returns the deployment step types rotor knows. Key Vault steps authenticate as
// rotor does in the step's tenant; the connections exist once openApp has run (validating a
// configuration needs none).
func (c *cli) stepRegistry() target.Registry {
	return all.Registry(all.Deps{Clock: c.clock, LookupEnv: c.lookupEnv, Logger: c.log,
		KeyVaultCredential: func(tenant string) (azcore.TokenCredential, error) {
			c.connMu.Lock()
			defer c.connMu.Unlock()
			t, ok := c.conns[tenant]
			if !ok {
				return nil, fmt.Errorf("no tenant %q in the configuration", tenant)
			}
			return t.Credential, nil
		},
		KeyVaultTransport: &c.kvTransport,
	})
}

// openApp loads the configuration, opens (and migrates) the store, records the configured
// tenants in it and connects to them. The caller closes it.
func (c *cli) openApp(cmd *cobra.Command) (*app, error) {
	reg := c.stepRegistry()
	cfg, err := c.loadConfigWith(cmd, reg.Check)
	if err != nil {
		return nil, err
	}
	ctx := cmd.Context()
	st, err := c.openStore(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	a := &app{cli: c, cfg: cfg, store: st, registry: reg, tenants: map[string]*tenant.Conn{}, policies: map[string]*rotor.Policy{},
		metrics: metrics.New(metrics.Options{Store: st, Clock: c.clock, Warn: cfg.Thresholds.Warn.D(), Log: c.log})}
	if err := a.init(ctx); err != nil {
		st.Close()
		return nil, err
	}
	c.connMu.Lock()
	c.conns = a.tenants
	c.connMu.Unlock()
	var cas []string
	for _, t := range cfg.Tenants {
		if t.CAFile != "" {
			cas = append(cas, t.CAFile)
		}
	}
	tr, err := tenant.Transport(cas...)
	if err != nil {
		st.Close()
		return nil, err
	}
	c.kvTransport.Set(tr)
	return a, nil
}

// graphObserve records every Graph call in the metrics, and tells the CLI's observer when one
// is set (rotor bench).
func (a *app) graphObserve(tenant string, c graph.Call) {
	a.metrics.GraphObserve(tenant, c)
	if a.cli.graphObserve != nil {
		a.cli.graphObserve(tenant, c)
	}
}

func (a *app) init(ctx context.Context) error {
	now := a.cli.clock.Now()
	for _, t := range a.cfg.Tenants {
		if cur, err := a.store.TenantGet(ctx, t.Name); err != nil || cur.TenantID != t.TenantID {
			if err := a.store.TenantUpsert(ctx, &rotor.Tenant{Name: t.Name, TenantID: t.TenantID, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		conn, err := tenant.Connect(t, tenant.Options{LookupEnv: a.cli.lookupEnv, Clock: a.cli.clock, Interactive: !a.cli.longRunning,
			GraphObserve: a.graphObserve})
		if err != nil {
			return err
		}
		a.tenants[t.Name] = conn
	}
	for i := range a.cfg.Policies {
		p, err := a.cfg.Policies[i].Domain()
		if err != nil {
			return err
		}
		a.policies[p.Name] = p
	}
	return nil
}

// keyring returns the keyring that seals and opens secret values, nil when encryption.key is
// not configured. It is loaded when a part of rotor that seals or opens values first asks for
// it (rotations, rotor keys rotate, notifications that include the secret), not when the
// configuration is opened: commands that never touch sealed values (ls, show, sync, audit, ...)
// work without the key, and without calling Key Vault when the key is wrapped by a Key Vault key.
// A failure is not remembered: the next call tries again.
func (a *app) keyring(ctx context.Context) (*seal.Keyring, error) {
	a.keyringMu.Lock()
	defer a.keyringMu.Unlock()
	if a.keyringLoaded {
		return a.keyringCache, nil
	}
	e := a.cfg.Encryption
	if e.Key.IsZero() {
		a.keyringLoaded = true
		return nil, nil
	}
	var unwrap func(context.Context, secret.Value) (*seal.KEK, error)
	if e.KeyVaultKey != "" {
		conn, err := a.conn(e.Tenant)
		if err != nil {
			return nil, fmt.Errorf("encryption.tenant: %w", err)
		}
		k, err := vaultKey(e.KeyVaultKey, conn, e.DisableChallengeResourceVerification)
		if err != nil {
			return nil, fmt.Errorf("encryption.key_vault_key: %w", err)
		}
		unwrap = k.UnwrapKEK
	}
	kr, err := loadKeyring(ctx, e, a.cli.lookupEnv, unwrap)
	if err != nil {
		return nil, err
	}
	if e.KeyVaultKey != "" {
		a.cli.log.Info("key encryption keys unwrapped with Key Vault", "key_vault_key", e.KeyVaultKey, "tenant", e.Tenant, "current", kr.Current())
	}
	a.keyringCache, a.keyringLoaded = kr, true
	return kr, nil
}

// loadKeyring reads the configured key encryption keys. With unwrap (encryption.key_vault_key),
// encryption.key is wrapped and is unwrapped with it, once; each old_keys entry is either wrapped
// too or plain, told apart by its length (a plain key is 32 bytes, a wrapped one 256 to 512), so
// that a plain key can be retired by rotor keys rotate after moving to Key Vault.
func loadKeyring(ctx context.Context, e config.Encryption, lookupEnv func(string) (string, bool),
	unwrap func(context.Context, secret.Value) (*seal.KEK, error)) (*seal.Keyring, error) {
	read := func(field string, ref secret.Ref, mustWrap bool) (*seal.KEK, error) {
		v, err := ref.Resolve(lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		var k *seal.KEK
		switch {
		case unwrap == nil:
			k, err = seal.ParseKEK(v)
		case !mustWrap && isPlainKEK(v):
			k, err = seal.ParseKEK(v)
		default:
			k, err = unwrap(ctx, v)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		return k, nil
	}
	cur, err := read("encryption.key", e.Key, true)
	if err != nil {
		return nil, err
	}
	var old []*seal.KEK
	for i, ref := range e.OldKeys {
		k, err := read(fmt.Sprintf("encryption.old_keys[%d]", i), ref, false)
		if err != nil {
			return nil, err
		}
		old = append(old, k)
	}
	return seal.NewKeyring(cur, old...), nil
}

// isPlainKEK reports whether v is a plain key encryption key rather than one wrapped by Key Vault.
func isPlainKEK(v secret.Value) bool {
	b, err := seal.DecodeKEK(v)
	clear(b)
	return err == nil
}

// vaultKey returns the Key Vault key id (https://<vault>/keys/<name>/<version>), called with
// the identity and transport of the tenant conn.
func vaultKey(id string, conn *tenant.Conn, disableChallengeResourceVerification bool) (*kvkey.Key, error) {
	kid, err := kvkey.ParseID(id)
	if err != nil {
		return nil, err
	}
	return kvkey.New(kid, kvkey.Options{Credential: conn.Credential, Transport: conn.Transport,
		DisableChallengeResourceVerification: disableChallengeResourceVerification, Identity: "the identity of tenant " + conn.Config.Name})
}

func (a *app) Close() error { return a.store.Close() }

// conn returns the connection of the tenant called name.
func (a *app) conn(name string) (*tenant.Conn, error) {
	t, ok := a.tenants[name]
	if !ok {
		names := make([]string, 0, len(a.tenants))
		for n := range a.tenants {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no tenant %q in the configuration (tenants: %v)", name, names)
	}
	return t, nil
}

// tenantNames returns the configured tenants, or only the one asked for.
func (a *app) tenantNames(only string) ([]string, error) {
	if only != "" {
		if _, err := a.conn(only); err != nil {
			return nil, err
		}
		return []string{only}, nil
	}
	var out []string
	for _, t := range a.cfg.Tenants {
		out = append(out, t.Name)
	}
	if len(out) == 0 {
		return nil, errors.New("no tenants in the configuration")
	}
	return out, nil
}

func (a *app) syncer() *inventory.Syncer {
	return &inventory.Syncer{Store: a.store, Clock: a.cli.clock, Log: a.cli.log, Reader: func(name string) (inventory.Reader, error) {
		t, err := a.conn(name)
		if err != nil {
			return nil, err
		}
		return t.Graph, nil
	}}
}

func (a *app) view() *inventory.View {
	return &inventory.View{Store: a.store, Thresholds: a.cfg.Thresholds.Lifecycle()}
}

// engine builds the rotation engine; it needs the keyring.
func (a *app) engine(ctx context.Context) (*runner.Engine, error) {
	kr, err := a.keyring(ctx)
	if err != nil {
		return nil, fmt.Errorf("the rotation engine needs the keyring: %w", err)
	}
	if kr == nil {
		return nil, errors.New("encryption.key is not configured: rotor seals new secrets with it (generate one with rotor keys generate)")
	}
	host, _ := os.Hostname()
	r := a.cfg.Rotation
	return runner.New(runner.Config{
		Store: a.store, Clock: a.cli.clock, Keyring: kr, Log: a.cli.log,
		Directory: func(name string) (rotor.Directory, error) {
			t, err := a.conn(name)
			if err != nil {
				return nil, err
			}
			return t.Directory, nil
		},
		Verifier: verify.New(func(tenantID string) (verify.Endpoint, error) {
			for _, t := range a.tenants {
				if t.Config.TenantID == tenantID {
					return t.Endpoint(), nil
				}
			}
			return verify.Endpoint{}, fmt.Errorf("no configured tenant has directory id %s", tenantID)
		}),
		Target: func(_ string, spec rotor.StepSpec) (rotor.Target, error) { return a.registry.Build(spec) },
		Policy: func(name string) (*rotor.Policy, error) {
			p, ok := a.policies[name]
			if !ok {
				return nil, fmt.Errorf("no policy %q in the configuration: %w", name, rotor.ErrNotFound)
			}
			return p, nil
		},
		WriteLimiter: a.writeLimiter,
		Observer:     a.metrics,
		Worker:       fmt.Sprintf("%s/%d", host, os.Getpid()),
		Workers:      r.Workers, LeaseFor: r.Lease.D(), Poll: r.Poll.D(), MaxAttempts: r.MaxAttempts,
		BackoffBase: r.BackoffBase.D(), BackoffMax: r.BackoffMax.D(),
	})
}

// openStore opens the configured store, applying pending migrations when migrate is true.
func (c *cli) openStore(ctx context.Context, cfg *config.Config, migrate bool) (*sqlstore.Store, error) {
	opts := sqlstore.Options{Clock: c.clock, SkipMigrate: !migrate}
	switch cfg.Store.Driver {
	case "sqlite":
		return sqlstore.OpenSQLite(ctx, cfg.Store.Path, opts)
	case "postgres":
		dsn, err := cfg.Store.DSN.Resolve(c.lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("store.dsn: %w", err)
		}
		return sqlstore.OpenPostgres(ctx, dsn.Reveal(), opts)
	default:
		return nil, fmt.Errorf("store.driver %q is not supported by this build", cfg.Store.Driver)
	}
}

// writeLimiter returns the tenant's Graph write limiter, one per tenant for the process.
func (a *app) writeLimiter(name string) runner.Limiter {
	a.limMu.Lock()
	defer a.limMu.Unlock()
	if a.limiters == nil {
		a.limiters = map[string]*runner.WriteLimiter{}
	}
	l, ok := a.limiters[name]
	if !ok {
		l = runner.NewWriteLimiter(a.cli.clock, a.cfg.Rotation.WriteQuotaShare)
		a.limiters[name] = l
	}
	return l
}
