package keyvault_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim/fault"
	"github.com/rotorhq/rotor/sim/keyvault"
	"github.com/rotorhq/rotor/sim/tlsca"
)

var versionIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestAzsecretsClient drives the official azsecrets v1.5.1 client, unchanged, through every
// simulated operation over TLS.
func TestAzsecretsClient(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	client, cred := b.client(t, b.principal(t, keyvault.RoleSecretsOfficer))
	ctx := context.Background()
	const name = "rotor-db-password"

	// Set: the first request elicits the 401 challenge, from which azsecrets learns the tenant
	// and the scope; then a new version each time.
	nbf := testStart.Add(-time.Hour)
	set1, err := client.SetSecret(ctx, name, azsecrets.SetSecretParameters{
		Value:            to("first-value"),
		ContentType:      to("text/plain"),
		Tags:             map[string]*string{"managed-by": to("rotor")},
		SecretAttributes: &azsecrets.SecretAttributes{NotBefore: &nbf},
	}, nil)
	require.NoError(t, err)
	require.Equal(t, testTenant, cred.tenants.Load())
	require.Equal(t, "https://vault.azure.net/.default", cred.scopes.Load())
	require.Equal(t, name, set1.ID.Name())
	v1 := set1.ID.Version()
	require.Regexp(t, versionIDRe, v1)
	require.Equal(t, "first-value", *set1.Value)
	require.Equal(t, "text/plain", *set1.ContentType)
	require.Equal(t, "rotor", *set1.Tags["managed-by"])
	require.True(t, *set1.Attributes.Enabled)
	require.True(t, nbf.Equal(*set1.Attributes.NotBefore))
	require.True(t, testStart.Equal(*set1.Attributes.Created))
	require.Equal(t, "CustomizedRecoverable+Purgeable", *set1.Attributes.RecoveryLevel)
	require.Equal(t, int32(7), *set1.Attributes.RecoverableDays)

	b.clock.Advance(time.Minute)
	set2, err := client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to("second-value")}, nil)
	require.NoError(t, err)
	v2 := set2.ID.Version()
	require.NotEqual(t, v1, v2)
	require.Nil(t, set2.Tags, "a version without tags has none")

	// Get: latest and a given version.
	latest, err := client.GetSecret(ctx, name, "", nil)
	require.NoError(t, err)
	require.Equal(t, "second-value", *latest.Value)
	require.Equal(t, v2, latest.ID.Version())
	old, err := client.GetSecret(ctx, name, v1, nil)
	require.NoError(t, err)
	require.Equal(t, "first-value", *old.Value)

	// Update a version's attributes, tags and content type; the value cannot change.
	b.clock.Advance(time.Minute)
	exp := testStart.Add(90 * 24 * time.Hour)
	upd, err := client.UpdateSecretProperties(ctx, name, v1, azsecrets.UpdateSecretPropertiesParameters{
		ContentType:      to("application/x-password"),
		Tags:             map[string]*string{"rotation": to("superseded")},
		SecretAttributes: &azsecrets.SecretAttributes{Enabled: to(false), Expires: &exp},
	}, nil)
	require.NoError(t, err)
	require.Nil(t, upd.Value, "update answers carry no value")
	require.False(t, *upd.Attributes.Enabled)
	require.True(t, exp.Equal(*upd.Attributes.Expires))
	require.True(t, nbf.Equal(*upd.Attributes.NotBefore), "unspecified attributes are unchanged")
	require.Equal(t, "application/x-password", *upd.ContentType)
	require.Equal(t, map[string]*string{"rotation": to("superseded")}, upd.Tags)
	require.True(t, testStart.Add(2*time.Minute).Equal(*upd.Attributes.Updated))
	require.True(t, testStart.Equal(*upd.Attributes.Created))

	// A disabled version is refused.
	re := respErr(t, func() error { _, err := client.GetSecret(ctx, name, v1, nil); return err }())
	require.Equal(t, http.StatusForbidden, re.StatusCode)
	require.Equal(t, "Forbidden", re.ErrorCode)

	// List versions.
	var versions []string
	for pager := client.NewListSecretPropertiesVersionsPager(name, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		for _, p := range page.Value {
			require.Equal(t, name, p.ID.Name())
			versions = append(versions, p.ID.Version())
		}
	}
	require.ElementsMatch(t, []string{v1, v2}, versions)

	// List secrets: 30 more secrets need two pages of 25.
	for i := 0; i < 30; i++ {
		_, err := client.SetSecret(ctx, fmt.Sprintf("app-%02d", i), azsecrets.SetSecretParameters{Value: to("v")}, nil)
		require.NoError(t, err)
	}
	var names []string
	pages := 0
	for pager := client.NewListSecretPropertiesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.Value), 25)
		for _, p := range page.Value {
			require.Empty(t, p.ID.Version(), "secret list items carry the base identifier")
			names = append(names, p.ID.Name())
		}
	}
	require.Equal(t, 2, pages)
	require.Len(t, names, 31)
	require.True(t, sort.StringsAreSorted(names))
	require.Contains(t, names, name)

	// Delete (soft), get deleted, list deleted.
	del, err := client.DeleteSecret(ctx, name, nil)
	require.NoError(t, err)
	require.Equal(t, b.srv.URL+"/deletedsecrets/"+name, *del.RecoveryID)
	require.True(t, b.clock.Now().Equal(*del.DeletedDate))
	require.True(t, b.clock.Now().Add(7*24*time.Hour).Equal(*del.ScheduledPurgeDate))
	require.Equal(t, v2, del.ID.Version())
	require.Nil(t, del.Value)

	_, err = client.GetSecret(ctx, name, "", nil)
	require.Equal(t, http.StatusNotFound, respErr(t, err).StatusCode)

	gotDel, err := client.GetDeletedSecret(ctx, name, nil)
	require.NoError(t, err)
	require.Equal(t, *del.RecoveryID, *gotDel.RecoveryID)

	var deleted []string
	for pager := client.NewListDeletedSecretPropertiesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		for _, p := range page.Value {
			deleted = append(deleted, p.ID.Name())
		}
	}
	require.Equal(t, []string{name}, deleted)

	// A deleted name cannot be set again.
	_, err = client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to("x")}, nil)
	re = respErr(t, err)
	require.Equal(t, http.StatusConflict, re.StatusCode)
	require.Equal(t, "Conflict", re.ErrorCode)

	// Recover, with all its versions.
	rec, err := client.RecoverDeletedSecret(ctx, name, nil)
	require.NoError(t, err)
	require.Equal(t, v2, rec.ID.Version())
	require.Nil(t, rec.Value)
	again, err := client.GetSecret(ctx, name, "", nil)
	require.NoError(t, err)
	require.Equal(t, "second-value", *again.Value)

	// Backup, delete, purge, restore.
	backup, err := client.BackupSecret(ctx, name, nil)
	require.NoError(t, err)
	require.NotEmpty(t, backup.Value)
	_, err = client.DeleteSecret(ctx, name, nil)
	require.NoError(t, err)
	_, err = client.PurgeDeletedSecret(ctx, name, nil)
	require.NoError(t, err)
	_, err = client.GetDeletedSecret(ctx, name, nil)
	require.Equal(t, http.StatusNotFound, respErr(t, err).StatusCode)
	restored, err := client.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil)
	require.NoError(t, err)
	require.Equal(t, v2, restored.ID.Version())
	old, err = client.GetSecret(ctx, name, v2, nil)
	require.NoError(t, err)
	require.Equal(t, "second-value", *old.Value)
	_, err = client.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil)
	require.Equal(t, http.StatusConflict, respErr(t, err).StatusCode)

	// After a purge the name is free again.
	_, err = client.DeleteSecret(ctx, name, nil)
	require.NoError(t, err)
	_, err = client.PurgeDeletedSecret(ctx, name, nil)
	require.NoError(t, err)
	fresh, err := client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to("third-value")}, nil)
	require.NoError(t, err)
	require.NotEqual(t, v2, fresh.ID.Version())
}

