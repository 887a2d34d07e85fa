package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
)

// The demo policy rotates secrets an hour after their creation (a 30-day lifetime, rotated
// 29 days 23 hours before it ends), keeps the old one for three minutes, and adopts the newest
// existing secret: the bound apps rotate within a minute of start.
const devPolicy = `policies:
  - name: demo
    lifetime: 30d
    rotate_before: 719h
    grace_period: 3m
    emergency_within: 1h
    verify: {successes: 3, interval: 2s, timeout: 10m}
    adopt: newest
rotation:
  plan_interval: 1m
  poll: 1s
  backoff_base: 10s
  backoff_max: 2m
`

func (c *cli) devCmd() *cobra.Command {
	var dir, listen string
	var apps, bind int
	var replication time.Duration
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run rotor on this machine against the Azure simulator: everything in one command",
		Long: "Start the Azure simulator with a demo tenant, write a configuration that uses it, sync the\n" +
			"tenant, bind a few apps to a demo policy whose secrets rotate within minutes (into the\n" +
			"simulated Key Vault and an appsettings.json file each), and run rotor serve. The store is\n" +
			"an SQLite file in --dir (a temporary directory, removed on exit, when not given).\n" +
			"Stop it with Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, w := cmd.Context(), c.stdout
			if dir == "" {
				d, err := os.MkdirTemp("", "rotor-dev-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			} else if abs, err := filepath.Abs(dir); err == nil {
				dir = abs
			}
			s, err := sim.Start(ctx, sim.Options{Seed: 1, Tenants: 1, AppsPerTenant: apps, ReplicationDelay: replication,
				CADir: filepath.Join(dir, "ca")})
			if err != nil {
				return err
			}
			defer s.Close()
			extra := devPolicy + fmt.Sprintf("server:\n  listen: %s\n", listen)
			path, err := writeSimConfig(dir, s, simConfigOptions{extra: extra})
			if err != nil {
				return err
			}
			c.configPath = path
			c.longRunning = true
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			tenant := a.cfg.Tenants[0].Name
			if _, err := a.syncer().Sync(ctx, tenant, false); err != nil {
				return err
			}
			bound, err := a.bindDemo(ctx, s, dir, tenant, bind)
			if err != nil {
				return err
			}
			ready := make(chan string, 1)
			done := make(chan error, 1)
			go func() { done <- a.serve(ctx, ready) }()
			select {
			case err := <-done:
				return err
			case addr := <-ready:
				fmt.Fprintf(w, "\nrotor dev: a demo tenant in the Azure simulator, rotated for real\n\n")
				fmt.Fprintf(w, "  dashboard      http://%s/\n", addr)
				fmt.Fprintf(w, "  sign in as     %s\n", signInPeople(s.Seeded.Tenants[0].SignIn.Users))
				fmt.Fprintf(w, "                 on the simulator's sign-in page; your browser will warn about its certificate,\n"+
					"                 issued by a CA of this run only (%s): accept it, or trust that CA\n", filepath.Join(dir, "ca.pem"))
				fmt.Fprintf(w, "  configuration  %s\n", path)
				fmt.Fprintf(w, "  simulator      %s (inspection: %s/_sim/)\n", s.URL(), s.URL())
				fmt.Fprintf(w, "  rotating       %s (every hour; the old secret is removed 3 minutes after each rotation)\n", strings.Join(bound, ", "))
				fmt.Fprintf(w, "  deployed to    the simulated Key Vault %s, and %s\n\n", sim.VaultName(s.Seeded.Tenants[0].Tenant), filepath.Join(dir, "apps", "*.json"))
				fmt.Fprintf(w, "  in another terminal:\n    rotor -c %s ls --expiring-within 30d\n    rotor -c %s plan --all\n    rotor -c %s history %s\n\n",
					path, path, path, bound[0])
			}
			return <-done
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", "", "keep the store, configuration and simulator CA in this directory (default: a temporary one)")
	fl.StringVar(&listen, "listen", "127.0.0.1:8080", "where rotor serve listens")
	fl.IntVar(&apps, "apps", 40, "applications in the demo tenant")
	fl.IntVar(&bind, "bind", 3, "applications to rotate")
	fl.DurationVar(&replication, "replication-delay", 20*time.Second, "new credentials work only after this long, as in Entra")
	return cmd
}

// bindDemo binds n of the tenant's applications whose secret expires within 29 days to the demo
// policy, adopting that secret, each with steps of its own, unless they are bound already (a
// kept --dir). It returns their names.
func (a *app) bindDemo(ctx context.Context, s *sim.Server, dir, tenant string, n int) ([]string, error) {
	e, err := a.engine(ctx)
	if err != nil {
		return nil, err
	}
	vault, ok := s.Vault(sim.VaultName(s.Seeded.Tenants[0].Tenant))
	if !ok {
		return nil, errors.New("the simulator has no vault for the demo tenant")
	}
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o700); err != nil {
		return nil, err
	}
	manager := s.Seeded.Tenants[0].Manager.AppID
	apps, err := a.store.AppList(ctx, &rotor.AppListParams{Tenant: tenant, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ap := range apps {
		if len(names) == n {
			break
		}
		if ap.AppID == manager {
			continue
		}
		// A secret ending within 29 days is due under the demo policy at once.
		now := a.cli.clock.Now()
		creds, err := a.store.CredentialList(ctx, &rotor.CredentialListParams{Tenant: tenant, OwnerID: ap.ID, Kind: rotor.KindSecret,
			EndAfter: now.Add(time.Hour), EndBefore: now.Add(29 * 24 * time.Hour)})
		if err != nil {
			return nil, err
		}
		if len(creds) == 0 {
			continue
		}
		existing, err := a.store.BindingList(ctx, &rotor.BindingListParams{Tenant: tenant, OwnerID: ap.ID})
		if err != nil {
			return nil, err
		}
		names = append(names, ap.DisplayName)
		if len(existing) > 0 {
			continue
		}
		steps, err := demoSteps(vault.URL, filepath.Join(dir, "apps", ap.DisplayName+".json"), ap.DisplayName)
		if err != nil {
			return nil, err
		}
		if _, err := e.Bind(ctx, runner.BindParams{Tenant: tenant, Owner: rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: ap.ID},
			AppID: ap.AppID, Policy: "demo", Adopt: creds[0].KeyID, Steps: steps, Actor: "rotor dev"}); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no application of the demo tenant has a secret to rotate")
	}
	return names, nil
}

func demoSteps(vaultURL, file, app string) ([]rotor.StepSpec, error) {
	kv, err := json.Marshal(map[string]any{"vault_url": strings.TrimSuffix(vaultURL, "/"), "secret_name": app + "-client-secret",
		"disable_challenge_resource_verification": true, "disable_previous": true})
	if err != nil {
		return nil, err
	}
	f, err := json.Marshal(map[string]any{"path": file, "key": "Entra:ClientSecret", "create": true,
		"extra": map[string]string{"Entra:ClientId": "{{.AppID}}", "Entra:TenantId": "{{.TenantID}}"}})
	if err != nil {
		return nil, err
	}
	return []rotor.StepSpec{
		{Name: "vault", Type: "keyvault", OnFailure: rotor.Abort, Params: kv},
		{Name: "appsettings", Type: "file", OnFailure: rotor.Abort, Params: f},
	}, nil
}

// signInPeople names the simulator's people and the rotor role each gets, for rotor dev's banner.
func signInPeople(users []directory.SeededUser) string {
	var parts []string
	for _, u := range users {
		role := u.Role
		if role == "" {
			role = "no role: refused"
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", u.UserPrincipalName, role))
	}
	return strings.Join(parts, ", ")
}
