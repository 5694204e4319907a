#!/usr/bin/env bash
# Tessera against its peers, side by side on this machine, in one run.
#
#   bench/run.sh                 # all scenarios, 5 s each, 64 connections
#   DURATION=10s CONNS=64 ROUNDS=5 bench/run.sh
#   SKIP_POSTGRES=1 bench/run.sh # without the PostgreSQL scenarios
#
# Builds release binaries, starts the peers from ../shared/peers (axum hello world,
# axum-login, Django/DRF), nginx as a reference reverse proxy, a throwaway PostgreSQL
# cluster, and Tessera on loopback (decision service on SQLite, the same on PostgreSQL
# with two more instances for the revocation scenario, gateway), seeds users, sessions
# and tokens, drives each scenario with wrk, and prints
# one table (requests/s, p50, p99, peak RSS of the server, ratio to the hello-world
# ceiling measured in the same run). The table is also written as JSON to
# bench/results/latest.json, drawn as latest.svg beside it and copied to
# docs/benchmark.svg, the chart the README shows. Compare ratios, not absolute numbers:
# machines are shared and noisy. Installs wrk and nginx (Debian packages) when missing;
# needs root or the PostgreSQL binaries' owner for the cluster (initdb runs as
# `postgres` when root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=${PEERS:-$root/../shared/peers}
DURATION=${DURATION:-5s}
# Each scenario runs ROUNDS times, interleaved with the others; the table shows the round
# with the median requests/s, which keeps one noisy moment of a shared machine out of it.
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
out=$here/results
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  # nginx's workers first: they would outlive their master.
  [ -z "${nginx_pid:-}" ] || pkill -TERM -P "$nginx_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
as_pg=()
pgbin=""
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need wrk || missing+=(wrk)
need nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

for port in 8101 8102 8103 8110 8111 8112 8114 8115 8120 8132; do
  if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "bench: port $port is already in use; stop what listens there first" >&2
    exit 1
  fi
done

echo "bench: building release binaries" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin tessera
tessera=$root/target/release/tessera

