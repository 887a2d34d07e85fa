package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/runner"
)

func (c *cli) planCmd() *cobra.Command {
	var tenantName string
	var all bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what rotor would rotate now and why, with every preflight, changing nothing",
		Long: "For every binding, say whether it is due and which rule decided; for the bindings that are\n" +
			"due, run every preflight (Graph permission and ownership, the app management policy's\n" +
			"limits, each deployment step's target reachable and writable). Also lists the bindings the\n" +
			"policies' selectors would create. Nothing is changed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			ctx, w := cmd.Context(), c.stdout
			var pols []*rotor.Policy
			for _, p := range a.policies {
				pols = append(pols, p)
			}
			binds, err := e.BindSelected(ctx, pols, true)
			if err != nil {
				return err
			}
			for _, br := range binds {
				if br.Skipped != "" {
					fmt.Fprintf(w, "policy %s would not bind %s (%s): %s\n", br.Policy, br.App.DisplayName, br.App.AppID, br.Skipped)
					continue
				}
				what := "a new secret"
				if br.Binding.KeyID != "" {
					what = "secret " + br.Binding.KeyID
				}
				fmt.Fprintf(w, "policy %s would bind %s (%s), managing %s\n", br.Policy, br.App.DisplayName, br.App.AppID, what)
			}
			items, err := e.Plan(ctx, runner.PlanOptions{DryRun: true, Tenant: tenantName})
			if err != nil {
				return err
			}
			due := 0
			for _, it := range items {
				if !it.Decision.Due && !all {
					continue
				}
				b := it.Binding
				name := b.AppID
				if ap, err := a.store.AppGet(ctx, b.Tenant, b.OwnerID); err == nil {
					name = ap.DisplayName + " (" + b.AppID + ")"
				}
				verdict := "not due"
				if it.Decision.Due {
					due++
					verdict = "DUE (" + string(it.Decision.Trigger) + ")"
				}
				fmt.Fprintf(w, "\n%s  binding %s, policy %s: %s\n  %s\n", name, b.ID, b.Policy, verdict, it.Decision.Reason)
				if it.Skipped != "" {
					fmt.Fprintf(w, "  held back: %s\n", it.Skipped)
				}
				if it.Decision.Due {
					printChecks(w, e.Preflight(ctx, b))
				}
			}
			fmt.Fprintf(w, "\n%d bindings, %d due now (at %s)\n", len(items), due, c.clock.Now().UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantName, "tenant", "", "only this tenant")
	cmd.Flags().BoolVar(&all, "all", false, "also list bindings that are not due")
	return cmd
}

// printChecks prints preflight results and reports whether they all passed.
func printChecks(w io.Writer, checks []runner.Check) bool {
	ok := true
	for _, ch := range checks {
		mark := "ok  "
		switch {
		case !ch.OK:
			mark, ok = "FAIL", false
		case ch.Warning:
			mark = "warn"
		}
		fmt.Fprintf(w, "  %s %-28s %s\n", mark, ch.Name, strings.TrimSpace(ch.Message))
	}
	return ok
}
