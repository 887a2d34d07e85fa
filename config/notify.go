package config

import (
	"fmt"
	"net/mail"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/email"
	"github.com/rotorhq/rotor/secret"
)

// Notifier is one configured notifier: its name and type, and the type's settings inline.
type Notifier struct {
	Name   string     `yaml:"name,required"`
	Type   string     `yaml:"type,required"` // email, teams, slack, webhook
	Params *yaml.Node `yaml:",rest"`

	// The settings of the type, decoded from Params; exactly one is set for a valid notifier.
	Email   *EmailNotifier   `yaml:"-"`
	Teams   *TeamsNotifier   `yaml:"-"`
	Slack   *SlackNotifier   `yaml:"-"`
	Webhook *WebhookNotifier `yaml:"-"`

	templates map[notify.TemplateKind]*notify.Template
}

// Notifier types.
const (
	NotifierEmail   = "email"
	NotifierTeams   = "teams"
	NotifierSlack   = "slack"
	NotifierWebhook = "webhook"
)

// EmailNotifier sends mail over SMTP.
type EmailNotifier struct {
	Host      string         `yaml:"host,required"`
	Port      int            `yaml:"port"`    // default 587 (465 for tls: implicit)
	TLS       string         `yaml:"tls"`     // starttls (default), opportunistic, implicit, none
	CAFile    string         `yaml:"ca_file"` // extra CA certificates to trust (PEM)
	Auth      string         `yaml:"auth"`    // auto (default with a username), plain, login, cram-md5, none
	Username  string         `yaml:"username"`
	Password  secret.Ref     `yaml:"password"`
	From      string         `yaml:"from,required"`
	To        []string       `yaml:"to"`
	Cc        []string       `yaml:"cc"`
	Templates EmailTemplates `yaml:"templates"`
}

// EmailTemplates name template files that replace the built-in ones.
type EmailTemplates struct {
	Subject string `yaml:"subject"`
	Text    string `yaml:"text"`
	HTML    string `yaml:"html"`
}

// TeamsNotifier posts Adaptive Cards to a Teams incoming webhook.
type TeamsNotifier struct {
	URL       secret.Ref `yaml:"url,required"` // the webhook URL is a bearer secret
	CAFile    string     `yaml:"ca_file"`
	Templates struct {
		Card string `yaml:"card"`
	} `yaml:"templates"`
}

// SlackNotifier posts Block Kit messages to a Slack incoming webhook.
type SlackNotifier struct {
	URL       secret.Ref `yaml:"url,required"` // the webhook URL is a bearer secret
	CAFile    string     `yaml:"ca_file"`
	Templates struct {
		Blocks string `yaml:"blocks"`
	} `yaml:"templates"`
}

// WebhookNotifier posts signed JSON events.
type WebhookNotifier struct {
	URL        string     `yaml:"url,required"`
	SigningKey secret.Ref `yaml:"signing_key,required"`
	CAFile     string     `yaml:"ca_file"`
}

// Template returns the parsed template file of kind the notifier names, or nil for the built-in
// one. Templates are parsed (and tried) when the configuration is loaded.
func (n *Notifier) Template(kind notify.TemplateKind) *notify.Template { return n.templates[kind] }

// Notifications configures what is announced, to whom, and how deliveries are retried.
type Notifications struct {
	// Thresholds are the expiry alerts before a credential's end; default thresholds.warn and
	// thresholds.critical. Expiry itself is always announced (credential.expired).
	Thresholds   []Duration `yaml:"thresholds"`
	Routes       []Route    `yaml:"routes"`
	ScanInterval Duration   `yaml:"scan_interval"`
	MaxAttempts  int        `yaml:"max_attempts"`
	BackoffBase  Duration   `yaml:"backoff_base"`
	BackoffMax   Duration   `yaml:"backoff_max"`
	Retention    Duration   `yaml:"retention"`
}

// Route sends the events it matches to notifiers (see notify.Route).
type Route struct {
	Name          string   `yaml:"name,required"`
	Events        []string `yaml:"events"` // types or globs; default notify.DefaultEvents
	Tenants       []string `yaml:"tenants"`
	Policies      []string `yaml:"policies"`
	Apps          []string `yaml:"apps"` // display-name globs or client ids
	Notifiers     []string `yaml:"notifiers,required"`
	ToOwners      bool     `yaml:"to_owners"`
	IncludeSecret bool     `yaml:"include_secret"`
	Digest        *Digest  `yaml:"digest"`
}

// Digest makes a route send one summary a day.
type Digest struct {
	At       string `yaml:"at"`        // HH:MM, default 08:00
	TimeZone string `yaml:"time_zone"` // IANA name, default UTC
}

