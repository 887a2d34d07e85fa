package verify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/verify"
)

// The token probe against the simulator's Entra token endpoint: which failures are worth waiting
// for, which scope is asked for, and that no error carries the secret.
func TestProbe(t *testing.T) {
	s, err := sim.Start(t.Context(), sim.Options{Seed: 7, Tenants: 1, AppsPerTenant: 2})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	tenant := s.Seeded.Tenants[0]
	app := tenant.Manager
	ep := verify.Endpoint{AuthorityHost: s.URL() + "/", Transport: s.CA.HTTPClient(), DisableInstanceDiscovery: true}
	probe := func(ep verify.Endpoint, scope string, v secret.Value) error {
		p := verify.New(func(id string) (verify.Endpoint, error) {
			require.Equal(t, tenant.Tenant.ID, id)
			return ep, nil
		})
		return p.Verify(t.Context(), tenant.Tenant.ID, app.AppID, scope, v)
	}
	graph := "https://graph.microsoft.com/.default"

	t.Run("a working secret", func(t *testing.T) {
		require.NoError(t, probe(ep, graph, app.Secret))
	})

	t.Run("without a scope, the endpoint's", func(t *testing.T) {
		public := ep
		public.Scope = graph
		require.NoError(t, probe(public, "", app.Secret))
		// Another cloud's Graph is not a resource of this tenant: refused, and not worth retrying.
		gov := ep
		gov.Scope = "https://graph.microsoft.us/.default"
		err := probe(gov, "", app.Secret)
		require.Error(t, err)
		require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "%v", err)
		require.Contains(t, err.Error(), "invalid_resource")
		require.NoError(t, probe(verify.Endpoint{AuthorityHost: ep.AuthorityHost, Transport: ep.Transport, DisableInstanceDiscovery: true}, "", app.Secret),
			"no scope anywhere: the public cloud's Graph")
	})

	t.Run("a secret Entra does not know (yet) is worth waiting for", func(t *testing.T) {
		wrong := secret.New("Zq8~not-a-secret-of-this-app.0000000000")
		err := probe(ep, graph, wrong)
		require.Error(t, err)
		require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err), "%v", err)
		require.Contains(t, err.Error(), "7000215")
		require.NotContains(t, err.Error(), wrong.Reveal())
	})

	t.Run("an expired secret is not", func(t *testing.T) {
		_, v, err := s.Directory.AddPassword(directory.AddPasswordParams{TenantID: tenant.Tenant.ID,
			Object:        directory.ObjectRef{Kind: directory.KindApplication, ID: app.ObjectID},
			StartDateTime: time.Now().Add(-48 * time.Hour), EndDateTime: time.Now().Add(-time.Hour), Replicated: true})
		require.NoError(t, err)
		err = probe(ep, graph, v)
		require.Error(t, err)
		require.Equal(t, rotor.ClassPermanent, rotor.ClassOf(err), "%v", err)
		require.Contains(t, err.Error(), "7000222")
		require.NotContains(t, err.Error(), v.Reveal())
	})

	t.Run("no token endpoint is transient", func(t *testing.T) {
		err := probe(verify.Endpoint{AuthorityHost: "https://127.0.0.1:1/", DisableInstanceDiscovery: true}, graph, app.Secret)
		require.Error(t, err)
		require.Equal(t, rotor.ClassTransient, rotor.ClassOf(err), "%v", err)
		require.NotContains(t, err.Error(), app.Secret.Reveal())
	})
}
