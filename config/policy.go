package config

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/seal/kvkey"
	"github.com/rotorhq/rotor/secret"
)

// Policy says how the credentials it selects are rotated (see rotor.Policy).
type Policy struct {
	Name                   string    `yaml:"name,required"`
	Lifetime               Duration  `yaml:"lifetime"`
	RotateBefore           Duration  `yaml:"rotate_before"`
	RotateAtFraction       float64   `yaml:"rotate_at_fraction"`
	GracePeriod            Duration  `yaml:"grace_period"`
	Jitter                 Duration  `yaml:"jitter"`
	Windows                []Window  `yaml:"windows"`
	EmergencyWithin        Duration  `yaml:"emergency_within"`
	Verify                 Verify    `yaml:"verify"`
	MaxConcurrentPerTenant int       `yaml:"max_concurrent_per_tenant"`
	Adopt                  string    `yaml:"adopt"` // none (default), only, newest
	Select                 *Selector `yaml:"select"`
	Steps                  []Step    `yaml:"steps"`
}

// Window is a maintenance window.
type Window struct {
	Cron     string   `yaml:"cron,required"`
	Duration Duration `yaml:"duration,required"`
	TimeZone string   `yaml:"time_zone"`
}

// Verify configures the proof that a new credential works.
type Verify struct {
	Successes int      `yaml:"successes"`
	Interval  Duration `yaml:"interval"`
	Timeout   Duration `yaml:"timeout"`
	Scope     string   `yaml:"scope"`
}

// Selector chooses the applications a policy binds automatically. Every given criterion must
// hold; within one list any entry may match.
type Selector struct {
	Tenants      []string `yaml:"tenants"`
	DisplayNames []string `yaml:"display_names"` // glob patterns: payroll-*, *-prod
	AppIDs       []string `yaml:"app_ids"`
	Tags         []string `yaml:"tags"`
	Owners       []string `yaml:"owners"` // object ids, user principal names or mail addresses
}

// Step is one deployment step: its common fields, and the settings of its type inline.
type Step struct {
	Name      string     `yaml:"name,required"`
	Type      string     `yaml:"type,required"`
	OnFailure string     `yaml:"on_failure"` // abort (default) or continue
	Params    *yaml.Node `yaml:",rest"`
}

// Encryption configures sealing of secret values at rest.
type Encryption struct {
	// Key is the current key encryption key (32 random bytes, base64): rotor keys generate. With
	// KeyVaultKey, it is that key wrapped by the Key Vault key instead.
	Key secret.Ref `yaml:"key"`
	// OldKeys still open values sealed before a key rotation, until rotor keys rotate rewraps them.
	// With KeyVaultKey, every entry is wrapped by it too.
	OldKeys []secret.Ref `yaml:"old_keys"`
	// KeyVaultKey is an Azure Key Vault key, with its version
	// (https://<vault>/keys/<name>/<version>), that wraps Key and OldKeys: rotor unwraps them
	// with it (unwrapKey, RSA-OAEP-256) when a command first needs the keyring.
	KeyVaultKey string `yaml:"key_vault_key"`
	// Tenant names the configured tenant whose identity (and ca_file) calls Key Vault.
	Tenant string `yaml:"tenant"`
	// DisableChallengeResourceVerification lets the vault's authentication challenge name a
	// resource other than the vault's own domain (private endpoints with custom domains).
	DisableChallengeResourceVerification bool `yaml:"disable_challenge_resource_verification"`
}

// validate checks the Key Vault settings against each other and the tenants.
func (e *Encryption) validate(d *Decoder, tenants map[string]bool) {
	if e.KeyVaultKey == "" {
		if e.Tenant != "" {
			d.Errorf("encryption.tenant", "only with encryption.key_vault_key: it names whose identity calls Key Vault")
		}
		if e.DisableChallengeResourceVerification {
			d.Errorf("encryption.disable_challenge_resource_verification", "only with encryption.key_vault_key")
		}
		return
	}
	if _, err := kvkey.ParseID(e.KeyVaultKey); err != nil {
		d.Errorf("encryption.key_vault_key", "%v", err)
	}
	switch {
	case e.Tenant == "":
		d.Errorf("encryption.tenant", "required with encryption.key_vault_key: the tenant whose identity calls Key Vault")
	case !tenants[e.Tenant]:
		d.Errorf("encryption.tenant", "no tenant %q in tenants", e.Tenant)
	}
}

