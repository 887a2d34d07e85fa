package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/sim"
	"github.com/rotorhq/rotor/sim/fault"
)

func (c *cli) simCmd() *cobra.Command {
	var o simFlags
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Serve the Azure simulator (Entra login, Microsoft Graph, Key Vault) over HTTPS",
		Long: "Serve rotor's Azure simulator: a test instrument that stands in for the Entra token\n" +
			"endpoint, Microsoft Graph and Azure Key Vault, faithful to Microsoft's documented behaviour\n" +
			"(see docs/simulator.md). Its certificates come from a throwaway CA written to --ca-file.\n" +
			"With --write-config DIR it also writes a rotor configuration that uses it, so that\n" +
			"rotor -c DIR/rotor.yaml sync works at once.",
		Example: "  rotor sim --apps 1000 --write-config /tmp/rotor-sim\n" +
			"  rotor sim --fault 'POST /v1.0/applications/*/addPassword lost=0.3' --fault '* latency=30ms'",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := o.start(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer s.Close()
			w := c.stdout
			fmt.Fprintf(w, "rotor sim on %s\n  authority host  %s/\n  graph           %s\n", s.URL(), s.URL(), s.GraphURL())
			for _, v := range s.Vaults() {
				fmt.Fprintf(w, "  key vault       %s  %s\n", v.KV.Name(), v.URL)
			}
			for _, t := range s.Seeded.Tenants {
				fmt.Fprintf(w, "  tenant          %s  %s (%s), manager app %s\n", t.Tenant.ID, t.Tenant.DisplayName, t.Tenant.DefaultDomain, t.Manager.AppID)
			}
			fmt.Fprintf(w, "  inspection      %s/_sim/\n", s.URL())
			if o.caFile != "" {
				if err := s.CA.WriteCertPEM(o.caFile); err != nil {
					return err
				}
				fmt.Fprintf(w, "  CA certificate  %s\n", o.caFile)
			}
			if o.writeConfig != "" {
				path, err := writeSimConfig(o.writeConfig, s, simConfigOptions{})
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "  configuration   %s (rotor -c %s sync)\n", path, path)
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	o.register(cmd)
	return cmd
}

// simFlags are the simulator's settings, shared by rotor sim and rotor dev.
type simFlags struct {
	addr, caFile, caDir, writeConfig string
	tenants, apps                    int
	seed                             uint64
	replication                      time.Duration
	throttle                         bool
	faults                           []string
}

func (o *simFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.addr, "addr", "127.0.0.1:8443", "listen address of the login and Graph endpoints (vaults get ports of their own)")
	fl.IntVar(&o.tenants, "tenants", 1, "seed this many tenants")
	fl.IntVar(&o.apps, "apps", 50, "seed this many applications per tenant")
	fl.Uint64Var(&o.seed, "seed", 1, "seed for names, ids and faults")
	fl.DurationVar(&o.replication, "replication-delay", 30*time.Second, "new credentials work only after this long, failing intermittently before (0: at once)")
	fl.BoolVar(&o.throttle, "throttle", false, "throttle Graph as Microsoft documents for identity and access")
	fl.StringArrayVar(&o.faults, "fault", nil, "inject faults (repeatable), e.g. 'POST /v1.0/applications/*/addPassword lost=0.3'")
	fl.StringVar(&o.caFile, "ca-file", "", "write the CA certificate clients must trust to this file")
	fl.StringVar(&o.caDir, "ca-dir", "", "keep the CA's certificate and key in this directory between runs")
	fl.StringVar(&o.writeConfig, "write-config", "", "write a rotor configuration using the simulator to this directory")
}

func (o *simFlags) start(ctx context.Context, c *cli) (*sim.Server, error) {
	var rules []fault.Rule
	for _, f := range o.faults {
		rs, err := fault.ParseRules(f)
		if err != nil {
			return nil, fmt.Errorf("--fault: %w", err)
		}
		rules = append(rules, rs...)
	}
	if o.tenants < 1 || o.tenants > 20 {
		return nil, fmt.Errorf("--tenants %d: use 1 to 20", o.tenants)
	}
	if o.apps < 0 || o.apps > 200000 {
		return nil, fmt.Errorf("--apps %d: use 0 to 200000", o.apps)
	}
	return sim.Start(ctx, sim.Options{Addr: o.addr, Clock: c.clock, Seed: o.seed, Tenants: o.tenants, AppsPerTenant: o.apps,
		ReplicationDelay: o.replication, Throttle: o.throttle, Faults: rules, CADir: o.caDir})
}

// simConfigOptions shape the configuration written for a simulator.
type simConfigOptions struct {
	extra string // appended YAML (policies, ...)
}

