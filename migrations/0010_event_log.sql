-- Version 10: the event log. Every event is recorded (not only those a webhook wants), with a
-- server-wide sequence number that the event stream, "wait for the next message" and clients
-- resuming a stream use as the event's id. `webhook.test` events are not part of the log
-- (their `seq` is NULL). `inbox_id` and `message_id` are copied out of the body for filters.
ALTER TABLE events ADD COLUMN seq INTEGER;
ALTER TABLE events ADD COLUMN inbox_id TEXT;
ALTER TABLE events ADD COLUMN message_id TEXT;

-- Events recorded before this version join the log in the order they were recorded.
UPDATE events
SET seq = numbered.n,
    inbox_id = json_extract(events.body, '$.data.inboxId'),
    message_id = json_extract(events.body, '$.data.messageId')
FROM (SELECT id, row_number() OVER (ORDER BY created_at, rowid) AS n
      FROM events WHERE event <> 'webhook.test') AS numbered
WHERE events.id = numbered.id;

CREATE UNIQUE INDEX events_seq ON events (seq) WHERE seq IS NOT NULL;
CREATE INDEX events_account_seq ON events (account_id, seq) WHERE seq IS NOT NULL;
CREATE INDEX events_message ON events (message_id) WHERE message_id IS NOT NULL;
-- `webhook.test` events, which go with their deliveries.
CREATE INDEX events_tests ON events (created_at) WHERE seq IS NULL;

-- `head`: the last sequence number given out (never given out again, even once its event is
-- gone). `horizon`: the highest sequence number the janitor (or a fixture reset) removed;
-- a client resuming from before it may have missed events and is told to resync.
CREATE TABLE event_sequence (
    name   TEXT PRIMARY KEY NOT NULL CHECK (name IN ('head', 'horizon')),
    value  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO event_sequence (name, value)
VALUES ('head', (SELECT coalesce(max(seq), 0) FROM events)), ('horizon', 0);