// Notification defaults.
const (
	DefaultNotifyScanInterval = 5 * time.Minute
	DefaultNotifyMaxAttempts  = 10
	DefaultNotifyBackoffBase  = 30 * time.Second
	DefaultNotifyBackoffMax   = time.Hour
	DefaultNotifyRetention    = 90 * 24 * time.Hour
	DefaultDigestAt           = "08:00"
)

func (c *Config) applyNotifyDefaults() {
	n := &c.Notifications
	if len(n.Thresholds) == 0 {
		n.Thresholds = []Duration{c.Thresholds.Warn, c.Thresholds.Critical}
	}
	if n.ScanInterval == 0 {
		n.ScanInterval = Duration(DefaultNotifyScanInterval)
	}
	if n.MaxAttempts == 0 {
		n.MaxAttempts = DefaultNotifyMaxAttempts
	}
	if n.BackoffBase == 0 {
		n.BackoffBase = Duration(DefaultNotifyBackoffBase)
	}
	if n.BackoffMax == 0 {
		n.BackoffMax = Duration(DefaultNotifyBackoffMax)
	}
	if n.Retention == 0 {
		n.Retention = Duration(DefaultNotifyRetention)
	}
	for i := range n.Routes {
		if d := n.Routes[i].Digest; d != nil && d.At == "" {
			d.At = DefaultDigestAt
		}
	}
	for i := range c.Notifiers {
		if e := c.Notifiers[i].Email; e != nil {
			if e.TLS == "" {
				e.TLS = string(email.STARTTLS)
			}
			if e.Auth == "" {
				e.Auth = string(email.AuthNone)
				if e.Username != "" {
					e.Auth = string(email.AuthAuto)
				}
			}
		}
	}
}

// decodeNotifiers decodes each notifier's inline settings by its type. It runs before defaults.
func (c *Config) decodeNotifiers(d *Decoder) {
	for i := range c.Notifiers {
		n := &c.Notifiers[i]
		at := fmt.Sprintf("notifiers[%d]", i)
		params := n.Params
		if params == nil {
			params = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: d.Line(at)}
		}
		switch n.Type {
		case "":
			// reported as a missing required field
		case NotifierEmail:
			n.Email = &EmailNotifier{}
			d.Decode(params, n.Email, at)
		case NotifierTeams:
			n.Teams = &TeamsNotifier{}
			d.Decode(params, n.Teams, at)
		case NotifierSlack:
			n.Slack = &SlackNotifier{}
			d.Decode(params, n.Slack, at)
		case NotifierWebhook:
			n.Webhook = &WebhookNotifier{}
			d.Decode(params, n.Webhook, at)
		default:
			d.Errorf(at+".type", "unknown notifier type %q: use email, teams, slack or webhook", n.Type)
		}
	}
}

func (c *Config) validateNotify(d *Decoder, tenants map[string]bool) {
	names := map[string]int{}
	kinds := map[string]string{}
	for i := range c.Notifiers {
		n := &c.Notifiers[i]
		at := fmt.Sprintf("notifiers[%d]", i)
		if n.Name != "" {
			if !nameRE.MatchString(n.Name) {
				d.Errorf(at+".name", "%q: use lowercase letters, digits and dashes (at most 63)", n.Name)
			} else if j, dup := names[n.Name]; dup {
				d.Errorf(at+".name", "%q is already the name of notifiers[%d]", n.Name, j)
			}
			names[n.Name] = i
			kinds[n.Name] = n.Type
		}
		n.templates = map[notify.TemplateKind]*notify.Template{}
		switch {
		case n.Email != nil:
			n.Email.validate(d, at, n)
		case n.Teams != nil:
			checkCAFile(d, at+".ca_file", n.Teams.CAFile)
			n.loadTemplate(d, at+".templates.card", notify.TemplateTeams, n.Teams.Templates.Card)
		case n.Slack != nil:
			checkCAFile(d, at+".ca_file", n.Slack.CAFile)
			n.loadTemplate(d, at+".templates.blocks", notify.TemplateSlack, n.Slack.Templates.Blocks)
		case n.Webhook != nil:
			checkURL(d, at+".url", n.Webhook.URL)
			checkCAFile(d, at+".ca_file", n.Webhook.CAFile)
		}
	}

	nc := &c.Notifications
	for i, th := range nc.Thresholds {
		p := fmt.Sprintf("notifications.thresholds[%d]", i)
		if th <= 0 {
			d.Errorf(p, "must be longer than 0 (expiry itself is always announced as credential.expired)")
		}
		if slices.Contains(nc.Thresholds[:i], th) {
			d.Errorf(p, "%s is listed twice", th)
		}
	}
	if nc.ScanInterval.D() < time.Minute {
		d.Errorf("notifications.scan_interval", "%s is too short: at least 1m", nc.ScanInterval)
	}
	if nc.MaxAttempts < 1 {
		d.Errorf("notifications.max_attempts", "%d: at least 1", nc.MaxAttempts)
	}
	if nc.BackoffBase > nc.BackoffMax {
		d.Errorf("notifications.backoff_base", "%s is longer than notifications.backoff_max (%s)", nc.BackoffBase, nc.BackoffMax)
	}
	if nc.Retention.D() < 24*time.Hour {
		d.Errorf("notifications.retention", "%s is too short: at least 1d", nc.Retention)
	}
	policies := map[string]bool{}
	for _, p := range c.Policies {
		policies[p.Name] = true
	}
	rnames := map[string]int{}
	for i := range nc.Routes {
		r := &nc.Routes[i]
		at := fmt.Sprintf("notifications.routes[%d]", i)
		if r.Name != "" {
			if !nameRE.MatchString(r.Name) {
				d.Errorf(at+".name", "%q: use lowercase letters, digits and dashes (at most 63)", r.Name)
			} else if j, dup := rnames[r.Name]; dup {
				d.Errorf(at+".name", "%q is already the name of notifications.routes[%d]", r.Name, j)
			}
			rnames[r.Name] = i
		}
		r.validate(d, at, kinds, tenants, policies, !c.Encryption.Key.IsZero())
	}
}

