package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/auth"
)

func TestServerDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("t.yaml", []byte("{}"), Options{LookupEnv: env()})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:8080", c.Server.Listen)
	require.Equal(t, "http://127.0.0.1:8080", c.Server.PublicURL, "derived from a loopback listen address")
	require.True(t, c.Server.PublicURLDerived(), "serve derives it again from the port it listens on")
	require.Equal(t, 8*time.Hour, c.Server.Session.Lifetime.D())
	require.Nil(t, c.Server.OIDC)
	require.False(t, c.Server.Secure())

	c, err = Parse("t.yaml", []byte("server:\n  listen: 0.0.0.0:8080\n"), Options{LookupEnv: env()})
	require.NoError(t, err)
	require.Empty(t, c.Server.PublicURL, "no guess for a non-loopback address")
}

func TestServerOIDC(t *testing.T) {
	t.Parallel()
	src := `server:
  public_url: https://rotor.example.org/
  session:
    key: env:ROTOR_SESSION_KEY
  oidc:
    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47
    client_id: 6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
    client_secret: env:ROTOR_OIDC_SECRET
  roles:
    groups:
      4C2F5E1A-7B3D-4E9F-A1C2-3D4E5F6A7B8C: Admin
    app_roles:
      Rotor.Viewer: viewer
`
	c, err := Parse("t.yaml", []byte(src), Options{LookupEnv: env()})
	require.NoError(t, err)
	s := c.Server
	require.Equal(t, "https://rotor.example.org", s.PublicURL, "trailing slash trimmed")
	require.False(t, s.PublicURLDerived())
	require.True(t, s.Secure())
	require.Equal(t, "https://rotor.example.org/auth/callback", s.RedirectURL())
	require.Equal(t, "https://rotor.example.org/auth/signed-out", s.PostLogoutURL())
	require.Equal(t, "https://login.microsoftonline.com/", s.OIDC.AuthorityHost)
	require.Equal(t, "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", s.OIDC.Issuer())
	require.Equal(t, []string{"openid", "profile", "email"}, s.OIDC.Scopes)
	require.Equal(t, auth.RoleMap{
		Groups:   map[string]auth.Role{"4c2f5e1a-7b3d-4e9f-a1c2-3d4e5f6a7b8c": auth.Admin},
		AppRoles: map[string]auth.Role{"Rotor.Viewer": auth.Viewer},
	}, s.Roles.RoleMap())
}

func TestServerErrorsNameFieldAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert := filepath.Join(dir, "tls.crt")
	require.NoError(t, os.WriteFile(cert, []byte("x"), 0o600))
	tests := map[string]struct {
		src  string
		want []string
	}{
		"listen": {"server:\n  listen: 8080\n", []string{`line 2: server.listen: "8080" is not host:port`}},
		"public url over http": {"server:\n  public_url: http://rotor.example.org\n",
			[]string{`line 2: server.public_url: "http://rotor.example.org": use https (plain http is allowed only on loopback)`}},
		"public url with a query": {"server:\n  public_url: https://rotor.example.org/?x=1\n",
			[]string{`line 2: server.public_url: "https://rotor.example.org/?x=1": no query, fragment or user information`}},
		"tls half given": {"server:\n  listen: 127.0.0.1:8443\n  tls:\n    cert_file: " + cert + "\n",
			[]string{`line 4: server.tls.key_file: required with server.tls (give both cert_file and key_file)`}},
		"tls with an http url": {"server:\n  public_url: http://127.0.0.1:8443\n  tls:\n    cert_file: " + cert + "\n    key_file: " + cert + "\n",
			[]string{`line 2: server.public_url: "http://127.0.0.1:8443": rotor serves TLS (server.tls), so its URL is https`}},
		"lifetime": {"server:\n  session:\n    lifetime: 30d\n", []string{`line 3: server.session.lifetime: 30d: use 5m to 7d`}},
		"roles": {"server:\n  roles:\n    groups:\n      admins: admin\n    app_roles:\n      Rotor.Owner: owner\n", []string{
			`line 4: server.roles.groups.admins: "admins" is not a group object id: expected a GUID`,
			`line 6: server.roles.app_roles.Rotor.Owner: unknown role "owner": use viewer, operator or admin`,
		}},
		"oidc incomplete": {"server:\n  listen: 0.0.0.0:8080\n  oidc:\n    tenant_id: contoso.onmicrosoft.com\n    client_secret: some-secret\n    scopes: [profile]\n", []string{
			`line 2: server.public_url: required with server.oidc when server.listen is not a loopback address: the sign-in redirect URI is built from it`,
			`line 2: server.roles: nobody could sign in: map group ids (server.roles.groups) or app role values (server.roles.app_roles) to viewer, operator or admin`,
			`line 2: server.session.key: required with server.oidc: it seals session cookies (rotor keys generate makes one)`,
			`line 4: server.oidc.client_id: required field is missing`,
			`line 4: server.oidc.tenant_id: "contoso.onmicrosoft.com" is not a directory (tenant) id: expected a GUID`,
			`line 5: server.oidc.client_secret: must be a reference "env:NAME" or "file:/path", not a value`,
			`line 6: server.oidc.scopes: must include openid (sign-in needs an ID token)`,
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			errs := parseErrs(t, tt.src, env())
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			require.ElementsMatch(t, tt.want, got)
		})
	}
}
