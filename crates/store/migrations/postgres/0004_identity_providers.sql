-- Sign-in through identity providers (OpenID Connect): which provider account
-- (issuer's subject) is which user, and sessions of kind `idp`.
CREATE TABLE identity_links (
    provider      TEXT    NOT NULL,                  -- the provider's configured id
    subject       TEXT    NOT NULL,                  -- the ID token's `sub`
    issuer        TEXT    NOT NULL,                  -- the provider's issuer when linked
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT  NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identity_links_user ON identity_links (user_id);

ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_kind_check
    CHECK (kind IN ('password', 'idp', 'api_key', 'access_token'));
