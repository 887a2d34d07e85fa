package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
)

func (c *cli) tenantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Work with the configured tenants"}
	cmd.AddCommand(c.tenantListCmd(), c.tenantCheckCmd())
	return cmd
}

func (c *cli) tenantListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the configured tenants and when they were last synced",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			var rows [][]string
			for _, t := range a.cfg.Tenants {
				last := "never"
				if cur, err := a.store.SyncCursorGet(cmd.Context(), t.Name, "applications"); err == nil {
					last = cur.SyncedAt.Format("2006-01-02 15:04:05")
				}
				rows = append(rows, []string{t.Name, t.TenantID, t.Auth.Method, t.GraphURL, last})
			}
			return writeRows(c.stdout, outTable, []string{"NAME", "TENANT ID", "AUTH", "GRAPH", "LAST SYNC"}, rows, nil)
		},
	}
}

// Graph application permissions rotor cares about.
const (
	permReadAll      = graph.PermReadAll
	permWriteOwnedBy = graph.PermWriteOwnedBy
	permWriteAll     = graph.PermWriteAll
	permPolicyRead   = graph.PermPolicyRead
)

func (c *cli) tenantCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check TENANT",
		Short: "Check that rotor can work in a tenant: sign-in, permissions, what it may write, policy",
		Long: "Preflight a tenant: rotor signs in with its configured credential, reads which Graph\n" +
			"application permissions its token carries, tells which apps it may rotate (all, or those its\n" +
			"service principal owns), reads Graph, and shows the tenant's app management policy for\n" +
			"secrets. Exits non-zero when rotor cannot read the tenant.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			conn, err := a.conn(args[0])
			if err != nil {
				return err
			}
			ctx, w := cmd.Context(), c.stdout
			ok := func(format string, args ...any) { fmt.Fprintf(w, "ok    "+format+"\n", args...) }
			warn := func(format string, args ...any) { fmt.Fprintf(w, "warn  "+format+"\n", args...) }
			fail := func(format string, args ...any) { fmt.Fprintf(w, "FAIL  "+format+"\n", args...) }

			cl, err := conn.Claims(ctx)
			if err != nil {
				fail("sign in (%s): %v", conn.Config.Auth.Method, err)
				return &exitError{code: 1, err: fmt.Errorf("tenant %s: cannot sign in", args[0])}
			}
			ok("signed in with %s as client %s (service principal %s) in tenant %s", conn.Config.Auth.Method, cl.AppID, cl.ObjectID, cl.TenantID)
			if !strings.EqualFold(cl.TenantID, conn.Config.TenantID) {
				fail("the token is for tenant %s, not the configured %s", cl.TenantID, conn.Config.TenantID)
			}
			roles := slices.Sorted(slices.Values(cl.Roles))
			if len(roles) == 0 {
				roles = []string{"(none)"}
			}
			fmt.Fprintf(w, "      token roles: %s\n", strings.Join(roles, ", "))
			canRead := has(cl.Roles, permReadAll) || has(cl.Roles, permWriteAll) || has(cl.Roles, permWriteOwnedBy)
			switch {
			case has(cl.Roles, permWriteAll):
				ok("%s: rotor may rotate the credentials of every app", permWriteAll)
			case has(cl.Roles, permWriteOwnedBy):
				ok("%s: rotor may rotate the credentials only of apps its service principal %s owns", permWriteOwnedBy, cl.ObjectID)
				if !has(cl.Roles, permReadAll) {
					warn("without %s, rotor sees only the apps it owns", permReadAll)
				}
			case canRead:
				warn("read only (%s): rotor can watch expiry but not rotate; grant %s or %s", permReadAll, permWriteOwnedBy, permWriteAll)
			default:
				fail("no application permission to read apps: grant %s (watch) and %s or %s (rotate)", permReadAll, permWriteOwnedBy, permWriteAll)
			}
			err = conn.Graph.ListApplications(ctx, graph.Query{Select: []string{"id", "displayName"}, Top: 1}, func([]graph.Application) error {
				return errStopPaging // one page is enough to know reading works
			})
			if err != nil && !errors.Is(err, errStopPaging) {
				fail("read applications: %v", err)
				return &exitError{code: 1, err: fmt.Errorf("tenant %s: cannot read applications", args[0])}
			}
			ok("read applications from %s", conn.Config.GraphURL)
			if has(cl.Roles, permWriteOwnedBy) && !has(cl.Roles, permWriteAll) {
				bs, err := a.store.BindingList(ctx, &rotor.BindingListParams{Tenant: args[0]})
				if err == nil && len(bs) > 0 {
					var notOwned []string
					for _, b := range bs {
						if b.OwnerKind != rotor.OwnerApplication {
							continue
						}
						owners, err := conn.Graph.ListOwners(ctx, b.OwnerID)
						if err != nil {
							warn("owners of bound app %s: %v", b.AppID, err)
							continue
						}
						if !slices.ContainsFunc(owners, func(o graph.DirectoryObject) bool { return o.ID == cl.ObjectID }) {
							notOwned = append(notOwned, b.AppID)
						}
					}
					if len(notOwned) > 0 {
						fail("rotor does not own %d bound apps, so it cannot rotate them: %s", len(notOwned), strings.Join(notOwned, ", "))
					} else {
						ok("rotor owns all %d bound apps", len(bs))
					}
				}
			}
			pol, err := conn.Graph.DefaultAppManagementPolicy(ctx)
			switch {
			case err != nil:
				warn("app management policy not readable (%v): grant %s to see lifetime limits before rotating", err, permPolicyRead)
			case !pol.IsEnabled:
				ok("app management policy: the tenant default is not enforced")
			default:
				var rules []string
				if r := pol.ApplicationRestrictions; r != nil {
					for _, pr := range r.PasswordCredentials {
						rules = append(rules, fmt.Sprintf("%s %s %s", pr.RestrictionType, pr.MaxLifetime, pr.State))
					}
				}
				if len(rules) == 0 {
					rules = []string{"no password restrictions"}
				}
				ok("app management policy (tenant default, enforced): %s", strings.Join(rules, "; "))
			}
			return nil
		},
	}
}

var errStopPaging = errors.New("stop paging")

func has(list []string, s string) bool { return slices.Contains(list, s) }
