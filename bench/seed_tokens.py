"""Brings a Tessera SQLite database to N live personal access tokens and N live sessions
(random digests, for the first user), for the `scale` scenarios. Prints the new counts."""
import os, sqlite3, sys, time

db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db, timeout=60)
now = int(time.time())
user = con.execute("SELECT MIN(id) FROM users").fetchone()[0]
have = con.execute("SELECT COUNT(*) FROM personal_tokens WHERE id LIKE 'pat_seed%'").fetchone()[0]
con.executemany(
    "INSERT INTO personal_tokens (id, user_id, name, secret_hash, scopes, created_at, expires_at)"
    " VALUES (?,?,?,?,?,?,?)",
    ((f"pat_seed{i:09d}", user, "seed", os.urandom(32), None, now, now + 86400 * 30) for i in range(have, n)),
)
con.executemany(
    "INSERT INTO sessions (id, secret_hash, kind, user_id, created_at, last_seen_at, idle_expires_at, expires_at)"
    " VALUES (?,?,?,?,?,?,?,?)",
    ((f"seed{i:09d}", os.urandom(32), "password", user, now, now, now + 86400, now + 86400 * 30) for i in range(have, n)),
)
con.commit()
print(con.execute("SELECT COUNT(*) FROM personal_tokens").fetchone()[0],
      con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
