-- Version 12 (registered 11th until the labels migration 0011 is merged before it): allow and
-- block lists of senders, per inbox and per account. `inbox_id` NULL is the account-wide list.
-- `entry` is a lower-case address (`bob@example.com`) or domain (`example.com`, which also
-- covers its subdomains); `kind` says which, so that no reader has to guess from an `@`.
CREATE TABLE sender_list_entries (
    id          TEXT PRIMARY KEY NOT NULL,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    inbox_id    TEXT REFERENCES inboxes (id) ON DELETE CASCADE,
    list        TEXT NOT NULL CHECK (list IN ('allow', 'block')),
    entry       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
    created_at  INTEGER NOT NULL
);
-- One entry per list: NULL inbox ids would never be equal in a plain UNIQUE constraint.
CREATE UNIQUE INDEX sender_list_entries_unique
    ON sender_list_entries (account_id, coalesce(inbox_id, ''), list, entry);
-- A list's page, newest first (and the screening of a sender, by entry).
CREATE INDEX sender_list_entries_page
    ON sender_list_entries (account_id, inbox_id, list, created_at);
