package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/store/sqlstore"
)

func (c *cli) migrateCmd() *cobra.Command {
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (rotor also applies them at start-up)",
		Long: "Apply the database migrations built into this rotor that the store has not run yet, each in\n" +
			"its own transaction: a migration that fails leaves the schema at the version before it.\n" +
			"With --status, only report the schema version and what is pending.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			st, err := c.openStore(cmd.Context(), cfg, false)
			if err != nil {
				return err
			}
			defer st.Close()
			pending, err := st.PendingMigrations(cmd.Context(), nil)
			if err != nil {
				return err
			}
			version, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			if status {
				fmt.Fprintf(c.stdout, "schema version %d, %d pending\n", version, len(pending))
				for _, m := range pending {
					fmt.Fprintf(c.stdout, "pending %04d_%s\n", m.Version, m.Name)
				}
				return nil
			}
			applied, err := st.Migrate(cmd.Context(), sqlstore.Embedded())
			for _, m := range applied {
				fmt.Fprintf(c.stdout, "applied %04d_%s\n", m.Version, m.Name)
			}
			if err != nil {
				return err
			}
			version, err = st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "schema version %d (%s), up to date\n", version, st.Driver())
			return nil
		},
	}
	cmd.Flags().BoolVar(&status, "status", false, "only report the schema version and pending migrations")
	return cmd
}
