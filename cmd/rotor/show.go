package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/inventory"
)

func (c *cli) showCmd() *cobra.Command {
	var tenantName string
	var owners bool
	cmd := &cobra.Command{
		Use:   "show APP",
		Short: "Show an application: its credentials, owners, bindings and rotations",
		Long:  "APP is a display name, client id or object id. Owners are read live from Graph.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			ap, err := a.findApp(ctx, tenantName, args[0])
			if err != nil {
				return err
			}
			now := c.clock.Now()
			w := c.stdout
			fmt.Fprintf(w, "%s\n  tenant      %s\n  client id   %s\n  object id   %s\n", ap.DisplayName, ap.Tenant, ap.AppID, ap.ID)
			if ap.SignInAudience != "" {
				fmt.Fprintf(w, "  audience    %s\n", ap.SignInAudience)
			}
			if !ap.CreatedAt.IsZero() {
				fmt.Fprintf(w, "  created     %s\n", ap.CreatedAt.Format(time.RFC3339))
			}
			if len(ap.Tags) > 0 {
				fmt.Fprintf(w, "  tags        %s\n", strings.Join(ap.Tags, ", "))
			}
			if owners {
				if conn, err := a.conn(ap.Tenant); err == nil {
					os, err := conn.Graph.ListOwners(ctx, ap.ID)
					switch {
					case err != nil:
						fmt.Fprintf(w, "  owners      (could not read: %v)\n", err)
					case len(os) == 0:
						fmt.Fprintf(w, "  owners      none\n")
					default:
						var names []string
						for _, o := range os {
							n := o.DisplayName
							if o.UserPrincipalName != "" {
								n += " <" + o.UserPrincipalName + ">"
							}
							names = append(names, n)
						}
						fmt.Fprintf(w, "  owners      %s\n", strings.Join(names, ", "))
					}
				}
			}
			rows, err := a.view().List(ctx, inventory.Filter{Tenant: ap.Tenant, AppID: ap.AppID, IncludeRemoved: true}, now)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\nCredentials (%d, removed ones included)\n", len(rows))
			header, out, _ := credentialRows(rows, now, outTable)
			if err := writeRows(w, outTable, header, out, nil); err != nil {
				return err
			}
			return a.printBindingsAndRotations(cmd, ap, now)
		},
	}
	cmd.Flags().StringVar(&tenantName, "tenant", "", "look in this tenant only")
	cmd.Flags().BoolVar(&owners, "owners", true, "read the app's owners from Graph")
	return cmd
}

// printBindingsAndRotations prints what rotor manages of the app and its recent rotations.
func (a *app) printBindingsAndRotations(cmd *cobra.Command, ap *rotor.App, now time.Time) error {
	ctx, w := cmd.Context(), a.cli.stdout
	bs, err := a.store.BindingList(ctx, &rotor.BindingListParams{Tenant: ap.Tenant})
	if err != nil {
		return err
	}
	var mine []*rotor.Binding
	for _, b := range bs {
		if b.AppID == ap.AppID {
			mine = append(mine, b)
		}
	}
	fmt.Fprintf(w, "\nBindings (%d)\n", len(mine))
	for _, b := range mine {
		state := "active"
		if b.Paused {
			state = "paused"
		}
		key := b.KeyID
		if key == "" {
			key = "(none yet: the first rotation creates one)"
		}
		fmt.Fprintf(w, "  %s  policy %s, %s, %s credential %s, %d steps\n", b.ID, b.Policy, state, b.OwnerKind, key, len(a.stepsOf(b)))
	}
	rs, err := a.store.RotationList(ctx, &rotor.RotationListParams{Tenant: ap.Tenant, Limit: 20})
	if err != nil {
		return err
	}
	var header = []string{"ROTATION", "TRIGGER", "STATE", "OLD KEY", "NEW KEY", "CREATED", "ATTENTION", "LAST ERROR"}
	var rows [][]string
	for _, r := range rs {
		if r.AppID != ap.AppID {
			continue
		}
		att := ""
		if r.NeedsAttention {
			att = "yes"
		}
		rows = append(rows, []string{r.ID, string(r.Trigger), string(r.State), r.OldKeyID, r.NewKeyID, r.CreatedAt.Format("2006-01-02 15:04"), att, oneLine(r.LastError, 60)})
	}
	fmt.Fprintf(w, "\nRotations (%d, newest first; rotor history %s for their steps)\n", len(rows), ap.AppID)
	return writeRows(w, outTable, header, rows, nil)
}

// stepsOf returns a binding's steps, or its policy's.
func (a *app) stepsOf(b *rotor.Binding) []rotor.StepSpec {
	if b.Steps != nil {
		return b.Steps
	}
	if p, ok := a.policies[b.Policy]; ok {
		return p.Steps
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
