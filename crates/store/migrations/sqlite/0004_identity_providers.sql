-- no-transaction
-- Sign-in through identity providers (OpenID Connect): which provider account
-- (issuer's subject) is which user, and sessions of kind `idp`. SQLite changes a table's
-- definition by rebuilding it, which needs foreign keys off outside a transaction: hence
-- the explicit transaction. `users` is rebuilt too, so that a deleted user's id is never
-- given to a new user (the audit log keeps ids of deleted users).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE identity_links (
    provider      TEXT    NOT NULL,                  -- the provider's configured id
    subject       TEXT    NOT NULL,                  -- the ID token's `sub`
    issuer        TEXT    NOT NULL,                  -- the provider's issuer when linked
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identity_links_user ON identity_links (user_id);

-- SQLite cannot change a CHECK constraint: the sessions table is rebuilt with `idp`.
CREATE TABLE sessions_next (
    id              TEXT    PRIMARY KEY,             -- public id, shown in listings; not a credential
    secret_hash     BLOB    NOT NULL UNIQUE,         -- digest of the cookie id / bearer token
    kind            TEXT    NOT NULL CHECK (kind IN ('password', 'idp', 'api_key', 'access_token')),
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_key_id      TEXT    REFERENCES api_keys (id) ON DELETE CASCADE,
    scopes          TEXT,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL,
    idle_expires_at INTEGER,                         -- NULL: no idle timeout
    expires_at      INTEGER NOT NULL,                -- absolute expiry
    ip              TEXT,
    user_agent      TEXT,
    revoked_at      INTEGER
);
INSERT INTO sessions_next SELECT * FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_next RENAME TO sessions;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_api_key ON sessions (api_key_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE users_next (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    login               TEXT    NOT NULL,            -- as chosen (NFKC)
    login_key           TEXT    NOT NULL UNIQUE,     -- NFKC + lower case: uniqueness and lookup
    password_hash       TEXT    NOT NULL,            -- Argon2id PHC string
    first_name          TEXT    NOT NULL DEFAULT '',
    last_name           TEXT    NOT NULL DEFAULT '',
    lang                TEXT    NOT NULL DEFAULT 'en',
    email               TEXT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    password_changed_at INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
INSERT INTO users_next SELECT * FROM users;
DROP TABLE users;
ALTER TABLE users_next RENAME TO users;
-- Ids of users deleted before this migration (still in the audit log) are not reused.
INSERT OR REPLACE INTO sqlite_sequence (name, seq)
SELECT 'users', max(coalesce((SELECT max(id) FROM users), 0),
                    coalesce((SELECT max(user_id) FROM audit_log), 0));
COMMIT;
PRAGMA foreign_keys = ON;
