-- The web console: an API key can be disabled (its tokens end, its exchange is refused)
-- and enabled again; a personal token keeps the first characters of its value, shown in
-- listings to recognise it by.
ALTER TABLE api_keys ADD COLUMN disabled_at BIGINT;
ALTER TABLE personal_tokens ADD COLUMN prefix TEXT;
