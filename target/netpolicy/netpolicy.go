// Package netpolicy decides which network addresses rotor's HTTP steps (webhook, spring_refresh,
// http_check) may connect to.
//
// By default a step may only reach public addresses. Loopback, private (RFC 1918, unique local,
// carrier-grade NAT), link-local, cloud metadata and other special-purpose addresses are refused,
// so that a step's URL cannot be used to reach rotor's own host, its cluster network or the
// instance metadata service that hands out the host's identity tokens (server-side request
// forgery). A step opens them explicitly:
//
//   - allow_private: true allows loopback, private and reserved addresses;
//   - allow_hosts lists host names (exact, or "*.example.internal" for a domain's subdomains)
//     whose addresses are allowed even when they are loopback, private or reserved, and IP
//     addresses or CIDR prefixes that are allowed whatever they are.
//
// Link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata endpoints (169.254.169.254,
// fd00:ec2::254, 168.63.129.16, 100.100.100.200) are opened only by listing the address or a
// prefix holding it in allow_hosts: neither allow_private nor a host name opens them.
//
// The check happens when connecting, on the addresses the name resolved to, and the connection
// is made to exactly the checked address: a name that resolves to a public address when the
// configuration is checked and to 127.0.0.1 later (DNS rebinding) is refused. Proxies are not
// used: a proxy would resolve the name itself and defeat the check.
package netpolicy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// ErrRefused is wrapped by every refusal to connect.
var ErrRefused = errors.New("outbound address refused by policy")

// Resolver resolves host names to addresses. *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Class is the kind of an address, as far as the policy is concerned.
type Class int

const (
	Public    Class = iota
	Loopback        // 127.0.0.0/8, ::1
	Private         // 10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10
	Reserved        // unspecified, "this network", multicast, broadcast, other special purpose
	LinkLocal       // 169.254/16, fe80::/10
	Metadata        // cloud instance metadata and platform endpoints
)

func (c Class) String() string {
	switch c {
	case Loopback:
		return "loopback"
	case Private:
		return "private"
	case Reserved:
		return "reserved"
	case LinkLocal:
		return "link-local"
	case Metadata:
		return "cloud metadata"
	default:
		return "public"
	}
}

var (
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // Azure IMDS, AWS, GCP, OCI
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
		netip.MustParseAddr("168.63.129.16"),   // Azure platform (WireServer)
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud metadata
	}
	cgnat    = netip.MustParsePrefix("100.64.0.0/10")
	nat64    = netip.MustParsePrefix("64:ff9b::/96")
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network": Linux connects 0.x to the host
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
		netip.MustParsePrefix("100::/64"),        // discard-only
		netip.MustParsePrefix("2001:db8::/32"),   // documentation
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	}
)

// Classify returns the class of ip. IPv4-mapped IPv6 and NAT64 (64:ff9b::/96) addresses are
// classified by the IPv4 address they carry.
func Classify(ip netip.Addr) Class {
	ip = ip.Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	}
	ip = ip.WithZone("")
	for _, m := range metadataAddrs {
		if ip == m {
			return Metadata
		}
	}
	switch {
	case ip.IsLoopback():
		return Loopback
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast():
		return LinkLocal
	case ip.IsPrivate(), cgnat.Contains(ip):
		return Private
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return Reserved
	}
	for _, p := range reserved {
		if p.Contains(ip) {
			return Reserved
		}
	}
	return Public
}

// Policy is one step's outbound address policy. The zero value allows public addresses only,
// resolving names with net.DefaultResolver. A Policy is safe for concurrent use.
type Policy struct {
	allowPrivate bool
	names        []string // lower case; "*.x" matches subdomains of x
	prefixes     []netip.Prefix
	resolver     Resolver
	dialer       net.Dialer
}

// New returns a policy. allowHosts holds host names, "*.domain" patterns, IP addresses and CIDR
// prefixes; an invalid entry is an error naming it. resolver nil means net.DefaultResolver.
func New(allowPrivate bool, allowHosts []string, resolver Resolver) (*Policy, error) {
	p := &Policy{allowPrivate: allowPrivate, resolver: resolver}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	var errs []error
	for i, h := range allowHosts {
		if err := p.add(h); err != nil {
			errs = append(errs, fmt.Errorf("allow_hosts[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckHosts validates allow_hosts entries, for configuration checks.
func CheckHosts(allowHosts []string) []error {
	var p Policy
	var errs []error
	for _, h := range allowHosts {
		errs = append(errs, p.add(h))
	}
	return errs
}

func (p *Policy) add(h string) error {
	s := strings.TrimSpace(h)
	if s == "" {
		return errors.New("empty entry")
	}
	if pf, err := netip.ParsePrefix(s); err == nil {
		p.prefixes = append(p.prefixes, pf.Masked())
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		a = a.Unmap()
		p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	check := strings.TrimPrefix(name, "*.")
	if !validHostname(check) {
		return fmt.Errorf("%q is not a host name, *.domain, IP address or CIDR prefix", h)
	}
	p.names = append(p.names, name)
	return nil
}

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (p *Policy) nameListed(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range p.names {
		if suffix, ok := strings.CutPrefix(n, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == n {
			return true
		}
	}
	return false
}

func (p *Policy) addrListed(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	for _, pf := range p.prefixes {
		if pf.Contains(ip) {
			return true
		}
	}
	return false
}

// Check returns nil when the policy allows connecting to ip for a URL naming host, and an error
// wrapping ErrRefused saying what would allow it otherwise.
func (p *Policy) Check(host string, ip netip.Addr) error {
	c := Classify(ip)
	if c == Public || p.addrListed(ip) {
		return nil
	}
	switch c {
	case Loopback, Private, Reserved:
		if p.allowPrivate || p.nameListed(host) {
			return nil
		}
		return fmt.Errorf("%w: %s resolves to %s, a %s address: list it in allow_hosts or set allow_private: true", ErrRefused, host, ip, c)
	default: // LinkLocal, Metadata
		return fmt.Errorf("%w: %s resolves to %s, a %s address: only listing the address (or a prefix holding it) in allow_hosts allows it", ErrRefused, host, ip, c)
	}
}

// Resolve returns the addresses of host the policy allows, or an error wrapping ErrRefused when
// it allows none.
func (p *Policy) Resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var ips []netip.Addr
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		ips = []netip.Addr{a}
	} else {
		r := p.resolver
		if r == nil {
			r = net.DefaultResolver
		}
		ips, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
	}
	var allowed []netip.Addr
	var firstErr error
	for _, ip := range ips {
		if err := p.Check(host, ip); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		allowed = append(allowed, ip)
	}
	if len(allowed) == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("resolve %s: no addresses", host)
		}
		return nil, firstErr
	}
	return allowed, nil
}

// DialContext connects to addr ("host:port") through an address the policy allows. It dials the
// very address it checked, so a second DNS answer cannot slip past the check.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := p.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		c, err := p.dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// Client returns an HTTP client that connects only where the policy allows, uses no proxy,
// follows no redirects (a redirect is answered as the response) and trusts tlsConfig's roots
// (nil: the system's). Requests are bounded by their context.
func (p *Policy) Client(tlsConfig *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         p.DialContext,
			TLSClientConfig:     tlsConfig,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 15 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
