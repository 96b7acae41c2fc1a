-- Version 15: an account's own message retention (days; NULL: the server's
-- retention.messages_days; 0: kept forever). The file's switch to incremental auto-vacuum,
-- which needs a VACUUM outside any transaction, is made once by the server after migrating
-- (store::retention::enable_incremental_vacuum).
ALTER TABLE accounts ADD COLUMN message_retention_days INTEGER
    CHECK (message_retention_days IS NULL OR message_retention_days >= 0);
