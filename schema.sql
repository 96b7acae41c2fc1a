-- AgentSend schema, version 1.
--
-- Conventions:
-- * ids are lowercase hyphenated UUID v4 strings (TEXT), as they appear on the wire;
-- * timestamps are INTEGER unix milliseconds (UTC); the HTTP layer formats them;
-- * lists of addresses or headers are JSON arrays in TEXT columns;
-- * booleans are INTEGER 0/1.
-- Later changes are numbered migrations in migrations/ and bump PRAGMA user_version.

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    email             TEXT NOT NULL,
    plan              TEXT NOT NULL,
    daily_send_limit  INTEGER NOT NULL CHECK (daily_send_limit >= 0),
    is_verified       INTEGER NOT NULL DEFAULT 0,
    -- auto-provisioned sandbox accounts: the device that created it and the claim token
    device_id         TEXT UNIQUE,
    claim_token_hash  TEXT UNIQUE,
    -- sends across all inboxes: handed off today, and ever
    sends_today       INTEGER NOT NULL DEFAULT 0,
    sends_day         INTEGER NOT NULL DEFAULT 0,   -- UTC day number sends_today refers to
    total_sent        INTEGER NOT NULL DEFAULT 0,
    -- sends accepted today across all inboxes (what the daily limit counts)
    accepted_today    INTEGER NOT NULL DEFAULT 0,
    accepted_day      INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX accounts_created ON accounts (created_at);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key_hash      TEXT NOT NULL UNIQUE,             -- SHA-256 hex of the whole key
    prefix        TEXT NOT NULL,                    -- first 12 characters, for display
    name          TEXT,
    last_used_at  INTEGER,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX api_keys_account ON api_keys (account_id, created_at);

CREATE TABLE domains (
    id                     TEXT PRIMARY KEY NOT NULL,
    account_id             TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    domain                 TEXT NOT NULL,           -- lower-case A-label
    verification_token     TEXT NOT NULL,
    dkim_selector          TEXT NOT NULL,
    dkim_algorithm         TEXT NOT NULL,           -- 'rsa' | 'ed25519'
    dkim_private_key       BLOB NOT NULL,           -- rsa: PKCS#1 DER; ed25519: PKCS#8 DER
    dkim_public_key        TEXT NOT NULL,           -- base64, as published in DNS
    sending_status         TEXT NOT NULL DEFAULT 'pending'
        CHECK (sending_status IN ('pending', 'pending_dkim', 'verified', 'failed')),
    receiving_status       TEXT NOT NULL DEFAULT 'pending'
        CHECK (receiving_status IN ('pending', 'verified', 'failed')),
    sending_verified_at    INTEGER,
    receiving_verified_at  INTEGER,
    last_checked_at        INTEGER,
    last_check_error       TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (account_id, domain)
);
CREATE INDEX domains_domain ON domains (domain);
CREATE INDEX domains_account ON domains (account_id, created_at);

CREATE TABLE inboxes (
    id                TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- the full lower-case address; stays reserved after a soft delete
    address           TEXT NOT NULL UNIQUE,
    domain_id         TEXT REFERENCES domains (id),
    display_name      TEXT,
    status            TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'suspended', 'deleted')),
    daily_send_limit  INTEGER NOT NULL CHECK (daily_send_limit >= 0),
    sends_today       INTEGER NOT NULL DEFAULT 0,
    sends_day         INTEGER NOT NULL DEFAULT 0,   -- UTC day number sends_today refers to
    total_sent        INTEGER NOT NULL DEFAULT 0,
    accepted_today    INTEGER NOT NULL DEFAULT 0,   -- sends accepted today (the daily limit)
    accepted_day      INTEGER NOT NULL DEFAULT 0,
    bounce_count      INTEGER NOT NULL DEFAULT 0,
    complaint_count   INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX inboxes_account ON inboxes (account_id, status, created_at);
CREATE INDEX inboxes_domain ON inboxes (domain_id) WHERE domain_id IS NOT NULL;

CREATE TABLE threads (
    id               TEXT PRIMARY KEY NOT NULL,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id         TEXT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    subject          TEXT NOT NULL,                 -- normalised
    message_count    INTEGER NOT NULL DEFAULT 0,
    last_message_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX threads_inbox ON threads (inbox_id, last_message_at);

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY NOT NULL,
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id            TEXT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    thread_id           TEXT NOT NULL REFERENCES threads (id),
    direction           TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    status              TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered',
                            'failed', 'bounced', 'complained', 'received')),
    delivery            TEXT CHECK (delivery IN ('email', 'dry-run', 'local')),
    from_address        TEXT NOT NULL,
    to_addresses        TEXT NOT NULL DEFAULT '[]',
    cc_addresses        TEXT NOT NULL DEFAULT '[]',
    bcc_addresses       TEXT NOT NULL DEFAULT '[]',
    subject             TEXT NOT NULL DEFAULT '',
    body_text           TEXT,
    body_html           TEXT,
    message_id_header   TEXT,                       -- without angle brackets
    in_reply_to         TEXT,
    references_headers  TEXT NOT NULL DEFAULT '[]',
    error_message       TEXT,
    bounce_type         TEXT,
    created_at          INTEGER NOT NULL,
    sent_at             INTEGER,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX messages_inbox ON messages (inbox_id, created_at);
