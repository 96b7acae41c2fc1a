-- Version 9: raw messages and replayed response bodies may be stored compressed. `codec`
-- says how: 0 the bytes as they are (every row written before this version), 1 a zstd frame.
ALTER TABLE message_raw ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN response_codec INTEGER NOT NULL DEFAULT 0;
