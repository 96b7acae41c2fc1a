-- Version 2: attachment bytes are kept in pieces of 256 KiB (attachment_pieces) instead of one
-- blob per attachment. A download reads piece after piece; with one long blob, every read at
-- an offset first walked the blob's chain of overflow pages from its start, so a download cost
-- grew with the square of the file's size. After this SQL the migration's Rust step
-- (store::attachments::move_blobs_into_pieces) moves the bytes over and drops
-- attachments.content.

CREATE TABLE attachment_pieces (
    attachment_id  TEXT NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,               -- piece n holds bytes [n * 262144, (n + 1) * 262144)
    data           BLOB NOT NULL
);
CREATE UNIQUE INDEX attachment_pieces_seq ON attachment_pieces (attachment_id, seq);

-- The janitor looks for old attachments that no message uses.
CREATE INDEX attachments_created ON attachments (created_at);