// Rotation tunes the rotation engine.
type Rotation struct {
	Workers      int      `yaml:"workers"`
	PlanInterval Duration `yaml:"plan_interval"`
	// Poll is how often idle workers look for runnable rotations (a rotation planned in the same
	// process starts at once).
	Poll        Duration `yaml:"poll"`
	Lease       Duration `yaml:"lease"`
	MaxAttempts int      `yaml:"max_attempts"`
	BackoffBase Duration `yaml:"backoff_base"`
	BackoffMax  Duration `yaml:"backoff_max"`
	// WriteQuotaShare is the share of Graph's documented per-app, per-tenant write quota
	// (3,000 writes per 150 s) rotor allows itself, leaving the rest to other tools.
	WriteQuotaShare float64 `yaml:"write_quota_share"`
}

// Policy defaults.
const (
	DefaultLifetime        = 180 * 24 * time.Hour
	DefaultRotateBefore    = 30 * 24 * time.Hour
	DefaultGracePeriod     = 7 * 24 * time.Hour
	DefaultEmergencyWithin = 7 * 24 * time.Hour
	DefaultVerifySuccesses = 3
	DefaultVerifyInterval  = 10 * time.Second
	DefaultVerifyTimeout   = 30 * time.Minute
	DefaultMaxConcurrent   = 10
)

func (p *Policy) applyDefaults() {
	if p.Lifetime == 0 {
		p.Lifetime = Duration(DefaultLifetime)
	}
	if p.RotateBefore == 0 {
		p.RotateBefore = Duration(DefaultRotateBefore)
	}
	if p.GracePeriod == 0 {
		p.GracePeriod = Duration(DefaultGracePeriod)
	}
	if p.EmergencyWithin == 0 {
		p.EmergencyWithin = Duration(DefaultEmergencyWithin)
	}
	if p.Verify.Successes == 0 {
		p.Verify.Successes = DefaultVerifySuccesses
	}
	if p.Verify.Interval == 0 {
		p.Verify.Interval = Duration(DefaultVerifyInterval)
	}
	if p.Verify.Timeout == 0 {
		p.Verify.Timeout = Duration(DefaultVerifyTimeout)
	}
	if p.MaxConcurrentPerTenant == 0 {
		p.MaxConcurrentPerTenant = DefaultMaxConcurrent
	}
	if p.Adopt == "" {
		p.Adopt = "none"
	}
	for i := range p.Steps {
		if p.Steps[i].OnFailure == "" {
			p.Steps[i].OnFailure = string(rotor.Abort)
		}
	}
}

func (r *Rotation) applyDefaults() {
	if r.Workers == 0 {
		r.Workers = 4
	}
	if r.PlanInterval == 0 {
		r.PlanInterval = Duration(15 * time.Minute)
	}
	if r.Lease == 0 {
		r.Lease = Duration(2 * time.Minute)
	}
	if r.Poll == 0 {
		r.Poll = Duration(5 * time.Second)
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 8
	}
	if r.BackoffBase == 0 {
		r.BackoffBase = Duration(time.Minute)
	}
	if r.BackoffMax == 0 {
		r.BackoffMax = Duration(6 * time.Hour)
	}
	if r.WriteQuotaShare == 0 {
		r.WriteQuotaShare = 0.9
	}
}

var (
	stepNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
)

// ParseCron parses a standard five-field cron expression (or @daily and friends).
func ParseCron(expr string) (cron.Schedule, error) { return cronParser.Parse(expr) }

