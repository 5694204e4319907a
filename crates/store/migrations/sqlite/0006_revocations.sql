-- Revocations as they commit, whoever makes them (this server, another process on the
-- same file, the CLI): every running server reads new rows a few times a second and
-- drops what it cached for that user. Written by triggers, so no writer can forget.
-- Rows older than an hour are purged.
CREATE TABLE revocations (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: servers read past the last they saw
    user_id INTEGER,                            -- NULL: every user (a role's permissions changed)
    at      INTEGER NOT NULL
);

-- A session, API-key session or OAuth2 access token revoked (logout, revocation, key
-- disabled or deleted, password changed).
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- A personal access token revoked or regenerated.
CREATE TRIGGER personal_tokens_revoked AFTER UPDATE OF revoked_at ON personal_tokens
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- An account disabled or enabled, its password or profile changed.
CREATE TRIGGER users_changed AFTER UPDATE OF login, login_key, password_hash, first_name,
    last_name, lang, email, disabled, password_changed_at ON users
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- A role granted or taken away.
CREATE TRIGGER user_roles_granted AFTER INSERT ON user_roles
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (NEW.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER user_roles_revoked AFTER DELETE ON user_roles
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (OLD.user_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- A role's permissions changed: everyone who holds it.
CREATE TRIGGER role_permissions_added AFTER INSERT ON role_permissions
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;

CREATE TRIGGER role_permissions_removed AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO revocations (user_id, at) VALUES (NULL, CAST(strftime('%s', 'now') AS INTEGER));
END;
