package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/runner"
)

func (c *cli) bindCmd() *cobra.Command {
	var tenantName, policy, adopt, spID string
	var fresh bool
	cmd := &cobra.Command{
		Use:   "bind APP --policy POLICY (--adopt KEYID | --new)",
		Short: "Make rotor manage a client secret of an application",
		Long: "Bind an application's client secret to a policy. --adopt names an existing secret: rotor\n" +
			"replaces it at its next rotation and removes it after the grace period, so make sure\n" +
			"every consumer of it is among the policy's steps. --new has the first rotation create a\n" +
			"new secret and leaves existing ones alone. --service-principal binds a secret of the\n" +
			"application's service principal (by object id) instead.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if policy == "" {
				return fmt.Errorf("--policy is required")
			}
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			ap, err := a.findApp(cmd.Context(), tenantName, args[0])
			if err != nil {
				return err
			}
			owner := rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: ap.ID}
			if spID != "" {
				sp, err := a.store.ServicePrincipalGet(cmd.Context(), ap.Tenant, spID)
				if err != nil {
					return fmt.Errorf("--service-principal: %w", err)
				}
				if sp.AppID != ap.AppID {
					return fmt.Errorf("--service-principal %s is not the service principal of %s", spID, ap.DisplayName)
				}
				owner = rotor.OwnerRef{Kind: rotor.OwnerServicePrincipal, ID: sp.ID}
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			b, err := e.Bind(cmd.Context(), runner.BindParams{Tenant: ap.Tenant, Owner: owner, AppID: ap.AppID, Policy: policy,
				Adopt: adopt, New: fresh, Actor: c.actor()})
			if err != nil {
				return err
			}
			what := "a new secret, created by the first rotation"
			if b.KeyID != "" {
				what = "secret " + b.KeyID
			}
			fmt.Fprintf(c.stdout, "bound %s (%s) to policy %s: binding %s manages %s\n", ap.DisplayName, ap.AppID, policy, b.ID, what)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&tenantName, "tenant", "", "the application's tenant, when its name is not unique")
	fl.StringVar(&policy, "policy", "", "policy from the configuration")
	fl.StringVar(&adopt, "adopt", "", "key id of an existing secret to take over")
	fl.BoolVar(&fresh, "new", false, "create a new secret at the first rotation")
	fl.StringVar(&spID, "service-principal", "", "bind a secret of this service principal (object id) of the application")
	return cmd
}

func (c *cli) bindingCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "binding", Short: "List, pause, resume and delete bindings"}
	var tenantName, output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List bindings",
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
			bs, err := a.store.BindingList(cmd.Context(), &rotor.BindingListParams{Tenant: tenantName})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, b := range bs {
				state := "active"
				if b.Paused {
					state = "paused"
				}
				rows = append(rows, []string{b.ID, b.Tenant, b.AppID, string(b.OwnerKind), b.Policy, b.KeyID, string(b.Source), state})
			}
			return writeRows(c.stdout, output, []string{"BINDING", "TENANT", "APP", "OWNER", "POLICY", "KEY", "SOURCE", "STATE"}, rows, bs)
		},
	}
	list.Flags().StringVar(&tenantName, "tenant", "", "only this tenant")
	list.Flags().StringVarP(&output, "output", "o", outTable, "table, json or csv")
	cmd.AddCommand(list, c.bindingSetCmd("pause", true), c.bindingSetCmd("resume", false), &cobra.Command{
		Use:   "delete BINDING",
		Short: "Stop managing a credential (the credential itself is left as it is)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			b, err := a.store.BindingGet(ctx, args[0])
			if err != nil {
				return err
			}
			err = a.store.InTx(ctx, func(tx rotor.Store) error {
				if err := tx.BindingDelete(ctx, b.ID); err != nil {
					return err
				}
				return tx.AuditAppend(ctx, &rotor.AuditEvent{At: c.clock.Now(), Actor: c.actor(), Action: "binding.deleted", Tenant: b.Tenant,
					AppID: b.AppID, KeyID: b.KeyID, Outcome: rotor.OutcomeSuccess, Details: map[string]string{"binding_id": b.ID}})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "deleted binding %s; credential %s is no longer managed by rotor\n", b.ID, b.KeyID)
			return nil
		},
	})
	return cmd
}

func (c *cli) bindingSetCmd(verb string, paused bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " BINDING",
		Short: map[bool]string{true: "Stop planning rotations for a binding", false: "Plan rotations for a paused binding again"}[paused],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			err = a.store.InTx(ctx, func(tx rotor.Store) error {
				b, err := tx.BindingGet(ctx, args[0])
				if err != nil {
					return err
				}
				b.Paused = paused
				if err := tx.BindingUpdate(ctx, b, c.clock.Now()); err != nil {
					return err
				}
				return tx.AuditAppend(ctx, &rotor.AuditEvent{At: c.clock.Now(), Actor: c.actor(), Action: "binding." + verb + "d", Tenant: b.Tenant,
					AppID: b.AppID, KeyID: b.KeyID, Outcome: rotor.OutcomeSuccess, Details: map[string]string{"binding_id": b.ID}})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "binding %s %sd\n", args[0], verb)
			return nil
		},
	}
}
