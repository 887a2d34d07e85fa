package netpolicy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for ip, want := range map[string]Class{
		"8.8.8.8":                Public,
		"2606:4700::1111":        Public,
		"127.0.0.1":              Loopback,
		"127.8.9.10":             Loopback,
		"::1":                    Loopback,
		"::ffff:127.0.0.1":       Loopback,
		"64:ff9b::7f00:1":        Loopback,
		"10.1.2.3":               Private,
		"172.16.0.1":             Private,
		"172.31.255.255":         Private,
		"172.32.0.1":             Public,
		"192.168.1.1":            Private,
		"100.64.0.1":             Private,
		"fd12:3456::1":           Private,
		"169.254.1.1":            LinkLocal,
		"fe80::1":                LinkLocal,
		"fe80::1%eth0":           LinkLocal,
		"169.254.169.254":        Metadata,
		"::ffff:169.254.169.254": Metadata,
		"64:ff9b::a9fe:a9fe":     Metadata,
		"fd00:ec2::254":          Metadata,
		"168.63.129.16":          Metadata,
		"100.100.100.200":        Metadata,
		"0.0.0.0":                Reserved,
		"0.1.2.3":                Reserved,
		"::":                     Reserved,
		"224.0.0.1":              LinkLocal,
		"239.1.1.1":              Reserved,
		"255.255.255.255":        Reserved,
		"ff02::1":                LinkLocal,
	} {
		require.Equal(t, want, Classify(netip.MustParseAddr(ip)), ip)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	type tc struct {
		private bool
		hosts   []string
		host    string
		ip      string
		ok      bool
	}
	for i, c := range []tc{
		{host: "hooks.example.com", ip: "203.1.113.9", ok: true},
		{host: "hooks.example.com", ip: "127.0.0.1"},
		{host: "hooks.example.com", ip: "10.0.0.5"},
		{private: true, host: "hooks.example.com", ip: "10.0.0.5", ok: true},
		{private: true, host: "x", ip: "127.0.0.1", ok: true},
		{private: true, host: "x", ip: "169.254.169.254"},
		{private: true, host: "x", ip: "fe80::1"},
		{hosts: []string{"hooks.internal"}, host: "HOOKS.internal.", ip: "10.0.0.5", ok: true},
		{hosts: []string{"hooks.internal"}, host: "other.internal", ip: "10.0.0.5"},
		{hosts: []string{"*.svc.cluster.local"}, host: "app.ns.svc.cluster.local", ip: "10.96.0.10", ok: true},
		{hosts: []string{"*.svc.cluster.local"}, host: "svc.cluster.local", ip: "10.96.0.10"},
		{hosts: []string{"metadata.internal"}, host: "metadata.internal", ip: "169.254.169.254"},
		{hosts: []string{"169.254.169.254"}, host: "metadata.internal", ip: "169.254.169.254", ok: true},
		{hosts: []string{"10.0.0.0/8"}, host: "x", ip: "10.200.0.1", ok: true},
		{hosts: []string{"10.0.0.0/8"}, host: "x", ip: "192.168.0.1"},
		{hosts: []string{"::1"}, host: "x", ip: "::1", ok: true},
		{hosts: []string{"127.0.0.1"}, host: "x", ip: "::ffff:127.0.0.1", ok: true},
	} {
		p, err := New(c.private, c.hosts, nil)
		require.NoError(t, err)
		err = p.Check(c.host, netip.MustParseAddr(c.ip))
		if c.ok {
			require.NoError(t, err, "case %d", i)
		} else {
			require.ErrorIs(t, err, ErrRefused, "case %d", i)
		}
	}
}

func TestNewRejectsBadEntries(t *testing.T) {
	t.Parallel()
	_, err := New(false, []string{"ok.example", "", "bad host", "http://x", "10.0.0.0/33"}, nil)
	require.ErrorContains(t, err, "allow_hosts[1]: empty entry")
	require.ErrorContains(t, err, `allow_hosts[2]: "bad host" is not`)
	require.ErrorContains(t, err, `allow_hosts[3]: "http://x" is not`)
	require.ErrorContains(t, err, `allow_hosts[4]: "10.0.0.0/33" is not`)
	require.NotContains(t, err.Error(), "allow_hosts[0]")
}

// rebinder answers a public address on the first lookup and loopback afterwards, as a DNS
// rebinding attacker would.
type rebinder struct {
	lookups atomic.Int32
	first   netip.Addr
	then    netip.Addr
}

func (r *rebinder) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	if r.lookups.Add(1) == 1 {
		return []netip.Addr{r.first}, nil
	}
	return []netip.Addr{r.then}, nil
}

func TestClientChecksAtDialTime(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	port := u.Port()

	// A loopback receiver is refused by default, allowed explicitly.
	deny, err := New(false, nil, nil)
	require.NoError(t, err)
	_, err = deny.Client(nil).Get(srv.URL)
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorContains(t, err, "loopback address: list it in allow_hosts or set allow_private: true")

	allow, err := New(true, nil, nil)
	require.NoError(t, err)
	resp, err := allow.Client(nil).Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	// A name that resolved to a public address when first looked up and to loopback when the
	// connection is made is refused: the check runs on the address actually dialled.
	r := &rebinder{first: netip.MustParseAddr("203.1.113.9"), then: netip.MustParseAddr("127.0.0.1")}
	p, err := New(false, nil, r)
	require.NoError(t, err)
	ips, err := p.Resolve(context.Background(), "rebind.example.com")
	require.NoError(t, err)
	require.Equal(t, "203.1.113.9", ips[0].String())
	_, err = p.Client(nil).Get("http://rebind.example.com:" + port + "/")
	require.ErrorIs(t, err, ErrRefused)
	require.ErrorContains(t, err, "rebind.example.com resolves to 127.0.0.1")

	// Listing the name allows it, and the connection goes to the checked address.
	named, err := New(false, []string{"hooks.example.com"}, &rebinder{first: netip.MustParseAddr("127.0.0.1"), then: netip.MustParseAddr("127.0.0.1")})
	require.NoError(t, err)
	resp, err = named.Client(nil).Get("http://hooks.example.com:" + port + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int32(2), hits.Load())

	// A mixed answer uses only the allowed addresses.
	mixed := &rebinder{first: netip.MustParseAddr("127.0.0.1"), then: netip.MustParseAddr("127.0.0.1")}
	ips, err = (&Policy{resolver: mixed, allowPrivate: true}).Resolve(context.Background(), "x.example")
	require.NoError(t, err)
	require.Len(t, ips, 1)
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	p, err := New(true, nil, nil)
	require.NoError(t, err)
	resp, err := p.Client(nil).Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.False(t, errors.Is(err, ErrRefused))
}