func (p *Policy) validate(d *Decoder, at string, tenants map[string]bool, steps StepChecker) {
	if p.Name != "" && !nameRE.MatchString(p.Name) {
		d.Errorf(at+".name", "%q: use lowercase letters, digits and dashes (at most 63)", p.Name)
	}
	day := 24 * time.Hour
	if p.Lifetime.D() < day {
		d.Errorf(at+".lifetime", "%s is too short: at least 1d", p.Lifetime)
	}
	if p.RotateBefore >= p.Lifetime {
		d.Errorf(at+".rotate_before", "%s is not shorter than lifetime (%s): every new credential would be due at once", p.RotateBefore, p.Lifetime)
	}
	if p.RotateAtFraction < 0 || p.RotateAtFraction >= 1 {
		d.Errorf(at+".rotate_at_fraction", "%v: must be at least 0 and below 1", p.RotateAtFraction)
	}
	if p.GracePeriod >= p.RotateBefore {
		d.Errorf(at+".grace_period", "%s is not shorter than rotate_before (%s): the old credential would expire before its grace period ends", p.GracePeriod, p.RotateBefore)
	}
	if p.Jitter >= p.RotateBefore {
		d.Errorf(at+".jitter", "%s is not shorter than rotate_before (%s)", p.Jitter, p.RotateBefore)
	}
	for i, w := range p.Windows {
		wp := fmt.Sprintf("%s.windows[%d]", at, i)
		if w.Cron != "" {
			if _, err := ParseCron(w.Cron); err != nil {
				d.Errorf(wp+".cron", "%q: %v", w.Cron, err)
			}
		}
		if w.TimeZone != "" {
			if _, err := time.LoadLocation(w.TimeZone); err != nil {
				d.Errorf(wp+".time_zone", "unknown time zone %q (use an IANA name such as Europe/Amsterdam)", w.TimeZone)
			}
		}
		if w.Duration.D() < time.Minute {
			d.Errorf(wp+".duration", "%s is too short: at least 1m", w.Duration)
		}
	}
	if p.Verify.Successes < 1 || p.Verify.Successes > 20 {
		d.Errorf(at+".verify.successes", "%d: use 1 to 20", p.Verify.Successes)
	}
	if p.Verify.Interval.D() < 100*time.Millisecond {
		d.Errorf(at+".verify.interval", "%s is too short: at least 100ms between token requests", p.Verify.Interval)
	}
	if p.Verify.Timeout.D() < time.Minute {
		d.Errorf(at+".verify.timeout", "%s is too short: Entra can take up to 20 minutes to replicate a new credential", p.Verify.Timeout)
	}
	if p.Verify.Scope != "" && !strings.HasSuffix(p.Verify.Scope, "/.default") {
		d.Errorf(at+".verify.scope", "%q: a client credentials scope ends in /.default", p.Verify.Scope)
	}
	if p.MaxConcurrentPerTenant < 1 {
		d.Errorf(at+".max_concurrent_per_tenant", "%d: at least 1", p.MaxConcurrentPerTenant)
	}
	switch p.Adopt {
	case "none", "only", "newest":
	default:
		d.Errorf(at+".adopt", "unknown %q: use none (create a new secret), only (adopt the app's only secret) or newest", p.Adopt)
	}
	if s := p.Select; s != nil {
		if len(s.Tenants)+len(s.DisplayNames)+len(s.AppIDs)+len(s.Tags)+len(s.Owners) == 0 {
			// An empty selector would bind every application of every tenant: say so explicitly.
			d.Errorf(at+".select", "selects nothing in particular, which would bind every application of every tenant: "+
				"give tenants, display_names, app_ids, tags or owners (display_names: [\"*\"] binds all), or leave select out")
		}
		for i, tn := range s.Tenants {
			if !tenants[tn] {
				d.Errorf(fmt.Sprintf("%s.select.tenants[%d]", at, i), "no tenant is named %q", tn)
			}
		}
		for i, g := range s.DisplayNames {
			if _, err := path.Match(g, ""); err != nil {
				d.Errorf(fmt.Sprintf("%s.select.display_names[%d]", at, i), "%q is not a valid pattern", g)
			}
		}
		for i, id := range s.AppIDs {
			if !guidRE.MatchString(id) {
				d.Errorf(fmt.Sprintf("%s.select.app_ids[%d]", at, i), "%q is not a client id (GUID)", id)
			}
		}
		for i, o := range s.Owners {
			if !guidRE.MatchString(o) && !strings.Contains(o, "@") {
				d.Errorf(fmt.Sprintf("%s.select.owners[%d]", at, i), "%q is neither an object id (GUID) nor a user principal name or mail address", o)
			}
		}
	}
	names := map[string]bool{}
	for i, st := range p.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", at, i)
		if st.Name != "" {
			if !stepNameRE.MatchString(st.Name) {
				d.Errorf(sp+".name", "%q: use lowercase letters, digits, - and _", st.Name)
			} else if names[st.Name] {
				d.Errorf(sp+".name", "%q is used by another step of this policy", st.Name)
			}
			names[st.Name] = true
		}
		switch rotor.OnFailure(st.OnFailure) {
		case rotor.Abort, rotor.Continue:
		default:
			d.Errorf(sp+".on_failure", "unknown %q: use abort or continue", st.OnFailure)
		}
		if st.Type != "" && steps != nil {
			steps(d, st.Type, st.Params, sp)
		}
	}
}

