-- A message's extracted text or HTML that is what its body gives unchanged was stored as an
-- empty BLOB; it is now zstd's four magic bytes alone (never a whole frame, never UTF-8), so
-- that an empty BLOB can be an empty text, which is how PostgreSQL's BYTEA gives one back.
UPDATE messages SET extracted_text = x'28b52ffd' WHERE extracted_text = x'';
UPDATE messages SET extracted_html = x'28b52ffd' WHERE extracted_html = x'';
