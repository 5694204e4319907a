-- Revocations as they commit, whoever makes them (any instance, the CLI), announced on
-- the channel `tessera_revocations` (LISTEN/NOTIFY): every running server drops what it
-- cached for the user named in the payload (`*`: every user). Notifications are sent
-- when the transaction commits, and not at all when it rolls back. Written by triggers,
-- so no writer can forget.
CREATE FUNCTION tessera_announce_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    -- The trigger's argument names the column holding the user's id; none: every user.
    PERFORM pg_notify('tessera_revocations',
        CASE WHEN TG_NARGS = 0 THEN '*' ELSE to_jsonb(changed) ->> TG_ARGV[0] END);
    RETURN NULL;
END
$$;

-- A session, API-key session or OAuth2 access token revoked (logout, revocation, key
-- disabled or deleted, password changed).
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION tessera_announce_revocation('user_id');

-- A personal access token revoked or regenerated.
CREATE TRIGGER personal_tokens_revoked AFTER UPDATE OF revoked_at ON personal_tokens FOR EACH ROW
WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION tessera_announce_revocation('user_id');

-- An account disabled or enabled, its password or profile changed, or deleted.
CREATE TRIGGER users_changed AFTER UPDATE OF login, login_key, password_hash, first_name,
    last_name, lang, email, disabled, password_changed_at ON users FOR EACH ROW
EXECUTE FUNCTION tessera_announce_revocation('id');

CREATE TRIGGER users_deleted AFTER DELETE ON users FOR EACH ROW
EXECUTE FUNCTION tessera_announce_revocation('id');

-- A role granted or taken away.
CREATE TRIGGER user_roles_changed AFTER INSERT OR DELETE ON user_roles FOR EACH ROW
EXECUTE FUNCTION tessera_announce_revocation('user_id');

-- A role's permissions changed: everyone who holds it.
CREATE TRIGGER role_permissions_changed AFTER INSERT OR DELETE ON role_permissions FOR EACH ROW
EXECUTE FUNCTION tessera_announce_revocation();
