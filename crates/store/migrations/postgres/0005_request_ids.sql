-- Every audit event recorded while serving an HTTP request carries its X-Request-Id.
ALTER TABLE audit_log ADD COLUMN request_id TEXT;
