package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/seal"
	"github.com/rotorhq/rotor/seal/kvkey"
	"github.com/rotorhq/rotor/secret"
	"github.com/rotorhq/rotor/tenant"
)

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the key that seals secret values at rest"}
	cmd.AddCommand(c.keysGenerateCmd(), c.keysWrapCmd(), &cobra.Command{
		Use:   "rotate",
		Short: "Rewrap every sealed value under the current key (encryption.key)",
		Long: "After putting a new key in encryption.key and the previous one in encryption.old_keys,\n" +
			"rewrap every sealed value's data key under the new key. Values are not decrypted. When it\n" +
			"reports zero values left under old keys, remove them from encryption.old_keys.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			kr, err := a.keyring(cmd.Context())
			if err != nil {
				return err
			}
			if kr == nil {
				return errors.New("encryption.key is not configured")
			}
			n, err := a.store.SealedRewrap(cmd.Context(), kr.Current(), kr.Rewrap)
			if err != nil {
				return fmt.Errorf("rewrapped %d values, then: %w", n, err)
			}
			fmt.Fprintf(c.stdout, "rewrapped %d values under %s; every sealed value now uses it\n", n, kr.Current())
			return nil
		},
	})
	return cmd
}

// vaultKeyFlags choose a Key Vault key and the tenant whose identity calls it.
type vaultKeyFlags struct {
	keyVaultKey, tenant string
	disableCRV          bool
}

func (f *vaultKeyFlags) register(cmd *cobra.Command, keyUsage string) {
	fl := cmd.Flags()
	fl.StringVar(&f.keyVaultKey, "key-vault-key", "", keyUsage)
	fl.StringVar(&f.tenant, "tenant", "", "the tenant whose identity calls Key Vault (default: encryption.tenant, or the only tenant)")
	fl.BoolVar(&f.disableCRV, "disable-challenge-resource-verification", false,
		"accept a vault whose authentication challenge names another domain (default: encryption.disable_challenge_resource_verification)")
}

// key returns the chosen Key Vault key, reached as the chosen tenant of the configuration.
func (f *vaultKeyFlags) key(c *cli, cmd *cobra.Command, cfg *config.Config) (*kvkey.Key, error) {
	name := f.tenant
	switch {
	case name != "":
	case cfg.Encryption.Tenant != "":
		name = cfg.Encryption.Tenant
	case len(cfg.Tenants) == 1:
		name = cfg.Tenants[0].Name
	case len(cfg.Tenants) == 0:
		return nil, errors.New("no tenants in the configuration: rotor calls Key Vault as one of them")
	default:
		return nil, errors.New("several tenants in the configuration: name the one whose identity calls Key Vault with --tenant")
	}
	t, ok := cfg.Tenant(name)
	if !ok {
		return nil, fmt.Errorf("--tenant: no tenant %q in the configuration", name)
	}
	conn, err := tenant.Connect(*t, tenant.Options{LookupEnv: c.lookupEnv, Clock: c.clock, Interactive: true})
	if err != nil {
		return nil, err
	}
	disable := f.disableCRV
	if !cmd.Flags().Changed("disable-challenge-resource-verification") {
		disable = cfg.Encryption.DisableChallengeResourceVerification
	}
	k, err := vaultKey(f.keyVaultKey, conn, disable)
	if err != nil {
		return nil, fmt.Errorf("--key-vault-key: %w", err)
	}
	return k, nil
}

func (c *cli) keysGenerateCmd() *cobra.Command {
	var f vaultKeyFlags
	cmd := &cobra.Command{
		Use:   "generate [--key-vault-key URL [--tenant NAME]]",
		Short: "Print a new random key encryption key, plain (base64) or wrapped by a Key Vault key",
		Long: "Print a new 256-bit key encryption key. Store it where encryption.key points (a file\n" +
			"readable only by rotor, or a secret manager exposing it as an environment variable).\n" +
			"Losing it makes the secrets rotor sealed unreadable; they remain valid in Entra.\n\n" +
			"With --key-vault-key, the new key is wrapped by that Azure Key Vault key (wrapKey,\n" +
			"RSA-OAEP-256) and only the wrapped value is printed: the plain key never leaves memory.\n" +
			"Set encryption.key_vault_key to the same URL and encryption.tenant to the tenant whose\n" +
			"identity calls Key Vault; rotor unwraps the key once when it needs it. The identity needs\n" +
			"the Key Vault Crypto User role (or Key Vault Crypto Service Encryption User) on the key.",
		Example: "  rotor keys generate > /etc/rotor/kek\n" +
			"  rotor keys generate --key-vault-key https://contoso-kek.vault.azure.net/keys/rotor-kek/<version> > /etc/rotor/kek.wrapped",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := seal.GenerateKEK()
			if err != nil {
				return err
			}
			if f.keyVaultKey == "" {
				if cmd.Flags().Changed("tenant") {
					return errors.New("--tenant goes with --key-vault-key")
				}
				fmt.Fprintln(c.stdout, v.Reveal())
				return nil
			}
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			return c.printWrapped(cmd, cfg, &f, v)
		},
	}
	f.register(cmd, "wrap the new key with this Azure Key Vault key: https://<vault>/keys/<name>/<version>")
	return cmd
}

