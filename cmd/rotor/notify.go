package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/notify/email"
	"github.com/rotorhq/rotor/notify/slack"
	"github.com/rotorhq/rotor/notify/teams"
	"github.com/rotorhq/rotor/notify/webhook"
	"github.com/rotorhq/rotor/secret"
)

func (c *cli) notifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Send a test notification, and show the notification outbox",
	}
	cmd.AddCommand(c.notifyTestCmd(), c.notifyListCmd())
	return cmd
}

func (c *cli) notifyTestCmd() *cobra.Command {
	var to []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test NOTIFIER",
		Short: "Send a test message through a configured notifier, now",
		Long: "Send a test message through the notifier called NOTIFIER in the configuration, directly\n" +
			"(not through the outbox), and report whether the server or webhook accepted it. The message\n" +
			"is about nothing and carries no secret. --to adds recipients for an email notifier.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			nc, ok := cfg.Notifier(args[0])
			if !ok {
				var names []string
				for _, n := range cfg.Notifiers {
					names = append(names, n.Name)
				}
				if len(names) == 0 {
					return fmt.Errorf("no notifier is named %q: the configuration has none", args[0])
				}
				return fmt.Errorf("no notifier is named %q (configured: %s)", args[0], strings.Join(names, ", "))
			}
			if len(to) > 0 && nc.Email == nil {
				return fmt.Errorf("--to: notifier %s is a %s notifier, not email", nc.Name, nc.Type)
			}
			n, err := c.buildNotifier(nc)
			if err != nil {
				return err
			}
			m := notify.TestMessage(uuid.NewString(), nc.Name, c.clock.Now(), to)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := n.Send(ctx, m); err != nil {
				hint := "retrying will not help: check the configuration"
				if rotor.Retryable(err) {
					hint = "rotor would retry it"
				}
				return fmt.Errorf("notify test %s: %w (%s: %s)", nc.Name, err, rotor.ClassOf(err), hint)
			}
			fmt.Fprintf(c.stdout, "sent a test message through %s (%s)", nc.Name, nc.Type)
			if r, ok := n.(notify.Recipienter); ok {
				fmt.Fprintf(c.stdout, " to %s", strings.Join(r.Recipients(m), ", "))
			}
			fmt.Fprintf(c.stdout, "; message id %s\n", m.ID)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&to, "to", nil, "extra recipient (email notifiers; repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

func (c *cli) notifyListCmd() *cobra.Command {
	var statuses []string
	var p rotor.NotificationListParams
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show the notification outbox: status, attempts, last error, next attempt",
		Long: "Show notifications newest first: what each is about, where it goes, whether it was sent, and\n" +
			"for failures the attempts, the last error and when the next attempt is due. Statuses:\n" +
			"pending (not tried yet), retrying, sent, failed (given up: a permanent error or attempts\n" +
			"exhausted).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range statuses {
				st := rotor.NotificationStatus(s)
				if !st.Valid() {
					return fmt.Errorf("--status %q: use pending, retrying, sent or failed", s)
				}
				p.Statuses = append(p.Statuses, st)
			}
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			st, err := c.openStore(cmd.Context(), cfg, false)
			if err != nil {
				return err
			}
			defer st.Close()
			if pending, err := st.PendingMigrations(cmd.Context(), nil); err != nil {
				return err
			} else if len(pending) > 0 {
				return fmt.Errorf("the database lacks %d migrations (the outbox may not exist yet): run rotor migrate", len(pending))
			}
			list, err := st.NotificationList(cmd.Context(), &p)
			if err != nil {
				return err
			}
			if asJSON {
				return writeNotificationsJSON(c, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(c.stdout, "no notifications")
				return nil
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tCREATED\tSTATUS\tATTEMPTS\tNOTIFIER\tROUTE\tEVENT\tTENANT\tNEXT ATTEMPT\tLAST ERROR")
			for _, n := range list {
				next := "-"
				if n.Status == rotor.NotificationPending || n.Status == rotor.NotificationRetrying {
					next = notify.FormatTime(n.NextAttemptAt)
				}
				lastErr := strings.Join(strings.Fields(n.LastError), " ")
				if len(lastErr) > 120 {
					lastErr = lastErr[:117] + "..."
				}
				if lastErr == "" {
					lastErr = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, notify.FormatTime(n.CreatedAt), n.Status, n.Attempt,
					n.Notifier, n.Route, n.Event, orDash(n.Tenant), next, lastErr)
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&statuses, "status", nil, "only these statuses: pending, retrying, sent, failed (repeatable)")
	f.StringVar(&p.Notifier, "notifier", "", "only this notifier")
	f.StringVar(&p.Route, "route", "", "only this route")
	f.StringVar(&p.Event, "event", "", "only this event type")
	f.StringVar(&p.Tenant, "tenant", "", "only this tenant")
	f.IntVar(&p.Limit, "limit", 50, "at most this many")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeNotificationsJSON(c *cli, list []*rotor.Notification) error {
	type row struct {
		ID            string    `json:"id"`
		CreatedAt     time.Time `json:"created_at"`
		Status        string    `json:"status"`
		Attempts      int       `json:"attempts"`
		Notifier      string    `json:"notifier"`
		Route         string    `json:"route"`
		Event         string    `json:"event"`
		Tenant        string    `json:"tenant,omitempty"`
		AppID         string    `json:"app_id,omitempty"`
		KeyID         string    `json:"key_id,omitempty"`
		RotationID    string    `json:"rotation_id,omitempty"`
		Recipients    []string  `json:"recipients,omitempty"`
		NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
		LastError     string    `json:"last_error,omitempty"`
		SentAt        time.Time `json:"sent_at,omitzero"`
	}
	rows := make([]row, 0, len(list))
	for _, n := range list {
		rows = append(rows, row{n.ID, n.CreatedAt, string(n.Status), n.Attempt, n.Notifier, n.Route, n.Event, n.Tenant, n.AppID,
			n.KeyID, n.RotationID, n.Recipients, n.NextAttemptAt, n.LastError, n.SentAt})
	}
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// buildNotifier makes the notifier a configuration entry describes, resolving its secrets.
func (c *cli) buildNotifier(nc *config.Notifier) (notify.Notifier, error) {
	resolve := func(field string, ref secret.Ref) (secret.Value, error) {
		if ref.IsZero() {
			return secret.Value{}, nil
		}
		v, err := ref.Resolve(c.lookupEnv)
		if err != nil {
			return secret.Value{}, fmt.Errorf("notifier %s: %s: %w", nc.Name, field, err)
		}
		return v, nil
	}
	var n notify.Notifier
	var err error
	switch {
	case nc.Email != nil:
		e := nc.Email
		pw, rerr := resolve("password", e.Password)
		if rerr != nil {
			return nil, rerr
		}
		n, err = email.New(email.Config{Host: e.Host, Port: e.Port, TLS: email.TLSMode(e.TLS), CAFile: e.CAFile,
			Auth: email.Auth(e.Auth), Username: e.Username, Password: pw, From: e.From, To: e.To, Cc: e.Cc,
			Subject: nc.Template(notify.TemplateSubject), Text: nc.Template(notify.TemplateText), HTML: nc.Template(notify.TemplateHTML)})
	case nc.Teams != nil:
		url, rerr := resolve("url", nc.Teams.URL)
		if rerr != nil {
			return nil, rerr
		}
		n, err = teams.New(teams.Config{URL: url, CAFile: nc.Teams.CAFile, Template: nc.Template(notify.TemplateTeams)})
	case nc.Slack != nil:
		url, rerr := resolve("url", nc.Slack.URL)
		if rerr != nil {
			return nil, rerr
		}
		n, err = slack.New(slack.Config{URL: url, CAFile: nc.Slack.CAFile, Template: nc.Template(notify.TemplateSlack)})
	case nc.Webhook != nil:
		key, rerr := resolve("signing_key", nc.Webhook.SigningKey)
		if rerr != nil {
			return nil, rerr
		}
		n, err = webhook.New(webhook.Config{URL: secret.New(nc.Webhook.URL), SigningKey: key, CAFile: nc.Webhook.CAFile, Clock: c.clock})
	default:
		return nil, fmt.Errorf("notifier %s: unknown type %q", nc.Name, nc.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("notifier %s: %w", nc.Name, err)
	}
	return n, nil
}

// notifyDeps are what the notification service needs besides the configuration, provided by the
// wiring of rotor serve: the store, the owners of apps (from the inventory) and the rotations'
// sealed secrets (runner.SealedSecrets with the keyring). Owners and Secrets may be nil when no
// route sends to owners or includes secrets.
type notifyDeps struct {
	Store   rotor.Store
	Worker  string
	Owners  notify.OwnerMails
	Secrets notify.SecretSource
	Log     *slog.Logger
}

// notifyService builds the notification service from the configuration. Run it with
// go svc.Run(ctx) next to the rotation engine; every replica may run one.
func (c *cli) notifyService(cfg *config.Config, deps notifyDeps) (*notify.Service, error) {
	notifiers := map[string]notify.Notifier{}
	for i := range cfg.Notifiers {
		n, err := c.buildNotifier(&cfg.Notifiers[i])
		if err != nil {
			return nil, err
		}
		notifiers[cfg.Notifiers[i].Name] = n
	}
	routes, err := cfg.NotifyRoutes()
	if err != nil {
		return nil, err
	}
	for _, r := range routes {
		if r.ToOwners && deps.Owners == nil {
			return nil, errors.New("notifications: a route sends to app owners but this rotor cannot look owners up")
		}
	}
	nc := cfg.Notifications
	return notify.New(notify.Config{Store: deps.Store, Clock: c.clock, Log: deps.Log, Worker: deps.Worker,
		Notifiers: notifiers, Routes: routes, Owners: deps.Owners, Secrets: deps.Secrets,
		Thresholds: cfg.NotifyThresholds(), Lifecycle: cfg.Thresholds.Lifecycle(),
		ScanInterval: nc.ScanInterval.D(), MaxAttempts: nc.MaxAttempts, BackoffBase: nc.BackoffBase.D(),
		BackoffMax: nc.BackoffMax.D(), Retention: nc.Retention.D()})
}
