-- Version 14: drafts, possibly scheduled (a job of kind 'draft-send' due at send_at) and
-- possibly waiting for a person's approval.
CREATE TABLE drafts (
    id                 TEXT PRIMARY KEY NOT NULL,
    account_id         TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id           TEXT NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    created_by         TEXT NOT NULL,                -- the API key a scheduled send acts as
    to_addresses       TEXT NOT NULL DEFAULT '[]',
    cc_addresses       TEXT NOT NULL DEFAULT '[]',
    bcc_addresses      TEXT NOT NULL DEFAULT '[]',
    subject            TEXT,
    body_text          TEXT,
    body_html          TEXT,
    thread_id          TEXT,
    attachment_ids     TEXT NOT NULL DEFAULT '[]',
    send_at            INTEGER,
    requires_approval  INTEGER NOT NULL DEFAULT 0,
    approved_at        INTEGER,
    approved_by        TEXT,                         -- an API key id, or 'operator'
    status             TEXT NOT NULL DEFAULT 'draft'
        CHECK (status IN ('draft', 'scheduled', 'sent', 'failed')),
    message_id         TEXT,
    error_message      TEXT,
    job_id             TEXT,                         -- its pending 'draft-send' job
    revision           INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX drafts_inbox ON drafts (inbox_id, created_at);
CREATE INDEX drafts_account ON drafts (account_id, created_at);
