-- rotor's schema. Portable between SQLite and PostgreSQL: TEXT, BIGINT and BOOLEAN only.
-- Times are BIGINT microseconds since the Unix epoch, UTC; 0 means "not set".
-- Hashes are lowercase hex, sealed values base64: no binary column types.

CREATE TABLE tenants (
    name         TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE sync_cursors (
    tenant       TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    collection   TEXT NOT NULL,
    delta_link   TEXT NOT NULL,
    full_sync_at BIGINT NOT NULL,
    synced_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant, collection)
);

CREATE TABLE applications (
    tenant           TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    sign_in_audience TEXT NOT NULL DEFAULT '',
    tags             TEXT NOT NULL DEFAULT '[]',
    created_at       BIGINT NOT NULL DEFAULT 0,
    deleted_at       BIGINT NOT NULL DEFAULT 0,
    synced_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX applications_app_id ON applications (app_id);
CREATE INDEX applications_name ON applications (tenant, display_name, id);

CREATE TABLE service_principals (
    tenant                    TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id                        TEXT NOT NULL,
    app_id                    TEXT NOT NULL,
    display_name              TEXT NOT NULL,
    app_owner_organization_id TEXT NOT NULL DEFAULT '',
    service_principal_type    TEXT NOT NULL DEFAULT '',
    tags                      TEXT NOT NULL DEFAULT '[]',
    deleted_at                BIGINT NOT NULL DEFAULT 0,
    synced_at                 BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX service_principals_app_id ON service_principals (app_id);

CREATE TABLE credentials (
    tenant        TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    key_id        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    owner_kind    TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    owner_name    TEXT NOT NULL DEFAULT '', -- the owner's display name, kept with the row for listings
    app_id        TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    hint          TEXT NOT NULL DEFAULT '',
    start_at      BIGINT NOT NULL,
    end_at        BIGINT NOT NULL,
    thumbprint    TEXT NOT NULL DEFAULT '',
    usage         TEXT NOT NULL DEFAULT '',
    key_type      TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    issuer        TEXT NOT NULL DEFAULT '',
    first_seen_at BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    removed_at    BIGINT NOT NULL DEFAULT 0,
    removed_by    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, key_id)
);
CREATE INDEX credentials_owner ON credentials (tenant, owner_id);
CREATE INDEX credentials_app_id ON credentials (app_id);
CREATE INDEX credentials_end ON credentials (end_at, tenant, key_id);

CREATE TABLE bindings (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL REFERENCES tenants (name),
    owner_kind    TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    app_id        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    policy        TEXT NOT NULL,
    key_id        TEXT NOT NULL DEFAULT '',
    steps         TEXT NOT NULL DEFAULT 'null',
    source        TEXT NOT NULL,
    paused        BOOLEAN NOT NULL DEFAULT FALSE,
    rotate_offset BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX bindings_credential ON bindings (tenant, owner_id, kind, key_id) WHERE key_id <> '';
CREATE INDEX bindings_owner ON bindings (tenant, owner_id);

CREATE TABLE rotations (
    id               TEXT PRIMARY KEY,
    binding_id       TEXT NOT NULL REFERENCES bindings (id),
    tenant           TEXT NOT NULL,
    owner_kind       TEXT NOT NULL,
    owner_id         TEXT NOT NULL,
    app_id           TEXT NOT NULL,
    trigger_kind     TEXT NOT NULL,
    state            TEXT NOT NULL,
    resume_state     TEXT NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    old_key_id       TEXT NOT NULL DEFAULT '',
    new_key_id       TEXT NOT NULL DEFAULT '',
    new_end_at       BIGINT NOT NULL DEFAULT 0,
    needs_attention  BOOLEAN NOT NULL DEFAULT FALSE,
    attempt          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_expires_at BIGINT NOT NULL DEFAULT 0,
    fence            BIGINT NOT NULL DEFAULT 0,
    grace_until      BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    finished_at      BIGINT NOT NULL DEFAULT 0,
    requested_by     TEXT NOT NULL DEFAULT ''
);
-- At most one rotation per binding in flight, enforced by the database across all replicas.
CREATE UNIQUE INDEX rotations_one_in_flight ON rotations (binding_id) WHERE state NOT IN ('completed', 'cancelled');
-- next_attempt_at = 0: parked (attempts exhausted), waiting for an operator's retry or cancel.
CREATE INDEX rotations_runnable ON rotations (next_attempt_at) WHERE state NOT IN ('completed', 'cancelled');
CREATE INDEX rotations_binding ON rotations (binding_id, created_at);
CREATE INDEX rotations_tenant ON rotations (tenant, created_at);

CREATE TABLE rotation_steps (
    rotation_id TEXT NOT NULL REFERENCES rotations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    ordinal     BIGINT NOT NULL,
    type        TEXT NOT NULL,
    on_failure  TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempt     BIGINT NOT NULL DEFAULT 0,
    message     TEXT NOT NULL DEFAULT '',
    undo        TEXT NOT NULL DEFAULT '', -- sealed (base64) state to roll the step back
    started_at  BIGINT NOT NULL DEFAULT 0,
    finished_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (rotation_id, name)
);

CREATE TABLE sealed_secrets (
    rotation_id TEXT PRIMARY KEY REFERENCES rotations (id),
    tenant      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    key_ref     TEXT NOT NULL,
    ciphertext  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE audit_events (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    tenant      TEXT NOT NULL DEFAULT '',
    app_id      TEXT NOT NULL DEFAULT '',
    key_id      TEXT NOT NULL DEFAULT '',
    rotation_id TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_events_tenant ON audit_events (tenant, seq);
CREATE INDEX audit_events_app ON audit_events (app_id, seq);
CREATE INDEX audit_events_rotation ON audit_events (rotation_id, seq);

-- The head of the audit chain: one row, updated by every append, which serialises appends.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE TABLE agents (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    hostname     TEXT NOT NULL DEFAULT '',
    version      TEXT NOT NULL DEFAULT '',
    labels       TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL DEFAULT 0,
    disabled     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    fence      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
