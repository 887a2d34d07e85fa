package directory

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"time"

	"github.com/rotorhq/rotor/secret"
)

// SeedParams describe a generated population of tenants and applications.
type SeedParams struct {
	// Seed makes names, ids, dates and the mix of credentials deterministic. Secret values and
	// certificate bytes are random regardless.
	Seed uint64
	// Tenants is the number of tenants (at least 1).
	Tenants int
	// AppsPerTenant is the number of applications per tenant, besides the manager application.
	AppsPerTenant int
	// ManagerRoles are the Microsoft Graph application permissions granted to each tenant's
	// manager application. Nil means Application.ReadWrite.All and Policy.Read.All.
	ManagerRoles []string
}

// SeedResult describes what Seed created.
type SeedResult struct {
	Tenants []SeededTenant
}

// SeededTenant is one generated tenant and its manager application: the application a rotor
// installation would be configured with.
type SeededTenant struct {
	Tenant       Tenant
	Manager      SeededApp
	Applications int
	Users        int
	// SignIn are the people who sign in to rotor's web UI through the manager application.
	SignIn SeededSignIn
}

// SeededSignIn describes how the manager application signs users in: its web redirect URIs
// (loopback, any port), the groups claim, three app roles for users, three groups and four
// people, one per role and one with none.
type SeededSignIn struct {
	RedirectURIs []string
	// AppRoles are the app role values of the manager application, by rotor role.
	AppRoles map[string]string
	// Groups are the object ids of the rotor groups, by rotor role.
	Groups map[string]string
	Users  []SeededUser
}

// SeededUser is a person who can sign in, and the role their groups or app roles give them.
type SeededUser struct {
	ID                string
	DisplayName       string
	UserPrincipalName string
	Role              string // admin, operator, viewer, or "" for none
	Via               string // how: "group rotor admins", "app role Rotor.Operator", ...
}

// SeededApp is an application with usable credentials.
type SeededApp struct {
	AppID              string
	ObjectID           string
	ServicePrincipalID string
	DisplayName        string
	Secret             secret.Value // a client secret of the application
	SecretKeyID        string
	Certificate        *x509.Certificate // a certificate of the application ...
	PrivateKey         *rsa.PrivateKey   // ... and its key, for client assertions
	CertificateKeyID   string
}

var (
	seedTenantNames = []string{"Contoso", "Fabrikam", "Northwind Traders", "Tailspin Toys", "Woodgrove Bank", "Litware", "Adventure Works", "Wide World Importers", "Proseware", "Fourth Coffee"}
	seedTeams       = []string{"payments", "billing", "orders", "inventory", "identity", "search", "shipping", "catalog", "checkout", "analytics", "notifications", "reporting", "pricing", "fraud", "loyalty", "support", "marketing", "hr", "finance", "platform"}
	seedComponents  = []string{"api", "worker", "web", "sync", "etl", "gateway", "scheduler", "exporter", "importer", "bot", "portal", "cli"}
	seedEnvs        = []string{"prod", "staging", "dev", "test"}
	seedFirst       = []string{"Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Robin", "Drew", "Harper", "Reese", "Skyler", "Rowan", "Emery", "Finley", "Hayden", "Parker"}
	seedLast        = []string{"Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ibrahim", "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Quintero", "Rossi", "Silva", "Tanaka"}
	seedSecretNames = []string{"", "ci-deploy", "prod", "github-actions", "terraform", "manual", "backup", "key vault sync", "partner access", "legacy"}
)

// Seed fills the directory with p.Tenants tenants of p.AppsPerTenant applications each, with a
// realistic mix: expired secrets, secrets expiring within 30 days, long-lived secrets, several
// secrets per application, certificates, secrets on service principals, user owners with mail, and
// a few applications that support personal Microsoft accounts. Names read well in a demo
// ("payments-api-prod"). Each tenant also gets a manager application ("rotor") with a secret, a
// certificate and the Microsoft Graph permissions in p.ManagerRoles; it owns a few applications, so
// that Application.ReadWrite.OwnedBy can be shown too.
func (d *Directory) Seed(p SeedParams) (SeedResult, error) {
	if p.Tenants < 1 {
		p.Tenants = 1
	}
	if p.ManagerRoles == nil {
		p.ManagerRoles = []string{"Application.ReadWrite.All", "Policy.Read.All"}
	}
	rng := mrand.New(mrand.NewPCG(p.Seed, 0x726f746f72))
	guid := func() string {
		var b [16]byte
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return formatGUID(b)
	}
	ca, err := newSeedCA()
	if err != nil {
		return SeedResult{}, fmt.Errorf("seed: %w", err)
	}
	var res SeedResult
	for ti := 0; ti < p.Tenants; ti++ {
		name := fmt.Sprintf("Tenant %d", ti+1)
		if ti < len(seedTenantNames) {
			name = seedTenantNames[ti]
		}
		t, err := d.AddTenant(AddTenantParams{ID: guid(), DisplayName: name})
		if err != nil {
			return SeedResult{}, fmt.Errorf("seed tenant %d: %w", ti, err)
		}
		st, err := d.seedTenant(t, p, rng, guid, ca)
		if err != nil {
			return SeedResult{}, fmt.Errorf("seed tenant %s: %w", t.DisplayName, err)
		}
		res.Tenants = append(res.Tenants, st)
	}
	return res, nil
}