// writeSimConfig writes, into dir, the CA certificate, each tenant's manager secret (mode 0600),
// a key encryption key and a rotor.yaml that uses them, and returns the configuration's path.
func writeSimConfig(dir string, s *sim.Server, o simConfigOptions) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	ca := filepath.Join(dir, "ca.pem")
	if err := s.CA.WriteCertPEM(ca); err != nil {
		return "", err
	}
	kek := filepath.Join(dir, "kek")
	if _, err := os.Stat(kek); os.IsNotExist(err) {
		v, err := seal.GenerateKEK()
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(kek, []byte(v.Reveal()+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by rotor for its Azure simulator at %s. Not for production.\n", s.URL())
	fmt.Fprintf(&b, "store:\n  driver: sqlite\n  path: %s\n", filepath.Join(dir, "rotor.db"))
	fmt.Fprintf(&b, "encryption:\n  key: file:%s\n", kek)
	b.WriteString("tenants:\n")
	for _, t := range s.Seeded.Tenants {
		name, _, _ := strings.Cut(t.Tenant.DefaultDomain, ".")
		name = strings.ToLower(name)
		sf := filepath.Join(dir, name+".secret")
		if err := os.WriteFile(sf, []byte(t.Manager.Secret.Reveal()+"\n"), 0o600); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  - name: %s\n    tenant_id: %s\n    authority_host: %s/\n    graph_url: %s\n    ca_file: %s\n    disable_instance_discovery: true\n",
			name, t.Tenant.ID, s.URL(), s.GraphURL(), ca)
		fmt.Fprintf(&b, "    auth:\n      method: client_secret\n      client_id: %s\n      client_secret: file:%s\n", t.Manager.AppID, sf)
	}
	if len(s.Seeded.Tenants) > 0 {
		if err := writeSimSignIn(&b, dir, s); err != nil {
			return "", err
		}
	}
	out, err := mergeYAML(b.String(), o.extra)
	if err != nil {
		return "", fmt.Errorf("simulator configuration: extra settings: %w", err)
	}
	path := filepath.Join(dir, "rotor.yaml")
	return path, os.WriteFile(path, []byte(out), 0o600)
}

// mergeYAML returns base with extra's settings merged in: mappings are merged key by key (so
// extra may add server.listen to the server section base writes), anything else in extra
// replaces base's value.
func mergeYAML(base, extra string) (string, error) {
	if strings.TrimSpace(extra) == "" {
		return base, nil
	}
	var b, e yaml.Node
	if err := yaml.Unmarshal([]byte(base), &b); err != nil {
		return "", err
	}
	if err := yaml.Unmarshal([]byte(extra), &e); err != nil {
		return "", err
	}
	if len(e.Content) == 0 {
		return base, nil
	}
	mergeNode(b.Content[0], e.Content[0])
	var out strings.Builder
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&b); err != nil {
		return "", err
	}
	return out.String(), enc.Close()
}

func mergeNode(dst, src *yaml.Node) {
	if dst.Kind != yaml.MappingNode || src.Kind != yaml.MappingNode {
		*dst = *src
		return
	}
next:
	for i := 0; i+1 < len(src.Content); i += 2 {
		for j := 0; j+1 < len(dst.Content); j += 2 {
			if dst.Content[j].Value == src.Content[i].Value {
				mergeNode(dst.Content[j+1], src.Content[i+1])
				continue next
			}
		}
		dst.Content = append(dst.Content, src.Content[i], src.Content[i+1])
	}
}

// writeSimSignIn configures sign-in to the web UI through the first seeded tenant's manager
// application, with the simulator's demo people (docs/simulator.md): a session key (written
// once), the OIDC client, and roles for the seeded groups and app roles.
func writeSimSignIn(b *strings.Builder, dir string, s *sim.Server) error {
	key := filepath.Join(dir, "session-key")
	if _, err := os.Stat(key); os.IsNotExist(err) {
		v, err := seal.GenerateKEK() // 32 random bytes, base64: a session key too
		if err != nil {
			return err
		}
		if err := os.WriteFile(key, []byte(v.Reveal()+"\n"), 0o600); err != nil {
			return err
		}
	}
	t := s.Seeded.Tenants[0]
	name, _, _ := strings.Cut(t.Tenant.DefaultDomain, ".")
	si := t.SignIn
	fmt.Fprintf(b, "server:\n  session:\n    key: file:%s\n", key)
	fmt.Fprintf(b, "  oidc:\n    tenant_id: %s\n    client_id: %s\n    client_secret: file:%s\n    authority_host: %s/\n    ca_file: %s\n",
		t.Tenant.ID, t.Manager.AppID, filepath.Join(dir, strings.ToLower(name)+".secret"), s.URL(), filepath.Join(dir, "ca.pem"))
	fmt.Fprintf(b, "  roles:\n    groups:\n      %s: admin\n      %s: operator\n      %s: viewer\n", si.Groups["admin"], si.Groups["operator"], si.Groups["viewer"])
	b.WriteString("    app_roles:\n")
	for _, r := range []string{"admin", "operator", "viewer"} {
		fmt.Fprintf(b, "      %s: %s\n", si.AppRoles[r], r)
	}
	return nil
}