func (e *EmailNotifier) validate(d *Decoder, at string, n *Notifier) {
	if e.Port < 0 || e.Port > 65535 {
		d.Errorf(at+".port", "%d is not a port", e.Port)
	}
	if !slices.Contains(email.TLSModes, email.TLSMode(e.TLS)) {
		d.Errorf(at+".tls", "unknown mode %q: use starttls, opportunistic, implicit or none", e.TLS)
	}
	switch {
	case !slices.Contains(email.Auths, email.Auth(e.Auth)):
		d.Errorf(at+".auth", "unknown mechanism %q: use auto, plain, login, cram-md5 or none", e.Auth)
	case e.Auth == string(email.AuthNone):
		if e.Username != "" {
			d.Errorf(at+".username", "set, but auth is none")
		}
		if !e.Password.IsZero() {
			d.Errorf(at+".password", "set, but auth is none")
		}
	default:
		if e.Username == "" {
			d.Errorf(at+".username", "required for auth %s", e.Auth)
		}
		if e.Password.IsZero() {
			d.Errorf(at+".password", "required for auth %s", e.Auth)
		}
		if e.TLS == string(email.None) && !isLoopback(e.Host) {
			d.Errorf(at+".tls", "none would send the SMTP password in clear to %s: use starttls or implicit", e.Host)
		}
	}
	if e.From != "" {
		if _, err := mail.ParseAddress(e.From); err != nil {
			d.Errorf(at+".from", "%q is not a mail address", e.From)
		}
	}
	for field, list := range map[string][]string{"to": e.To, "cc": e.Cc} {
		for j, a := range list {
			if _, err := mail.ParseAddress(a); err != nil {
				d.Errorf(fmt.Sprintf("%s.%s[%d]", at, field, j), "%q is not a mail address", a)
			}
		}
	}
	checkCAFile(d, at+".ca_file", e.CAFile)
	n.loadTemplate(d, at+".templates.subject", notify.TemplateSubject, e.Templates.Subject)
	n.loadTemplate(d, at+".templates.text", notify.TemplateText, e.Templates.Text)
	n.loadTemplate(d, at+".templates.html", notify.TemplateHTML, e.Templates.HTML)
}

// loadTemplate parses a template file now: a template that does not parse (or fails on rotor's
// sample events) is a configuration error naming the file and the line in it.
func (n *Notifier) loadTemplate(d *Decoder, at string, kind notify.TemplateKind, file string) {
	if file == "" {
		return
	}
	t, err := notify.LoadTemplate(kind, file)
	if err != nil {
		d.Errorf(at, "%v", err)
		return
	}
	n.templates[kind] = t
}

func checkCAFile(d *Decoder, at, file string) {
	if file == "" {
		return
	}
	if _, err := os.Stat(file); err != nil {
		d.Errorf(at, "%v", err)
	}
}

