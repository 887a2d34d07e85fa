// Package config reads rotor's YAML configuration: ${ENV} expansion, defaults, and validation that
// reports every problem with its field path and line. Secrets are references (env:NAME,
// file:/path), never values. See docs/configuration.md for every field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/lifecycle"
	"github.com/rotorhq/rotor/secret"
)

// Config is the whole configuration file.
type Config struct {
	Store      Store      `yaml:"store"`
	Log        Log        `yaml:"log"`
	Thresholds Thresholds `yaml:"thresholds"`
	Tenants    []Tenant   `yaml:"tenants"`
	Encryption Encryption `yaml:"encryption"`
	Rotation   Rotation   `yaml:"rotation"`
	Policies   []Policy   `yaml:"policies"`
	// Notifiers deliver notifications; Notifications route events to them (docs/notifications.md).
	Notifiers     []Notifier    `yaml:"notifiers"`
	Notifications Notifications `yaml:"notifications"`
	Server        Server        `yaml:"server"`
}

// Store selects and configures the database.
type Store struct {
	Driver string     `yaml:"driver"` // sqlite (default) or postgres
	Path   string     `yaml:"path"`   // sqlite: database file
	DSN    secret.Ref `yaml:"dsn"`    // postgres: connection string, as a secret reference
}

// Log configures logging; the --log-level and --log-format flags override it.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Thresholds say when credentials count as expiring.
type Thresholds struct {
	Warn     Duration `yaml:"warn"`
	Critical Duration `yaml:"critical"`
}

// Lifecycle returns the thresholds for the lifecycle package.
func (t Thresholds) Lifecycle() lifecycle.Thresholds {
	return lifecycle.Thresholds{Warn: t.Warn.D(), Critical: t.Critical.D()}
}

// Tenant is one Entra ID directory and how rotor signs in to it.
type Tenant struct {
	Name          string `yaml:"name,required"`
	TenantID      string `yaml:"tenant_id,required"`
	Cloud         string `yaml:"cloud"`          // public (default), usgovernment, china
	AuthorityHost string `yaml:"authority_host"` // overrides the cloud's
	GraphURL      string `yaml:"graph_url"`      // overrides the cloud's, including /v1.0
	CAFile        string `yaml:"ca_file"`        // extra CA certificates to trust (PEM)
	// DisableInstanceDiscovery skips MSAL's authority validation against Microsoft's instance
	// discovery endpoint: for private clouds and authority hosts it does not know.
	DisableInstanceDiscovery bool       `yaml:"disable_instance_discovery"`
	Auth                     TenantAuth `yaml:"auth,required"`
	Sync                     TenantSync `yaml:"sync"`
}

// TenantAuth is how rotor authenticates to a tenant, through azidentity.
type TenantAuth struct {
	Method string `yaml:"method,required"` // client_secret, client_certificate, managed_identity, workload_identity, azure_cli
	// ClientID is the app rotor signs in as (client_secret, client_certificate, workload_identity),
	// or a user-assigned managed identity's client id (managed_identity; empty for system-assigned).
	ClientID            string     `yaml:"client_id"`
	ClientSecret        secret.Ref `yaml:"client_secret"`        // client_secret
	Certificate         secret.Ref `yaml:"certificate"`          // client_certificate: PEM or PKCS#12 with the private key
	CertificatePassword secret.Ref `yaml:"certificate_password"` // client_certificate, when the key is encrypted
	TokenFile           string     `yaml:"token_file"`           // workload_identity: federated token file
}

// TenantSync configures inventory synchronisation.
type TenantSync struct {
	Interval Duration `yaml:"interval"`
}

// Auth methods.
const (
	AuthClientSecret      = "client_secret"
	AuthClientCertificate = "client_certificate"
	AuthManagedIdentity   = "managed_identity"
	AuthWorkloadIdentity  = "workload_identity"
	AuthAzureCLI          = "azure_cli"
)

