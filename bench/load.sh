#!/usr/bin/env bash
# Load benchmark (issues 14 and 18; not a timed test), with wrk and bench/load.lua. Rows, each Arca
# row on a freshly started Arca (so each row's peak RSS is its own):
#   nginx (sendfile, access_log off, keep-alive, worker_processes auto; the reference) serving the
#   same 2 KiB and 1 MiB files at 64 and at 200 connections, same wrk parameters;
#   GET /service/rest/v1/status (no auth, no database: the ceiling) at 64 and 200;
#   GET of the 2 KiB and of the 1 MiB raw file with Basic auth, with an API token (Bearer) and
#   anonymously, at 64 and at 200 connections, each with its ratio to nginx at the same size and
#   connection count (issue 18's targets: >= 0.5 for 2 KiB, >= 0.8 for 1 MiB); PUTs of small raw
#   files (unique paths) with Basic auth at 64 and 200; then honest Basic GETs of the 2 KiB file
#   (64 connections, 10 ms between requests on each) alone and beside a wrong-password flood for the
#   same existing user from 127.0.0.2 (bench/login-flood.py, 200 connections flat out; Arca
#   throttles per address).
# Per row: requests/s, non-2xx and socket errors, p50/p99 latency, Arca's peak RSS (VmRSS polled
# every 100 ms, and VmHWM) and threads, with the targets: 0 errors, ratio to nginx (GET rows),
# peak RSS <= 80 MiB honest, <= 120 MiB during the flood, honest p99 during the flood <= 2x without.
# Writes bench/load-results.json (not committed; not on --smoke) and, when BENCH_JSON is set, the
# same document there (also on --smoke; bench/all.sh reads it).
#
# Usage: bench/load.sh [seconds per row, default 60] [--smoke] [--strict]
#   --smoke: 1 s rows, 64 connections only (CI: completes without a run failing; targets printed,
#            not enforced)
#   --strict: exit 1 when a target fails
#   ARCA_BIN: the binary (default: cargo build --release, then the release binary); copied to
#   BENCH_BIN_DIR (default ~/.cache/bench-arca) first, as other builds may replace it meanwhile
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=60; SMOKE=0; STRICT=0; CONNS="64 200"
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1; DUR=1; CONNS=64 ;;
    --strict) STRICT=1 ;;
    ''|*[!0-9]*) echo "usage: bench/load.sh [seconds] [--smoke] [--strict]" >&2; exit 2 ;;
    *) DUR=$a ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
for p in wrk nginx-light curl python3; do
  dpkg -s "$p" >/dev/null 2>&1 || { flock /var/lock/arca-apt.lock apt-get update -qq; DEBIAN_FRONTEND=noninteractive flock /var/lock/arca-apt.lock apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done
if [ -z "${ARCA_BIN:-}" ]; then
  cargo build --release --quiet --bin arca
  ARCA_BIN="$CARGO_TARGET_DIR/release/arca"
fi
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
W=$(mktemp -d /tmp/arca-load.XXXXXX)
# Other builds may replace the original meanwhile; /tmp may be mounted noexec.
BIN_DIR=${BENCH_BIN_DIR:-$HOME/.cache/bench-arca}; mkdir -p "$BIN_DIR"
BIN=$(mktemp "$BIN_DIR/arca-load.XXXXXX"); cp "$ARCA_BIN" "$BIN"; chmod 755 "$BIN"
APID=""; SPID=""; FPID=""; NGPID=""
stop_pid() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
trap 'stop_pid "$FPID"; stop_pid "$SPID"; stop_pid "$APID"; stop_pid "$NGPID"; rm -rf "$W" "$BIN"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"; PW=load-pass-1
BASIC="Basic $(printf 'admin:%s' "$PW" | base64 -w0)"
WRONG="Basic $(printf 'admin:%s' not-the-password | base64 -w0)"

start_arca() {
  (cd "$W" && exec env ARCA_DATA_DIR="$W/data" ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW \
    ARCA_LOG=warn "$BIN" >>"$W/arca.log" 2>&1) &
  APID=$!
  for _ in $(seq 1 600); do
    curl -sf "$URL/service/rest/v1/status" >/dev/null 2>&1 && return 0
    kill -0 "$APID" 2>/dev/null || { echo "arca exited at start:"; tail -20 "$W/arca.log"; exit 1; }
    sleep 0.05
  done
  echo "arca not ready"; exit 1
}
stop_arca() { stop_pid "$APID"; APID=""; }
# After a row the figures are taken: no need to wait for a graceful shutdown.
kill_arca() { if [ -n "$APID" ]; then kill -9 "$APID" 2>/dev/null || true; wait "$APID" 2>/dev/null || true; APID=""; fi; }
# Polls VmRSS and Threads every 100 ms into $W/peak ("rss_kb threads").
start_sampler() {
  ( rss=0; thr=0
    while [ -r "/proc/$APID/status" ]; do
      read -r r t < <(awk '/^VmRSS/ {r=$2} /^Threads/ {t=$2} END {print r+0, t+0}' "/proc/$APID/status" 2>/dev/null || echo "0 0")
      [ "$r" -gt "$rss" ] && rss=$r
      [ "$t" -gt "$thr" ] && thr=$t
      echo "$rss $thr" >"$W/peak.tmp" && mv "$W/peak.tmp" "$W/peak"
      sleep 0.1
    done ) &
  SPID=$!
}
api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X "$1" "$URL/service/rest/v1/$2" ${3:+-d "$3"}; }

