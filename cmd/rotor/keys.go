package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/seal"
)

func (c *cli) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage the key that seals secret values at rest"}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate",
		Short: "Print a new random key encryption key (base64) to standard output",
		Long: "Print a new 256-bit key encryption key. Store it where encryption.key points (a file\n" +
			"readable only by rotor, or a secret manager exposing it as an environment variable).\n" +
			"Losing it makes the secrets rotor sealed unreadable; they remain valid in Entra.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := seal.GenerateKEK()
			if err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, v.Reveal())
			return nil
		},
	}, &cobra.Command{
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
			if a.keyring == nil {
				return errors.New("encryption.key is not configured")
			}
			n, err := a.store.SealedRewrap(cmd.Context(), a.keyring.Current(), a.keyring.Rewrap)
			if err != nil {
				return fmt.Errorf("rewrapped %d values, then: %w", n, err)
			}
			fmt.Fprintf(c.stdout, "rewrapped %d values under %s; every sealed value now uses it\n", n, a.keyring.Current())
			return nil
		},
	})
	return cmd
}