// Clouds and their endpoints.
// scope is the client credentials scope of the cloud's Microsoft Graph: tokens for one cloud's
// Graph are refused by another's.
var clouds = map[string]struct{ authority, graph, scope string }{
	"public":       {"https://login.microsoftonline.com/", "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default"},
	"usgovernment": {"https://login.microsoftonline.us/", "https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default"},
	"china":        {"https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/v1.0", "https://microsoftgraph.chinacloudapi.cn/.default"},
}

// GraphScope returns the client credentials scope of Microsoft Graph in the tenant's cloud, which
// rotor asks for to call Graph and, unless a policy says otherwise, to prove new secrets work.
// graph_url does not change it: an overridden Graph URL (a proxy, the simulator) still serves
// the cloud's Graph.
func (t *Tenant) GraphScope() string {
	if cl, ok := clouds[t.Cloud]; ok {
		return cl.scope
	}
	return clouds["public"].scope
}

// Defaults.
const (
	DefaultSQLitePath   = "rotor.db"
	DefaultSyncInterval = 15 * time.Minute
)

// Options tune Load.
type Options struct {
	// LookupEnv reads environment variables for ${NAME} expansion; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// Steps validates each deployment step's own settings; nil checks only the common fields.
	Steps StepChecker
}

// Load reads, expands, decodes, defaults and validates the configuration file at path. Every
// problem is reported at once in a *Error.
func Load(path string, opts Options) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, b, opts)
}

// Parse is Load for configuration bytes; name is used in errors.
func Parse(name string, b []byte, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
		} else {
			return nil, &Error{File: name, Errs: []rotor.FieldError{{Path: "(file)", Line: yamlErrLine(err), Msg: err.Error()}}}
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: name, Errs: []rotor.FieldError{{Path: "(file)", Line: extra.Line, Msg: "several YAML documents: rotor reads one"}}}
	}
	d := NewDecoder(opts.LookupEnv)
	var c Config
	d.Decode(&root, &c, "")
	c.decodeNotifiers(d)
	c.applyDefaults()
	c.expandSteps(d)
	c.validate(d, opts.Steps)
	if errs := d.Errs(); len(errs) > 0 {
		return nil, &Error{File: name, Errs: errs}
	}
	return &c, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	var n int
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &n)
	}
	return n
}

func (c *Config) applyDefaults() {
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Driver == "sqlite" && c.Store.Path == "" {
		c.Store.Path = DefaultSQLitePath
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "auto"
	}
	if c.Thresholds.Warn == 0 {
		c.Thresholds.Warn = Duration(lifecycle.DefaultThresholds.Warn)
	}
	if c.Thresholds.Critical == 0 {
		c.Thresholds.Critical = Duration(lifecycle.DefaultThresholds.Critical)
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.Cloud == "" {
			t.Cloud = "public"
		}
		if cl, ok := clouds[t.Cloud]; ok {
			if t.AuthorityHost == "" {
				t.AuthorityHost = cl.authority
			}
			if t.GraphURL == "" {
				t.GraphURL = cl.graph
			}
		}
		if t.Sync.Interval == 0 {
			t.Sync.Interval = Duration(DefaultSyncInterval)
		}
	}
	c.Rotation.applyDefaults()
	c.Server.applyDefaults()
	for i := range c.Policies {
		c.Policies[i].applyDefaults()
	}
	c.applyNotifyDefaults()
}