func (d *Directory) seedTenant(t Tenant, p SeedParams, rng *mrand.Rand, guid func() string, ca *seedCA) (SeededTenant, error) {
	now := d.clock.Now().UTC()
	day := 24 * time.Hour
	st := SeededTenant{Tenant: t, Applications: p.AppsPerTenant}

	// Users who own applications.
	nUsers := min(50, max(5, p.AppsPerTenant/20))
	users := make([]User, 0, nUsers)
	for i := 0; i < nUsers; i++ {
		first, last := seedFirst[i%len(seedFirst)], seedLast[(i*7+i/len(seedFirst))%len(seedLast)]
		u, err := d.AddUser(AddUserParams{TenantID: t.ID, ID: guid(), DisplayName: first + " " + last, GivenName: first, Surname: last,
			UserPrincipalName: fmt.Sprintf("%s.%s@%s", lower(first), lower(last), t.DefaultDomain), JobTitle: "Engineer"})
		if err != nil {
			return st, err
		}
		users = append(users, u)
	}
	st.Users = len(users)

	// The manager application.
	mgr, err := d.AddApplication(AddApplicationParams{TenantID: t.ID, ID: guid(), AppID: guid(), ServicePrincipalID: guid(), DisplayName: "rotor",
		Description: "Keeps application credentials fresh", Tags: []string{"rotor"}, CreatedDateTime: now.Add(-400 * day)})
	if err != nil {
		return st, err
	}
	mgrSP, err := d.ServicePrincipalByAppID(t.ID, mgr.AppID)
	if err != nil {
		return st, err
	}
	for _, role := range p.ManagerRoles {
		if err := d.GrantAppRole(t.ID, mgr.AppID, MicrosoftGraphAppID, role); err != nil {
			return st, err
		}
	}
	cred, text, err := d.AddPassword(AddPasswordParams{TenantID: t.ID, Object: mgr.Ref(), KeyID: guid(), DisplayName: "rotor bootstrap",
		StartDateTime: now.Add(-day), EndDateTime: now.Add(365 * day), Actor: "seed", Replicated: true})
	if err != nil {
		return st, err
	}
	mgrCert, mgrKey, err := ca.issue("rotor", now.Add(-day), now.Add(365*day), true)
	if err != nil {
		return st, err
	}
	kc, err := d.AddKey(AddKeyParams{TenantID: t.ID, Object: mgr.Ref(), KeyCredentialInput: KeyCredentialInput{KeyID: guid(), Key: mgrCert.Raw}, Actor: "seed", Replicated: true})
	if err != nil {
		return st, err
	}
	if err := d.AddOwner(t.ID, mgr.Ref(), users[0].Ref()); err != nil {
		return st, err
	}
	st.Manager = SeededApp{AppID: mgr.AppID, ObjectID: mgr.ID, ServicePrincipalID: mgrSP.ID, DisplayName: mgr.DisplayName,
		Secret: text, SecretKeyID: cred.KeyID, Certificate: mgrCert, PrivateKey: mgrKey, CertificateKeyID: kc.KeyID}

	// Application names: team-component-env, unique while they last, then numbered.
	combos := len(seedTeams) * len(seedComponents) * len(seedEnvs)
	perm := rng.Perm(combos)
	for i := 0; i < p.AppsPerTenant; i++ {
		c := perm[i%combos]
		team := seedTeams[c%len(seedTeams)]
		comp := seedComponents[(c/len(seedTeams))%len(seedComponents)]
		env := seedEnvs[c/(len(seedTeams)*len(seedComponents))]
		name := team + "-" + comp + "-" + env
		if p.AppsPerTenant > combos {
			name = fmt.Sprintf("%s-%05d", name, i)
		}
		if err := d.seedApp(t, rng, guid, ca, now, name, team, env, users, mgrSP); err != nil {
			return st, fmt.Errorf("application %s: %w", name, err)
		}
	}
	// Seeded last, so that adding it did not change the applications' generated ids.
	if st.SignIn, err = d.seedSignIn(t, guid, mgr.AppID); err != nil {
		return st, fmt.Errorf("sign-in: %w", err)
	}
	return st, nil
}

