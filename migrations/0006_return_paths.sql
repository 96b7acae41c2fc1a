-- Version 6: each outbound message has a return path of its own (VERP,
-- bounces+<token>@<domain>), the envelope sender of its remote deliveries. Delivery reports
-- count only when they come back to it; a report sent to an inbox's own address that merely
-- names a Message-ID is stored as ordinary mail. NULL for messages sent before this version.
ALTER TABLE messages ADD COLUMN return_path TEXT;
CREATE UNIQUE INDEX messages_return_path ON messages (return_path) WHERE return_path IS NOT NULL;
