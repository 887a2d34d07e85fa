package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/auth"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/server"
)

func (c *cli) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage API tokens for scripts calling rotor's API",
		Long: "API tokens authenticate scripts to rotor serve's API (Authorization: Bearer rotor_...).\n" +
			"Each has a role (viewer, operator, admin) and an expiry; its value is shown once, when it is\n" +
			"created, and rotor keeps only its SHA-256 hash."}
	var name, role, expires, output string
	create := &cobra.Command{
		Use:   "create --name NAME --role ROLE [--expires 90d]",
		Short: "Create an API token and print its value (once)",
		Long: "Create an API token. Its value goes to standard output, alone, so that a script can capture\n" +
			"it (TOKEN=$(rotor token create --name ci --role operator)); the rest goes to standard error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if _, err := auth.ParseRole(role); err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			d, err := config.ParseDuration(expires)
			if err != nil {
				return fmt.Errorf("--expires: %w", err)
			}
			if d < time.Hour || d > 366*24*time.Hour {
				return fmt.Errorf("--expires %s: use 1h to 366d: tokens always expire", expires)
			}
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			t, value, err := server.CreateToken(cmd.Context(), a.store, c.clock.Now(), c.actor(), name, role, expires)
			if err != nil {
				return err
			}
			if output == outJSON {
				return writeRows(c.stdout, output, nil, nil, map[string]any{"id": t.ID, "name": t.Name, "role": t.Role,
					"expires_at": t.ExpiresAt.UTC(), "token": value})
			}
			fmt.Fprintln(c.stdout, value)
			fmt.Fprintf(c.stderr, "created token %s (%s, id %s), expires %s; this is the only time its value is shown\n",
				t.Name, t.Role, t.ID, t.ExpiresAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	fl := create.Flags()
	fl.StringVar(&name, "name", "", "the token's name, recorded in the audit trail as token:NAME")
	fl.StringVar(&role, "role", "", "viewer, operator or admin")
	fl.StringVar(&expires, "expires", "90d", "lifetime, 1h to 366d")
	fl.StringVarP(&output, "output", "o", outTable, "table (the value alone) or json")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")

	var all bool
	var listOut string
	list := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(listOut); err != nil {
				return err
			}
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			ts, err := a.store.APITokenList(cmd.Context(), &rotor.APITokenListParams{IncludeRevoked: all})
			if err != nil {
				return err
			}
			now := c.clock.Now()
			var rows [][]string
			type item struct {
				ID, Name, Role, State, CreatedBy string
				CreatedAt, ExpiresAt             time.Time
				LastUsedAt, RevokedAt            *time.Time `json:",omitempty"`
			}
			var items []item
			for _, t := range ts {
				state := "active"
				switch {
				case !t.RevokedAt.IsZero():
					state = "revoked"
				case !t.Active(now):
					state = "expired"
				}
				used := "never"
				if !t.LastUsedAt.IsZero() {
					used = t.LastUsedAt.UTC().Format("2006-01-02 15:04")
				}
				rows = append(rows, []string{t.ID, t.Name, t.Role, state, t.ExpiresAt.UTC().Format("2006-01-02"), used, t.CreatedBy})
				it := item{ID: t.ID, Name: t.Name, Role: t.Role, State: state, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC()}
				if !t.LastUsedAt.IsZero() {
					u := t.LastUsedAt.UTC()
					it.LastUsedAt = &u
				}
				if !t.RevokedAt.IsZero() {
					rv := t.RevokedAt.UTC()
					it.RevokedAt = &rv
				}
				items = append(items, it)
			}
			return writeRows(c.stdout, listOut, []string{"ID", "NAME", "ROLE", "STATE", "EXPIRES", "LAST USED", "CREATED BY"}, rows, items)
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include revoked tokens")
	list.Flags().StringVarP(&listOut, "output", "o", outTable, "table, json or csv")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			t, err := server.RevokeToken(cmd.Context(), a.store, c.clock.Now(), c.actor(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "revoked token %s (%s)\n", t.Name, t.ID)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