func (c *cli) keysWrapCmd() *cobra.Command {
	var f vaultKeyFlags
	cmd := &cobra.Command{
		Use:   "wrap --key-vault-key URL [--tenant NAME] < KEY",
		Short: "Wrap a key encryption key read on standard input with a Key Vault key",
		Long: "Read a key encryption key on standard input and print it wrapped by an Azure Key Vault\n" +
			"key (wrapKey, RSA-OAEP-256), for encryption.key with encryption.key_vault_key.\n\n" +
			"The input is either a plain key, as rotor keys generate prints it: moving an existing\n" +
			"key into Key Vault's protection keeps its id, so nothing needs rewrapping; or a key\n" +
			"already wrapped by the configured encryption.key_vault_key, which is unwrapped with it\n" +
			"and wrapped again by --key-vault-key: moving to a new version of the Key Vault key.\n" +
			"The plain key is never printed.",
		Example: "  rotor keys wrap --key-vault-key https://contoso-kek.vault.azure.net/keys/rotor-kek/<version> < /etc/rotor/kek > /etc/rotor/kek.wrapped\n" +
			"  rotor keys wrap --key-vault-key https://contoso-kek.vault.azure.net/keys/rotor-kek/<new version> < /etc/rotor/kek.wrapped > /etc/rotor/kek.v2.wrapped",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.keyVaultKey == "" {
				return errors.New("--key-vault-key is required: the Azure Key Vault key that wraps the key (https://<vault>/keys/<name>/<version>)")
			}
			in, err := io.ReadAll(io.LimitReader(c.stdin, 64<<10))
			if err != nil {
				return fmt.Errorf("read the key on standard input: %w", err)
			}
			v := secret.FromBytes(in)
			clear(in)
			if strings.TrimSpace(v.Reveal()) == "" {
				return errors.New("no key on standard input: rotor keys wrap --key-vault-key URL < /etc/rotor/kek")
			}
			cfg, err := c.loadConfig(cmd)
			if err != nil {
				return err
			}
			if !isPlainKEK(v) {
				if v, err = c.unwrapConfigured(cmd, cfg, v); err != nil {
					return err
				}
			}
			return c.printWrapped(cmd, cfg, &f, v)
		},
	}
	f.register(cmd, "the Azure Key Vault key that wraps the key: https://<vault>/keys/<name>/<version>")
	return cmd
}

// unwrapConfigured unwraps v, a key wrapped by the configured encryption.key_vault_key.
func (c *cli) unwrapConfigured(cmd *cobra.Command, cfg *config.Config, v secret.Value) (secret.Value, error) {
	e := cfg.Encryption
	if e.KeyVaultKey == "" {
		return secret.Value{}, errors.New("standard input is not a plain key encryption key (32 bytes, base64, as rotor keys generate prints it); " +
			"a wrapped key is unwrapped with encryption.key_vault_key, which is not configured")
	}
	from := vaultKeyFlags{keyVaultKey: e.KeyVaultKey, tenant: e.Tenant, disableCRV: e.DisableChallengeResourceVerification}
	k, err := from.key(c, cmd, cfg)
	if err != nil {
		return secret.Value{}, fmt.Errorf("encryption.key_vault_key: %w", err)
	}
	plain, err := k.Unwrap(cmd.Context(), v)
	if err != nil {
		return secret.Value{}, fmt.Errorf("standard input, unwrapped with encryption.key_vault_key: %w", err)
	}
	return plain, nil
}

// printWrapped prints plain wrapped by the chosen Key Vault key, and says on standard error
// which key it is and where it goes.
func (c *cli) printWrapped(cmd *cobra.Command, cfg *config.Config, f *vaultKeyFlags, plain secret.Value) error {
	k, err := f.key(c, cmd, cfg)
	if err != nil {
		return err
	}
	kek, err := seal.ParseKEK(plain)
	if err != nil {
		return err
	}
	wrapped, err := k.Wrap(cmd.Context(), plain)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, wrapped)
	fmt.Fprintf(c.stderr, "rotor: key %s wrapped by %s: store it where encryption.key points, with encryption.key_vault_key: %s\n",
		kek.ID(), k.ID(), k.ID())
	return nil
}
