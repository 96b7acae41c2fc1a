-- Version 8: list totals that stay O(1), and an index for the inbox list.
--
-- Every list answers `total`; counting the rows at request time cost a walk of the whole list
-- (100 ms and more for an inbox of 100,000 messages). The counts are kept here instead, by
-- triggers, so they change in the same transaction as the rows they count, whichever path
-- adds, moves or deletes a row (a send, a receipt, a local delivery, a status change, a
-- delete, a cascade from a deleted parent).
CREATE TABLE list_counts (
    list   TEXT NOT NULL,      -- 'messages' | 'threads' | 'inboxes' | 'deliveries'
    owner  TEXT NOT NULL,      -- the inbox (messages, threads), account (inboxes), webhook (deliveries)
    part   TEXT NOT NULL,      -- the message's or inbox's status; '' for lists without one
    n      INTEGER NOT NULL,
    PRIMARY KEY (list, owner, part)
) WITHOUT ROWID;

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
    INSERT INTO list_counts (list, owner, part, n) VALUES ('messages', new.inbox_id, new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'messages' AND owner = old.inbox_id AND part = old.status;
END;
CREATE TRIGGER messages_count_update AFTER UPDATE OF status, inbox_id ON messages
    WHEN old.status IS NOT new.status OR old.inbox_id IS NOT new.inbox_id BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'messages' AND owner = old.inbox_id AND part = old.status;
    INSERT INTO list_counts (list, owner, part, n) VALUES ('messages', new.inbox_id, new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER threads_count_insert AFTER INSERT ON threads BEGIN
    INSERT INTO list_counts (list, owner, part, n) VALUES ('threads', new.inbox_id, '', 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER threads_count_delete AFTER DELETE ON threads BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'threads' AND owner = old.inbox_id AND part = '';
END;

CREATE TRIGGER inboxes_count_insert AFTER INSERT ON inboxes BEGIN
    INSERT INTO list_counts (list, owner, part, n) VALUES ('inboxes', new.account_id, new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER inboxes_count_delete AFTER DELETE ON inboxes BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'inboxes' AND owner = old.account_id AND part = old.status;
    DELETE FROM list_counts WHERE list IN ('messages', 'threads') AND owner = old.id;
END;
CREATE TRIGGER inboxes_count_update AFTER UPDATE OF status ON inboxes
    WHEN old.status IS NOT new.status BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'inboxes' AND owner = old.account_id AND part = old.status;
    INSERT INTO list_counts (list, owner, part, n) VALUES ('inboxes', new.account_id, new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deliveries_count_insert AFTER INSERT ON webhook_deliveries BEGIN
    INSERT INTO list_counts (list, owner, part, n) VALUES ('deliveries', new.webhook_id, '', 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER deliveries_count_delete AFTER DELETE ON webhook_deliveries BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'deliveries' AND owner = old.webhook_id AND part = '';
END;
CREATE TRIGGER webhooks_count_delete AFTER DELETE ON webhooks BEGIN
    DELETE FROM list_counts WHERE list = 'deliveries' AND owner = old.id;
END;
CREATE TRIGGER accounts_count_delete AFTER DELETE ON accounts BEGIN
    DELETE FROM list_counts WHERE list = 'inboxes' AND owner = old.id;
END;

INSERT INTO list_counts (list, owner, part, n)
    SELECT 'messages', inbox_id, status, count(*) FROM messages GROUP BY inbox_id, status;
INSERT INTO list_counts (list, owner, part, n)
    SELECT 'threads', inbox_id, '', count(*) FROM threads GROUP BY inbox_id;
INSERT INTO list_counts (list, owner, part, n)
    SELECT 'inboxes', account_id, status, count(*) FROM inboxes GROUP BY account_id, status;
INSERT INTO list_counts (list, owner, part, n)
    SELECT 'deliveries', webhook_id, '', count(*) FROM webhook_deliveries GROUP BY webhook_id;

-- The inbox list (active and suspended inboxes, newest first) straight from an index, without
-- a sort of every inbox the account has.
CREATE INDEX inboxes_listed ON inboxes (account_id, created_at)
    WHERE status IN ('active', 'suspended');
