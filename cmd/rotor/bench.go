package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"

	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor"
	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/runner"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/directory"
	"github.com/rotorhq/rotor/sim/fault"
)

// rotor bench measures rotor end to end against the simulator: rotor itself runs as a child
// process, so that its wall time and peak memory are its own, while the simulator runs here.
func (c *cli) benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure rotor end to end against the simulator (figures for docs/benchmarks.md)",
		Long: "Run rotor's benchmark scenarios against the Azure simulator and print their figures as\n" +
			"Markdown. rotor runs as a child process, so that its wall time and peak memory are its own.\n" +
			"The figures in docs/benchmarks.md come from `make bench`.",
	}
	cmd.AddCommand(c.benchSyncCmd(), c.benchRotateCmd())
	return cmd
}

func (c *cli) benchSyncCmd() *cobra.Command {
	var apps, credentials, changes int
	var latency time.Duration
	var dir string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Full sync, incremental sync and rotor ls of a large tenant, with Graph latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, w := cmd.Context(), c.stdout
			if dir == "" {
				d, err := os.MkdirTemp("", "rotor-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			fmt.Fprintf(w, "seeding %d applications...\n", apps)
			s, err := sim.Start(ctx, sim.Options{Seed: 42, Tenants: 1, AppsPerTenant: apps})
			if err != nil {
				return err
			}
			defer s.Close()
			t := s.Seeded.Tenants[0]
			total, err := topUp(s.Directory, t.Tenant.ID, credentials)
			if err != nil {
				return err
			}
			rules, err := fault.ParseRules(fmt.Sprintf("* /v1.0/** latency=%s", latency))
			if err != nil {
				return err
			}
			if err := s.Faults.SetRules(rules); err != nil {
				return err
			}
			cfg, err := writeSimConfig(dir, s, simConfigOptions{})
			if err != nil {
				return err
			}
			requests := func() uint64 { return s.Faults.Stats()[0].Matched }

			before := requests()
			full, err := runChild(ctx, cfg, "sync")
			if err != nil {
				return err
			}
			fullReqs := requests() - before
			objects, _, err := s.Directory.Counts(t.Tenant.ID)
			if err != nil {
				return err
			}
			pages := (objects + 998) / 999 // per collection; both collections list the same count
			chain := pages + 1             // $deltatoken=latest, then the pages
			floorSeq := time.Duration(fullReqs) * latency
			floorPar := time.Duration(chain) * latency

			if err := change(s.Directory, t.Tenant.ID, changes); err != nil {
				return err
			}
			before = requests()
			inc, err := runChild(ctx, cfg, "sync")
			if err != nil {
				return err
			}
			incReqs := requests() - before

			ls, err := runChild(ctx, cfg, "ls", "--expiring-within", "30d", "-o", "csv")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\n| scenario | figure |\n| --- | --- |\n")
			fmt.Fprintf(w, "| tenant | %d applications, %d service principals, %d credentials |\n", objects, objects, total)
			fmt.Fprintf(w, "| Graph latency injected per request | %s |\n", latency)
			fmt.Fprintf(w, "| full sync: wall time | %s |\n", full.wall.Round(10*time.Millisecond))
			fmt.Fprintf(w, "| full sync: Graph requests | %d (applications and service principals listed concurrently, %d each) |\n", fullReqs, chain)
			fmt.Fprintf(w, "| full sync: floor, one request after another (requests x latency) | %s, ratio %.2f |\n", floorSeq, full.wall.Seconds()/floorSeq.Seconds())
			fmt.Fprintf(w, "| full sync: floor, the two collections at once (longest chain x latency) | %s, ratio %.2f |\n", floorPar, full.wall.Seconds()/floorPar.Seconds())
			fmt.Fprintf(w, "| full sync: peak RSS | %d MB |\n", full.maxRSS>>20)
			fmt.Fprintf(w, "| incremental sync after %d changes: wall time (process start included) | %s |\n", changes, inc.wall.Round(time.Millisecond))
			fmt.Fprintf(w, "| incremental sync: Graph requests | %d |\n", incReqs)
			fmt.Fprintf(w, "| rotor ls --expiring-within 30d: wall time (process start included) | %s (%d rows) |\n", ls.wall.Round(time.Millisecond), strings.Count(ls.stdout, "\n")-1)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&apps, "apps", 100000, "applications in the tenant")
	fl.IntVar(&credentials, "credentials", 300000, "add secrets until the tenant holds this many credentials (applications' and service principals')")
	fl.IntVar(&changes, "changes", 100, "changes made before the incremental sync")
	fl.DurationVar(&latency, "latency", 30*time.Millisecond, "latency injected into every Graph request")
	fl.StringVar(&dir, "dir", "", "working directory (default: a temporary one)")
	return cmd
}

// childRun is what one child rotor did.
type childRun struct {
	wall   time.Duration
	maxRSS int64 // bytes
	stdout string
}

// runChild runs this rotor binary with the configuration and args, and measures it. Peak memory
// is the child's own VmHWM, sampled from /proc while it runs: its rusage would also count this
// process's peak, which the child inherits at exec (CLONE_VM), and this process holds the
// simulator.
func runChild(ctx context.Context, cfg string, args ...string) (*childRun, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var out, errb strings.Builder
	cmd := exec.CommandContext(ctx, self, append([]string{"-c", cfg, "--log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if hwm := vmHWM(status); hwm > peak.Load() {
				peak.Store(hwm)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	wall := time.Since(start)
	close(stop)
	<-sampled
	if err != nil {
		return nil, fmt.Errorf("rotor %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return &childRun{wall: wall, maxRSS: peak.Load(), stdout: out.String()}, nil
}

// vmHWM reads a process's peak resident set size, in bytes, from its /proc status file.
func vmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}

// topUp adds secrets, alternating applications and their service principals, until the tenant
// holds want credentials; it returns how many it holds.
func topUp(d *directory.Directory, tenantID string, want int) (int, error) {
	have := 0
	var refs []directory.ObjectRef
	for _, kind := range []directory.Kind{directory.KindApplication, directory.KindServicePrincipal} {
		var after uint64
		for {
			page, err := d.List(directory.ListParams{TenantID: tenantID, Kind: kind, After: after, Limit: 1000})
			if err != nil {
				return 0, err
			}
			for _, a := range page.Applications {
				have += len(a.PasswordCredentials) + len(a.KeyCredentials)
				refs = append(refs, a.Ref())
			}
			for _, sp := range page.ServicePrincipals {
				have += len(sp.PasswordCredentials) + len(sp.KeyCredentials)
				refs = append(refs, sp.Ref())
			}
			if page.Next == 0 {
				break
			}
			after = page.Next
		}
	}
	for i := 0; have < want && len(refs) > 0; i++ {
		ref := refs[(i*7919)%len(refs)]
		if _, _, err := d.AddPassword(directory.AddPasswordParams{TenantID: tenantID, Object: ref, DisplayName: "bench",
			EndDateTime: time.Now().Add(time.Duration(1+i%700) * 24 * time.Hour), Replicated: true}); err != nil {
			return 0, err
		}
		have++
	}
	return have, nil
}

// change adds a secret to n applications, as people do between two syncs.
func change(d *directory.Directory, tenantID string, n int) error {
	page, err := d.List(directory.ListParams{TenantID: tenantID, Kind: directory.KindApplication, Limit: n})
	if err != nil {
		return err
	}
	for _, a := range page.Applications {
		if _, _, err := d.AddPassword(directory.AddPasswordParams{TenantID: tenantID, Object: a.Ref(), DisplayName: "changed"}); err != nil {
			return err
		}
	}
	return nil
}

// benchPolicy rotates every bound secret at once: a long lifetime, rotated long before it ends,
// with as many rotations at once as there are bindings and a grace period of a second.
const benchPolicy = `policies:
  - name: bench
    lifetime: 180d
    rotate_before: 179d
    grace_period: 1s
    emergency_within: 1h
    verify: {successes: 1, interval: 100ms, timeout: 5m}
    max_concurrent_per_tenant: 100000
rotation:
  workers: 64
  plan_interval: 1m
  poll: 100ms
  lease: 30s
`

func (c *cli) benchRotateCmd() *cobra.Command {
	var bindings int
	var dir string
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate many bindings end to end against the simulator enforcing Graph's throttling",
		Long: "Bind --bindings applications, let rotor serve plan and rotate them all (create, verify,\n" +
			"deploy nothing, grace of a second, cleanup) against the simulator with Graph's documented\n" +
			"throttling on, and compare the wall time with the floor the write quota sets: two writes\n" +
			"per rotation (addPassword, removePassword) at 3,000 writes per 150 s.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, w := cmd.Context(), c.stdout
			if dir == "" {
				d, err := os.MkdirTemp("", "rotor-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			s, err := sim.Start(ctx, sim.Options{Seed: 43, Tenants: 1, AppsPerTenant: bindings + 50, Throttle: true})
			if err != nil {
				return err
			}
			defer s.Close()
			cfg, err := writeSimConfig(dir, s, simConfigOptions{extra: benchPolicy})
			if err != nil {
				return err
			}
			var mu sync.Mutex
			calls := map[int]int{}
			writeCalls := 0
			c.graphObserve = func(_ string, call graph.Call) {
				mu.Lock()
				calls[call.StatusCode]++
				if call.Method == "POST" {
					writeCalls++
				}
				mu.Unlock()
			}
			c.configPath, c.longRunning = cfg, true
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			tenant := a.cfg.Tenants[0].Name
			if _, err := a.syncer().Sync(ctx, tenant, false); err != nil {
				return err
			}
			e, err := a.engine(ctx)
			if err != nil {
				return err
			}
			apps, err := a.store.AppList(ctx, &rotor.AppListParams{Tenant: tenant, Limit: bindings + 100})
			if err != nil {
				return err
			}
			// Each binding adopts a secret of its own (one is added where the app has none), so
			// that every rotation writes twice: addPassword, then removePassword of the old one.
			bound := 0
			tid := s.Seeded.Tenants[0].Tenant.ID
			for _, ap := range apps {
				if bound == bindings || ap.AppID == s.Seeded.Tenants[0].Manager.AppID || strings.Contains(ap.SignInAudience, "Personal") {
					continue // apps open to personal accounts hold at most two secrets
				}
				pc, _, err := s.Directory.AddPassword(directory.AddPasswordParams{TenantID: tid, Object: directory.ObjectRef{Kind: directory.KindApplication, ID: ap.ID},
					DisplayName: "adopted by rotor bench", EndDateTime: time.Now().Add(90 * 24 * time.Hour), Replicated: true})
				if err != nil {
					return err
				}
				if _, err := e.Bind(ctx, runner.BindParams{Tenant: tenant, Owner: rotor.OwnerRef{Kind: rotor.OwnerApplication, ID: ap.ID},
					AppID: ap.AppID, Policy: "bench", Adopt: pc.KeyID, Actor: "bench"}); err != nil {
					return fmt.Errorf("bind %s: %w", ap.DisplayName, err)
				}
				bound++
			}
			mu.Lock()
			clear(calls)
			writeCalls = 0
			mu.Unlock()
			fmt.Fprintf(w, "rotating %d bindings...\n", bound)
			sctx, stop := context.WithCancel(ctx)
			defer stop()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- a.serve(sctx, nil) }()
			var completed, failed int
			for {
				rs, err := a.store.RotationList(ctx, &rotor.RotationListParams{Tenant: tenant, Limit: 1 << 20})
				if err != nil {
					return err
				}
				completed, failed = 0, 0
				parked := 0
				for _, r := range rs {
					switch {
					case r.State == rotor.RotationCompleted:
						completed++
					case r.Attempt > 0:
						failed++
						if r.NextAttemptAt.IsZero() {
							parked++
						}
					}
				}
				if completed+parked == bound {
					break
				}
				select {
				case err := <-done:
					return fmt.Errorf("rotor serve stopped: %v", err)
				case <-time.After(200 * time.Millisecond):
				}
			}
			wall := time.Since(start)
			stop()
			<-done
			mu.Lock()
			writes := writeCalls
			mu.Unlock()
			floor := time.Duration(float64(writes) / (runner.GraphWriteQuota / runner.GraphWriteQuotaWindow.Seconds()) * float64(time.Second))
			mu.Lock()
			throttled, total := calls[429], 0
			for _, n := range calls {
				total += n
			}
			mu.Unlock()
			fmt.Fprintf(w, "\n| scenario | figure |\n| --- | --- |\n")
			fmt.Fprintf(w, "| rotations | %d, each: addPassword, token probe, removePassword of the adopted secret after a 1 s grace period |\n", bound)
			fmt.Fprintf(w, "| Graph throttling | on, as documented for identity and access (3,000 writes per 150 s per app and tenant) |\n")
			fmt.Fprintf(w, "| wall time, first plan to last cleanup | %s |\n", wall.Round(100*time.Millisecond))
			fmt.Fprintf(w, "| floor set by the write quota (%d writes made, at 20 per second) | %s, ratio %.2f |\n", writes, floor, wall.Seconds()/floor.Seconds())
			fmt.Fprintf(w, "| rotations that failed an attempt | %d |\n", failed)
			fmt.Fprintf(w, "| Graph requests, of which 429 | %d, %d |\n", total, throttled)
			return nil
		},
	}
	cmd.Flags().IntVar(&bindings, "bindings", 1000, "bindings to rotate")
	cmd.Flags().StringVar(&dir, "dir", "", "working directory (default: a temporary one)")
	return cmd
}
