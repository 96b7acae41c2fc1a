-- Version 11: what an agent reads. Each message's new content (quoted history and signatures
-- taken out), labels (read state and workflow state), and a full-text index. The Rust step of
-- this migration fills the new columns and the index for messages stored before it.

-- The new content of the body, stored like the bodies (a BLOB is a zstd frame, TEXT the text;
-- an empty BLOB means "nothing was taken out": the body, lines without trailing whitespace).
ALTER TABLE messages ADD COLUMN extracted_text TEXT;
ALTER TABLE messages ADD COLUMN extracted_html TEXT;

-- A message's labels. Rows are keyed on the message's rowid, which only grows as mail comes
-- in (a random UUID key would scatter every insert over the tree), and carry the message's
-- inbox, thread and time so that a labelled list is one index seek in list order.
-- (`VACUUM` keeps rowids: it copies tables row for row; the search index relies on that too.)
CREATE TABLE message_labels (
    message_row  INTEGER NOT NULL,      -- messages.rowid
    label        TEXT NOT NULL,
    inbox_id     TEXT NOT NULL,
    thread_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,      -- the message's
    PRIMARY KEY (message_row, label)
) WITHOUT ROWID;
CREATE INDEX message_labels_list ON message_labels (inbox_id, label, created_at, message_row);

-- Counts per label: of an inbox's messages ('labelled': the totals of labelled message lists
-- and an inbox's unread count), of an inbox's threads that have the label on any message
-- ('labelled_threads': the totals of labelled thread lists), and of a thread's messages
-- ('thread_labels': the thread's labels and its unread count). A thread's count goes when it
-- reaches zero, so the table holds only labels in use.
CREATE TRIGGER message_labels_count_insert AFTER INSERT ON message_labels BEGIN
    INSERT INTO list_counts (list, owner, part, n) VALUES ('labelled', new.inbox_id, new.label, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO list_counts (list, owner, part, n)
        SELECT 'labelled_threads', new.inbox_id, new.label, 1
        WHERE NOT EXISTS (SELECT 1 FROM list_counts
                          WHERE list = 'thread_labels' AND owner = new.thread_id
                            AND part = new.label)
        ON CONFLICT DO UPDATE SET n = n + 1;
    INSERT INTO list_counts (list, owner, part, n)
        VALUES ('thread_labels', new.thread_id, new.label, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER message_labels_count_delete AFTER DELETE ON message_labels BEGIN
    UPDATE list_counts SET n = n - 1
        WHERE list = 'labelled' AND owner = old.inbox_id AND part = old.label;
    UPDATE list_counts SET n = n - 1
        WHERE list = 'labelled_threads' AND owner = old.inbox_id AND part = old.label
          AND EXISTS (SELECT 1 FROM list_counts
                      WHERE list = 'thread_labels' AND owner = old.thread_id
                        AND part = old.label AND n <= 1);
    DELETE FROM list_counts
        WHERE list = 'thread_labels' AND owner = old.thread_id AND part = old.label AND n <= 1;
    UPDATE list_counts SET n = n - 1
        WHERE list = 'thread_labels' AND owner = old.thread_id AND part = old.label;
END;

-- System labels follow the message, whichever path stores or changes it: received mail is
-- `unread`, sent mail `sent`, a bounce adds `bounced`.
CREATE TRIGGER messages_label_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_labels (message_row, label, inbox_id, thread_id, created_at)
        VALUES (new.rowid, CASE new.direction WHEN 'inbound' THEN 'unread' ELSE 'sent' END,
                new.inbox_id, new.thread_id, new.created_at);
END;
CREATE TRIGGER messages_label_bounced AFTER UPDATE OF status ON messages
    WHEN new.status = 'bounced' AND old.status IS NOT 'bounced' BEGIN
    INSERT OR IGNORE INTO message_labels (message_row, label, inbox_id, thread_id, created_at)
        VALUES (new.rowid, 'bounced', new.inbox_id, new.thread_id, new.created_at);
END;

-- The full-text index: subject, the from/to/cc addresses with their names, and the body as
-- text (HTML reduced to text). Contentless: the text lives (compressed) in `messages` only;
-- the index row's rowid is the message's. Written by the store in the transaction that
-- stores the message; deleted with it.
CREATE VIRTUAL TABLE message_search USING fts5 (
    subject, addresses, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_reading_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_labels WHERE message_row = old.rowid;
    DELETE FROM message_search WHERE rowid = old.rowid;
END;

-- Labels of the messages stored before this version.
INSERT INTO message_labels (message_row, label, inbox_id, thread_id, created_at)
    SELECT rowid, CASE direction WHEN 'inbound' THEN 'unread' ELSE 'sent' END,
           inbox_id, thread_id, created_at
    FROM messages;
INSERT INTO message_labels (message_row, label, inbox_id, thread_id, created_at)
    SELECT rowid, 'bounced', inbox_id, thread_id, created_at FROM messages
    WHERE status = 'bounced';
