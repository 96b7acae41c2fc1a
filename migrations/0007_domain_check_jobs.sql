-- Version 7: the background checks of custom domains become jobs of kind 'domain-check', run by
-- the same lease-queue runner as sends and webhook deliveries. Pending domains get their job in
-- the Rust step of this migration (job ids are made there).
SELECT 1;
