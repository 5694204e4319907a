"""How long a revocation made on one Tessera instance takes to reach the others.

Usage: revocation.py LOGIN PASSWORD N A B [C ...] (A, B, ...: host:port of instances on one
database). Logs in on A; then, N times: creates a personal access token on A, has every
other instance verify it (so that it is cached there), revokes it on A, and asks each other
instance without pause until it answers 401. Prints one line for bench/report.py:
`revocation-seen 0 P50 P99 0 0`, the latencies from A's 204 to each instance's first 401."""
import base64, http.client, json, sys, threading, time

login, password, n, first, *others = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:]


def connect(hostport):
    host, port = hostport.rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=10)


def call(conn, method, path, token=None, body=None, basic=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    if body is not None:
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


a = connect(first)
status, session = call(a, "POST", "/api/login", basic=f"{login}:{password}")
assert status == 200, (status, session)
session = session.decode().strip()
pollers = [connect(o) for o in others]
seen = []
for _ in range(n):
    status, body = call(a, "POST", "/api/tokens", token=session, body={"name": "revocation bench"})
    assert status == 201, (status, body)
    created = json.loads(body)
    for p in pollers:
        assert call(p, "GET", "/api/session", token=created["token"])[0] == 200
    status, _ = call(a, "DELETE", f"/api/tokens/{created['id']}", token=session)
    assert status == 204
    revoked = time.perf_counter()

    def poll(conn, out):
        while call(conn, "GET", "/api/session", token=created["token"])[0] != 401:
            if time.perf_counter() - revoked > 60:
                raise SystemExit("a revocation was not seen within 60 s")
        out.append(time.perf_counter() - revoked)

    threads = [threading.Thread(target=poll, args=(p, seen)) for p in pollers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
seen.sort()
p50, p99 = seen[len(seen) // 2], seen[min(len(seen) - 1, len(seen) * 99 // 100)]
print(f"revocation-seen 0 {p50 * 1e3:.2f}ms {p99 * 1e3:.2f}ms 0 0")
print(f"bench: revocation seen by {len(others)} other instances: p50 {p50 * 1e3:.2f} ms, "
      f"p99 {p99 * 1e3:.2f} ms, max {seen[-1] * 1e3:.2f} ms ({len(seen)} observations)", file=sys.stderr)
