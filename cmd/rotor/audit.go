package main

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
)

func (c *cli) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the audit trail"}
	var tenantName, appID, rotationID, output string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
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
			evs, err := a.store.AuditList(cmd.Context(), &rotor.AuditListParams{Tenant: tenantName, AppID: appID, RotationID: rotationID, Limit: limit, Descending: true})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, e := range evs {
				rows = append(rows, []string{fmt.Sprint(e.Seq), e.At.Format(time.RFC3339), e.Actor, e.Action, e.Outcome, e.Tenant, e.AppID, e.KeyID, oneLine(e.Reason, 80)})
			}
			return writeRows(c.stdout, output, []string{"SEQ", "AT", "ACTOR", "ACTION", "OUTCOME", "TENANT", "APP", "KEY", "REASON"}, rows, evs)
		},
	}
	fl := list.Flags()
	fl.StringVar(&tenantName, "tenant", "", "only this tenant")
	fl.StringVar(&appID, "app-id", "", "only this client id")
	fl.StringVar(&rotationID, "rotation", "", "only this rotation")
	fl.IntVar(&limit, "limit", 50, "at most this many events")
	fl.StringVarP(&output, "output", "o", outTable, "table, json or csv")

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit event was edited, inserted or removed",
		Long: "Walk the whole audit trail and check its hash chain: every event's hash covers its content\n" +
			"and the previous event's hash. Exits non-zero, naming the first bad event, if it is broken.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			var after int64
			var prev []byte
			n := 0
			for {
				evs, err := a.store.AuditList(cmd.Context(), &rotor.AuditListParams{AfterSeq: after, Limit: 5000})
				if err != nil {
					return err
				}
				if len(evs) == 0 {
					break
				}
				if prev, err = rotor.VerifyChain(evs, after, prev); err != nil {
					return &exitError{code: 1, err: fmt.Errorf("audit trail is broken: %w", err)}
				}
				after, n = evs[len(evs)-1].Seq, n+len(evs)
			}
			fmt.Fprintf(c.stdout, "audit trail intact: %d events, head %s\n", n, hex.EncodeToString(prev))
			return nil
		},
	}
	cmd.AddCommand(list, verify)
	return cmd
}
