-- Tessera schema, SQLite. Times are whole seconds since the Unix epoch (UTC).
-- Secrets are never stored: only SHA-256 digests (BLOB) or, for the client secret,
-- AEAD ciphertext under a key derived from the server key.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
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

CREATE TABLE roles (
    name       TEXT    PRIMARY KEY,
    builtin    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL
);

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE user_roles (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT    NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

INSERT INTO roles (name, builtin, created_at) VALUES ('admin', TRUE, CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO role_permissions (role, permission) VALUES ('admin', '*');

-- API key/secret pairs: the key id is public, the secret is stored as a digest.
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL UNIQUE,
    scopes       TEXT,                               -- space-separated; NULL = unscoped
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Every server-side session, whatever carries it: a password login (cookie and/or
-- session token), an API-key login, or an OAuth2 client-credentials access token.
CREATE TABLE sessions (
    id              TEXT    PRIMARY KEY,             -- public id, shown in listings; not a credential
    secret_hash     BLOB    NOT NULL UNIQUE,         -- digest of the cookie id / bearer token
    kind            TEXT    NOT NULL CHECK (kind IN ('password', 'api_key', 'access_token')),
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
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_api_key ON sessions (api_key_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Personal access tokens.
CREATE TABLE personal_tokens (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL UNIQUE,
    scopes       TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX personal_tokens_user ON personal_tokens (user_id);

-- One system-generated client secret per account (Authorization: Secret, OAuth2 client
-- credentials). Kept encrypted so that it can be shown again; looked up by digest.
CREATE TABLE client_secrets (
    user_id     INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_hash BLOB    NOT NULL UNIQUE,
    ciphertext  BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Security events. user_id is not a foreign key so that history outlives accounts.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    user_id    INTEGER,
    login      TEXT,
    method     TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
);
CREATE INDEX audit_log_user_at ON audit_log (user_id, at);
CREATE INDEX audit_log_at ON audit_log (at);

-- Failed-login counters per account, API key or client IP (`scope` says which).
CREATE TABLE login_failures (
    scope           TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    failures        INTEGER NOT NULL,
    first_failed_at INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    locked_until    INTEGER,
    PRIMARY KEY (scope, subject)
);
