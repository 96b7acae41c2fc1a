-- Version 3: sends an account has ever had accepted (the sandbox allows a number in total;
-- counting messages would forget deleted ones).
ALTER TABLE accounts ADD COLUMN total_accepted INTEGER NOT NULL DEFAULT 0;
-- Messages sent and since deleted are gone, so handed-off sends (total_sent) are a floor.
UPDATE accounts SET total_accepted = max(total_sent, (
    SELECT count(*) FROM messages m WHERE m.account_id = accounts.id AND m.direction = 'outbound'
));
