"""Prints the benchmark table and writes it as JSON. Input lines: name rps p50 p99 rss_kib."""
import json, platform, os, sys, time

order = ["argon2id-raw", "hello", "axum-login", "django-token", "verify-token", "verify-cookie", "session-info",
         "gateway", "login", "verify-under-login-flood", "scale-1m-tokens"]
rows = {}
for line in sys.stdin:
    name, rps, p50, p99, rss = line.split()
    rows[name] = {"rps": float(rps or 0), "p50": p50, "p99": p99, "peak_rss_mib": round(int(rss) / 1024, 1)}
ceiling = rows.get("hello", {}).get("rps") or 1
for r in rows.values():
    r["ratio_to_hello"] = round(r["rps"] / ceiling, 3)
if "login" in rows and rows.get("argon2id-raw", {}).get("rps"):
    rows["login"]["ratio_to_argon2id"] = round(rows["login"]["rps"] / rows["argon2id-raw"]["rps"], 3)
if "gateway" in rows:
    rows["gateway"]["ratio_to_upstream"] = rows["gateway"]["ratio_to_hello"]
print(f"{'scenario':26} {'req/s':>10} {'p50':>9} {'p99':>9} {'RSS MiB':>8} {'vs hello':>9}")
for name in order + sorted(set(rows) - set(order)):
    if name in rows:
        r = rows[name]
        print(f"{name:26} {r['rps']:>10.0f} {r['p50']:>9} {r['p99']:>9} {r['peak_rss_mib']:>8} {r['ratio_to_hello']:>9.3f}")
if "ratio_to_argon2id" in rows.get("login", {}):
    print(f"login / raw Argon2id rate on {os.cpu_count()} cores: {rows['login']['ratio_to_argon2id']}")
report = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": f"{platform.machine()} {os.cpu_count()} cores",
          "rows": rows}
json.dump(report, open(sys.argv[1], "w"), indent=2)
