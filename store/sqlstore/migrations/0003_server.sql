-- The HTTP API and web UI: API tokens, signed-out sessions, and indexes for their paged queries.
-- Portable SQL (TEXT, BIGINT, BOOLEAN); times in microseconds, 0 meaning "not set".

-- API tokens for scripts. The value is never stored: token_hash is its SHA-256, hex.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT NOT NULL DEFAULT 0,
    revoked_by   TEXT NOT NULL DEFAULT '',
    last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
-- One token per name until it is revoked (an expired one is revoked when its name is reused).
CREATE UNIQUE INDEX api_tokens_name ON api_tokens (name) WHERE revoked_at = 0;

-- Web sessions signed out before their cookie expired; kept until then.
CREATE TABLE ended_sessions (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ended_sessions_expiry ON ended_sessions (expires_at);

-- The dashboard's counts read this index only, not the credentials' rows.
CREATE INDEX credentials_stats ON credentials (tenant, removed_at, end_at, removed_by);
-- The application list: its order, and what its filters read without visiting the rows.
CREATE INDEX applications_list ON applications (tenant, display_name, id, deleted_at, app_id);
-- An application's credentials (its own and its service principal's) by client id.
CREATE INDEX credentials_app ON credentials (app_id, tenant, end_at);
-- Which in-flight rotation replaces a credential (its state depends on it).
CREATE INDEX rotations_old_key ON rotations (tenant, old_key_id) WHERE state NOT IN ('completed', 'cancelled');
CREATE INDEX rotations_created ON rotations (created_at, id);
CREATE INDEX rotations_app ON rotations (app_id, created_at);
CREATE INDEX bindings_app ON bindings (app_id);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
