package main

import (
	"context"
	"fmt"

	"github.com/rotorhq/rotor/config"
	"github.com/rotorhq/rotor/store/sqlstore"
)

// openStore opens the configured store, applying pending migrations when migrate is true.
func (c *cli) openStore(ctx context.Context, cfg *config.Config, migrate bool) (*sqlstore.Store, error) {
	opts := sqlstore.Options{Clock: c.clock, SkipMigrate: !migrate}
	switch cfg.Store.Driver {
	case "sqlite":
		return sqlstore.OpenSQLite(ctx, cfg.Store.Path, opts)
	case "postgres":
		dsn, err := cfg.Store.DSN.Resolve(c.lookupEnv)
		if err != nil {
			return nil, fmt.Errorf("store.dsn: %w", err)
		}
		return sqlstore.OpenPostgres(ctx, dsn.Reveal(), opts)
	default:
		return nil, fmt.Errorf("store.driver %q is not supported by this build", cfg.Store.Driver)
	}
}
