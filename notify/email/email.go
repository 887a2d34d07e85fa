// Package email sends notifications over SMTP through github.com/wneessen/go-mail: STARTTLS
// (mandatory or opportunistic) or implicit TLS, SMTP AUTH (PLAIN, LOGIN, CRAM-MD5 or the
// strongest the server offers), and a multipart message with a plain text and an HTML body.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/secret"
)

// TLSMode says how the connection to the SMTP server is protected.
type TLSMode string

const (
	// STARTTLS upgrades the connection and refuses to send when the server cannot (the default).
	STARTTLS TLSMode = "starttls"
	// Opportunistic upgrades when the server offers STARTTLS and sends in clear otherwise.
	Opportunistic TLSMode = "opportunistic"
	// Implicit speaks TLS from the first byte (SMTPS, usually port 465).
	Implicit TLSMode = "implicit"
	// None never encrypts. Credentials then travel in clear: only for a local relay.
	None TLSMode = "none"
)

// TLSModes lists the valid modes.
var TLSModes = []TLSMode{STARTTLS, Opportunistic, Implicit, None}

// Auth is the SMTP authentication mechanism.
type Auth string

const (
	AuthAuto    Auth = "auto" // the strongest mechanism the server offers (PLAIN and LOGIN only over TLS)
	AuthPlain   Auth = "plain"
	AuthLogin   Auth = "login"
	AuthCRAMMD5 Auth = "cram-md5"
	AuthNone    Auth = "none"
)

// Auths lists the valid mechanisms.
var Auths = []Auth{AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5, AuthNone}

// Config configures an email notifier.
type Config struct {
	Host string
	Port int // default 587, or 465 for Implicit
	TLS  TLSMode
	// CAFile adds PEM certificates to trust for the server's certificate.
	CAFile string
	// RootCAs replaces the trusted roots (tests); CAFile is ignored when it is set.
	RootCAs *x509.CertPool
	// ServerName is the name checked in the server's certificate (default Host).
	ServerName string

	Auth     Auth // default auto when Username is set, none otherwise
	Username string
	Password secret.Value

	From string   // "rotor <rotor@example.com>"
	To   []string // recipients of every message (a route may add the app's owners)
	Cc   []string

	// Templates; nil ones use the built-in templates.
	Subject, Text, HTML *notify.Template

	// Timeout bounds connecting and each SMTP command (default 30s); the context bounds it all.
	Timeout time.Duration
	// HELO is the name rotor gives in EHLO (default: the host name).
	HELO string
}

// Notifier sends email.
type Notifier struct {
	cfg     Config
	tls     *tls.Config
	from    *mail.Address
	subject *notify.Template
	text    *notify.Template
	html    *notify.Template
}

var (
	_ notify.Notifier    = (*Notifier)(nil)
	_ notify.Recipienter = (*Notifier)(nil)
)