func TestAzsecretsRBAC(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	officer, _ := b.client(t, b.principal(t, keyvault.RoleSecretsOfficer))
	_, err := officer.SetSecret(ctx, "shared", azsecrets.SetSecretParameters{Value: to("value")}, nil)
	require.NoError(t, err)

	forbidden := func(t *testing.T, err error) {
		t.Helper()
		re := respErr(t, err)
		require.Equal(t, http.StatusForbidden, re.StatusCode)
		require.Equal(t, "Forbidden", re.ErrorCode)
	}

	t.Run("secrets user reads but cannot set", func(t *testing.T) {
		t.Parallel()
		user, _ := b.client(t, b.principal(t, keyvault.RoleSecretsUser))
		got, err := user.GetSecret(ctx, "shared", "", nil)
		require.NoError(t, err)
		require.Equal(t, "value", *got.Value)
		_, err = user.SetSecret(ctx, "shared", azsecrets.SetSecretParameters{Value: to("overwrite")}, nil)
		forbidden(t, err)
		_, err = user.DeleteSecret(ctx, "shared", nil)
		forbidden(t, err)
	})
	t.Run("reader lists but cannot get values", func(t *testing.T) {
		t.Parallel()
		reader, _ := b.client(t, b.principal(t, keyvault.RoleReader))
		pager := reader.NewListSecretPropertiesPager(nil)
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, page.Value)
		_, err = reader.GetSecret(ctx, "shared", "", nil)
		forbidden(t, err)
		_, err = reader.UpdateSecretProperties(ctx, "shared", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: to("x")}, nil)
		forbidden(t, err)
	})
	t.Run("administrator does everything", func(t *testing.T) {
		t.Parallel()
		admin, _ := b.client(t, b.principal(t, keyvault.RoleAdministrator))
		_, err := admin.SetSecret(ctx, "admin-secret", azsecrets.SetSecretParameters{Value: to("v")}, nil)
		require.NoError(t, err)
		_, err = admin.DeleteSecret(ctx, "admin-secret", nil)
		require.NoError(t, err)
		_, err = admin.PurgeDeletedSecret(ctx, "admin-secret", nil)
		require.NoError(t, err)
	})
	t.Run("no role assignment", func(t *testing.T) {
		t.Parallel()
		nobody, _ := b.client(t, b.principal(t, ""))
		_, err := nobody.NewListSecretPropertiesPager(nil).NextPage(ctx)
		forbidden(t, err)
	})
	t.Run("token of another tenant", func(t *testing.T) {
		t.Parallel()
		p := b.principal(t, keyvault.RoleAdministrator)
		p.TenantID = otherTenant
		stranger, _ := b.client(t, p)
		_, err := stranger.GetSecret(ctx, "shared", "", nil)
		require.Equal(t, http.StatusUnauthorized, respErr(t, err).StatusCode)
	})
}

