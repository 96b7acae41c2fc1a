-- Version 5: crash safety.
-- Which run of the server (its boot id) claimed a job or a webhook delivery: at start-up the
-- claims of earlier runs, which died holding them, are taken up at once instead of when their
-- lease runs out.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT;
-- The reservation an in-flight Idempotency-Key belongs to: a request stores its response (in
-- the transaction of its change) only while it still holds the key.
ALTER TABLE idempotency_keys ADD COLUMN holder TEXT;