# Setup: a raw repository with the two files, an API token, anonymous access on (the Basic and
# token rows authenticate all the same).
start_arca
test "$(api POST repositories/raw/hosted '{"name":"files","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"}}')" = 201
head -c 2048 /dev/urandom >"$W/small.bin"; head -c 1048576 /dev/urandom >"$W/large.bin"
for f in small large; do
  test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -T "$W/$f.bin" "$URL/repository/files/$f.bin")" = 201
done
test "$(api POST security/tokens '{"name":"load","expiresInDays":1}')" = 201
TOKEN="Bearer $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$W/api.out")"
test "$(api PUT security/anonymous '{"enabled":true,"userId":"anonymous","realmName":"NexusAuthorizingRealm"}')" = 200
cmp <(curl -s -H "Authorization: $TOKEN" "$URL/repository/files/small.bin") "$W/small.bin"
cmp <(curl -s "$URL/repository/files/large.bin") "$W/large.bin"
stop_arca

# nginx, the reference: the same two files at the same paths, its configuration, logs and temp files
# under $W. As root its workers run as nobody, hence the modes.
NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NURL="http://127.0.0.1:$NPORT"
mkdir -p "$W/www/repository/files" "$W/nginx"
cp "$W/small.bin" "$W/large.bin" "$W/www/repository/files/"
chmod 755 "$W" "$W/www" "$W/www/repository" "$W/www/repository/files"; chmod 644 "$W"/www/repository/files/*
cat >"$W/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  server { listen 127.0.0.1:$NPORT; root $W/www; }
}
CONF
start_nginx() {
  nginx -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>>"$W/nginx/error.log" &
  NGPID=$!
  for _ in $(seq 1 200); do
    curl -sf "$NURL/repository/files/small.bin" -o /dev/null 2>&1 && break
    kill -0 "$NGPID" 2>/dev/null || { echo "nginx exited at start:"; tail -20 "$W/nginx/error.log"; exit 1; }
    sleep 0.05
  done
  cmp <(curl -s "$NURL/repository/files/large.bin") "$W/large.bin"
}

ROWS="$W/rows.jsonl"; : >"$ROWS"
N=0
# row NAME KIND CONNS METHOD PATH AUTH [DELAY_MS] [FLOOD]: one wrk run on a fresh Arca, or with
# KIND nginx on the running nginx (no RSS sampling).
row() {
  local name=$1 kind=$2 conns=$3 method=$4 path=$5 auth=$6 delay=${7:-0} flood=${8:-}
  local target=$URL
  N=$((N+1))
  if [ "$kind" = nginx ]; then
    target=$NURL
  else
    start_arca
    start_sampler
  fi
  rm -f "$W/flood.json"
  if [ -n "$flood" ]; then
    python3 "$ROOT/bench/login-flood.py" --port "$PORT" --auth "$WRONG" --path /repository/files/small.bin \
      --connections 200 --duration "$((DUR + 1))" --bind 127.0.0.2 --out "$W/flood.json" >/dev/null 2>"$W/flood.err" &
    FPID=$!
    sleep 0.5
  fi
  local up="/repository/files/up/$N/"
  [ "$method" = PUT ] && path=$up
  rm -f "$W/wrk.json"
  LOAD_METHOD=$method LOAD_PATH=$path LOAD_AUTH=$auth LOAD_DELAY=$delay LOAD_OUT="$W/wrk.json" \
    wrk -t2 -c"$conns" -d"${DUR}s" --timeout 5s --latency -s "$ROOT/bench/load.lua" "$target" >"$W/wrk.txt" 2>&1 || true
  if [ -n "$flood" ]; then wait "$FPID" || true; FPID=""; fi
  local alive=true hwm=0
  if [ "$kind" = nginx ]; then
    kill -0 "$NGPID" 2>/dev/null || alive=false
  elif kill -0 "$APID" 2>/dev/null; then
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$APID/status")
  else
    alive=false
  fi
  if [ "$kind" != nginx ]; then
    stop_pid "$SPID"; SPID=""
    kill_arca
  fi
  local file=""
  case "$path" in */small.bin) file=2KiB ;; */large.bin) file=1MiB ;; esac
  python3 - "$name" "$kind" "$conns" "$alive" "$hwm" "$W" "$file" "$ROWS" <<'PY'