var (
	guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

func (c *Config) validate(d *Decoder, steps StepChecker) {
	switch c.Store.Driver {
	case "sqlite":
		if !c.Store.DSN.IsZero() {
			d.Errorf("store.dsn", "only for driver postgres (sqlite uses store.path)")
		}
	case "postgres":
		if c.Store.DSN.IsZero() {
			d.Errorf("store.dsn", "required for driver postgres")
		}
		if d.Has("store.path") {
			d.Errorf("store.path", "only for driver sqlite (postgres uses store.dsn)")
		}
	default:
		d.Errorf("store.driver", "unknown driver %q: use sqlite or postgres", c.Store.Driver)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		d.Errorf("log.level", "unknown level %q: use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		d.Errorf("log.format", "unknown format %q: use auto, text or json", c.Log.Format)
	}
	if c.Thresholds.Critical > c.Thresholds.Warn {
		d.Errorf("thresholds.critical", "%s is longer than thresholds.warn (%s)", c.Thresholds.Critical, c.Thresholds.Warn)
	}
	names := map[string]int{}
	tenants := map[string]bool{}
	for i := range c.Tenants {
		c.Tenants[i].validate(d, fmt.Sprintf("tenants[%d]", i), names, i)
		tenants[c.Tenants[i].Name] = true
	}
	switch {
	case !c.Encryption.Key.IsZero():
	case len(c.Policies) > 0:
		d.Errorf("encryption.key", "required when policies rotate credentials: rotor seals new secrets with it (rotor keys generate)")
	case c.Encryption.KeyVaultKey != "" && !d.Has("encryption.key"):
		d.Errorf("encryption.key", "required with encryption.key_vault_key: the key encryption key wrapped by it (rotor keys generate --key-vault-key)")
	}
	c.Encryption.validate(d, tenants)
	r := c.Rotation
	if r.Workers < 1 || r.Workers > 256 {
		d.Errorf("rotation.workers", "%d: use 1 to 256", r.Workers)
	}
	if r.PlanInterval.D() < time.Minute {
		d.Errorf("rotation.plan_interval", "%s is too short: at least 1m", r.PlanInterval)
	}
	if r.Lease.D() < time.Second {
		d.Errorf("rotation.lease", "%s is too short: at least 1s (keep it well above a step's duration; it is renewed at a third of it)", r.Lease)
	}
	if r.Poll.D() < 100*time.Millisecond {
		d.Errorf("rotation.poll", "%s is too short: at least 100ms", r.Poll)
	}
	if r.MaxAttempts < 1 {
		d.Errorf("rotation.max_attempts", "%d: at least 1", r.MaxAttempts)
	}
	if r.BackoffBase > r.BackoffMax {
		d.Errorf("rotation.backoff_base", "%s is longer than rotation.backoff_max (%s)", r.BackoffBase, r.BackoffMax)
	}
	c.Server.validate(d)
	if r.WriteQuotaShare <= 0 || r.WriteQuotaShare > 1 {
		d.Errorf("rotation.write_quota_share", "%v: use a share above 0 and at most 1", r.WriteQuotaShare)
	}
	pnames := map[string]int{}
	for i := range c.Policies {
		p := &c.Policies[i]
		at := fmt.Sprintf("policies[%d]", i)
		if j, dup := pnames[p.Name]; dup && p.Name != "" {
			d.Errorf(at+".name", "%q is already the name of policies[%d]", p.Name, j)
		}
		pnames[p.Name] = i
		p.validate(d, at, tenants, steps)
	}
	c.validateNotify(d, tenants)
}

// expandSteps expands ${...} in the steps' own settings now, while the environment is at hand:
// the settings are kept as data (rotor.StepSpec) and decoded later without expansion.
func (c *Config) expandSteps(d *Decoder) {
	for i := range c.Policies {
		for j := range c.Policies[i].Steps {
			st := &c.Policies[i].Steps[j]
			if st.Params == nil {
				continue
			}
			n, err := d.ExpandNode(st.Params)
			if err != nil {
				d.Errorf(fmt.Sprintf("policies[%d].steps[%d]", i, j), "%v", err)
				continue
			}
			st.Params = n
		}
	}
}

// Policy returns the policy called name.
func (c *Config) Policy(name string) (*Policy, bool) {
	for i := range c.Policies {
		if c.Policies[i].Name == name {
			return &c.Policies[i], true
		}
	}
	return nil, false
}

func (t *Tenant) validate(d *Decoder, p string, names map[string]int, i int) {
	if t.Name != "" {
		if !nameRE.MatchString(t.Name) {
			d.Errorf(p+".name", "%q: use lowercase letters, digits and dashes (at most 63)", t.Name)
		} else if j, dup := names[t.Name]; dup {
			d.Errorf(p+".name", "%q is already the name of tenants[%d]", t.Name, j)
		}
		names[t.Name] = i
	}
	if t.TenantID != "" && !guidRE.MatchString(t.TenantID) {
		d.Errorf(p+".tenant_id", "%q is not a directory (tenant) id: expected a GUID", t.TenantID)
	}
	if _, ok := clouds[t.Cloud]; !ok {
		d.Errorf(p+".cloud", "unknown cloud %q: use public, usgovernment or china (authority_host and graph_url override its endpoints)", t.Cloud)
	}
	checkURL(d, p+".authority_host", t.AuthorityHost)
	checkURL(d, p+".graph_url", t.GraphURL)
	if t.CAFile != "" {
		if _, err := os.Stat(t.CAFile); err != nil {
			d.Errorf(p+".ca_file", "%v", err)
		}
	}
	if t.Sync.Interval.D() < time.Minute {
		d.Errorf(p+".sync.interval", "%s is too short: at least 1m (Graph throttles)", t.Sync.Interval)
	}
	a, ap := t.Auth, p+".auth"
	need := func(field string, ok bool) {
		if !ok {
			d.Errorf(ap+"."+field, "required for method %s", a.Method)
		}
	}
	forbid := func(field string, set bool) {
		if set {
			d.Errorf(ap+"."+field, "not used by method %s", a.Method)
		}
	}
	switch a.Method {
	case "":
		// reported as a missing required field
	case AuthClientSecret:
		need("client_id", a.ClientID != "")
		need("client_secret", !a.ClientSecret.IsZero())
		forbid("certificate", !a.Certificate.IsZero())
		forbid("token_file", a.TokenFile != "")
	case AuthClientCertificate:
		need("client_id", a.ClientID != "")
		need("certificate", !a.Certificate.IsZero())
		forbid("client_secret", !a.ClientSecret.IsZero())
		forbid("token_file", a.TokenFile != "")
	case AuthManagedIdentity:
		forbid("client_secret", !a.ClientSecret.IsZero())
		forbid("certificate", !a.Certificate.IsZero())
		forbid("token_file", a.TokenFile != "")
	case AuthWorkloadIdentity:
		need("client_id", a.ClientID != "")
		need("token_file", a.TokenFile != "")
		forbid("client_secret", !a.ClientSecret.IsZero())
		forbid("certificate", !a.Certificate.IsZero())
	case AuthAzureCLI:
		forbid("client_id", a.ClientID != "")
		forbid("client_secret", !a.ClientSecret.IsZero())
		forbid("certificate", !a.Certificate.IsZero())
		forbid("token_file", a.TokenFile != "")
	default:
		d.Errorf(ap+".method", "unknown method %q: use %s, %s, %s, %s or %s", a.Method,
			AuthClientSecret, AuthClientCertificate, AuthManagedIdentity, AuthWorkloadIdentity, AuthAzureCLI)
	}
	if a.ClientID != "" && !guidRE.MatchString(a.ClientID) {
		d.Errorf(ap+".client_id", "%q is not a client (application) id: expected a GUID", a.ClientID)
	}
	if a.CertificatePassword != "" && a.Method != AuthClientCertificate {
		d.Errorf(ap+".certificate_password", "not used by method %s", a.Method)
	}
}

func checkURL(d *Decoder, path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		d.Errorf(path, "%q is not an absolute http(s) URL", s)
		return
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		d.Errorf(path, "%q: use https (plain http is allowed only on loopback)", s)
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// Tenant returns the tenant called name.
func (c *Config) Tenant(name string) (*Tenant, bool) {
	for i := range c.Tenants {
		if c.Tenants[i].Name == name {
			return &c.Tenants[i], true
		}
	}
	return nil, false
}
