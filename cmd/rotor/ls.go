package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/inventory"
)

// credentialJSON is a credential as `--output json` prints it.
type credentialJSON struct {
	Tenant      string    `json:"tenant"`
	OwnerKind   string    `json:"owner_kind"`
	OwnerID     string    `json:"owner_id"`
	OwnerName   string    `json:"owner_name"`
	AppID       string    `json:"app_id"`
	Kind        string    `json:"kind"`
	KeyID       string    `json:"key_id"`
	DisplayName string    `json:"display_name"`
	Hint        string    `json:"hint,omitempty"`
	Thumbprint  string    `json:"thumbprint,omitempty"`
	StartAt     time.Time `json:"start"`
	EndAt       time.Time `json:"end"`
	State       string    `json:"state"`
	Urgency     string    `json:"urgency"`
	Managed     bool      `json:"managed"`
}

func credentialRows(rows []inventory.Row, now time.Time, format string) ([]string, [][]string, []credentialJSON) {
	header := []string{"TENANT", "APP", "OWNER", "KIND", "KEY ID", "NAME", "EXPIRES", "LEFT", "STATE", "MANAGED"}
	if format == outJSON {
		items := make([]credentialJSON, 0, len(rows))
		for _, r := range rows {
			items = append(items, credentialJSON{Tenant: r.Tenant, OwnerKind: string(r.OwnerKind), OwnerID: r.OwnerID, OwnerName: r.OwnerName,
				AppID: r.AppID, Kind: string(r.Kind), KeyID: r.KeyID, DisplayName: r.DisplayName, Hint: r.Hint, Thumbprint: r.Thumbprint,
				StartAt: r.StartAt, EndAt: r.EndAt, State: string(r.State), Urgency: r.Urgency.String(), Managed: r.Managed})
		}
		return header, nil, items
	}
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		managed := ""
		if r.Managed {
			managed = "yes"
		}
		owner := "app"
		if r.OwnerKind == rotor.OwnerServicePrincipal {
			owner = "sp"
		}
		out = append(out, []string{r.Tenant, r.OwnerName, owner, string(r.Kind), r.KeyID, r.DisplayName,
			r.EndAt.UTC().Format("2006-01-02 15:04"), left(r.EndAt.Sub(now)), string(r.State), managed})
	}
	return header, out, nil
}

// left prints a duration until expiry in days (or hours when under two days).
func left(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	if d < 48*time.Hour {
		return fmt.Sprintf("%s%dh", sign, int(d.Hours()))
	}
	return fmt.Sprintf("%s%dd", sign, int(d.Hours()/24))
}

func (c *cli) lsCmd() *cobra.Command {
	var within, tenantName, app, kind, owner, output string
	var states []string
	var limit int
	var removed bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List credentials, soonest expiry first",
		Long: "List the secrets and certificates of the synced tenants with their state (active, expiring,\n" +
			"rotating, grace, expired, cleaned_up, removed), soonest expiry first.\n\n" +
			"--app takes a display name, client id or object id. --owner takes application or\n" +
			"servicePrincipal (which kind of object holds the credential) or an owner object id.",
		Example: "  rotor ls --expiring-within 30d\n  rotor ls --state expired,expiring --output csv\n  rotor ls --app payroll-api --kind certificate",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			f := inventory.Filter{Tenant: tenantName, Limit: limit, IncludeRemoved: removed}
			if within != "" {
				d, err := config.ParseDuration(within)
				if err != nil {
					return fmt.Errorf("--expiring-within: %w", err)
				}
				f.ExpiringWithin = d
			}
			var err error
			if f.States, err = inventory.ParseStates(splitList(states)); err != nil {
				return err
			}
			switch kind {
			case "":
			case "secret", "certificate":
				f.Kind = rotor.CredentialKind(kind)
			default:
				return fmt.Errorf("--kind %q: want secret or certificate", kind)
			}
			switch owner {
			case "":
			case string(rotor.OwnerApplication), string(rotor.OwnerServicePrincipal):
				f.OwnerKind = rotor.OwnerKind(owner)
			default:
				f.OwnerID = owner
			}
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			now := c.clock.Now()
			var rows []inventory.Row
			if app != "" {
				apps, err := a.store.AppFind(cmd.Context(), &rotor.AppFindParams{Tenant: tenantName, Query: app})
				if err != nil {
					return err
				}
				if len(apps) == 0 {
					return fmt.Errorf("--app %q: no application has this display name, client id or object id (run rotor sync?)", app)
				}
				for _, ap := range apps {
					g := f
					g.Tenant, g.AppID = ap.Tenant, ap.AppID
					part, err := a.view().List(cmd.Context(), g, now)
					if err != nil {
						return err
					}
					rows = append(rows, part...)
				}
			} else if rows, err = a.view().List(cmd.Context(), f, now); err != nil {
				return err
			}
			header, out, items := credentialRows(rows, now, output)
			w := bufio.NewWriterSize(c.stdout, 64<<10)
			if err := writeRows(w, output, header, out, items); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&within, "expiring-within", "", "only valid credentials ending within this duration (30d, 12h); --state expired lists expired ones")
	fl.StringSliceVar(&states, "state", nil, "only these states (comma separated)")
	fl.StringVar(&tenantName, "tenant", "", "only this tenant")
	fl.StringVar(&app, "app", "", "only this application (display name, client id or object id)")
	fl.StringVar(&kind, "kind", "", "only secret or certificate")
	fl.StringVar(&owner, "owner", "", "only credentials held by application or servicePrincipal objects, or by this object id")
	fl.StringVarP(&output, "output", "o", outTable, "table, json or csv")
	fl.IntVar(&limit, "limit", 0, "at most this many rows")
	fl.BoolVar(&removed, "include-removed", false, "include credentials that no longer exist")
	return cmd
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// findApp resolves an application by display name, client id or object id; exactly one.
func (a *app) findApp(ctx context.Context, tenantName, query string) (*rotor.App, error) {
	apps, err := a.store.AppFind(ctx, &rotor.AppFindParams{Tenant: tenantName, Query: query})
	if err != nil {
		return nil, err
	}
	switch len(apps) {
	case 0:
		return nil, fmt.Errorf("no application %q (display name, client id or object id); run rotor sync?: %w", query, rotor.ErrNotFound)
	case 1:
		return apps[0], nil
	}
	var b strings.Builder
	for _, ap := range apps {
		fmt.Fprintf(&b, "\n  %s: %s (client id %s, object id %s)", ap.Tenant, ap.DisplayName, ap.AppID, ap.ID)
	}
	return nil, fmt.Errorf("%q matches %d applications; name one by client id or object id, or pass --tenant:%s", query, len(apps), b.String())
}