import json, os, sys
name, kind, conns, alive, hwm, w, file, rows = sys.argv[1:]
row = {"name": name, "kind": kind, "connections": int(conns), "arca_alive": alive == "true", "file": file or None}
try:
    row["wrk"] = json.load(open(os.path.join(w, "wrk.json")))
except (OSError, ValueError):
    row["wrk"] = None
    row["wrk_output"] = open(os.path.join(w, "wrk.txt")).read()[-2000:]
peak = open(os.path.join(w, "peak")).read().split() if os.path.exists(os.path.join(w, "peak")) else ["0", "0"]
row["peak_rss_kb"] = max(int(peak[0]), int(hwm or 0))
row["peak_threads"] = int(peak[1])
if os.path.exists(os.path.join(w, "flood.json")):
    row["flood"] = json.load(open(os.path.join(w, "flood.json")))
with open(rows, "a") as f:
    f.write(json.dumps(row) + "\n")
r = row
k = r["wrk"]
if not k:
    print(f"  {r['name']:<44} c={r['connections']:<4} wrk FAILED (server alive: {r['arca_alive']})")
else:
    rps = k["requests"] / (k["duration_us"] / 1e6)
    sock = k["connect"] + k["read"] + k["write"] + k["timeout"]
    print(f"  {r['name']:<44} c={r['connections']:<4} {rps:>9.0f} req/s  non-2xx {k['status']:>6}  socket errors {sock:>5}"
          f"  p50 {k['p50_us'] / 1000:>8.2f} ms  p99 {k['p99_us'] / 1000:>8.2f} ms"
          + (f"  peak RSS {r['peak_rss_kb'] / 1024:>7.1f} MiB  threads {r['peak_threads']}" if r["kind"] != "nginx" else ""), flush=True)
if "flood" in r:
    f = r["flood"]
    print(f"  {'  the flood beside it (127.0.0.2, wrong password)':<44} c={f['connections']:<4} {f['rps']:>9.0f} req/s  answers {f['status']}"
          f"  connection errors {f['connect_errors'] + f['read_errors']}", flush=True)
PY
  rm -f "$W/peak"
}

echo "Arca load benchmark: ${DUR} s a row, $(nproc) cores, binary $ARCA_BIN, reference nginx $(nginx -v 2>&1 | sed 's|.*nginx/||')"
start_nginx
for c in $CONNS; do
  row "nginx GET 2 KiB (sendfile)" nginx "$c" GET /repository/files/small.bin ""
  row "nginx GET 1 MiB (sendfile)" nginx "$c" GET /repository/files/large.bin ""
  row "GET /service/rest/v1/status (no auth)" ceiling "$c" GET /service/rest/v1/status ""
  row "GET 2 KiB, Basic" honest "$c" GET /repository/files/small.bin "$BASIC"
  row "GET 2 KiB, token (Bearer)" honest "$c" GET /repository/files/small.bin "$TOKEN"
  row "GET 2 KiB, anonymous" honest "$c" GET /repository/files/small.bin ""
  row "GET 1 MiB, Basic" honest "$c" GET /repository/files/large.bin "$BASIC"
  row "GET 1 MiB, token (Bearer)" honest "$c" GET /repository/files/large.bin "$TOKEN"
  row "GET 1 MiB, anonymous" honest "$c" GET /repository/files/large.bin ""
  row "PUT 2 KiB uploads, Basic (unique paths)" honest "$c" PUT - "$BASIC"
done
stop_pid "$NGPID"; NGPID=""
row "GET 2 KiB, Basic, 10 ms pauses, no flood" baseline 64 GET /repository/files/small.bin "$BASIC" 10
row "GET 2 KiB, Basic, 10 ms pauses, beside flood" flood 64 GET /repository/files/small.bin "$BASIC" 10 flood