CREATE INDEX messages_inbox_status ON messages (inbox_id, status, created_at);
CREATE INDEX messages_thread ON messages (thread_id, created_at);
CREATE INDEX messages_message_id ON messages (inbox_id, message_id_header);
CREATE INDEX messages_outbound_message_id ON messages (message_id_header)
    WHERE direction = 'outbound';

-- Each recipient of an outbound message and how far its delivery got.
CREATE TABLE message_recipients (
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    address     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('to', 'cc', 'bcc')),
    status      TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'delivered', 'bounced', 'failed')),
    route       TEXT CHECK (route IN ('local', 'dry-run', 'email')),
    last_error  TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, address)
);

-- The exact RFC 5322 bytes of each message, kept apart so list queries never touch them.
CREATE TABLE message_raw (
    message_id  TEXT PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    raw         BLOB NOT NULL
);

CREATE TABLE attachments (
    id            TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    filename      TEXT NOT NULL,                    -- sanitised
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    content_id    TEXT,                             -- inline parts (cid:)
    -- 'upload': POST /attachments, lives until unreferenced and expired;
    -- 'inbound': a part of received mail, lives and dies with its message
    origin        TEXT NOT NULL DEFAULT 'upload' CHECK (origin IN ('upload', 'inbound')),
    created_at    INTEGER NOT NULL,
    -- last column so that reading the metadata never touches the blob's overflow pages
    -- (dropped by migration 2 which keeps the bytes in attachment_pieces)
    content       BLOB NOT NULL
);
CREATE INDEX attachments_account ON attachments (account_id, created_at);

-- Which attachments a message carries (uploads used in a send, parts of inbound mail).
CREATE TABLE message_attachments (
    message_id     TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attachment_id  TEXT NOT NULL REFERENCES attachments (id),
    position       INTEGER NOT NULL,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX message_attachments_attachment ON message_attachments (attachment_id);

CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY NOT NULL,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    description  TEXT,
    events       TEXT NOT NULL DEFAULT '[]',        -- JSON array; [] = every event
    secret       TEXT NOT NULL,
    is_active    INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id, created_at);

-- One row per emitted event; deliveries fan out from it. The body is stored exactly as it is
-- sent, so every retry carries the same bytes (and the same X-AgentSend-Signature).
CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event       TEXT NOT NULL,
    body        TEXT NOT NULL,                      -- {"event", "data", "timestamp"}
    created_at  INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY NOT NULL,    -- also the Standard Webhooks webhook-id
    webhook_id        TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id          TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER,
    lease_until       INTEGER,
    last_status_code  INTEGER,
    last_error        TEXT,
    last_response     TEXT,                         -- first 1 KB of the last response body
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_webhook_due ON webhook_deliveries (webhook_id, status, next_attempt_at);

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      INTEGER NOT NULL,
    status_code  INTEGER,
    duration_ms  INTEGER NOT NULL,
    response     TEXT,
    error        TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

-- Durable background jobs (outgoing mail, ...): claimed with a lease, retried with backoff.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,                     -- JSON
    status       TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    lease_until  INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (kind, status, run_at);
CREATE INDEX jobs_lease ON jobs (kind, status, lease_until);

-- Stored responses for Idempotency-Key replay; scope is the account id.
CREATE TABLE idempotency_keys (
    scope             TEXT NOT NULL,
    key               TEXT NOT NULL,
    request_hash      TEXT NOT NULL,                -- SHA-256 hex of method, path and body
    state             TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
    response_status   INTEGER,
    response_headers  TEXT,                         -- JSON array of [name, value]
    response_body     BLOB,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Fixed-window request counters: bucket is 'account:<id>' or 'ip:<addr>'.
CREATE TABLE rate_limit_windows (
    bucket        TEXT PRIMARY KEY NOT NULL,
    window_start  INTEGER NOT NULL,                 -- unix seconds
    count         INTEGER NOT NULL
) WITHOUT ROWID;

-- Server-wide values generated once (e.g. the attachment link signing secret).
CREATE TABLE settings (
    name   TEXT PRIMARY KEY NOT NULL,
    value  BLOB NOT NULL
) WITHOUT ROWID;
