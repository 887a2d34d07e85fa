package directory_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // thumbprints
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/directory"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type bundle struct {
	clock  *clockwork.FakeClock
	dir    *directory.Directory
	tenant directory.Tenant
}

func setup(t *testing.T, opts directory.Options) bundle {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	opts.Clock = clock
	dir := directory.New(opts)
	ten, err := dir.AddTenant(directory.AddTenantParams{DisplayName: "Contoso"})
	require.NoError(t, err)
	return bundle{clock: clock, dir: dir, tenant: ten}
}

func (b bundle) app(t *testing.T, name string) directory.Application {
	t.Helper()
	a, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: name})
	require.NoError(t, err)
	return a
}

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func newCert(t *testing.T, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &testKey.PublicKey, testKey)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func TestTenants(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	require.Equal(t, "contoso.onmicrosoft.com", b.tenant.DefaultDomain)
	require.True(t, directory.IsGUID(b.tenant.ID))

	for _, key := range []string{b.tenant.ID, strings.ToUpper(b.tenant.ID), "Contoso.onmicrosoft.com"} {
		got, err := b.dir.Tenant(key)
		require.NoError(t, err, key)
		require.Equal(t, b.tenant.ID, got.ID)
	}
	_, err := b.dir.Tenant("fabrikam.onmicrosoft.com")
	require.ErrorIs(t, err, directory.ErrTenantNotFound)
	_, err = b.dir.AddTenant(directory.AddTenantParams{DisplayName: "Contoso"})
	require.ErrorIs(t, err, directory.ErrConflict)

	// Every tenant has Microsoft Graph and Key Vault service principals.
	for _, appID := range []string{directory.MicrosoftGraphAppID, directory.AzureKeyVaultAppID} {
		sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, appID)
		require.NoError(t, err)
		require.Equal(t, directory.MicrosoftTenantID, sp.AppOwnerOrganizationID)
	}
	for _, res := range []string{"https://graph.microsoft.com", "https://graph.microsoft.com/", directory.MicrosoftGraphAppID, "HTTPS://VAULT.AZURE.NET"} {
		_, err := b.dir.ResolveResource(b.tenant.ID, res)
		require.NoError(t, err, res)
	}
	_, err = b.dir.ResolveResource(b.tenant.ID, "https://unknown.example")
	require.ErrorIs(t, err, directory.ErrNotFound)
}

func TestApplicationsAndServicePrincipals(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a := b.app(t, "payments-api")
	require.Equal(t, directory.AudienceMyOrg, a.SignInAudience)
	require.Equal(t, t0, a.CreatedDateTime)

	got, err := b.dir.ApplicationByAppID(b.tenant.ID, strings.ToUpper(a.AppID))
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID)
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	require.Equal(t, b.tenant.ID, sp.AppOwnerOrganizationID)
	require.Equal(t, "payments-api", sp.DisplayName)

	_, err = b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "dup", AppID: a.AppID})
	require.ErrorIs(t, err, directory.ErrConflict)
	_, err = b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID})
	require.ErrorIs(t, err, directory.ErrInvalid)

	// Snapshots do not alias the directory.
	got.Tags = append(got.Tags, "mutated")
	again, err := b.dir.Application(b.tenant.ID, a.ID)
	require.NoError(t, err)
	require.Empty(t, again.Tags)

	require.NoError(t, b.dir.DeleteApplication(b.tenant.ID, a.ID, "test"))
	_, err = b.dir.Application(b.tenant.ID, a.ID)
	require.ErrorIs(t, err, directory.ErrNotFound)
	_, err = b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.ErrorIs(t, err, directory.ErrNotFound)
	dead, err := b.dir.DeletedApplication(b.tenant.ID, a.ID)
	require.NoError(t, err)
	require.Equal(t, t0, dead.DeletedDateTime)
}