python3 - "$ROWS" "$DUR" "$SMOKE" "$STRICT" "$ARCA_BIN" "$ROOT/bench/load-results.json" "${BENCH_JSON:-}" "$(nginx -v 2>&1 | sed 's|.*nginx/||')" <<'PY'
import json, sys
rows_file, dur, smoke, strict, binary, out, extra_out, nginx_version = sys.argv[1:]
rows = [json.loads(l) for l in open(rows_file)]
MIB = 1024
# Issue 18: Arca's GET of a cached file against nginx's sendfile at the same size and connections.
RATIO_TARGET = {"2KiB": 0.5, "1MiB": 0.8}
ran_ok = all(r["wrk"] and r["arca_alive"] for r in rows)
base = next(r for r in rows if r["kind"] == "baseline")
def rps(r):
    k = r["wrk"]
    return k["requests"] / (k["duration_us"] / 1e6) if k else None
nginx = {(r["file"], r["connections"]): rps(r) for r in rows if r["kind"] == "nginx"}
checks = []
print()
print("| load | conns | req/s | nginx req/s | ratio | non-2xx | socket errors | p50 ms | p99 ms | peak RSS MiB | targets |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    k = r["wrk"] or {}
    t = []
    ref = nginx.get((r["file"], r["connections"])) if r["kind"] == "honest" else None
    ref_cells = ["", ""]
    if k:
        v = rps(r)
        sock = k["connect"] + k["read"] + k["write"] + k["timeout"]
        errs = k["status"] + sock
        t.append(("0 errors", errs == 0))
        if ref:
            r["nginx_rps"] = ref
            r["ratio"] = v / ref
            lim = RATIO_TARGET[r["file"]]
            t.append((f"ratio >= {lim}", r["ratio"] >= lim))
            ref_cells = [f"{ref:.0f}", f"{r['ratio']:.2f}"]
        if r["kind"] == "nginx":
            rss_cell = "-"
        else:
            lim = 120 if r["kind"] == "flood" else 80
            rss = r["peak_rss_kb"] / MIB
            t.append((f"RSS <= {lim} MiB", rss <= lim))
            rss_cell = f"{rss:.1f}"
        if r["kind"] == "flood" and base["wrk"]:
            ratio = k["p99_us"] / max(base["wrk"]["p99_us"], 1)
            t.append((f"p99 {ratio:.1f}x of no-flood <= 2x", ratio <= 2))
        r["rps"] = v
        cells = [f"{v:.0f}"] + ref_cells + [str(k["status"]), str(sock), f"{k['p50_us'] / 1000:.2f}", f"{k['p99_us'] / 1000:.2f}", rss_cell]
    else:
        t.append(("ran", False))
        cells = ["-"] * 9
    r["targets"] = {n: ok for n, ok in t}
    checks += t
    tt = ", ".join(f"{n} {'PASS' if ok else 'FAIL'}" for n, ok in t)
    print(f"| {r['name']} | {r['connections']} | " + " | ".join(cells) + f" | {tt} |")
    if "flood" in r:
        f = r["flood"]
        print(f"| flood beside it: wrong password from 127.0.0.2 | {f['connections']} | {f['rps']:.0f} | | | "
              f"{sum(v for s, v in f['status'].items() if not s.startswith('2'))} (answers {', '.join(f'{s}: {v}' for s, v in sorted(f['status'].items()))}) | "
              f"{f['connect_errors'] + f['read_errors']} | | | | {'PASS' if not any(s.startswith('2') for s in f['status']) else 'FAIL'}: no wrong password let in |")
        checks.append(("flood refused", not any(s.startswith("2") for s in f["status"])))
        r["targets"]["flood refused"] = checks[-1][1]
passed = sum(ok for _, ok in checks)
print(f"\ntargets: {passed} of {len(checks)} passed" + (" (smoke run: not enforced)" if smoke == "1" else ""))
doc = {"duration_s": int(dur), "smoke": smoke == "1", "binary": binary, "nginx": nginx_version, "rows": rows,
       "targets_passed": passed, "targets": len(checks), "ran_ok": bool(ran_ok)}
if smoke != "1":  # a smoke run leaves the last full run's results in place
    json.dump(doc, open(out, "w"), indent=1)
    print(f"results: {out}")
if extra_out:
    json.dump(doc, open(extra_out, "w"), indent=1)
if not ran_ok:
    print("a row did not run (wrk failed or the server died)")
    sys.exit(1)
sys.exit(1 if strict == "1" and passed < len(checks) else 0)
PY
