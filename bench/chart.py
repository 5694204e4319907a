"""Draws a benchmark report (the JSON report.py writes) as an SVG chart: requests/s and
p99 latency (log scale) per scenario, side by side, with the machine and date. Standard library only.

    python3 bench/chart.py bench/results/latest.json bench/results/latest.svg
"""
import html
import math
import json
import sys

ORDER = ["hello", "verify-token", "verify-token-no-metrics", "verify-token-rate-limited",
         "verify-cookie", "session-info",
         "axum-login", "django-token", "gateway", "gateway-nginx", "verify-under-login-flood",
         "login", "argon2id-raw", "scale-1k", "scale-1m", "pg-verify-token", "pg-scale-1k",
         "pg-scale-1m"]
# Scenarios that are Tessera itself (the rest are peers and references).
OURS = {"verify-token", "verify-token-no-metrics", "verify-token-rate-limited", "verify-cookie",
        "session-info", "gateway",
        "verify-under-login-flood", "login", "scale-1k", "scale-1m", "pg-verify-token",
        "pg-scale-1k", "pg-scale-1m"}


def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1), ("s", 1e3)):
        if isinstance(v, str) and v.endswith(unit):
            try:
                return float(v[: -len(unit)]) * f
            except ValueError:
                return None
    return None


def svg(report):
    rows = report["rows"]
    names = [n for n in ORDER if n in rows and rows[n].get("rps")]
    names += sorted(n for n in rows if n not in names and rows[n].get("rps"))
    label_w, bar_w, gap, row_h, top = 190, 300, 60, 22, 64
    width = label_w + 2 * bar_w + gap + 40
    height = top + row_h * len(names) + 40
    max_rps = max(rows[n]["rps"] for n in names) if names else 1
    p99s = {n: ms(rows[n].get("p99")) for n in names}
    max_p99 = max([v for v in p99s.values() if v] or [1])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">Tessera benchmark</text>',
           f'<text x="10" y="38" fill="#555">{html.escape(report.get("machine", ""))}, '
           f'{html.escape(report.get("date", ""))}; wrk, median of rounds; '
           f'Tessera in blue, peers and references in grey</text>',
           f'<text x="{label_w}" y="{top - 8}" font-weight="bold">requests/s</text>',
           f'<text x="{label_w + bar_w + gap}" y="{top - 8}" font-weight="bold">p99 latency (ms, log scale)</text>']
    for i, name in enumerate(names):
        y = top + i * row_h
        colour = "#2f6db5" if name in OURS else "#9a9a9a"
        r = rows[name]
        w = bar_w * r["rps"] / max_rps
        out.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{html.escape(name)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}"/>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" fill="#333">{r["rps"]:,.0f}</text>')
        p = p99s[name]
        if p is not None:
            x0 = label_w + bar_w + gap
            # Log scale from 0.1 ms: a 1 s login must not flatten the 3 ms verifications.
            w = bar_w * math.log10(max(p, 0.1) / 0.1) / math.log10(max(max_p99, 0.2) / 0.1)
            out.append(f'<rect x="{x0}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}" opacity="0.7"/>')
            out.append(f'<text x="{x0 + w + 4:.1f}" y="{y + 14}" fill="#333">{p:.2f}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        report = json.load(f)
    with open(sys.argv[2], "w") as f:
        f.write(svg(report))