// SignInRedirectPaths are the paths the seeded manager application accepts as redirect URIs on
// loopback hosts (any port): rotor's sign-in callback and its signed-out page.
var SignInRedirectPaths = []string{"/auth/callback", "/auth/signed-out"}

// seedSignIn makes the manager application a web app users sign in to: loopback redirect URIs,
// the groups claim, app roles Rotor.Admin, Rotor.Operator and Rotor.Viewer, groups "rotor admins",
// "rotor operators" and "rotor viewers", and four people: an admin (through the group), an
// operator (through the app role), a viewer (through the group) and one with no role.
func (d *Directory) seedSignIn(t Tenant, guid func() string, appID string) (SeededSignIn, error) {
	var out SeededSignIn
	for _, host := range []string{"127.0.0.1", "localhost"} {
		for _, p := range SignInRedirectPaths {
			out.RedirectURIs = append(out.RedirectURIs, "http://"+host+p)
		}
	}
	out.AppRoles = map[string]string{"admin": "Rotor.Admin", "operator": "Rotor.Operator", "viewer": "Rotor.Viewer"}
	var roles []AppRole
	for _, r := range []string{"admin", "operator", "viewer"} {
		v := out.AppRoles[r]
		roles = append(roles, AppRole{ID: guid(), Value: v, DisplayName: "rotor " + r, Description: "Signs in to rotor as " + r + ".",
			AllowedMemberTypes: []string{"User"}, IsEnabled: true})
	}
	if err := d.SetWebSettings(t.ID, appID, WebSettings{RedirectURIs: out.RedirectURIs, GroupMembershipClaims: "SecurityGroup"}, roles...); err != nil {
		return out, err
	}
	people := []struct{ first, last, role, via string }{
		{"Ada", "Admin", "admin", "group"},
		{"Omar", "Operator", "operator", "app role"},
		{"Vera", "Viewer", "viewer", "group"},
		{"Nico", "Nobody", "", ""},
	}
	out.Groups = map[string]string{}
	for _, p := range people {
		u, err := d.AddUser(AddUserParams{TenantID: t.ID, ID: guid(), DisplayName: p.first + " " + p.last, GivenName: p.first, Surname: p.last,
			UserPrincipalName: lower(p.first) + "@" + t.DefaultDomain, JobTitle: "Platform engineer"})
		if err != nil {
			return out, err
		}
		su := SeededUser{ID: u.ID, DisplayName: u.DisplayName, UserPrincipalName: u.UserPrincipalName, Role: p.role}
		switch p.via {
		case "group":
			g, err := d.AddGroup(AddGroupParams{TenantID: t.ID, ID: guid(), DisplayName: "rotor " + p.role + "s", Members: []string{u.ID}})
			if err != nil {
				return out, err
			}
			out.Groups[p.role] = g.ID
			su.Via = "group " + g.DisplayName
		case "app role":
			if err := d.AssignUserAppRole(t.ID, u.ID, appID, out.AppRoles[p.role]); err != nil {
				return out, err
			}
			su.Via = "app role " + out.AppRoles[p.role]
			g, err := d.AddGroup(AddGroupParams{TenantID: t.ID, ID: guid(), DisplayName: "rotor " + p.role + "s"})
			if err != nil {
				return out, err
			}
			out.Groups[p.role] = g.ID
		}
		out.Users = append(out.Users, su)
	}
	return out, nil
}

