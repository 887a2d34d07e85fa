package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
)

func (c *cli) rotateCmd() *cobra.Command {
	var tenantName, bindingID string
	var dryRun, noWait bool
	cmd := &cobra.Command{
		Use:   "rotate APP",
		Short: "Rotate an application's managed secret now",
		Long: "Plan a rotation of the app's binding now, whatever its schedule, and run it here through\n" +
			"creation, verification and deployment. The old secret stays valid for the grace period;\n" +
			"rotor serve removes it afterwards. --dry-run shows what would happen and runs every\n" +
			"preflight without changing anything.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx, w := cmd.Context(), c.stdout
			ap, err := a.findApp(ctx, tenantName, args[0])
			if err != nil {
				return err
			}
			b, err := a.bindingOf(cmd, ap, bindingID)
			if err != nil {
				return err
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if dryRun {
				p := a.policies[b.Policy]
				fmt.Fprintf(w, "would rotate %s (%s), binding %s, policy %s:\n", ap.DisplayName, ap.AppID, b.ID, b.Policy)
				fmt.Fprintf(w, "  1. create a secret named rotor:<rotation id> on %s %s", b.OwnerKind, b.OwnerID)
				if p != nil {
					fmt.Fprintf(w, ", lifetime %s", config.FormatDuration(p.Lifetime))
				}
				fmt.Fprintf(w, "\n  2. prove it gets tokens")
				if p != nil {
					fmt.Fprintf(w, " (%d in a row, within %s)", p.Verify.Successes, config.FormatDuration(p.Verify.Timeout))
				}
				fmt.Fprintln(w)
				for i, s := range a.stepsOf(b) {
					fmt.Fprintf(w, "  %d. step %s (%s, on_failure %s)\n", i+3, s.Name, s.Type, s.OnFailure)
				}
				if b.KeyID != "" {
					fmt.Fprintf(w, "  then keep %s valid for the grace period", b.KeyID)
					if p != nil {
						fmt.Fprintf(w, " (%s)", p.GracePeriod)
					}
					fmt.Fprintln(w, " and remove it")
				}
				fmt.Fprintln(w, "preflight:")
				if !printChecks(w, e.Preflight(ctx, b)) {
					return &exitError{code: 1, err: errors.New("preflight failed: the rotation would not succeed")}
				}
				return nil
			}
			r, err := e.Request(ctx, b.ID, c.actor())
			if errors.Is(err, rotor.ErrConflict) {
				return fmt.Errorf("binding %s already has a rotation in flight (rotor rotation list --tenant %s): %w", b.ID, b.Tenant, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "planned rotation %s\n", r.ID)
			if noWait {
				return nil
			}
			if err := e.RunUntilIdle(ctx); err != nil {
				return err
			}
			r, err = a.store.RotationGet(ctx, r.ID)
			if err != nil {
				return err
			}
			return a.reportRotation(cmd, r)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&tenantName, "tenant", "", "the application's tenant, when its name is not unique")
	fl.StringVar(&bindingID, "binding", "", "which binding, when the app has several")
	fl.BoolVar(&dryRun, "dry-run", false, "show what would happen and run every preflight; change nothing")
	fl.BoolVar(&noWait, "no-wait", false, "only plan the rotation; let rotor serve run it")
	return cmd
}

// bindingOf returns the app's binding (the one named, or its only one).
func (a *app) bindingOf(cmd *cobra.Command, ap *rotor.App, id string) (*rotor.Binding, error) {
	if id != "" {
		b, err := a.store.BindingGet(cmd.Context(), id)
		if err != nil {
			return nil, err
		}
		if b.AppID != ap.AppID {
			return nil, fmt.Errorf("binding %s is not a binding of %s", id, ap.DisplayName)
		}
		return b, nil
	}
	bs, err := a.store.BindingList(cmd.Context(), &rotor.BindingListParams{Tenant: ap.Tenant})
	if err != nil {
		return nil, err
	}
	var mine []*rotor.Binding
	for _, b := range bs {
		if b.AppID == ap.AppID {
			mine = append(mine, b)
		}
	}
	switch len(mine) {
	case 0:
		return nil, fmt.Errorf("%s is not managed by rotor: bind it first (rotor bind %s --policy POLICY --adopt KEYID|--new)", ap.DisplayName, ap.AppID)
	case 1:
		return mine[0], nil
	}
	return nil, fmt.Errorf("%s has %d bindings: name one with --binding (rotor binding list --tenant %s)", ap.DisplayName, len(mine), ap.Tenant)
}

// reportRotation prints where a rotation stands and its steps.
func (a *app) reportRotation(cmd *cobra.Command, r *rotor.Rotation) error {
	w := a.cli.stdout
	steps, err := a.store.RotationStepList(cmd.Context(), r.ID)
	if err != nil {
		return err
	}
	for _, s := range steps {
		d := ""
		if !s.FinishedAt.IsZero() && !s.StartedAt.IsZero() {
			d = s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "  %-10s %-24s %8s  %s\n", s.State, s.Name, d, oneLine(s.Message, 100))
	}
	switch r.State {
	case rotor.RotationGrace:
		fmt.Fprintf(w, "rotation %s deployed new secret %s", r.ID, r.NewKeyID)
		if r.OldKeyID != "" {
			fmt.Fprintf(w, "; %s stays valid until %s and is then removed by rotor serve", r.OldKeyID, r.GraceUntil.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	case rotor.RotationCompleted:
		fmt.Fprintf(w, "rotation %s completed\n", r.ID)
	case rotor.RotationFailed:
		next := "parked: rotor rotation retry or cancel " + r.ID
		if !r.NextAttemptAt.IsZero() {
			next = "retried at " + r.NextAttemptAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "rotation %s failed in %s (attempt %d): %s\n%s\n", r.ID, r.ResumeState, r.Attempt, r.LastError, next)
		return &exitError{code: 1, err: fmt.Errorf("rotation %s failed", r.ID)}
	default:
		fmt.Fprintf(w, "rotation %s is %s\n", r.ID, r.State)
	}
	if r.NeedsAttention {
		fmt.Fprintln(w, "needs attention: a step with on_failure: continue failed (see above)")
	}
	return nil
}
