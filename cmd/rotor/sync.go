package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/inventory"
	"github.com/rotorhq/rotor/logging"
)

func (c *cli) syncCmd() *cobra.Command {
	var tenantName string
	var full bool
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Discover every app, service principal and credential of the configured tenants",
		Long: "Read applications and service principals with their secrets and certificates from Microsoft\n" +
			"Graph into rotor's store. The first sync of a tenant lists everything; later ones read only\n" +
			"what changed (delta query), unless --full. Only metadata is stored, never secret values.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			names, err := a.tenantNames(tenantName)
			if err != nil {
				return err
			}
			s := a.syncer()
			tty := logging.IsTerminal(c.stdout)
			start := c.clock.Now()
			lastLog := start
			s.Progress = func(p inventory.Progress) {
				elapsed := c.clock.Since(start).Seconds()
				rate := 0.0
				if elapsed > 0 {
					rate = float64(p.Objects) / elapsed
				}
				if tty {
					fmt.Fprintf(c.stdout, "\r%s %-17s %6d pages %8d objects %9d credentials %7.0f objects/s ", p.Tenant, p.Collection, p.Pages, p.Objects, p.Credentials, rate)
					return
				}
				if c.clock.Since(lastLog) >= 5*time.Second {
					lastLog = c.clock.Now()
					c.log.Info("sync progress", "tenant", p.Tenant, "collection", p.Collection, "pages", p.Pages, "objects", p.Objects, "credentials", p.Credentials)
				}
			}
			for _, name := range names {
				res, err := s.Sync(cmd.Context(), name, full)
				if tty {
					fmt.Fprintln(c.stdout)
				}
				if err != nil {
					return err
				}
				kind := "incremental"
				if res.Full {
					kind = "full"
				}
				fmt.Fprintf(c.stdout, "%s: %s sync, %d objects, %d credentials, %d pages in %s; %d credentials added, %d removed, %d objects deleted\n",
					name, kind, res.Objects, res.Credentials, res.Pages, res.Duration.Round(time.Millisecond), res.Added, res.Removed, res.Deleted)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantName, "tenant", "", "sync only this tenant")
	cmd.Flags().BoolVar(&full, "full", false, "list everything instead of reading changes since the last sync")
	return cmd
}
