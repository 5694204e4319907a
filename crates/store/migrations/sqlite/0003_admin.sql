-- Administration: set-password links (an invitation for a new account, or a reset
-- link for a forgotten password), at most one outstanding per user, deleted when used.
-- Only the digest of the link's token is stored.
CREATE TABLE invitations (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    secret_hash BLOB    NOT NULL UNIQUE,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- The audit log is searched by login (ignoring case) and by event.
CREATE INDEX audit_log_login_at ON audit_log (lower(login), at);
CREATE INDEX audit_log_event_at ON audit_log (event, at);
