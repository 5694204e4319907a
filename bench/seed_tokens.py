"""Adds N live personal access tokens (random digests) for user 1 to a Tessera SQLite
database, for the `scale` scenario: the store then holds N tokens besides the bench's."""
import os, sqlite3, sys, time

db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
now = int(time.time())
rows = ((f"pat_seed{i:09d}", 1, "seed", os.urandom(32), None, now, now + 86400 * 30) for i in range(n))
con.executemany(
    "INSERT INTO personal_tokens (id, user_id, name, secret_hash, scopes, created_at, expires_at) VALUES (?,?,?,?,?,?,?)",
    rows,
)
con.commit()
print(con.execute("SELECT COUNT(*) FROM personal_tokens").fetchone()[0])