func (r *Route) validate(d *Decoder, at string, kinds map[string]string, tenants, policies map[string]bool, canOpenSecrets bool) {
	for i, ev := range r.Events {
		p := fmt.Sprintf("%s.events[%d]", at, i)
		if _, err := path.Match(ev, ""); err != nil {
			d.Errorf(p, "%q is not a valid pattern", ev)
			continue
		}
		matched := false
		for _, k := range notify.KnownEvents {
			if notify.MatchEvent(ev, k) {
				matched = true
				break
			}
		}
		if !matched {
			d.Errorf(p, "%q matches no event rotor emits%s", ev, suggest(ev, notify.KnownEvents))
		}
	}
	for i, tn := range r.Tenants {
		if !tenants[tn] {
			d.Errorf(fmt.Sprintf("%s.tenants[%d]", at, i), "no tenant is named %q", tn)
		}
	}
	for i, p := range r.Policies {
		if !policies[p] {
			d.Errorf(fmt.Sprintf("%s.policies[%d]", at, i), "no policy is named %q", p)
		}
	}
	for i, a := range r.Apps {
		if _, err := path.Match(a, ""); err != nil {
			d.Errorf(fmt.Sprintf("%s.apps[%d]", at, i), "%q is not a valid pattern", a)
		}
	}
	if len(r.Notifiers) == 0 {
		d.Errorf(at+".notifiers", "names no notifier: the route would send nothing")
	}
	emails := 0
	for i, n := range r.Notifiers {
		p := fmt.Sprintf("%s.notifiers[%d]", at, i)
		kind, ok := kinds[n]
		switch {
		case !ok:
			d.Errorf(p, "no notifier is named %q", n)
		case slices.Contains(r.Notifiers[:i], n):
			d.Errorf(p, "%q is listed twice", n)
		case kind == NotifierEmail:
			emails++
		case r.IncludeSecret:
			d.Errorf(p, "%q is a %s notifier: include_secret is allowed only on routes whose notifiers are all email (a chat channel or a webhook is no place for a credential)", n, kind)
		}
	}
	if r.ToOwners && emails == 0 && len(r.Notifiers) > 0 {
		d.Errorf(at+".to_owners", "the route has no email notifier to address the owners with")
	}
	if r.IncludeSecret {
		if !canOpenSecrets {
			d.Errorf(at+".include_secret", "needs encryption.key: the new secret is opened from its sealed copy when the message is sent")
		}
		if r.Digest != nil {
			d.Errorf(at+".include_secret", "a digest never carries secrets")
		}
		if !slices.ContainsFunc(notify.SecretEvents, r.MatchType) {
			d.Errorf(at+".include_secret", "the route is about none of %s, the only events that carry the new secret", strings.Join(notify.SecretEvents, ", "))
		}
	}
	if dg := r.Digest; dg != nil {
		if _, err := parseTimeOfDay(dg.At); err != nil {
			d.Errorf(at+".digest.at", "%q: %v", dg.At, err)
		}
		if dg.TimeZone != "" {
			if _, err := time.LoadLocation(dg.TimeZone); err != nil {
				d.Errorf(at+".digest.time_zone", "unknown time zone %q (use an IANA name such as Europe/Amsterdam)", dg.TimeZone)
			}
		}
	}
}

// MatchType reports whether the route is about events of type typ (as notify.Route does).
func (r *Route) MatchType(typ string) bool {
	nr := notify.Route{Events: r.Events}
	return nr.MatchType(typ)
}

func parseTimeOfDay(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("use a time of day such as 08:00")
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// NotifyRoutes returns the routes as the notify package takes them.
func (c *Config) NotifyRoutes() ([]notify.Route, error) {
	var out []notify.Route
	for _, r := range c.Notifications.Routes {
		nr := notify.Route{Name: r.Name, Events: r.Events, Tenants: r.Tenants, Policies: r.Policies, Apps: r.Apps,
			Notifiers: r.Notifiers, ToOwners: r.ToOwners, IncludeSecret: r.IncludeSecret}
		if dg := r.Digest; dg != nil {
			at, err := parseTimeOfDay(dg.At)
			if err != nil {
				return nil, fmt.Errorf("route %s: digest.at: %w", r.Name, err)
			}
			loc := time.UTC
			if dg.TimeZone != "" {
				if loc, err = time.LoadLocation(dg.TimeZone); err != nil {
					return nil, fmt.Errorf("route %s: digest.time_zone: %w", r.Name, err)
				}
			}
			nr.Digest = &notify.DigestSchedule{At: at, Location: loc}
		}
		out = append(out, nr)
	}
	return out, nil
}

// NotifyThresholds returns the expiry alert thresholds.
func (c *Config) NotifyThresholds() []time.Duration {
	out := make([]time.Duration, len(c.Notifications.Thresholds))
	for i, th := range c.Notifications.Thresholds {
		out[i] = th.D()
	}
	return out
}

// Notifier returns the notifier called name.
func (c *Config) Notifier(name string) (*Notifier, bool) {
	for i := range c.Notifiers {
		if c.Notifiers[i].Name == name {
			return &c.Notifiers[i], true
		}
	}
	return nil, false
}