// New returns an email notifier. It checks the configuration and reads CAFile, but does not
// connect.
func New(cfg Config) (*Notifier, error) {
	if cfg.Host == "" {
		return nil, errors.New("email: host is required")
	}
	if cfg.TLS == "" {
		cfg.TLS = STARTTLS
	}
	switch cfg.TLS {
	case STARTTLS, Opportunistic, None:
		if cfg.Port == 0 {
			cfg.Port = 587
		}
	case Implicit:
		if cfg.Port == 0 {
			cfg.Port = 465
		}
	default:
		return nil, fmt.Errorf("email: unknown tls mode %q", cfg.TLS)
	}
	if cfg.Auth == "" {
		cfg.Auth = AuthNone
		if cfg.Username != "" {
			cfg.Auth = AuthAuto
		}
	}
	switch cfg.Auth {
	case AuthNone:
		if cfg.Username != "" || !cfg.Password.IsZero() {
			return nil, errors.New("email: username and password are set but auth is none")
		}
	case AuthAuto, AuthPlain, AuthLogin, AuthCRAMMD5:
		if cfg.Username == "" || cfg.Password.IsZero() {
			return nil, fmt.Errorf("email: auth %s needs a username and a password", cfg.Auth)
		}
	default:
		return nil, fmt.Errorf("email: unknown auth %q", cfg.Auth)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q: %w", cfg.From, err)
	}
	for _, list := range [][]string{cfg.To, cfg.Cc} {
		for _, a := range list {
			if _, err := mail.ParseAddress(a); err != nil {
				return nil, fmt.Errorf("email: recipient %q: %w", a, err)
			}
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	n := &Notifier{cfg: cfg, from: from}
	if n.tls, err = tlsConfig(cfg); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		dst  **notify.Template
		src  *notify.Template
		kind notify.TemplateKind
	}{{&n.subject, cfg.Subject, notify.TemplateSubject}, {&n.text, cfg.Text, notify.TemplateText}, {&n.html, cfg.HTML, notify.TemplateHTML}} {
		switch {
		case t.src == nil:
			*t.dst = notify.DefaultTemplate(t.kind)
		case t.src.Kind() != t.kind:
			return nil, fmt.Errorf("email: a %s template given as the %s template", t.src.Kind(), t.kind)
		default:
			*t.dst = t.src
		}
	}
	return n, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	c := &tls.Config{ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
	if c.ServerName == "" {
		c.ServerName = cfg.Host
	}
	if c.RootCAs == nil && cfg.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("email: ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("email: ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// Recipients implements notify.Recipienter: the configured recipients and the message's own.
func (n *Notifier) Recipients(m *notify.Message) []string {
	to, cc := n.addresses(m)
	return append(to, cc...)
}

func (n *Notifier) addresses(m *notify.Message) (to, cc []string) {
	seen := map[string]bool{}
	add := func(dst *[]string, addrs []string) {
		for _, a := range addrs {
			k := strings.ToLower(strings.TrimSpace(a))
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			*dst = append(*dst, strings.TrimSpace(a))
		}
	}
	add(&to, n.cfg.To)
	add(&to, m.To)
	add(&cc, n.cfg.Cc)
	return to, cc
}

// Send implements notify.Notifier. The new secret is rendered only when m.Secret is set, which the
// service does only for routes with include_secret.
func (n *Notifier) Send(ctx context.Context, m *notify.Message) error {
	to, cc := n.addresses(m)
	if len(to) == 0 {
		return rotor.Permanent(errors.New("email: no recipient: the notifier has no to and the app has no owner with a mail address"))
	}
	v := notify.NewView(m, true)
	subject, err := n.subject.Render(v)
	if err != nil {
		return rotor.Permanent(fmt.Errorf("email: subject: %w", err))
	}
	text, err := n.text.Render(v)
	if err != nil {
		return rotor.Permanent(fmt.Errorf("email: text body: %w", err))
	}
	html, err := n.html.Render(v)
	if err != nil {
		return rotor.Permanent(fmt.Errorf("email: html body: %w", err))
	}

	msg := gomail.NewMsg()
	if err := msg.FromFormat(n.from.Name, n.from.Address); err != nil {
		return rotor.Permanent(fmt.Errorf("email: from: %w", err))
	}
	if err := msg.To(to...); err != nil {
		return rotor.Permanent(fmt.Errorf("email: to: %w", err))
	}
	if len(cc) > 0 {
		if err := msg.Cc(cc...); err != nil {
			return rotor.Permanent(fmt.Errorf("email: cc: %w", err))
		}
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(messageID(m.ID, n.from.Address))
	msg.SetUserAgent("rotor")
	msg.SetGenHeader("X-Rotor-Event", m.Event.Type)
	msg.SetGenHeader("X-Rotor-Severity", string(m.Event.Severity))
	if !m.Secret.IsZero() {
		msg.SetImportance(gomail.ImportanceHigh)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)

	c, err := n.client()
	if err != nil {
		return rotor.Permanent(fmt.Errorf("email: %w", err))
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return classify(fmt.Errorf("email: send to %s: %w", c.ServerAddr(), err))
	}
	return nil
}

// messageID is stable across attempts, so that mail systems and people can spot a duplicate.
func messageID(id, from string) string {
	domain := "rotor.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return "rotor-" + id + "@" + domain
}

// client makes a go-mail client for one delivery (clients are cheap, and one per delivery keeps
// concurrent sends apart).
func (n *Notifier) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(n.cfg.Port), gomail.WithTimeout(n.cfg.Timeout), gomail.WithTLSConfig(n.tls)}
	switch n.cfg.TLS {
	case STARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case Opportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case Implicit:
		opts = append(opts, gomail.WithSSL())
	case None:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if n.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(n.cfg.HELO))
	}
	switch n.cfg.Auth {
	case AuthNone:
	default:
		mech := map[Auth]gomail.SMTPAuthType{AuthAuto: gomail.SMTPAuthAutoDiscover, AuthPlain: gomail.SMTPAuthPlain,
			AuthLogin: gomail.SMTPAuthLogin, AuthCRAMMD5: gomail.SMTPAuthCramMD5}[n.cfg.Auth]
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(n.cfg.Username),
			gomail.WithPassword(n.cfg.Password.Reveal()))
	}
	return gomail.NewClient(n.cfg.Host, opts...)
}

// classify sorts an SMTP failure: 4xx replies, network trouble and timeouts are transient; 5xx
// replies (a refused recipient, failed authentication) and certificate problems are permanent.
// Anything else is left unclassified, which the sender retries a bounded number of times.
func classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return rotor.Transient(err)
		}
		return rotor.Permanent(err)
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		if tp.Code >= 400 && tp.Code < 500 {
			return rotor.Transient(err)
		}
		return rotor.Permanent(err)
	}
	var certInvalid x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &certInvalid) || errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return rotor.Permanent(err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return rotor.Transient(err)
	}
	return err
}
