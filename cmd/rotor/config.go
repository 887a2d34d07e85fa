package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rotorhq/rotor/config"
)

// exitInvalidConfig is the exit status of a command whose configuration does not validate.
const exitInvalidConfig = 2

func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with rotor's configuration file",
	}
	cmd.AddCommand(c.configValidateCmd())
	return cmd
}

func (c *cli) configValidateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a configuration file and report every problem with its field and line",
		Long: "Check a configuration file: YAML syntax, unknown or duplicate keys, types, required fields,\n" +
			"durations, references to secrets and the rules between fields. Every problem is reported\n" +
			"with its field path and line. Exits 0 when the file is valid and 2 when it is not.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				file = c.configPath
			}
			cfg, err := config.Load(file, config.Options{LookupEnv: c.lookupEnv, Steps: c.stepRegistry().Check})
			if err != nil {
				var ce *config.Error
				if errors.As(err, &ce) {
					return &exitError{code: exitInvalidConfig, err: err}
				}
				return err
			}
			fmt.Fprintf(c.stdout, "%s: valid (store %s, %d tenants)\n", file, cfg.Store.Driver, len(cfg.Tenants))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "configuration file to check (default: --config)")
	return cmd
}

// loadConfig reads the configuration named by --config. The file's log settings apply unless the
// --log-level or --log-format flags were given.
func (c *cli) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return c.loadConfigWith(cmd, c.stepRegistry().Check)
}

func (c *cli) loadConfigWith(cmd *cobra.Command, steps config.StepChecker) (*config.Config, error) {
	cfg, err := config.Load(c.configPath, config.Options{LookupEnv: c.lookupEnv, Steps: steps})
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			return nil, &exitError{code: exitInvalidConfig, err: err}
		}
		return nil, err
	}
	flags := cmd.Root().PersistentFlags()
	if !flags.Changed("log-level") {
		c.logLevel = cfg.Log.Level
	}
	if !flags.Changed("log-format") {
		c.logFormat = cfg.Log.Format
	}
	if err := c.setupLogging(); err != nil {
		return nil, err
	}
	return cfg, nil
}
