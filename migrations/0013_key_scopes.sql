-- Version 13: what each API key may do, one bit per scope (read 1, send 2, manage 4,
-- approve 8). Existing keys keep what every key could do before: read, send and manage.
ALTER TABLE api_keys ADD COLUMN scopes INTEGER NOT NULL DEFAULT 7 CHECK (scopes BETWEEN 1 AND 15);
