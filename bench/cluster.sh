#!/usr/bin/env bash
# Cluster benchmark (issue 15; not run in CI): GETs of a 1 MiB raw file with Basic auth (wrk and
# bench/load.lua, as bench/load.sh) straight to one node, through a local nginx to that one
# node, and through the same nginx to two nodes; both nodes share one PostgreSQL database and one
# blob directory. Prints req/s, p50/p99 and errors per row, and the ratios two nodes / one node.
# Everything on loopback; nginx's configuration, logs and temp files live in a temp directory.
#
# Usage: bench/cluster.sh [seconds per row, default 20] [connections, default 64]
#   ARCA_BIN: the binary (default: the release build, built if missing)
#   PostgreSQL: ARCA_TEST_DATABASE_URL (a server to create a throw-away database on) or a local
#   installation to start one from (as root). nginx and wrk are installed with apt-get if missing.
# On one machine the nodes, nginx and wrk share the same cores: the ratio shows what a second
# node costs or gains here, not what a second machine would.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pg.sh
ROOT=$PWD
DUR=${1:-20}; CONNS=${2:-64}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
if [ -z "${ARCA_BIN:-}" ]; then
  [ -x "$CARGO_TARGET_DIR/release/arca" ] || cargo build --release --quiet --bin arca
  ARCA_BIN="$CARGO_TARGET_DIR/release/arca"
fi
for b in nginx wrk psql; do
  command -v "$b" >/dev/null || { flock /var/lock/arca-apt.lock apt-get update -qq && DEBIAN_FRONTEND=noninteractive flock /var/lock/arca-apt.lock apt-get install -y -qq \
    --no-install-recommends nginx-light wrk postgresql-client >/dev/null; break; }
done
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"

W=$(mktemp -d /tmp/arca-cluster-bench.XXXXXX)
cp "$ARCA_BIN" "$W/arca"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pg_cleanup
  rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_fresh_database "$W" arca_bench 300

PW=bench-pass-1
BASIC="Basic $(printf 'admin:%s' "$PW" | base64 -w0)"
# node NAME PORT: an Arca node on the shared database and the shared blob directory.
node() {
  mkdir -p "$W/$1"
  (cd "$W/$1" && exec env ARCA_DATA_DIR="$W/$1" ARCA_LISTEN="127.0.0.1:$2" ARCA_ADMIN_PASSWORD=$PW \
    ARCA_DATABASE_URL="$PG_URL" ARCA_BLOB_DIR="$W/blobs" ARCA_LOG=warn "$W/arca" >>"$W/$1.log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$2/service/rest/v1/status" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "node $1 not ready:"; tail -20 "$W/$1.log"; exit 1
}
PA=$(port); PB=$(port); PN1=$(port); PN2=$(port)
node a "$PA"
node b "$PB"
api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X "$1" "http://127.0.0.1:$PA/service/rest/v1/$2" ${3:+-d "$3"}; }
test "$(api POST repositories/raw/hosted '{"name":"files","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"}}')" = 201
head -c 1048576 /dev/urandom >"$W/large.bin"
test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -T "$W/large.bin" "http://127.0.0.1:$PA/repository/files/large.bin")" = 201
cmp <(curl -s -u "admin:$PW" "http://127.0.0.1:$PB/repository/files/large.bin") "$W/large.bin"

# nginx: one server block per upstream set; keep-alive to the nodes, no buffering to disk.
mkdir -p "$W/nginx/tmp"
cat >"$W/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/nginx/tmp/body;
  proxy_temp_path $W/nginx/tmp/proxy;
  fastcgi_temp_path $W/nginx/tmp/fastcgi;
  uwsgi_temp_path $W/nginx/tmp/uwsgi;
  scgi_temp_path $W/nginx/tmp/scgi;
  upstream one { server 127.0.0.1:$PA; keepalive 128; }
  upstream two { least_conn; server 127.0.0.1:$PA; server 127.0.0.1:$PB; keepalive 128; }
  server {
    listen 127.0.0.1:$PN1;
    location / { proxy_pass http://one; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
  server {
    listen 127.0.0.1:$PN2;
    location / { proxy_pass http://two; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
EOF
nginx -t -q -p "$W/nginx" -c "$W/nginx/nginx.conf"
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PN2/" && break; sleep 0.05; done

# row NAME PORT: one wrk run; prints the row and appends "name rps" to $W/rows.
row() {
  rm -f "$W/wrk.json"
  LOAD_METHOD=GET LOAD_PATH=/repository/files/large.bin LOAD_AUTH=$BASIC LOAD_OUT="$W/wrk.json" \
    wrk -t2 -c"$CONNS" -d"${DUR}s" --timeout 5s --latency -s "$ROOT/bench/load.lua" "http://127.0.0.1:$2" >"$W/wrk.txt" 2>&1 || true
  python3 - "$1" "$W/wrk.json" "$W/wrk.txt" >>"$W/rows" <<'PY'
import json, sys
name, path, txt = sys.argv[1:]
try:
    k = json.load(open(path))
except (OSError, ValueError):
    print(f"{name}|0|wrk failed: {open(txt).read()[-300:]!r}")
    sys.exit()
rps = k["requests"] / (k["duration_us"] / 1e6)
errs = k["status"] + k["connect"] + k["read"] + k["write"] + k["timeout"]
print(f"{name}|{rps:.0f}|{k['p50_us'] / 1000:.1f}|{k['p99_us'] / 1000:.1f}|{errs}|{k['bytes'] / k['duration_us'] * 1e6 / 2**20:.0f}")
PY
  tail -1 "$W/rows" | awk -F'|' '{ if (NF < 4) print "  " $1 ": " $3; else printf "  %-34s %7s req/s  p50 %6s ms  p99 %7s ms  errors %s  %s MiB/s\n", $1, $2, $3, $4, $5, $6 }'
}
echo "GET 1 MiB, Basic auth, $CONNS connections, ${DUR} s a row ($(nproc) cores shared by wrk, nginx and the nodes)"
row "one node, direct" "$PA"
row "one node behind nginx" "$PN1"
row "two nodes behind nginx" "$PN2"
python3 - "$W/rows" <<'PY'
import sys
r = {l.split("|")[0]: float(l.split("|")[1]) for l in open(sys.argv[1])}
one, via, two = r["one node, direct"], r["one node behind nginx"], r["two nodes behind nginx"]
if via and one:
    print(f"ratio two nodes / one node, both behind nginx: {two / via:.2f}; two nodes behind nginx / one node direct: {two / one:.2f}")
PY
