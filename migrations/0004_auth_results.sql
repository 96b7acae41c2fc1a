-- SPF, DKIM and DMARC results of mail received over SMTP (JSON, see AuthResults); NULL for
-- outbound mail, local deliveries and mail received while the checks were off.
ALTER TABLE messages ADD COLUMN auth_results TEXT;
