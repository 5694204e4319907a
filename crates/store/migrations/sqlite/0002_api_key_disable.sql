-- An API key can be disabled (its tokens end, its exchange is refused) and enabled again.
ALTER TABLE api_keys ADD COLUMN disabled_at INTEGER;
