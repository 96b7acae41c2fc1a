-- Version 2: attachment bytes are kept in pieces of 256 KiB (attachment_pieces) instead of one
-- blob per attachment. A download reads piece after piece; with one long blob, every read at
-- an offset first walked the blob's chain of overflow pages from its start, so a download cost
-- grew with the square of the file's size.

CREATE TABLE attachment_pieces (
    attachment_id  TEXT NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,               -- piece n holds bytes [n * 262144, (n + 1) * 262144)
    data           BLOB NOT NULL
);
-- A rowid table with a unique index (not WITHOUT ROWID): incremental blob I/O needs rowids.
CREATE UNIQUE INDEX attachment_pieces_seq ON attachment_pieces (attachment_id, seq);

INSERT INTO attachment_pieces (attachment_id, seq, data)
WITH RECURSIVE pieces (id, seq) AS (
    SELECT id, 0 FROM attachments WHERE size > 0
    UNION ALL
    SELECT p.id, p.seq + 1 FROM pieces p JOIN attachments a ON a.id = p.id
    WHERE (p.seq + 1) * 262144 < a.size
)
SELECT p.id, p.seq, substr(a.content, p.seq * 262144 + 1, 262144)
FROM pieces p JOIN attachments a ON a.id = p.id;

ALTER TABLE attachments DROP COLUMN content;