func TestOwners(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a := b.app(t, "orders-api")
	mgr := b.app(t, "rotor")
	mgrSP, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, mgr.AppID)
	require.NoError(t, err)
	u, err := b.dir.AddUser(directory.AddUserParams{TenantID: b.tenant.ID, DisplayName: "Alex Adams"})
	require.NoError(t, err)
	require.Equal(t, "alex.adams@contoso.onmicrosoft.com", u.Mail)

	require.NoError(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), u.Ref()))
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), mgrSP.Ref()))
	require.NoError(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), mgrSP.Ref()), "adding twice is a no-op")
	owners, err := b.dir.Owners(b.tenant.ID, a.Ref())
	require.NoError(t, err)
	require.Len(t, owners, 2)
	require.Equal(t, u.Mail, owners[0].User.Mail)
	require.Equal(t, mgr.AppID, owners[1].ServicePrincipal.AppID)

	require.True(t, b.dir.IsOwner(b.tenant.ID, a.Ref(), mgrSP.ID))
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	require.True(t, b.dir.IsOwner(b.tenant.ID, sp.Ref(), mgrSP.ID), "owning the application owns its service principal")
	require.False(t, b.dir.IsOwner(b.tenant.ID, mgr.Ref(), mgrSP.ID))

	require.ErrorIs(t, b.dir.AddOwner(b.tenant.ID, a.Ref(), directory.ObjectRef{Kind: directory.KindApplication, ID: mgr.ID}), directory.ErrInvalid)
	require.NoError(t, b.dir.RemoveOwner(b.tenant.ID, a.Ref(), mgrSP.Ref()))
	require.False(t, b.dir.IsOwner(b.tenant.ID, a.Ref(), mgrSP.ID))
}

func TestPasswordCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a := b.app(t, "billing-worker")

	cred, text, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref(), DisplayName: "ci", Actor: "tester"})
	require.NoError(t, err)
	s := text.Reveal()
	require.Len(t, s, 40)
	require.Equal(t, s[:3], cred.Hint)
	require.Equal(t, "Q~", s[4:6])
	require.Equal(t, t0, cred.StartDateTime)
	require.Equal(t, t0.Add(directory.DefaultPasswordLifetime), cred.EndDateTime)
	require.Equal(t, "[REDACTED]", fmt.Sprint(text))

	wrong := s[:39] + "x" // the last character changed (the secret may end in x already)
	if s[39] == 'x' {
		wrong = s[:39] + "y"
	}
	tests := []struct {
		name   string
		secret string
		at     time.Time
		want   directory.AuthStatus
	}{
		{"valid", s, t0, directory.AuthValid},
		{"wrong secret", wrong, t0, directory.AuthNoMatch},
		{"key id is not the secret", cred.KeyID, t0, directory.AuthNoMatch},
		{"expired", s, t0.Add(directory.DefaultPasswordLifetime), directory.AuthExpired},
	}
	for _, tc := range tests {
		b.clock.Advance(tc.at.Sub(b.clock.Now()))
		got, err := b.dir.CheckClientSecret(b.tenant.ID, a.AppID, tc.secret)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got.Status, tc.name)
		if tc.want != directory.AuthNoMatch {
			require.Equal(t, cred.KeyID, got.KeyID)
			require.Equal(t, a.Ref(), got.Holder)
		}
	}

	// A secret that starts in the future is not valid yet.
	future, ftext, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref(), StartDateTime: b.clock.Now().Add(time.Hour)})
	require.NoError(t, err)
	got, err := b.dir.CheckClientSecret(b.tenant.ID, a.AppID, ftext.Reveal())
	require.NoError(t, err)
	require.Equal(t, directory.AuthNotYetValid, got.Status)

	// Secrets on the service principal sign the application in too.
	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	_, sptext, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: sp.Ref()})
	require.NoError(t, err)
	got, err = b.dir.CheckClientSecret(b.tenant.ID, a.AppID, sptext.Reveal())
	require.NoError(t, err)
	require.Equal(t, directory.AuthValid, got.Status)
	require.Equal(t, sp.Ref(), got.Holder)

	require.NoError(t, b.dir.RemovePassword(b.tenant.ID, a.Ref(), future.KeyID, "tester"))
	require.ErrorIs(t, b.dir.RemovePassword(b.tenant.ID, a.Ref(), future.KeyID, "tester"), directory.ErrNotFound)

	_, _, err = b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref(), StartDateTime: t0, EndDateTime: t0})
	require.ErrorIs(t, err, directory.ErrInvalid)

	hist, err := b.dir.CredentialHistory(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	require.Len(t, hist, 4)
	require.Equal(t, directory.ActionAdded, hist[0].Action)
	require.Equal(t, "tester", hist[0].By)
	require.Equal(t, directory.ActionRemoved, hist[3].Action)
	require.Equal(t, future.KeyID, hist[3].KeyID)
}

