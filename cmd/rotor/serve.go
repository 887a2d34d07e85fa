package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/leader"
	"github.com/rotorhq/rotor/notify"
	"github.com/rotorhq/rotor/runner"
)

func (c *cli) serveCmd() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run rotor: sync tenants, plan and run rotations, serve the API and dashboard",
		Long: "Run rotor continuously: each tenant is synced on its schedule (jittered), the planner\n" +
			"binds what policies select and plans due rotations (on one replica at a time, elected\n" +
			"through the store), and every replica's workers run rotations. Stops cleanly on SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			if listen != "" {
				a.cfg.Server.Listen = listen
			}
			return a.serve(cmd.Context(), nil)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "listen on host:port (default: server.listen)")
	return cmd
}

// serve runs every loop until ctx ends. ready, when not nil, receives the listener's address.
func (a *app) serve(ctx context.Context, ready chan<- string) error {
	var e *runner.Engine
	if a.keyring != nil {
		var err error
		if e, err = a.engine(); err != nil {
			return err
		}
	} else if len(a.policies) > 0 {
		return errors.New("encryption.key is required to rotate")
	} else {
		a.cli.log.Warn("no encryption key and no policies: rotor only watches expiry (inventory); it rotates nothing")
	}
	ln, err := net.Listen("tcp", a.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cli.log.Error("http server", "err", err)
			cancel()
		}
	})
	a.cli.log.Info("rotor serving", "listen", ln.Addr().String(), "tenants", len(a.tenants), "policies", len(a.policies))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	rnd := func() float64 { return rand.Float64() }
	syncer := a.syncer()
	for _, t := range a.cfg.Tenants {
		interval := t.Sync.Interval.D()
		wg.Go(func() {
			leader.Every(ctx, a.cli.clock, interval, interval/10, rnd, a.syncKick(t.Name), func(ctx context.Context) {
				if _, err := syncer.Sync(ctx, t.Name, false); err != nil && ctx.Err() == nil {
					a.cli.log.Error("sync failed", "tenant", t.Name, "err", err)
				}
			})
		})
	}
	if e != nil {
		host, _ := os.Hostname()
		el := &leader.Elector{Store: a.store, Clock: a.cli.clock, Log: a.cli.log, Name: "planner",
			Holder: fmt.Sprintf("%s/%d", host, os.Getpid()), TTL: 30 * time.Second}
		wg.Go(func() {
			el.Run(ctx, func(ctx context.Context, fence int64) {
				leader.Every(ctx, a.cli.clock, a.cfg.Rotation.PlanInterval.D(), 0, rnd, nil, func(ctx context.Context) { a.planRound(ctx, e) })
			})
		})
		wg.Go(func() {
			if err := e.Run(ctx); err != nil {
				a.cli.log.Error("rotation workers", "err", err)
			}
		})
	}
	if len(a.cfg.Notifiers) > 0 {
		var secrets notify.SecretSource
		if a.keyring != nil {
			secrets = runner.SealedSecrets{Store: a.store, Keyring: a.keyring}
		}
		host, _ := os.Hostname()
		svc, err := a.cli.notifyService(a.cfg, notifyDeps{Store: a.store, Worker: fmt.Sprintf("%s/%d", host, os.Getpid()),
			Owners: ownerMails{a}, Secrets: secrets, Log: a.cli.log})
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Go(func() { svc.Run(ctx) })
	}
	<-ctx.Done()
	a.cli.log.Info("stopping")
	shut, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	srv.Shutdown(shut)
	wg.Wait()
	return nil
}

// planRound binds what the policies select and plans due rotations.
func (a *app) planRound(ctx context.Context, e *runner.Engine) {
	var pols []*rotor.Policy
	for _, p := range a.policies {
		pols = append(pols, p)
	}
	binds, err := e.BindSelected(ctx, pols, false)
	if err != nil {
		a.cli.log.Error("bind selected apps", "err", err)
	}
	for _, b := range binds {
		if b.Skipped == "" {
			a.cli.log.Info("bound by policy", "policy", b.Policy, "app_id", b.App.AppID, "binding_id", b.Binding.ID)
		}
	}
	items, err := e.Plan(ctx, runner.PlanOptions{})
	if err != nil {
		a.cli.log.Error("plan", "err", err)
		return
	}
	for _, it := range items {
		if it.RotationID != "" {
			a.cli.log.Info("rotation planned", "rotation_id", it.RotationID, "binding_id", it.Binding.ID, "app_id", it.Binding.AppID,
				"trigger", it.Decision.Trigger, "reason", it.Decision.Reason)
		} else if it.Skipped != "" {
			a.cli.log.Warn("due rotation held back", "binding_id", it.Binding.ID, "reason", it.Skipped)
		}
	}
}

// ownerMails reads an application's owners from Graph, for notifications to owners: the mail of
// users (their user principal name when they have none); service principals have no mail.
type ownerMails struct{ a *app }

func (o ownerMails) OwnerMails(ctx context.Context, tenant, appObjectID string) ([]string, error) {
	conn, err := o.a.conn(tenant)
	if err != nil {
		return nil, err
	}
	owners, err := conn.Graph.ListOwners(ctx, appObjectID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ow := range owners {
		switch {
		case ow.Mail != "":
			out = append(out, ow.Mail)
		case ow.UserPrincipalName != "" && strings.Contains(ow.UserPrincipalName, "@"):
			out = append(out, ow.UserPrincipalName)
		}
	}
	return out, nil
}

// syncKick returns the channel that asks the tenant's sync loop to run now.
func (a *app) syncKick(tenant string) chan struct{} {
	a.limMu.Lock()
	defer a.limMu.Unlock()
	if a.kicks == nil {
		a.kicks = map[string]chan struct{}{}
	}
	k, ok := a.kicks[tenant]
	if !ok {
		k = make(chan struct{}, 1)
		a.kicks[tenant] = k
	}
	return k
}

// handler serves the HTTP endpoints.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := a.store.TenantList(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}