func (d *Directory) seedApp(t Tenant, rng *mrand.Rand, guid func() string, ca *seedCA, now time.Time, name, team, env string, users []User, mgrSP ServicePrincipal) error {
	day := 24 * time.Hour
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	aud := AudienceMyOrg
	switch r := rng.Float64(); {
	case r < 0.03:
		aud = AudienceMultipleOrgsAndPerson
	case r < 0.15:
		aud = AudienceMultipleOrgs
	}
	tags := []string{"team:" + team, "env:" + env}
	if rng.Float64() < 0.3 {
		tags = append(tags, "WindowsAzureActiveDirectoryIntegratedApp")
	}
	created := now.Add(-between(30*day, 5*365*day))
	a, err := d.AddApplication(AddApplicationParams{TenantID: t.ID, ID: guid(), AppID: guid(), ServicePrincipalID: guid(), DisplayName: name,
		SignInAudience: aud, Tags: tags, CreatedDateTime: created,
		RequiredResourceAccess: []RequiredResourceAccess{{ResourceAppID: MicrosoftGraphAppID, ResourceAccess: []ResourceAccess{{ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "Scope"}}}}})
	if err != nil {
		return err
	}
	secretName := func() string { return seedSecretNames[rng.IntN(len(seedSecretNames))] }
	addSecret := func(obj ObjectRef, start, end time.Time) error {
		_, _, err := d.AddPassword(AddPasswordParams{TenantID: t.ID, Object: obj, KeyID: guid(), DisplayName: secretName(), StartDateTime: start, EndDateTime: end, Actor: "seed", Replicated: true})
		return err
	}
	addCert := func(obj ObjectRef, start, end time.Time) error {
		cert, _, err := ca.issue(name, start, end, false)
		if err != nil {
			return err
		}
		_, err = d.AddKey(AddKeyParams{TenantID: t.ID, Object: obj, KeyCredentialInput: KeyCredentialInput{KeyID: guid(), Key: cert.Raw}, Actor: "seed", Replicated: true})
		return err
	}
	ref := a.Ref()
	switch r := rng.Float64(); {
	case r < 0.10: // expired
		end := now.Add(-between(day, 120*day))
		err = addSecret(ref, end.Add(-between(180*day, 730*day)), end)
	case r < 0.25: // expiring within 30 days
		end := now.Add(between(day, 30*day))
		err = addSecret(ref, end.Add(-between(180*day, 730*day)), end)
	case r < 0.45: // several secrets: an old one about to go and a newer one
		end := now.Add(between(10*day, 60*day))
		if err = addSecret(ref, end.Add(-730*day), end); err == nil {
			start := now.Add(-between(day, 90*day))
			err = addSecret(ref, start, start.Add(between(365*day, 730*day)))
		}
		if err == nil && rng.Float64() < 0.3 {
			end := now.Add(-between(day, 400*day))
			err = addSecret(ref, end.Add(-365*day), end)
		}
	case r < 0.57: // certificate
		start := now.Add(-between(30*day, 600*day))
		err = addCert(ref, start, now.Add(between(-29*day, 400*day)))
	case r < 0.65: // no credentials
	default: // long-lived
		start := now.Add(-between(day, 365*day))
		end := start.Add(between(365*day, 730*day))
		if rng.Float64() < 0.05 {
			end = time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)
		}
		err = addSecret(ref, start, end)
	}
	if err != nil {
		return err
	}
	if rng.Float64() < 0.05 {
		start := now.Add(-between(day, 300*day))
		if err := addCert(ref, start, start.Add(between(180*day, 730*day))); err != nil {
			return err
		}
	}
	if rng.Float64() < 0.10 {
		sp, err := d.ServicePrincipalByAppID(t.ID, a.AppID)
		if err != nil {
			return err
		}
		end := now.Add(between(-60*day, 500*day))
		if err := addSecret(sp.Ref(), end.Add(-730*day), end); err != nil {
			return err
		}
	}
	if rng.Float64() < 0.75 {
		for n := 1 + rng.IntN(2); n > 0; n-- {
			if err := d.AddOwner(t.ID, ref, users[rng.IntN(len(users))].Ref()); err != nil {
				return err
			}
		}
	}
	if rng.Float64() < 0.05 {
		if err := d.AddOwner(t.ID, ref, mgrSP.Ref()); err != nil {
			return err
		}
	}
	if rng.Float64() < 0.10 {
		if err := d.GrantAppRole(t.ID, a.AppID, MicrosoftGraphAppID, "User.Read.All"); err != nil {
			return err
		}
	}
	return nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// seedCA issues the seeded certificates. It signs with a P-256 key (fast) while the certificates
// carry RSA public keys, as Entra client assertions need RSA; a handful of RSA keys is shared by
// all seeded certificates, except those whose private key is handed out.
type seedCA struct {
	key    *ecdsa.PrivateKey
	cert   *x509.Certificate
	shared []*rsa.PrivateKey
	serial int64
}

func newSeedCA() (*seedCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("seed CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rotor simulator seed CA"},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("seed CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &seedCA{key: key, cert: cert, serial: 1}
	for i := 0; i < 2; i++ {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("seed RSA key: %w", err)
		}
		ca.shared = append(ca.shared, k)
	}
	return ca, nil
}

// issue returns a certificate for cn valid from notBefore to notAfter; with ownKey it has a fresh
// RSA key (returned), otherwise one of the shared keys.
func (ca *seedCA) issue(cn string, notBefore, notAfter time.Time, ownKey bool) (*x509.Certificate, *rsa.PrivateKey, error) {
	ca.serial++
	key := ca.shared[ca.serial%int64(len(ca.shared))]
	if ownKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate key for %s: %w", cn, err)
		}
		key = k
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore.Truncate(time.Second),
		NotAfter:     notAfter.Truncate(time.Second),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate for %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if !ownKey {
		return cert, nil, nil
	}
	return cert, key, nil
}