// TestAzsecretsBehindFaultInjection mounts the vault behind sim/fault the way the assembled
// simulator does: azsecrets sees Key Vault's throttling answer, and a lost response leaves the
// client with an error although the version was written.
func TestAzsecretsBehindFaultInjection(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rules, err := fault.ParseRules("GET /secrets/** 429=1 retry-after=30s; PUT /secrets/lost lost=1")
	require.NoError(t, err)
	inj, err := fault.New(fault.Options{Seed: 1, Clock: b.clock, Rules: rules})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(inj.Handler("keyvault:"+b.vault.Name(), keyvault.FaultErrorWriter, b.vault))
	t.Cleanup(srv.Close)
	b.srv = srv
	client, _ := b.client(t, b.principal(t, keyvault.RoleSecretsOfficer))
	ctx := context.Background()
	// A first call that no rule matches lets azsecrets go through the 401 challenge.
	_, err = client.SetSecret(ctx, "warm-up", azsecrets.SetSecretParameters{Value: to("v")}, nil)
	require.NoError(t, err)

	_, err = client.GetSecret(ctx, "any", "", nil)
	re := respErr(t, err)
	require.Equal(t, http.StatusTooManyRequests, re.StatusCode)
	require.Equal(t, "Throttled", re.ErrorCode)
	require.Equal(t, "30", re.RawResponse.Header.Get("Retry-After"))

	_, err = client.SetSecret(ctx, "lost", azsecrets.SetSecretParameters{Value: to("written")}, nil)
	require.Error(t, err)
	var re2 *azcore.ResponseError
	require.False(t, errors.As(err, &re2), "no answer at all, not an error answer")
	snap := b.vault.Snapshot()
	require.Len(t, snap.Secrets, 2)
	require.Equal(t, "lost", snap.Secrets[0].Name)
	require.Len(t, snap.Secrets[0].Versions, 1, "the write happened")

	stats := inj.Stats()
	require.Equal(t, uint64(1), stats[0].Throttled)
	require.Equal(t, uint64(1), stats[1].Lost)
}

// TestAzsecretsOverSimulatorCA serves the vault with a certificate from sim/tlsca, as the
// assembled simulator does, and lets azsecrets trust the CA instead of a test server certificate.
func TestAzsecretsOverSimulatorCA(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ca, err := tlsca.New(tlsca.Options{})
	require.NoError(t, err)
	cfg, err := ca.ServerTLSConfig()
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(b.vault)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cred := &credential{b: b, p: b.principal(t, keyvault.RoleSecretsOfficer)}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		vaultURL := strings.Replace(srv.URL, "127.0.0.1", host, 1)
		client, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{
			ClientOptions:                        azcore.ClientOptions{Transport: ca.HTTPClient()},
			DisableChallengeResourceVerification: true,
		})
		require.NoError(t, err)
		set, err := client.SetSecret(context.Background(), "over-tls", azsecrets.SetSecretParameters{Value: to(host)}, nil)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(*set.ID), vaultURL+"/secrets/over-tls/"), "ids name the vault URL the client used")
	}
}
