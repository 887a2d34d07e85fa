-- Notifications: the outbox, the dispatcher's cursors over the audit trail, and the expiry
-- thresholds each credential crossed. Portable SQL (TEXT, BIGINT, BOOLEAN); times in microseconds.

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    dedupe_key       TEXT NOT NULL,
    route            TEXT NOT NULL,
    notifier         TEXT NOT NULL,
    event            TEXT NOT NULL,
    tenant           TEXT NOT NULL DEFAULT '',
    app_id           TEXT NOT NULL DEFAULT '',
    key_id           TEXT NOT NULL DEFAULT '',
    rotation_id      TEXT NOT NULL DEFAULT '',
    audit_seq        BIGINT NOT NULL DEFAULT 0,
    payload          TEXT NOT NULL,             -- JSON, never a secret
    status           TEXT NOT NULL,
    attempt          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    recipients       TEXT NOT NULL DEFAULT '[]', -- JSON list of addresses
    lease_owner      TEXT NOT NULL DEFAULT '',
    lease_expires_at BIGINT NOT NULL DEFAULT 0,
    fence            BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    sent_at          BIGINT NOT NULL DEFAULT 0
);
-- The exactly-once guard: one notification per key, across every replica.
CREATE UNIQUE INDEX notifications_dedupe_key ON notifications (dedupe_key);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX notifications_created ON notifications (created_at, id);
CREATE INDEX notifications_status ON notifications (status, created_at);
CREATE INDEX notifications_route ON notifications (route, event, created_at);

-- Where the dispatcher (and each digest) stopped reading the audit trail.
CREATE TABLE notification_cursors (
    name       TEXT PRIMARY KEY,
    seq        BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Each credential's crossing of each expiry threshold, announced once. threshold is the
-- duration before the end in microseconds; 0 means the credential expired.
CREATE TABLE notification_thresholds (
    tenant     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    threshold  BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, key_id, threshold)
);