wait_port() { for _ in $(seq 1 1200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "bench: port $1 never opened" >&2; return 1; }
rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rss_now_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# run NAME PID wrk-args...: records requests/s, p50, p99 (ms) and the server's peak RSS.
run() {
  local name=$1 pid=$2; shift 2
  local log=$work/$name.wrk
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" >"$log" 2>&1 || true
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' "$log")
  p50=$(awk '$1=="50%" {print $2}' "$log")
  p99=$(awk '$1=="99%" {print $2}' "$log")
  echo "$name ${rps:-0} ${p50:-?} ${p99:-?} $(rss_kib "$pid") $(rss_now_kib "$pid")" >>"$work/rounds.txt"
  non2xx=$(awk '/Non-2xx/ {print $5}' "$log")
  [ -z "$non2xx" ] || echo "bench: $name had $non2xx non-2xx answers" >&2
  echo "bench: $name ${rps:-0} req/s" >&2
}

# --- peers ------------------------------------------------------------------------
echo "bench: building the peers" >&2
cargo build --release --quiet --manifest-path "$peers/axum-hello/Cargo.toml" \
  --target-dir "${CARGO_TARGET_DIR:-/tmp/tessera-peer-axum-target}"
cargo build --release --quiet --locked --manifest-path "$peers/axum-login/Cargo.toml" \
  --target-dir "${CARGO_TARGET_DIR:-/tmp/tessera-peer-axum-login-target}"
echo "bench: starting peers" >&2
"$peers/axum-hello/run.sh" 8102 >"$work/hello.log" 2>&1 & pids+=($!)
wait_port 8102
hello_pid=$(pgrep -f "release/baseline 127.0.0.1:8102" | head -1)
"$peers/axum-login/run.sh" 8103 >"$work/axum-login.log" 2>&1 & pids+=($!)
wait_port 8103
login_pid=$(pgrep -f "axum-login-peer 127.0.0.1:8103" | head -1)
PEER_COOKIE=$(curl -s -i -X POST -H 'Content-Type: application/json' \
  -d '{"username":"joe","password":"bloggs-correct-horse"}' http://127.0.0.1:8103/login \
  | awk -F': ' 'tolower($1)=="set-cookie" {split($2,a,";"); print a[1]}')
export PEER_COOKIE
"$peers/django/run.sh" 8101 >"$work/django.log" 2>&1 & pids+=($!)
wait_port 8101
django_token=$(awk '/^TOKEN/ {print $2}' "$work/django.log")
django_pid=$(pgrep -f "gunicorn.*127.0.0.1:8101" | head -1)

# --- Tessera ------------------------------------------------------------------------
mkdir -p "$work/t"
cat >"$work/t/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:8110"
trusted_proxies = ["127.0.0.1"]
data_dir = "$work/t/data"

# Metrics on, as by default: verify-token-no-metrics below measures their cost.
[metrics]
listen = "127.0.0.1:8119"

# The login scenario sends 64 concurrent logins of one account; attempts are counted
# before hashing, so the default limit (10) would answer most of them 429.
[throttle]
account_max_failures = 1000000

[[rules]]
match = "GET /orders/**"
permissions = ["orders:read"]

# The same rule with a rate limit the run never reaches: what counting costs.
[[rules]]
match = "GET /limited/**"
permissions = ["orders:read"]
rate_limit = "1000000000/1h"

[[rules]]
match = "GET /api/me"
TOML
export TESSERA_CONFIG=$work/t/tessera.toml TESSERA_ADMIN_PASSWORD="bench admin password correct horse"
(cd "$work/t" && "$tessera" role add orders --permission orders:read >/dev/null)
(cd "$work/t" && echo "bench password correct horse" | "$tessera" user add bench --password-stdin --role orders >/dev/null)
pat=$(cd "$work/t" && "$tessera" token create bench --name bench --expires-in 30d 2>/dev/null)
(cd "$work/t" && exec "$tessera" serve >"$work/tessera.log" 2>&1) & pids+=($!)
tessera_pid=$!
wait_port 8110
# The same server on the same database with metrics off: their cost on the verify path.
(cd "$work/t" && TESSERA_SERVER__LISTEN=127.0.0.1:8113 TESSERA_METRICS__LISTEN= \
  exec "$tessera" serve >"$work/no-metrics.log" 2>&1) & pids+=($!)
no_metrics_pid=$!
wait_port 8113
sleep 1
# Idle: started, migrated, nothing asked yet.
echo "idle 0 - - $(rss_now_kib "$tessera_pid") $(rss_now_kib "$tessera_pid")" >>"$work/rounds.txt"
session=$(curl -s -u "bench:bench password correct horse" http://127.0.0.1:8110/api/login)
cookie=$(curl -s -i -X POST -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench password correct horse"}' http://127.0.0.1:8110/api/login \
  | awk -F': ' 'tolower($1)=="set-cookie" && $2 ~ /^sessionid/ {split($2,a,";"); print a[1]}')

# The gateway: a second Tessera in front of the hello world.
mkdir -p "$work/g"
cat >"$work/g/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:8111"
base_path = "/auth"
data_dir = "$work/g/data"

[metrics]
listen = ""

[proxy]
upstream = "http://127.0.0.1:8102"

[[rules]]
match = "GET /api/me"
TOML
(cd "$work/g" && TESSERA_CONFIG=$work/g/tessera.toml exec "$tessera" serve >"$work/gateway.log" 2>&1) & pids+=($!)
gateway_pid=$!
wait_port 8111
(cd "$work/g" && TESSERA_CONFIG=$work/g/tessera.toml "$tessera" token create admin --name bench 2>/dev/null) >"$work/g/pat"
gw_pat=$(cat "$work/g/pat")

# nginx in front of the same upstream: what a mature reverse proxy achieves here.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  upstream hello { server 127.0.0.1:8102; keepalive 64; }
  server {
    listen 127.0.0.1:8120;
    location / { proxy_pass http://hello; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" & pids+=($!)
nginx_pid=$!
wait_port 8120

# --- Tessera on PostgreSQL -----------------------------------------------------------
pg=""
if [ -z "${SKIP_POSTGRES:-}" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$pgbin" ]; then
    echo "bench: installing postgresql" >&2
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null || true
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  fi
fi
if [ -z "${SKIP_POSTGRES:-}" ] && [ -z "$pgbin" ]; then
  echo "bench: no PostgreSQL binaries; the PostgreSQL scenarios are skipped" >&2
  SKIP_POSTGRES=1
fi
if [ -z "${SKIP_POSTGRES:-}" ]; then
  as_pg=()
  [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
  mkdir -p "$work/pg" && chmod 755 "$work"
  [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  "${as_pg[@]}" "$pgbin/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p 8132 -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  pg="postgres://postgres@127.0.0.1:8132/postgres"
  mkdir -p "$work/p"
  cat >"$work/p/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:8112"
trusted_proxies = ["127.0.0.1"]
data_dir = "$work/p/data"

[metrics]
listen = ""

[database]
url = "$pg"

[[rules]]
match = "GET /orders/**"
permissions = ["orders:read"]
TOML
  export TESSERA_CONFIG=$work/p/tessera.toml
  (cd "$work/p" && "$tessera" role add orders --permission orders:read >/dev/null)
  (cd "$work/p" && echo "bench password correct horse" | "$tessera" user add bench --password-stdin --role orders >/dev/null)
  pg_pat=$(cd "$work/p" && "$tessera" token create bench --name bench --expires-in 30d 2>/dev/null)
  (cd "$work/p" && exec "$tessera" serve >"$work/postgres.log" 2>&1) & pids+=($!)
  pg_tessera_pid=$!
  wait_port 8112
  # Two more instances on the same database, for the revocation scenario.
  for port in 8114 8115; do
    (cd "$work/p" && TESSERA_SERVER__LISTEN=127.0.0.1:$port exec "$tessera" serve >"$work/postgres-$port.log" 2>&1) & pids+=($!)
    wait_port "$port"
  done
  export TESSERA_CONFIG=$work/t/tessera.toml
fi

verify=(-H "X-Original-URI: /orders/1" -H "X-Original-Method: GET")

# raw_argon2id: the raw Argon2id rate of the same parameters on the same cores (criterion,
# one hash per core at a time, in parallel), for the login ratio. Measured in every round
# next to the logins, as the machine's load changes over a run.
raw_argon2id() {
  local ns rate
  ns=$(cargo bench --quiet --manifest-path "$root/Cargo.toml" -p tessera-core --bench hot_paths -- 'argon2id/raw parallel' \
    --warm-up-time 1 --measurement-time 3 2>/dev/null | awk '/time:/ {v=$4; u=$5; gsub(/\[/,"",v); if (u=="ms") v*=1e6; else if (u=="µs"||u=="us") v*=1e3; print v; exit}')
  rate=$(python3 -c "print(round($(nproc) * 1e9 / ${ns:-1e12}, 1))")
  echo "argon2id-raw $rate - - 0 0" >>"$work/rounds.txt"
  echo "bench: argon2id-raw $rate hashes/s" >&2
}
echo "bench: building the Argon2id benchmark" >&2
cargo bench --quiet --manifest-path "$root/Cargo.toml" -p tessera-core --bench hot_paths --no-run 2>/dev/null

# --- scenarios --------------------------------------------------------------------
for round in $(seq "$ROUNDS"); do
  echo "bench: round $round of $ROUNDS" >&2
  run hello "$hello_pid" http://127.0.0.1:8102/api/me
  run axum-login "$login_pid" -s "$here/axum_login.lua" http://127.0.0.1:8103/api/me
  run django-token "$django_pid" -H "Authorization: Token $django_token" http://127.0.0.1:8101/api/me
  run verify-token "$tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pat" http://127.0.0.1:8110/api/verify
  run verify-token-no-metrics "$no_metrics_pid" "${verify[@]}" -H "Authorization: Bearer $pat" http://127.0.0.1:8113/api/verify
  run verify-token-rate-limited "$tessera_pid" -H "X-Original-URI: /limited/1" -H "X-Original-Method: GET" \
    -H "Authorization: Bearer $pat" http://127.0.0.1:8110/api/verify
  run verify-cookie "$tessera_pid" "${verify[@]}" -H "Cookie: $cookie" http://127.0.0.1:8110/api/verify
  run session-info "$tessera_pid" -H "Authorization: Bearer $session" http://127.0.0.1:8110/api/session
  run gateway "$gateway_pid" -H "Authorization: Bearer $gw_pat" http://127.0.0.1:8111/api/me
  run gateway-nginx "$nginx_pid" http://127.0.0.1:8120/api/me
  [ -z "$pg" ] || run pg-verify-token "$pg_tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pg_pat" http://127.0.0.1:8112/api/verify
  raw_argon2id
  run login "$tessera_pid" -s "$here/login.lua" http://127.0.0.1:8110/api/login
  # Verification latency while logins saturate the machine.
  wrk -t1 -c16 -d"$DURATION" -s "$here/login.lua" http://127.0.0.1:8110/api/login >/dev/null 2>&1 &
  flood=$!
  run verify-under-login-flood "$tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pat" http://127.0.0.1:8110/api/verify
  wait "$flood" || true
done
# Hashing threads give their Argon2 memory back after 10 idle seconds.
sleep 12
echo "idle-after-logins 0 - - $(rss_now_kib "$tessera_pid") $(rss_now_kib "$tessera_pid")" >>"$work/rounds.txt"
# Scale: verify-token with 1,000 and with 1,000,000 live tokens and sessions in the store.
python3 "$here/seed_tokens.py" "$work/t/data/tessera.db" 1000 >/dev/null
for round in $(seq "$ROUNDS"); do
  run scale-1k "$tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pat" http://127.0.0.1:8110/api/verify
done
echo "bench: seeding 1,000,000 tokens and sessions (SQLite)" >&2
python3 "$here/seed_tokens.py" "$work/t/data/tessera.db" 1000000 >/dev/null
for round in $(seq "$ROUNDS"); do
  run scale-1m "$tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pat" http://127.0.0.1:8110/api/verify
done

if [ -n "$pg" ]; then
  # Revocations made on one instance, seen by the two others (one line, 100 revocations
  # observed twice each), before the big seeding below.
  python3 "$here/revocation.py" bench "bench password correct horse" 100 \
    127.0.0.1:8112 127.0.0.1:8114 127.0.0.1:8115 >>"$work/rounds.txt"
  psql_pg() { psql -q -X -v ON_ERROR_STOP=1 "$pg" "$@"; }
  psql_pg -v n=1000 -f "$here/seed_tokens.sql" >/dev/null
  for round in $(seq "$ROUNDS"); do
    run pg-scale-1k "$pg_tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pg_pat" http://127.0.0.1:8112/api/verify
  done
  echo "bench: seeding 1,000,000 tokens and sessions (PostgreSQL)" >&2
  psql_pg -v n=1000000 -f "$here/seed_tokens.sql" >/dev/null
  for round in $(seq "$ROUNDS"); do
    run pg-scale-1m "$pg_tessera_pid" "${verify[@]}" -H "Authorization: Bearer $pg_pat" http://127.0.0.1:8112/api/verify
  done
fi

# --- report -----------------------------------------------------------------------
python3 "$here/report.py" "$out/latest.json" <"$work/rounds.txt"
# The same as a chart beside it, and as the README's picture (commit it with the numbers).
python3 "$here/chart.py" "$out/latest.json" "$out/latest.svg"
cp "$out/latest.svg" "$root/docs/benchmark.svg"
echo "bench: wrote $out/latest.json, $out/latest.svg and docs/benchmark.svg" >&2
