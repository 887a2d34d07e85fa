package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/fault"
)

// simEnv is a running simulator and a rotor configuration that uses it.
type simEnv struct {
	sim    *sim.Server
	config string
	tenant directory.SeededTenant
}

func startSim(t *testing.T, opts sim.Options, extra string) *simEnv {
	t.Helper()
	s, err := sim.Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	path, err := writeSimConfig(t.TempDir(), s, simConfigOptions{extra: extra})
	require.NoError(t, err)
	return &simEnv{sim: s, config: path, tenant: s.Seeded.Tenants[0]}
}

func (e *simEnv) rotor(t *testing.T, args ...string) result {
	t.Helper()
	return rotorRun(t, nil, append([]string{"-c", e.config, "--log-format", "json"}, args...)...)
}

// simCredentials lists what the simulator holds: "kind owner keyId end" for every credential of
// every live application and service principal of the tenant.
func (e *simEnv) simCredentials(t *testing.T) []string {
	t.Helper()
	var out []string
	d := e.sim.Directory
	for _, kind := range []directory.Kind{directory.KindApplication, directory.KindServicePrincipal} {
		var after uint64
		for {
			page, err := d.List(directory.ListParams{TenantID: e.tenant.Tenant.ID, Kind: kind, After: after, Limit: 100})
			require.NoError(t, err)
			add := func(owner string, pcs []directory.PasswordCredential, kcs []directory.KeyCredential) {
				for _, c := range pcs {
					out = append(out, fmt.Sprintf("secret %s %s %s", owner, c.KeyID, c.EndDateTime.UTC().Format(time.RFC3339)))
				}
				for _, c := range kcs {
					out = append(out, fmt.Sprintf("certificate %s %s %s", owner, c.KeyID, c.EndDateTime.UTC().Format(time.RFC3339)))
				}
			}
			for _, a := range page.Applications {
				add("application", a.PasswordCredentials, a.KeyCredentials)
			}
			for _, sp := range page.ServicePrincipals {
				add("servicePrincipal", sp.PasswordCredentials, sp.KeyCredentials)
			}
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
	}
	sort.Strings(out)
	return out
}

// rotorCredentials lists what rotor ls shows, in the same form.
func (e *simEnv) rotorCredentials(t *testing.T) []string {
	t.Helper()
	r := e.rotor(t, "ls", "-o", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var items []credentialJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &items))
	var out []string
	for _, c := range items {
		out = append(out, fmt.Sprintf("%s %s %s %s", c.Kind, c.OwnerKind, c.KeyID, c.EndAt.UTC().Format(time.RFC3339)))
	}
	sort.Strings(out)
	return out
}

func TestInventoryMatchesTheSimulator(t *testing.T) {
	t.Parallel()
	e := startSim(t, sim.Options{Seed: 11, Tenants: 1, AppsPerTenant: 240}, "")
	name := strings.SplitN(e.tenant.Tenant.DefaultDomain, ".", 2)[0]

	r := e.rotor(t, "sync")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "full sync")
	want := e.simCredentials(t)
	require.Greater(t, len(want), 300, "the seed holds a realistic mix")
	require.Equal(t, want, e.rotorCredentials(t), "rotor ls shows exactly what the simulator holds")

	// Change the tenant outside rotor: a new secret, a removed one, a deleted application.
	d := e.sim.Directory
	page, err := d.List(directory.ListParams{TenantID: e.tenant.Tenant.ID, Kind: directory.KindApplication, Limit: 10})
	require.NoError(t, err)
	var withSecret, other directory.Application
	for _, a := range page.Applications {
		if a.AppID == e.tenant.Manager.AppID {
			continue
		}
		if len(a.PasswordCredentials) > 0 && withSecret.ID == "" {
			withSecret = a
		} else if other.ID == "" {
			other = a
		}
	}
	require.NotEmpty(t, withSecret.ID)
	added, _, err := d.AddPassword(directory.AddPasswordParams{TenantID: e.tenant.Tenant.ID, Object: other.Ref(), DisplayName: "added by hand"})
	require.NoError(t, err)
	removed := withSecret.PasswordCredentials[0].KeyID
	require.NoError(t, d.RemovePassword(e.tenant.Tenant.ID, withSecret.Ref(), removed, "someone"))
	var gone directory.Application
	for _, a := range page.Applications[len(page.Applications)/2:] {
		if a.ID != withSecret.ID && a.ID != other.ID && a.AppID != e.tenant.Manager.AppID {
			gone = a
			break
		}
	}
	require.NoError(t, d.DeleteApplication(e.tenant.Tenant.ID, gone.ID, "someone"))

	r = e.rotor(t, "sync")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "incremental sync")
	require.Equal(t, e.simCredentials(t), e.rotorCredentials(t), "the incremental sync caught up")

	r = e.rotor(t, "audit", "list", "-o", "json", "--limit", "500")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, `"Action": "credential.added_out_of_band"`)
	require.Contains(t, r.stdout, added.KeyID)
	require.Contains(t, r.stdout, `"Action": "credential.removed_out_of_band"`)
	require.Contains(t, r.stdout, removed)
	require.Contains(t, r.stdout, `"Action": "application.deleted"`)

	r = e.rotor(t, "show", withSecret.AppID)
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, withSecret.DisplayName)
	require.Contains(t, r.stdout, "owners")
	r = e.rotor(t, "tenant", "check", name)
	require.Equal(t, 0, r.code, r.stderr+r.stdout)
	require.Contains(t, r.stdout, "ok    Application.ReadWrite.All: rotor may rotate the credentials of every app")
	r = e.rotor(t, "audit", "verify")
	require.Equal(t, 0, r.code, r.stderr)
	require.Contains(t, r.stdout, "audit trail intact")
}

func TestSyncThroughFaultsAndRestart(t *testing.T) {
	t.Parallel()
	e := startSim(t, sim.Options{Seed: 13, Tenants: 1, AppsPerTenant: 2500}, "")
	rules, err := fault.ParseRules("GET /v1.0/applications/** 429=0.5 retry-after=1s; GET /v1.0/servicePrincipals/** 503=0.5")
	require.NoError(t, err)
	require.NoError(t, e.sim.Faults.SetRules(rules))

	r := e.rotor(t, "sync")
	require.Equal(t, 0, r.code, r.stderr)
	stats := e.sim.Faults.Stats()
	require.Positive(t, stats[0].Throttled, "throttling was met: %+v", stats)
	require.Positive(t, stats[1].Unavailable, "unavailability was met: %+v", stats)
	require.NoError(t, e.sim.Faults.SetRules(nil))
	require.Equal(t, e.simCredentials(t), e.rotorCredentials(t), "a sync through 429s and 503s misses nothing")

	r = e.rotor(t, "sync", "--full")
	require.Equal(t, 0, r.code, r.stderr)
	require.Equal(t, e.simCredentials(t), e.rotorCredentials(t), "a second full sync duplicates nothing")
}
