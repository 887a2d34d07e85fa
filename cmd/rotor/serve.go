package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/rotorhq/rotor/server"
	"github.com/rotorhq/rotor/tenant"
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
			c.longRunning = true
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
	// The keyring is loaded before anything starts: rotations and notifications that include the
	// secret need it, and a server that cannot open what it sealed must say so at once rather
	// than look healthy while rotating nothing. A Key Vault that cannot unwrap the key stops the
	// start with the reason; the process supervisor's restart is the retry.
	kr, err := a.keyring(ctx)
	if err != nil {
		return fmt.Errorf("rotor serve needs the keyring to rotate and does not start without it: %w", err)
	}
	var e *runner.Engine
	switch {
	case kr != nil:
		if e, err = a.engine(ctx); err != nil {
			return err
		}
	case len(a.policies) > 0:
		return errors.New("encryption.key is required to rotate")
	default:
		a.cli.log.Warn("no encryption key and no policies: rotor only watches expiry (inventory); it rotates nothing")
	}
	ln, err := net.Listen("tcp", a.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	sc := &a.cfg.Server
	if sc.PublicURLDerived() {
		scheme := "http"
		if sc.TLS.Enabled() {
			scheme = "https"
		}
		sc.PublicURL = scheme + "://" + ln.Addr().String()
	}
	h, err := a.httpServer(e)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}, ErrorLog: slog.NewLogLogger(a.cli.log.Handler(), slog.LevelWarn)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		if sc.TLS.Enabled() {
			err = srv.ServeTLS(ln, sc.TLS.CertFile, sc.TLS.KeyFile)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cli.log.Error("http server", "err", err)
			cancel()
		}
	})
	wg.Go(func() {
		leader.Every(ctx, a.cli.clock, time.Hour, 0, func() float64 { return rand.Float64() }, nil, func(ctx context.Context) {
			if err := h.Prune(ctx); err != nil && ctx.Err() == nil {
				a.cli.log.Warn("prune signed-out sessions", "err", err)
			}
		})
	})
	a.cli.log.Info("rotor serving", "listen", ln.Addr().String(), "url", sc.PublicURL, "tenants", len(a.tenants), "policies", len(a.policies),
		"sign_in", sc.OIDC != nil)
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
		if kr != nil {
			secrets = runner.SealedSecrets{Store: a.store, Keyring: kr}
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

// httpServer builds the API, web UI and metrics server from the configuration.
func (a *app) httpServer(e *runner.Engine) (*server.Server, error) {
	sc := a.cfg.Server
	cfg := server.Config{Store: a.store, Clock: a.cli.clock, Log: a.cli.log, Thresholds: a.cfg.Thresholds.Lifecycle(),
		Registry: a.registry, Policies: a.policies, PublicURL: sc.PublicURL, SessionLifetime: sc.Session.Lifetime.D(),
		Roles: sc.Roles.RoleMap(), Metrics: a.metrics.Handler(), MetricsAnonymous: sc.Metrics.Anonymous,
		ObserveHTTP: a.metrics.ObserveHTTP, Version: version}
	if e != nil {
		cfg.Engine = e
	}
	for _, t := range a.cfg.Tenants {
		cfg.Tenants = append(cfg.Tenants, t.Name)
	}
	cfg.SyncNow = func(tenant string) error {
		select {
		case a.syncKick(tenant) <- struct{}{}:
		default: // a sync is already asked for
		}
		return nil
	}
	if len(a.cfg.Notifiers) > 0 {
		cfg.Notifications = outbox{store: a.store, cfg: a.cfg, now: a.cli.clock.Now}
	}
	if !sc.Session.Key.IsZero() {
		v, err := sc.Session.Key.Resolve(a.cli.lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("server.session.key: %w", err)
		}
		cfg.SessionKey = v
	}
	if o := sc.OIDC; o != nil {
		secret, err := o.ClientSecret.Resolve(a.cli.lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("server.oidc.client_secret: %w", err)
		}
		var cas []string
		if o.CAFile != "" {
			cas = append(cas, o.CAFile)
		}
		client, err := tenant.Transport(cas...)
		if err != nil {
			return nil, fmt.Errorf("server.oidc: %w", err)
		}
		cfg.OIDC = &server.OIDC{Issuer: o.Issuer(), TenantID: o.TenantID, ClientID: o.ClientID, ClientSecret: secret, Scopes: o.Scopes,
			HTTPClient: client}
	}
	return server.New(cfg)
}
