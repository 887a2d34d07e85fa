// Command rotor keeps Microsoft Entra ID application credentials alive. Each subcommand lives in
// its own file; implementations are built from the typed configuration and wired here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"sync"
	"syscall"

	"github.com/jonboulle/clockwork"
	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/graph"
	"github.com/rotorhq/rotor/logging"
	"github.com/rotorhq/rotor/tenant"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// cli is what every subcommand shares: its streams, environment, clock and global flags.
type cli struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	clock     clockwork.Clock

	configPath string
	logLevel   string
	logFormat  string
	log        *slog.Logger

	// longRunning is set by serve and dev: Graph reads keep their full retry budget.
	longRunning bool
	// graphObserve, when set, sees every Graph call of every tenant (rotor bench counts 429s).
	graphObserve func(tenant string, call graph.Call)

	// Set by openApp for the step types, which are built before it runs.
	connMu      sync.Mutex
	conns       map[string]*tenant.Conn
	kvTransport lazyTransport
}

// lazyTransport is an HTTP transport set after it is handed out.
type lazyTransport struct {
	mu sync.Mutex
	c  *http.Client
}

func (l *lazyTransport) Set(c *http.Client) { l.mu.Lock(); l.c = c; l.mu.Unlock() }

// Do implements azcore's policy.Transporter.
func (l *lazyTransport) Do(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	c := l.c
	l.mu.Unlock()
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}

// exitError carries a specific exit status out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: lookupEnv, clock: clockwork.NewRealClock()}
	root := c.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "rotor:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "rotor",
		Short:         "Keep Microsoft Entra ID application credentials alive",
		Long:          "rotor discovers app registrations and service principals, watches the expiry of their\nsecrets and certificates, and rotates them before they expire without breaking consumers.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return c.setupLogging()
		},
	}
	defaultConfig, _ := c.lookupEnv("ROTOR_CONFIG")
	if defaultConfig == "" {
		defaultConfig = "rotor.yaml"
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&c.configPath, "config", "c", defaultConfig, "configuration file (env ROTOR_CONFIG)")
	pf.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&c.logFormat, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")

	root.AddCommand(
		c.configCmd(),
		c.migrateCmd(),
		c.syncCmd(),
		c.lsCmd(),
		c.showCmd(),
		c.tenantCmd(),
		c.bindCmd(),
		c.bindingCmd(),
		c.planCmd(),
		c.rotateCmd(),
		c.rotationCmd(),
		c.historyCmd(),
		c.keysCmd(),
		c.serveCmd(),
		c.simCmd(),
		c.devCmd(),
		c.benchCmd(),
		c.auditCmd(),
		c.tokenCmd(),
		c.notifyCmd(),
		c.versionCmd(),
	)
	return root
}

func (c *cli) setupLogging() error {
	level, err := logging.ParseLevel(c.logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	format, err := logging.ParseFormat(c.logFormat)
	if err != nil {
		return fmt.Errorf("--log-format: %w", err)
	}
	c.log = logging.New(c.stderr, level, format)
	return nil
}

// actor names who ran a command, for the audit trail: cli:<user>@<host>.
func (c *cli) actor() string {
	name, _ := c.lookupEnv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return "cli:" + name + "@" + host
}
