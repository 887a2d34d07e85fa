package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
)

func (c *cli) rotationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rotation", Short: "List, show, retry and cancel rotations"}
	var tenantName, output string
	var states []string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List rotations, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			p := &rotor.RotationListParams{Tenant: tenantName, Limit: limit}
			for _, s := range splitList(states) {
				st := rotor.RotationState(s)
				if !st.Valid() {
					return fmt.Errorf("--state %q: not a rotation state", s)
				}
				p.States = append(p.States, st)
			}
			rs, err := a.store.RotationList(cmd.Context(), p)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, r := range rs {
				att := ""
				if r.NeedsAttention {
					att = "yes"
				}
				rows = append(rows, []string{r.ID, r.Tenant, r.AppID, string(r.Trigger), string(r.State), fmt.Sprint(r.Attempt),
					r.CreatedAt.Format("2006-01-02 15:04"), att, oneLine(r.LastError, 60)})
			}
			return writeRows(c.stdout, output, []string{"ROTATION", "TENANT", "APP", "TRIGGER", "STATE", "ATTEMPT", "CREATED", "ATTENTION", "LAST ERROR"}, rows, rs)
		},
	}
	list.Flags().StringVar(&tenantName, "tenant", "", "only this tenant")
	list.Flags().StringSliceVar(&states, "state", nil, "only these states")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	list.Flags().StringVarP(&output, "output", "o", outTable, "table, json or csv")

	show := &cobra.Command{
		Use:   "show ROTATION",
		Short: "Show a rotation and its steps",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			r, err := a.store.RotationGet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "rotation %s of app %s in %s, binding %s\n  trigger %s, requested by %s at %s\n", r.ID, r.AppID, r.Tenant,
				r.BindingID, r.Trigger, r.RequestedBy, r.CreatedAt.Format(time.RFC3339))
			return a.reportRotation(cmd, r)
		},
	}
	retry := &cobra.Command{
		Use:   "retry ROTATION",
		Short: "Retry a failed rotation now, with a fresh attempt count, and run it here",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rotationAct(cmd, args[0], false)
		},
	}
	cancel := &cobra.Command{
		Use:   "cancel ROTATION",
		Short: "Cancel a rotation: roll back its steps and remove the secret it created",
		Long: "Cancel a rotation that has not made its new secret current: the deployment steps that ran\n" +
			"are rolled back, last first, where their targets can (a file's backup, a Kubernetes\n" +
			"Secret's previous value, a Key Vault version disabled), and the secret the rotation\n" +
			"created is removed from Entra. The old secret was never touched.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.rotationAct(cmd, args[0], true)
		},
	}
	cmd.AddCommand(list, show, retry, cancel)
	return cmd
}

// rotationAct asks for a retry or a cancellation and runs the engine here until idle, so the
// request takes effect now even without a server (a running server would also pick it up).
func (c *cli) rotationAct(cmd *cobra.Command, id string, cancel bool) error {
	a, err := c.openApp(cmd)
	if err != nil {
		return err
	}
	defer a.Close()
	e, err := a.engine(cmd.Context())
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if cancel {
		_, err = e.RequestCancel(ctx, id, c.actor())
	} else {
		_, err = e.RequestRetry(ctx, id, c.actor())
	}
	if err != nil {
		return err
	}
	if err := e.RunUntilIdle(ctx); err != nil {
		return err
	}
	r, err := a.store.RotationGet(ctx, id)
	if err != nil {
		return err
	}
	return a.reportRotation(cmd, r)
}