func TestReplicationDelay(t *testing.T) {
	t.Parallel()
	run := func() ([]directory.AuthStatus, directory.AuthStatus) {
		b := setup(t, directory.Options{Seed: 42, ReplicationDelay: 10 * time.Minute})
		a := b.app(t, "search-api")
		cred, text, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref(), KeyID: "3f1c2a9e-0000-4000-8000-000000000001"})
		require.NoError(t, err)
		require.Equal(t, t0.Add(10*time.Minute), cred.ReadyAt)
		var early []directory.AuthStatus
		for i := 0; i < 40; i++ {
			got, err := b.dir.CheckClientSecret(b.tenant.ID, a.AppID, text.Reveal())
			require.NoError(t, err)
			early = append(early, got.Status)
		}
		b.clock.Advance(10 * time.Minute)
		got, err := b.dir.CheckClientSecret(b.tenant.ID, a.AppID, text.Reveal())
		require.NoError(t, err)
		return early, got.Status
	}
	early, late := run()
	require.Contains(t, early, directory.AuthValid, "before replication some sign-ins work")
	require.Contains(t, early, directory.AuthNotReplicated, "and some fail")
	require.Equal(t, directory.AuthValid, late)
	again, _ := run()
	require.Equal(t, early, again, "deterministic from the seed")
}

func TestKeyCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a := b.app(t, "catalog-web")
	cert := newCert(t, "catalog-web", t0.Add(-time.Hour), t0.Add(90*24*time.Hour))

	k, err := b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: a.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: cert.Raw}, Actor: "tester"})
	require.NoError(t, err)
	require.Equal(t, "CN=catalog-web", k.DisplayName)
	require.Equal(t, directory.KeyTypeAsymmetricX509Cert, k.Type)
	require.Equal(t, directory.KeyUsageVerify, k.Usage)
	s1 := sha1.Sum(cert.Raw) //nolint:gosec
	require.Equal(t, s1[:], k.CustomKeyIdentifier)
	require.Equal(t, cert.NotAfter.UTC(), k.EndDateTime)

	s256 := sha256.Sum256(cert.Raw)
	for _, thumb := range [][]byte{s1[:], s256[:]} {
		got, err := b.dir.FindClientCertificate(b.tenant.ID, a.AppID, thumb)
		require.NoError(t, err)
		require.Equal(t, directory.AuthValid, got.Status)
		require.Equal(t, k.KeyID, got.KeyID)
	}
	got, err := b.dir.FindClientCertificate(b.tenant.ID, a.AppID, make([]byte, 20))
	require.NoError(t, err)
	require.Equal(t, directory.AuthNoMatch, got.Status)

	bad := []directory.KeyCredentialInput{
		{Key: []byte("not a certificate")},
		{Key: cert.Raw, Type: "Symmetric"},
		{Key: cert.Raw, Type: directory.KeyTypeAsymmetricX509Cert, Usage: directory.KeyUsageSign},
		{Key: cert.Raw, EndDateTime: cert.NotAfter.Add(24 * time.Hour)},
	}
	for i, in := range bad {
		_, err := b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: a.Ref(), KeyCredentialInput: in})
		require.ErrorIs(t, err, directory.ErrInvalid, i)
	}

	// PATCH semantics: keep the first key by id, add a second, drop nothing else.
	cert2 := newCert(t, "catalog-web-2", t0, t0.Add(30*24*time.Hour))
	keys, err := b.dir.ReplaceKeyCredentials(b.tenant.ID, a.Ref(), []directory.KeyCredentialInput{{KeyID: k.KeyID}, {Key: cert2.Raw}}, "tester", true)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	keys, err = b.dir.ReplaceKeyCredentials(b.tenant.ID, a.Ref(), []directory.KeyCredentialInput{{KeyID: keys[1].KeyID}}, "tester", true)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, "CN=catalog-web-2", keys[0].DisplayName)
	_, err = b.dir.ReplaceKeyCredentials(b.tenant.ID, a.Ref(), []directory.KeyCredentialInput{{KeyID: "00000000-0000-4000-8000-00000000abcd"}}, "tester", true)
	require.ErrorIs(t, err, directory.ErrInvalid)

	hist, err := b.dir.CredentialHistory(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	var actions []string
	for _, e := range hist {
		actions = append(actions, string(e.Action)+":"+e.DisplayName)
	}
	require.Equal(t, []string{"added:CN=catalog-web", "added:CN=catalog-web-2", "removed:CN=catalog-web"}, actions)

	require.NoError(t, b.dir.RemoveKey(b.tenant.ID, a.Ref(), keys[0].KeyID, "tester"))
	after, err := b.dir.Application(b.tenant.ID, a.ID)
	require.NoError(t, err)
	require.Empty(t, after.KeyCredentials)
}

func TestCredentialLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{MaxCredentialsPerObject: 3})
	msa, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "consumer-app", SignInAudience: directory.AudienceMultipleOrgsAndPerson})
	require.NoError(t, err)
	add := func(a directory.Application, enforce bool) error {
		_, _, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref(), Enforce: enforce})
		return err
	}
	require.NoError(t, add(msa, true))
	require.NoError(t, add(msa, true))
	err = add(msa, true)
	var lim *directory.CredentialLimitError
	require.ErrorAs(t, err, &lim)
	require.True(t, lim.PersonalAccounts)
	require.Equal(t, 2, lim.Limit)
	require.NoError(t, add(msa, false), "programmatic set-up is not limited")

	org := b.app(t, "org-app")
	for i := 0; i < 3; i++ {
		require.NoError(t, add(org, true))
	}
	require.ErrorAs(t, add(org, true), &lim)
	require.False(t, lim.PersonalAccounts)
}

func TestAppManagementPolicies(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	old, err := b.dir.AddApplication(directory.AddApplicationParams{TenantID: b.tenant.ID, DisplayName: "old-app", CreatedDateTime: t0.AddDate(-2, 0, 0)})
	require.NoError(t, err)
	recent := b.app(t, "new-app")
	cutoff := t0.AddDate(-1, 0, 0)

	def, err := b.dir.DefaultAppManagementPolicy(b.tenant.ID)
	require.NoError(t, err)
	require.Equal(t, directory.DefaultPolicyID, def.ID)
	require.False(t, def.IsEnabled)

	require.NoError(t, b.dir.SetDefaultAppManagementPolicy(b.tenant.ID, directory.TenantAppManagementPolicy{
		IsEnabled: true,
		ApplicationRestrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{
			{RestrictionType: directory.RestrictPasswordLifetime, MaxLifetime: "P90D", RestrictForAppsCreatedAfterDateTime: &cutoff},
		}},
	}))
	add := func(a directory.Application, life time.Duration) error {
		_, _, err := b.dir.AddPassword(directory.AddPasswordParams{TenantID: b.tenant.ID, Object: a.Ref(), EndDateTime: t0.Add(life), Enforce: true})
		return err
	}
	err = add(recent, 91*24*time.Hour)
	v, ok := directory.IsPolicyViolation(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, directory.DefaultPolicyID, v.PolicyID)
	require.True(t, v.Lifetime())
	require.NoError(t, add(recent, 90*24*time.Hour))
	require.NoError(t, add(old, 2*365*24*time.Hour), "created before restrictForAppsCreatedAfterDateTime")

	// A policy assigned to the app takes precedence over the tenant default.
	p, err := b.dir.AddAppManagementPolicy(b.tenant.ID, directory.AppManagementPolicy{DisplayName: "no secrets", IsEnabled: true,
		Restrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordAddition}}}})
	require.NoError(t, err)
	require.NoError(t, b.dir.AssignAppManagementPolicy(b.tenant.ID, p.ID, old.Ref()))
	err = add(old, 24*time.Hour)
	v, ok = directory.IsPolicyViolation(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, p.ID, v.PolicyID)
	require.False(t, v.Lifetime())
	pols, err := b.dir.AppManagementPoliciesOf(b.tenant.ID, old.Ref())
	require.NoError(t, err)
	require.Len(t, pols, 1)
	got, err := b.dir.AppManagementPolicy(b.tenant.ID, p.ID)
	require.NoError(t, err)
	require.Equal(t, []directory.ObjectRef{old.Ref()}, got.AppliesTo)

	// A disabled restriction is not evaluated.
	p2, err := b.dir.AddAppManagementPolicy(b.tenant.ID, directory.AppManagementPolicy{DisplayName: "off", IsEnabled: true,
		Restrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{{RestrictionType: directory.RestrictPasswordAddition, State: directory.StateDisabled}}}})
	require.NoError(t, err)
	require.NoError(t, b.dir.AssignAppManagementPolicy(b.tenant.ID, p2.ID, recent.Ref()))
	require.NoError(t, add(recent, 5*365*24*time.Hour))

	// Certificates: asymmetricKeyLifetime.
	require.NoError(t, b.dir.SetDefaultAppManagementPolicy(b.tenant.ID, directory.TenantAppManagementPolicy{IsEnabled: true,
		ApplicationRestrictions: directory.AppManagementConfiguration{KeyCredentials: []directory.Restriction{{RestrictionType: directory.RestrictAsymmetricKeyLifetime, MaxLifetime: "P30D"}}}}))
	third := b.app(t, "third")
	cert := newCert(t, "third", t0, t0.Add(60*24*time.Hour))
	_, err = b.dir.AddKey(directory.AddKeyParams{TenantID: b.tenant.ID, Object: third.Ref(), KeyCredentialInput: directory.KeyCredentialInput{Key: cert.Raw}, Enforce: true})
	_, ok = directory.IsPolicyViolation(err)
	require.True(t, ok, "%v", err)

	bad := []directory.Restriction{
		{RestrictionType: "bogus"},
		{RestrictionType: directory.RestrictPasswordLifetime, MaxLifetime: "90 days"},
	}
	for _, r := range bad {
		_, err := b.dir.AddAppManagementPolicy(b.tenant.ID, directory.AppManagementPolicy{Restrictions: directory.AppManagementConfiguration{PasswordCredentials: []directory.Restriction{r}}})
		require.ErrorIs(t, err, directory.ErrInvalid)
	}
}

func TestParseISODuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"P90D", 90 * 24 * time.Hour, false},
		{"P4DT12H30M5S", 4*24*time.Hour + 12*time.Hour + 30*time.Minute + 5*time.Second, false},
		{"PT1H", time.Hour, false},
		{"P1Y", 365 * 24 * time.Hour, false},
		{"P2W", 14 * 24 * time.Hour, false},
		{"P", 0, true},
		{"90D", 0, true},
		{"PT", 0, true},
		{"P1H", 0, true},
	}
	for _, tc := range tests {
		got, err := directory.ParseISODuration(tc.in)
		if tc.err {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestGrants(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a := b.app(t, "rotor")
	require.NoError(t, b.dir.GrantAppRole(b.tenant.ID, a.AppID, directory.MicrosoftGraphAppID, "Application.ReadWrite.OwnedBy"))
	require.NoError(t, b.dir.GrantAppRole(b.tenant.ID, a.AppID, directory.MicrosoftGraphAppID, "Application.Read.All"))
	require.NoError(t, b.dir.GrantAppRole(b.tenant.ID, a.AppID, directory.MicrosoftGraphAppID, "Application.Read.All"))
	require.ErrorIs(t, b.dir.GrantAppRole(b.tenant.ID, a.AppID, directory.MicrosoftGraphAppID, "Mail.Send.Everything"), directory.ErrNotFound)

	sp, err := b.dir.ServicePrincipalByAppID(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	graph, err := b.dir.ResolveResource(b.tenant.ID, "https://graph.microsoft.com")
	require.NoError(t, err)
	roles, err := b.dir.GrantedRoles(b.tenant.ID, sp.ID, graph.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"Application.Read.All", "Application.ReadWrite.OwnedBy"}, roles)

	require.NoError(t, b.dir.RevokeAppRole(b.tenant.ID, a.AppID, directory.MicrosoftGraphAppID, "Application.Read.All"))
	roles, err = b.dir.GrantedRoles(b.tenant.ID, sp.ID, graph.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"Application.ReadWrite.OwnedBy"}, roles)
}

func TestSignInRecord(t *testing.T) {
	t.Parallel()
	b := setup(t, directory.Options{})
	a := b.app(t, "rotor")
	_, ok, err := b.dir.LastSignIn(b.tenant.ID, a.AppID)
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, b.dir.RecordSignIn(b.tenant.ID, a.AppID, directory.CredentialPassword, a.Ref(), "k1"))
	b.clock.Advance(time.Minute)
	require.NoError(t, b.dir.RecordSignIn(b.tenant.ID, a.AppID, directory.CredentialKey, a.Ref(), "k2"))
	use, ok, err := b.dir.LastSignIn(b.tenant.ID, strings.ToUpper(a.AppID))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "k2", use.KeyID)
	require.Equal(t, directory.CredentialKey, use.Kind)
	require.Equal(t, t0.Add(time.Minute), use.Time)
	require.Equal(t, 2, use.Count)
}

