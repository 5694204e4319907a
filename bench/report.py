"""Prints the benchmark table and the performance targets the README states, and writes both as JSON.
Input lines: name rps p50 p99 peak_rss_kib rss_kib (the second RSS: at the end of the run)."""
import json, platform, os, sys, time

order = ["idle", "idle-after-logins", "argon2id-raw", "hello", "axum-login", "django-token", "verify-token",
         "verify-token-no-metrics", "verify-token-rate-limited", "verify-cookie",
         "session-info", "gateway", "gateway-nginx", "login", "verify-under-login-flood", "scale-1k", "scale-1m",
         "pg-verify-token", "pg-scale-1k", "pg-scale-1m", "revocation-seen"]
rounds = {}
for line in sys.stdin:
    name, rps, p50, p99, peak, now = line.split()
    rounds.setdefault(name, []).append(
        {"rps": float(rps or 0), "p50": p50, "p99": p99, "peak_rss_mib": round(int(peak or 0) / 1024, 1),
         "rss_mib": round(int(now or 0) / 1024, 1)})
# Per scenario, the round with the median requests/s (its latencies with it) and the
# largest peak RSS of any round.
rows = {}
for name, rs in rounds.items():
    ordered = sorted(rs, key=lambda r: r["rps"])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["peak_rss_mib"] = max(r["peak_rss_mib"] for r in rs)
    row["rounds_rps"] = [r["rps"] for r in rs]
    row["rounds_p99"] = [r["p99"] for r in rs]
    row["rounds_rss_mib"] = [r["rss_mib"] for r in rs]
    rows[name] = row
ceiling = rows.get("hello", {}).get("rps") or 1
for r in rows.values():
    r["ratio_to_hello"] = round(r["rps"] / ceiling, 3)


def rps(name):
    return rows.get(name, {}).get("rps") or 0


def rounds_of(name):
    """Requests/s of each round in run order (rounds are interleaved, so round i of two
    scenarios ran minutes apart at most)."""
    return [r["rps"] for r in rounds.get(name, [])]


def ratio(a, b):
    return round(rps(a) / rps(b), 3) if rps(a) and rps(b) else None


def ms(v):
    """wrk latency text (e.g. 850.00us, 4.2ms, 1.1s) in milliseconds."""
    for unit, f in (("us", 1e-3), ("ms", 1), ("s", 1e3)):
        if v.endswith(unit):
            try:
                return float(v[: -len(unit)]) * f
            except ValueError:
                return None
    return None


print(f"{'scenario':26} {'req/s':>10} {'p50':>9} {'p99':>9} {'RSS MiB':>8} {'vs hello':>9}")
for name in order + sorted(set(rows) - set(order)):
    if name in rows:
        r = rows[name]
        print(f"{name:26} {r['rps']:>10.0f} {r['p50']:>9} {r['p99']:>9} {r['peak_rss_mib']:>8} {r['ratio_to_hello']:>9.3f}")

flood_p99s = sorted(v for v in (ms(p) for p in rows.get("verify-under-login-flood", {}).get("rounds_p99", [])) if v is not None)
flood_p99 = flood_p99s[(len(flood_p99s) - 1) // 2] if flood_p99s else None
hello_p99 = ms(rows.get("hello", {}).get("p99", ""))
flood_vs_hello = round(flood_p99 / hello_p99, 2) if flood_p99 and hello_p99 else None
login_rounds = [r / raw for r, raw in zip(rounds_of("login"), rounds_of("argon2id-raw")) if raw]
# (what, measured, target, met?)
targets = [
    ("gateway / nginx proxying the same upstream", ratio("gateway", "gateway-nginx"), ">= 0.9", lambda v: v >= 0.9),
    ("  (gateway / upstream direct)", ratio("gateway", "hello"), "reference", None),
    ("  (nginx proxy / upstream direct)", ratio("gateway-nginx", "hello"), "reference", None),
    ("verify-token / hello", ratio("verify-token", "hello"), ">= 0.85", lambda v: v >= 0.85),
    ("verify-token / django-token", ratio("verify-token", "django-token"), ">= 50", lambda v: v >= 50),
    ("verify-token with / without metrics", ratio("verify-token", "verify-token-no-metrics"), ">= 0.97",
     lambda v: v >= 0.97),
    ("rate-limited rule / same rule unlimited", ratio("verify-token-rate-limited", "verify-token"), ">= 0.95",
     lambda v: v >= 0.95),
    ("verify-cookie / hello", ratio("verify-cookie", "hello"), ">= 0.75", lambda v: v >= 0.75),
    ("verify-cookie / axum-login", ratio("verify-cookie", "axum-login"), ">= 3", lambda v: v >= 3),
    ("session-info / hello", ratio("session-info", "hello"), ">= 0.5", lambda v: v >= 0.5),
    ("login / raw Argon2id (lowest round)", round(min(login_rounds), 3) if login_rounds else None, ">= 0.9",
     lambda v: v >= 0.9),
    ("verify p99 under login flood / hello p99", flood_vs_hello, "<= 1.5", lambda v: v <= 1.5),
    ("  (verify p99 under login flood, ms)", flood_p99, "reference", None),
    ("scale 1M / 1k (SQLite)", ratio("scale-1m", "scale-1k"), ">= 0.8", lambda v: v >= 0.8),
    ("PostgreSQL verify-token / hello", ratio("pg-verify-token", "hello"), ">= 0.5", lambda v: v >= 0.5),
    ("scale 1M / 1k (PostgreSQL)", ratio("pg-scale-1m", "pg-scale-1k"), ">= 0.8", lambda v: v >= 0.8),
    ("revocation seen by 2 other instances, p99 (ms)", ms(rows.get("revocation-seen", {}).get("p99", "")),
     "<= 100", lambda v: v <= 100),
    ("idle RSS (MiB)", rows.get("idle", {}).get("peak_rss_mib"), "<= 30", lambda v: v <= 30),
    ("  (RSS 12 s after the login flood, MiB)", rows.get("idle-after-logins", {}).get("peak_rss_mib"), "reference", None),
    # At the end of the first round's verifications: the peak would count the Argon2
    # memory of the logins that made the bench's session and cookie.
    ("RSS under verify load (MiB)",
     (rows.get("verify-token", {}).get("rounds_rss_mib") or [None])[0], "<= 80", lambda v: v <= 80),
]
print()
print(f"{'target':48} {'measured':>9} {'target':>10}  met")
summary = []
for what, value, target, check in targets:
    met = None if value is None or check is None else bool(check(value))
    summary.append({"what": what.strip(), "measured": value, "target": target, "met": met})
    shown = "-" if value is None else f"{value:g}"
    print(f"{what:48} {shown:>9} {target:>10}  {'' if met is None else ('yes' if met else 'NO')}")
report = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "machine": f"{platform.machine()} {os.cpu_count()} cores", "rows": rows, "targets": summary}
json.dump(report, open(sys.argv[1], "w"), indent=2)
