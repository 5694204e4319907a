-- Brings a Tessera PostgreSQL database to :n live personal access tokens and :n live
-- sessions (random digests, for the first user), for the `scale` scenarios.
-- psql -v n=1000000 -f bench/seed_tokens.sql
SELECT count(*) AS have FROM personal_tokens WHERE id LIKE 'pat_seed%' \gset
INSERT INTO personal_tokens (id, user_id, name, secret_hash, created_at, expires_at)
SELECT 'pat_seed' || g, (SELECT min(id) FROM users), 'seed', sha256(('pat' || g || random())::bytea),
       extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint + 86400 * 30
FROM generate_series(:have + 1, :n) g;
INSERT INTO sessions (id, secret_hash, kind, user_id, created_at, last_seen_at, idle_expires_at, expires_at)
SELECT 'seed' || g, sha256(('session' || g || random())::bytea), 'password', (SELECT min(id) FROM users),
       extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint,
       extract(epoch FROM now())::bigint + 86400, extract(epoch FROM now())::bigint + 86400 * 30
FROM generate_series(:have + 1, :n) g;
ANALYZE personal_tokens;
ANALYZE sessions;
SELECT (SELECT count(*) FROM personal_tokens) AS tokens, (SELECT count(*) FROM sessions) AS sessions;
