// Package tlsca is a throwaway certificate authority for the Azure simulator's HTTPS.
//
// It creates an ECDSA P-256 CA, issues leaf server certificates for the loopback names
// (127.0.0.1, ::1, localhost) and any extra names, writes the CA certificate as PEM so that
// external clients (rotor, curl) can trust it, and optionally keeps the CA in a directory so that
// `rotor dev` restarts present the same trust anchor.
//
// Nothing here is meant for production use: the CA exists only to let clients verify the
// simulator's certificates over real TLS instead of disabling verification.
package tlsca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"
)

// File names used by LoadOrCreate inside its directory.
const (
	CertFile = "ca-cert.pem"
	KeyFile  = "ca-key.pem"
)

// Defaults for Options.
const (
	DefaultCommonName   = "rotor simulator CA"
	DefaultValidity     = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
	// renewWindow: a persisted CA that expires within this window is replaced.
	renewWindow = 30 * 24 * time.Hour
	// backdate: certificates start this much before "now" to tolerate clock skew.
	backdate = time.Hour
)

// DefaultHosts are the names every leaf certificate covers.
var DefaultHosts = []string{"127.0.0.1", "::1", "localhost"}

// Options configure a CA. The zero value is usable.
type Options struct {
	// Clock gives "now" for validity periods. Default: the real clock. TLS peers verify
	// certificates against their own wall clock, so a fake clock far from the present produces
	// certificates that real clients reject.
	Clock clockwork.Clock
	// CommonName of the CA certificate. Default DefaultCommonName.
	CommonName string
	// Validity of a newly created CA. Default DefaultValidity.
	Validity time.Duration
	// LeafValidity of issued server certificates (capped by the CA's own expiry).
	// Default DefaultLeafValidity.
	LeafValidity time.Duration
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.CommonName == "" {
		o.CommonName = DefaultCommonName
	}
	if o.Validity <= 0 {
		o.Validity = DefaultValidity
	}
	if o.LeafValidity <= 0 {
		o.LeafValidity = DefaultLeafValidity
	}
	return o
}

// CA is a certificate authority held in memory. It is safe for concurrent use.
type CA struct {
	opts    Options
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	pool    *x509.CertPool
}

// New creates a fresh CA that lives only in memory.
func New(opts Options) (*CA, error) {
	opts = opts.withDefaults()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := opts.Clock.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.CommonName, Organization: []string{"rotor simulator"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(opts.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// SubjectKeyId is derived from the public key by x509.CreateCertificate for CAs.
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	return newCA(opts, cert, key), nil
}

func newCA(opts Options, cert *x509.Certificate, key *ecdsa.PrivateKey) *CA {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		opts:    opts,
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		pool:    pool,
	}
}

// LoadOrCreate returns the CA kept in dir (files CertFile and KeyFile), creating and saving a new
// one when dir holds none, or when the saved one has expired or expires within 30 days.
//
// It refuses, rather than overwrites, a directory holding only one of the two files, files that
// do not parse, a key that does not match the certificate, a certificate that is not a CA, and a
// key file readable by group or others (it must have mode 0600). The directory is created with
// mode 0700 when missing.
func LoadOrCreate(dir string, opts Options) (*CA, error) {
	opts = opts.withDefaults()
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	certMissing, keyMissing := errors.Is(certErr, fs.ErrNotExist), errors.Is(keyErr, fs.ErrNotExist)
	switch {
	case certErr != nil && !certMissing:
		return nil, fmt.Errorf("read %s: %w", certPath, certErr)
	case keyErr != nil && !keyMissing:
		return nil, fmt.Errorf("read %s: %w", keyPath, keyErr)
	case certMissing && keyMissing:
		return createAndSave(dir, opts)
	case certMissing:
		return nil, fmt.Errorf("%s exists but %s is missing: remove the directory's CA files or restore the certificate", keyPath, certPath)
	case keyMissing:
		return nil, fmt.Errorf("%s exists but %s is missing: remove the directory's CA files or restore the key", certPath, keyPath)
	}
	if err := checkKeyMode(keyPath); err != nil {
		return nil, err
	}
	ca, err := parseCA(opts, certPath, certPEM, keyPath, keyPEM)
	if err != nil {
		return nil, err
	}
	if opts.Clock.Now().Add(renewWindow).After(ca.cert.NotAfter) {
		return createAndSave(dir, opts)
	}
	return ca, nil
}

func createAndSave(dir string, opts Options) (*CA, error) {
	ca, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory %s: %w", dir, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// Key first: a crash between the two writes leaves a key without a certificate, which
	// LoadOrCreate reports instead of silently pairing a new certificate with an old key.
	if err := writeFileAtomic(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, CertFile), ca.certPEM, 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

func checkKeyMode(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s has mode %#o: a CA key must not be readable by group or others (want 0600)", path, perm)
	}
	return nil
}

func parseCA(opts Options, certPath string, certPEM []byte, keyPath string, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("%s: certificate is not a CA", certPath)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PEM PRIVATE KEY block", keyPath)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: key is %T, want an ECDSA key", keyPath, parsed)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("%s does not match the certificate in %s", keyPath, certPath)
	}
	return newCA(opts, cert, key), nil
}

// Certificate returns the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// WriteCertPEM writes the CA certificate in PEM form to path (mode 0644), atomically, so that
// clients started later (rotor, curl --cacert) can trust the simulator.
func (ca *CA) WriteCertPEM(path string) error {
	return writeFileAtomic(path, ca.certPEM, 0o644)
}

// CertPool returns a pool holding only this CA.
func (ca *CA) CertPool() *x509.CertPool { return ca.pool.Clone() }

// IssueServerCert issues a leaf certificate for DefaultHosts plus extra names. Each extra name
// that parses as an IP address becomes an IP SAN, any other a DNS SAN. The returned certificate
// carries the chain (leaf, CA) and its parsed Leaf.
func (ca *CA) IssueServerCert(extra ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	var dns []string
	var ips []net.IP
	seen := map[string]bool{}
	for _, h := range append(append([]string(nil), DefaultHosts...), extra...) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	now := ca.opts.Clock.Now()
	notAfter := now.Add(ca.opts.LeafValidity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "rotor simulator", Organization: []string{"rotor simulator"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse server certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// ServerTLSConfig returns a TLS configuration for a server presenting a fresh certificate for
// DefaultHosts plus extra names.
func (ca *CA) ServerTLSConfig(extra ...string) (*tls.Config, error) {
	cert, err := ca.IssueServerCert(extra...)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}, nil
}

// ClientTLSConfig returns a TLS configuration that trusts only this CA.
func (ca *CA) ClientTLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CertPool()}
}

// HTTPClient returns an HTTP client that trusts only this CA. Its transport is a clone of
// http.DefaultTransport with the CA as root; it does not use any proxy, because the simulator is
// always reached on loopback.
func (ca *CA) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = ca.ClientTLSConfig()
	tr.Proxy = nil
	return &http.Client{Transport: tr}
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// writeFileAtomic writes data to a temporary file in path's directory and renames it over path.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}
