-- When the session's cookie was last sealed again under a newer server key (a key
-- rotation): `tessera key retire` counts the sessions whose cookie may still need an
-- older key. NULL: never since the session opened.
ALTER TABLE sessions ADD COLUMN cookie_resealed_at BIGINT;
