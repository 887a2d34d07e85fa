package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
)

func (c *cli) historyCmd() *cobra.Command {
	var tenantName string
	var limit int
	cmd := &cobra.Command{
		Use:   "history APP",
		Short: "Show an application's rotations with their steps, durations and errors",
		Args:  cobra.ExactArgs(1),
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
			rs, err := a.store.RotationList(ctx, &rotor.RotationListParams{Tenant: ap.Tenant, Limit: 1 << 20})
			if err != nil {
				return err
			}
			n := 0
			for _, r := range rs {
				if r.AppID != ap.AppID || n >= limit {
					continue
				}
				n++
				end := r.FinishedAt
				if end.IsZero() {
					end = r.UpdatedAt
				}
				fmt.Fprintf(w, "\n%s  %s  %s, %s by %s, took %s\n", r.CreatedAt.UTC().Format("2006-01-02 15:04"), r.ID, r.State, r.Trigger,
					r.RequestedBy, end.Sub(r.CreatedAt).Round(time.Second))
				if r.OldKeyID != "" || r.NewKeyID != "" {
					fmt.Fprintf(w, "  %s -> %s\n", orNone(r.OldKeyID), orNone(r.NewKeyID))
				}
				if r.LastError != "" {
					fmt.Fprintf(w, "  last error (attempt %d): %s\n", r.Attempt, oneLine(r.LastError, 160))
				}
				steps, err := a.store.RotationStepList(ctx, r.ID)
				if err != nil {
					return err
				}
				for _, s := range steps {
					d := ""
					if !s.FinishedAt.IsZero() && !s.StartedAt.IsZero() {
						d = s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond).String()
					}
					fmt.Fprintf(w, "    %-10s %-24s %10s  attempt %d  %s\n", s.State, s.Name, d, s.Attempt, oneLine(s.Message, 100))
				}
			}
			if n == 0 {
				fmt.Fprintf(w, "%s (%s) has never been rotated by rotor\n", ap.DisplayName, ap.AppID)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tenantName, "tenant", "", "the application's tenant, when its name is not unique")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many rotations")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
