package tlsca

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
)

func TestIssueServerCertCoversLoopbackAndExtraNames(t *testing.T) {
	t.Parallel()
	ca, err := New(Options{})
	require.NoError(t, err)
	require.True(t, ca.Certificate().IsCA)

	cert, err := ca.IssueServerCert("vault1.sim.test", "10.1.2.3", "localhost")
	require.NoError(t, err)
	require.Len(t, cert.Certificate, 2, "chain carries leaf and CA")
	leaf := cert.Leaf
	require.ElementsMatch(t, []string{"localhost", "vault1.sim.test"}, leaf.DNSNames)

	tests := []string{"127.0.0.1", "::1", "localhost", "vault1.sim.test", "10.1.2.3"}
	for _, host := range tests {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			_, err := leaf.Verify(x509.VerifyOptions{
				DNSName:   host,
				Roots:     ca.CertPool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			require.NoError(t, err)
		})
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "example.org", Roots: ca.CertPool()})
	require.Error(t, err)
}

func TestLeafValidityIsCappedByCA(t *testing.T) {
	t.Parallel()
	clock := clockwork.NewFakeClockAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	ca, err := New(Options{Clock: clock, Validity: 48 * time.Hour, LeafValidity: 365 * 24 * time.Hour})
	require.NoError(t, err)
	cert, err := ca.IssueServerCert()
	require.NoError(t, err)
	require.Equal(t, ca.Certificate().NotAfter, cert.Leaf.NotAfter)
	require.Equal(t, clock.Now().Add(-time.Hour), cert.Leaf.NotBefore)
}

func TestTLSRoundTrip(t *testing.T) {
	t.Parallel()
	ca, err := New(Options{})
	require.NoError(t, err)
	cfg, err := ca.ServerTLSConfig()
	require.NoError(t, err)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello over tls")
	}))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)

	client := ca.HTTPClient()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		resp, err := client.Get("https://" + net.JoinHostPort(host, port) + "/")
		require.NoError(t, err, host)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, "hello over tls", string(body))
	}

	// A client that does not trust the CA refuses the server.
	other, err := New(Options{})
	require.NoError(t, err)
	_, err = other.HTTPClient().Get(srv.URL)
	require.Error(t, err)
}

func TestWriteCertPEM(t *testing.T) {
	t.Parallel()
	ca, err := New(Options{})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sim-ca.pem")
	require.NoError(t, ca.WriteCertPEM(path))

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block)
	require.Equal(t, "CERTIFICATE", block.Type)
	require.Equal(t, ca.Certificate().Raw, block.Bytes)
	require.Equal(t, ca.CertPEM(), data)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(data))
}

func TestLoadOrCreatePersistsAndReuses(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "ca")
	first, err := LoadOrCreate(dir, Options{})
	require.NoError(t, err)

	info, err := os.Stat(filepath.Join(dir, KeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	dirInfo, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())

	second, err := LoadOrCreate(dir, Options{})
	require.NoError(t, err)
	require.Equal(t, first.Certificate().Raw, second.Certificate().Raw)

	// A leaf issued by the reloaded CA verifies against the first CA's pool.
	cert, err := second.IssueServerCert()
	require.NoError(t, err)
	_, err = cert.Leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: first.CertPool()})
	require.NoError(t, err)
}

func TestLoadOrCreateReplacesExpiringCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clock := clockwork.NewFakeClockAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	first, err := LoadOrCreate(dir, Options{Clock: clock, Validity: 60 * 24 * time.Hour})
	require.NoError(t, err)

	clock.Advance(20 * 24 * time.Hour) // still 40 days left: kept
	kept, err := LoadOrCreate(dir, Options{Clock: clock})
	require.NoError(t, err)
	require.Equal(t, first.Certificate().Raw, kept.Certificate().Raw)

	clock.Advance(15 * 24 * time.Hour) // 25 days left: inside the renewal window
	renewed, err := LoadOrCreate(dir, Options{Clock: clock})
	require.NoError(t, err)
	require.NotEqual(t, first.Certificate().Raw, renewed.Certificate().Raw)

	reloaded, err := LoadOrCreate(dir, Options{Clock: clock})
	require.NoError(t, err)
	require.Equal(t, renewed.Certificate().Raw, reloaded.Certificate().Raw)
}

func TestLoadOrCreateRefusals(t *testing.T) {
	t.Parallel()
	other, err := New(Options{})
	require.NoError(t, err)
	otherKeyDir := t.TempDir()
	_, err = LoadOrCreate(otherKeyDir, Options{})
	require.NoError(t, err)
	otherKey, err := os.ReadFile(filepath.Join(otherKeyDir, KeyFile))
	require.NoError(t, err)

	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		wantErr string
	}{
		{
			name: "key readable by others",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.Chmod(filepath.Join(dir, KeyFile), 0o644))
			},
			wantErr: "want 0600",
		},
		{
			name: "certificate missing",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.Remove(filepath.Join(dir, CertFile)))
			},
			wantErr: CertFile + " is missing",
		},
		{
			name: "key missing",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.Remove(filepath.Join(dir, KeyFile)))
			},
			wantErr: KeyFile + " is missing",
		},
		{
			name: "certificate corrupt",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, CertFile), []byte("not pem"), 0o644))
			},
			wantErr: CertFile + ": no PEM CERTIFICATE block",
		},
		{
			name: "key of another CA",
			prepare: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, KeyFile), otherKey, 0o600))
			},
			wantErr: "does not match the certificate",
		},
		{
			name: "certificate is not a CA",
			prepare: func(t *testing.T, dir string) {
				leaf, err := other.IssueServerCert()
				require.NoError(t, err)
				data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Leaf.Raw})
				require.NoError(t, os.WriteFile(filepath.Join(dir, CertFile), data, 0o644))
			},
			wantErr: "certificate is not a CA",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := LoadOrCreate(dir, Options{})
			require.NoError(t, err)
			tt.prepare(t, dir)
			_, err = LoadOrCreate(dir, Options{})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}