func TestSeedSignIn(t *testing.T) {
	t.Parallel()
	d := directory.New(directory.Options{Seed: 3})
	res, err := d.Seed(directory.SeedParams{Seed: 3, Tenants: 1, AppsPerTenant: 5})
	require.NoError(t, err)
	st := res.Tenants[0]
	si := st.SignIn
	require.Contains(t, si.RedirectURIs, "http://127.0.0.1/auth/callback")
	require.Len(t, si.Users, 4)
	want := map[string]struct {
		groups []string
		roles  []string
	}{
		"admin":    {[]string{si.Groups["admin"]}, nil},
		"operator": {[]string{}, []string{"Rotor.Operator"}},
		"viewer":   {[]string{si.Groups["viewer"]}, nil},
		"":         {[]string{}, nil},
	}
	for _, u := range si.Users {
		got, err := d.UserSignIn(st.Tenant.ID, u.ID, st.Manager.AppID)
		require.NoError(t, err)
		require.Equal(t, want[u.Role].groups, got.Groups, u.DisplayName)
		require.Equal(t, want[u.Role].roles, got.AppRoles, u.DisplayName)
		require.Equal(t, u.UserPrincipalName, got.User.UserPrincipalName)
	}
	// The same seed gives the same ids.
	again := directory.New(directory.Options{Seed: 3})
	res2, err := again.Seed(directory.SeedParams{Seed: 3, Tenants: 1, AppsPerTenant: 5})
	require.NoError(t, err)
	require.Equal(t, si, res2.Tenants[0].SignIn)
}
