#!/usr/bin/env bash
# CPU per request, the profile behind the ratios of bench/run.sh: for each scenario, wrk
# sends a fixed load and this reads the user and kernel CPU time the serving processes
# spent (/proc/PID/stat), divided by the requests answered. Unlike requests/s, these
# figures hardly move with the load of a shared machine, and they show where a ratio
# comes from: wrk runs on the same cores, so every microsecond a server spends is one
# the load generator cannot.
#
#   bench/cpu.sh            # DURATION=5s CONNS=16 by default; needs what bench/run.sh needs
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
peers=${PEERS:-$root/../shared/peers}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin tessera
cargo build --release --quiet --manifest-path "$peers/axum-hello/Cargo.toml" \
  --target-dir "${CARGO_TARGET_DIR:-/tmp/tessera-peer-axum-target}"
tessera=$root/target/release/tessera
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
wait_port() { for _ in $(seq 1 600); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# Clock ticks of user and kernel time of the processes whose ids are given (and their threads).
ticks() { local u=0 s=0; for p in "$@"; do read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat"); u=$((u + a)); s=$((s + b)); done; echo "$u $s"; }
hz=$(getconf CLK_TCK)

"$peers/axum-hello/run.sh" 8202 >"$work/hello.log" 2>&1 & pids+=($!)
wait_port 8202
hello_pid=$(pgrep -f "release/baseline 127.0.0.1:8202" | head -1)

mkdir -p "$work/t"
cat >"$work/t/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:8210"
trusted_proxies = ["127.0.0.1"]
data_dir = "$work/t/data"
[metrics]
listen = "127.0.0.1:8219"
[[rules]]
match = "GET /orders/**"
permissions = ["orders:read"]
TOML
export TESSERA_CONFIG=$work/t/tessera.toml TESSERA_ADMIN_PASSWORD="bench admin password correct horse"
(cd "$work/t" && "$tessera" role add orders --permission orders:read >/dev/null)
(cd "$work/t" && echo "bench password correct horse" | "$tessera" user add bench --password-stdin --role orders >/dev/null)
pat=$(cd "$work/t" && "$tessera" token create bench --name bench --expires-in 1d 2>/dev/null)
(cd "$work/t" && exec "$tessera" serve >"$work/t.log" 2>&1) & pids+=($!)
verify_pid=$!
wait_port 8210
cookie=$(curl -s -i -X POST -H 'Content-Type: application/json' \
  -d '{"username":"bench","password":"bench password correct horse"}' http://127.0.0.1:8210/api/login \
  | awk -F': ' 'tolower($1)=="set-cookie" && $2 ~ /^sessionid/ {split($2,a,";"); print a[1]}')

mkdir -p "$work/g"
cat >"$work/g/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:8211"
base_path = "/auth"
data_dir = "$work/g/data"
[metrics]
listen = ""
[proxy]
upstream = "http://127.0.0.1:8202"
[[rules]]
match = "GET /api/me"
TOML
(cd "$work/g" && TESSERA_CONFIG=$work/g/tessera.toml exec "$tessera" serve >"$work/g.log" 2>&1) & pids+=($!)
gateway_pid=$!
wait_port 8211
# The port opens before the first admin is created: wait for it.
for _ in $(seq 1 100); do
  gw_pat=$(cd "$work/g" && TESSERA_CONFIG=$work/g/tessera.toml "$tessera" token create admin --name bench 2>/dev/null) && break
  sleep 0.1
done

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  upstream hello { server 127.0.0.1:8202; keepalive 64; }
  server {
    listen 127.0.0.1:8220;
    location / { proxy_pass http://hello; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" & pids+=($!)
wait_port 8220
sleep 0.5
nginx_pids=$(pgrep -f "nginx: worker process" | tr '\n' ' ')

# measure NAME "PIDS" wrk-args...: µs of user and kernel CPU per answered request.
measure() {
  local name=$1 procs=$2; shift 2
  read -r u0 s0 < <(ticks $procs)
  wrk -t1 -c"$CONNS" -d"$DURATION" "$@" >"$work/$name.wrk" 2>&1
  read -r u1 s1 < <(ticks $procs)
  local n
  n=$(awk '/requests in/ {print $1}' "$work/$name.wrk")
  python3 -c "
u = ($u1 - $u0) * 1e6 / $hz / $n; s = ($s1 - $s0) * 1e6 / $hz / $n
print(f'{\"$name\":28} {$n:>9} {u:>8.1f} {s:>8.1f} {u + s:>8.1f}')"
}

verify=(-H "X-Original-URI: /orders/1" -H "X-Original-Method: GET")
printf '%-28s %9s %8s %8s %8s\n' scenario requests "user µs" "sys µs" "total µs"
measure hello "$hello_pid" http://127.0.0.1:8202/
measure verify-token "$verify_pid" "${verify[@]}" -H "Authorization: Bearer $pat" http://127.0.0.1:8210/api/verify
measure verify-cookie "$verify_pid" "${verify[@]}" -H "Cookie: $cookie" http://127.0.0.1:8210/api/verify
measure "gateway (tessera only)" "$gateway_pid" -H "Authorization: Bearer $gw_pat" http://127.0.0.1:8211/api/me
measure "gateway (+ upstream)" "$gateway_pid $hello_pid" -H "Authorization: Bearer $gw_pat" http://127.0.0.1:8211/api/me
measure "nginx proxy (nginx only)" "$nginx_pids" http://127.0.0.1:8220/api/me
measure "nginx proxy (+ upstream)" "$nginx_pids $hello_pid" http://127.0.0.1:8220/api/me