// StepChecker validates a step of type typ whose own settings are params, reporting problems
// through d at paths under at. cmd/rotor provides one from the registered step types.
type StepChecker func(d *Decoder, typ string, params *yaml.Node, at string)

// Domain returns the policy as rotor's domain type.
func (p *Policy) Domain() (*rotor.Policy, error) {
	out := &rotor.Policy{
		Name: p.Name, Lifetime: p.Lifetime.D(), RotateBefore: p.RotateBefore.D(), RotateAtFraction: p.RotateAtFraction,
		GracePeriod: p.GracePeriod.D(), Jitter: p.Jitter.D(), EmergencyWithin: p.EmergencyWithin.D(),
		Verify:                 rotor.VerifySettings{Successes: p.Verify.Successes, Interval: p.Verify.Interval.D(), Timeout: p.Verify.Timeout.D(), Scope: p.Verify.Scope},
		MaxConcurrentPerTenant: p.MaxConcurrentPerTenant,
		Adopt:                  p.Adopt,
	}
	if sel := p.Select; sel != nil {
		out.Select = &rotor.Selector{Tenants: sel.Tenants, DisplayNames: sel.DisplayNames, AppIDs: sel.AppIDs, Tags: sel.Tags, Owners: sel.Owners}
	}
	for _, w := range p.Windows {
		out.Windows = append(out.Windows, rotor.MaintenanceWindow{Cron: w.Cron, Duration: w.Duration.D(), TimeZone: w.TimeZone})
	}
	for _, st := range p.Steps {
		spec, err := st.Spec()
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Name, err)
		}
		out.Steps = append(out.Steps, spec)
	}
	return out, nil
}

// Spec returns the step as rotor's domain type, its settings encoded as a JSON object.
func (s *Step) Spec() (rotor.StepSpec, error) {
	params := json.RawMessage("{}")
	if s.Params != nil {
		var v any
		if err := s.Params.Decode(&v); err != nil {
			return rotor.StepSpec{}, fmt.Errorf("step %s: %w", s.Name, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return rotor.StepSpec{}, fmt.Errorf("step %s: settings are not JSON-compatible: %w", s.Name, err)
		}
		params = b
	}
	return rotor.StepSpec{Name: s.Name, Type: s.Type, OnFailure: rotor.OnFailure(s.OnFailure), Params: params}, nil
}

// ParamsNode returns a step spec's settings as a YAML node, for decoding by its type.
func ParamsNode(spec rotor.StepSpec) (*yaml.Node, error) {
	var n yaml.Node
	raw := spec.Params
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("step %s settings: %w", spec.Name, err)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0], nil
	}
	return &n, nil
}
