#!/usr/bin/env bash
# npm proxy benchmark: Arca against verdaccio 6.8.0 (the reference npm proxy; 6.10 needs Node 22),
# both proxying the registry npm is configured with here (read at run time), in the same run:
#   1. cached packument GETs of `express`, once fetched and cached by both, then wrk (as
#      bench/load.sh uses) at 64 connections: req/s, p50/p99 latency, errors, bytes per answer;
#      asked as npm install asks (abbreviated preferred: verdaccio answers the full document) and
#      as `application/json` (the full document from both);
#   2. a warm `npm ci` of a ~60-package tree (express and its dependencies, from a lockfile
#      without resolved URLs so each run goes to the proxy under test): once to fill the proxy,
#      then timed runs with an empty npm cache each (every tarball and packument comes from the
#      proxy), best and median of the runs.
# Prints each figure and the ratio Arca/verdaccio (req/s: higher is better; seconds: lower is).
#
# Usage: bench/npm.sh [seconds per wrk row, default 20] [--smoke]
#   --smoke: 2 s wrk rows, one timed npm ci each (a tiny run: completes, figures unreliable)
#   ARCA_BIN: the binary (default: cargo build --release, then the release binary); copied to
#   BENCH_BIN_DIR (default ~/.cache/bench-arca) first, as other builds may replace it meanwhile.
#   CACHE: where verdaccio is installed (default ~/.cache/arca-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=20; SMOKE=0; RUNS=5
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1; DUR=2; RUNS=1 ;;
    ''|*[!0-9]*) echo "usage: bench/npm.sh [seconds] [--smoke]" >&2; exit 2 ;;
    *) DUR=$a ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
for p in wrk curl python3; do
  dpkg -s "$p" >/dev/null 2>&1 || { flock /var/lock/arca-apt.lock apt-get update -qq; DEBIAN_FRONTEND=noninteractive flock /var/lock/arca-apt.lock apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done
if [ -z "${ARCA_BIN:-}" ]; then
  cargo build --release -q -p arca-server --bin arca
  ARCA_BIN="$CARGO_TARGET_DIR/release/arca"
fi
BIN_DIR=${BENCH_BIN_DIR:-$HOME/.cache/bench-arca}; mkdir -p "$BIN_DIR"
BIN=$(mktemp "$BIN_DIR/arca-npm.XXXXXX"); cp "$ARCA_BIN" "$BIN"; chmod 755 "$BIN"
CACHE=${CACHE:-$HOME/.cache/arca-tools}
VERDACCIO_DIR="$CACHE/verdaccio-6.8.0"
VERDACCIO="$VERDACCIO_DIR/node_modules/.bin/verdaccio"
[ -x "$VERDACCIO" ] || npm i --prefix "$VERDACCIO_DIR" --no-audit --no-fund --cache "$CACHE/npm-tools-cache" verdaccio@6.8.0 >/dev/null 2>&1

W=$(mktemp -d /tmp/arca-npm-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W" "$BIN"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 1500); do curl -sf -o /dev/null "$1" && return 0; sleep 0.02; done; echo "not up: $1" >&2; return 1; }

UPSTREAM=$(npm config get registry)

# Arca: one npm proxy, anonymous reads (verdaccio's default), metadata kept 30 minutes.
AP=$(port); AURL="http://127.0.0.1:$AP"; PW=bench-pass-123
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$AP" ARCA_ADMIN_PASSWORD=$PW ARCA_ANONYMOUS_ACCESS=true ARCA_LOG=warn "$BIN" >"$W/arca.log" 2>&1) &
PIDS+=($!); APID=$!
wait_up "$AURL/service/rest/v1/status"
code=$(curl -s -o "$W/create.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X POST "$AURL/service/rest/v1/repositories/npm/proxy" \
  -d "{\"name\":\"npm-proxy\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":true},\"proxy\":{\"remoteUrl\":\"$UPSTREAM\",\"contentMaxAge\":-1,\"metadataMaxAge\":30},\"negativeCache\":{\"enabled\":true,\"timeToLive\":30},\"httpClient\":{\"blocked\":false,\"autoBlock\":true}}")
[ "$code" = 201 ] || { echo "creating the Arca proxy failed: $code $(cat "$W/create.out")" >&2; exit 1; }
AREG="$AURL/repository/npm-proxy/"

# verdaccio: the same upstream, metadata kept 30 minutes, no auth for reads.
VP=$(port); VREG="http://127.0.0.1:$VP/"
mkdir -p "$W/verdaccio/storage"
cat >"$W/verdaccio/config.yaml" <<EOF
storage: $W/verdaccio/storage
listen: 127.0.0.1:$VP
uplinks:
  upstream:
    url: $UPSTREAM
    maxage: 30m
    cache: true
packages:
  '@*/*':
    access: \$all
    proxy: upstream
  '**':
    access: \$all
    proxy: upstream
log: { type: stdout, format: pretty, level: warn }
web: { enable: false }
EOF
(exec "$VERDACCIO" --config "$W/verdaccio/config.yaml" >"$W/verdaccio.log" 2>&1) &
PIDS+=($!); VPID=$!
wait_up "${VREG}-/ping"

ABBR='application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*'
rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- 1. cached packument GETs -------------------------------------------------------------
wrk_row() { # name url accept -> "req/s p50 p99 errors bytes"
  curl -sf -o /dev/null -H "Accept: $3" "$2" || { echo "warm-up GET failed: $2" >&2; return 1; }
  local bytes; bytes=$(curl -sf -H "Accept: $3" "$2" | wc -c)
  cat >"$W/accept.lua" <<EOF
wrk.headers["Accept"] = "$3"
done = function(summary, latency, requests)
  io.write(string.format("ROW %.1f %.2f %.2f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOF
  wrk -t2 -c64 -d"${DUR}s" --latency -s "$W/accept.lua" "$2" >"$W/wrk-$1.out" 2>&1
  echo "$(grep '^ROW' "$W/wrk-$1.out" | cut -d' ' -f2-) $bytes"
}
read -r a_rps a_p50 a_p99 a_err a_b < <(wrk_row arca "${AREG}express" "$ABBR")
read -r v_rps v_p50 v_p99 v_err v_b < <(wrk_row verdaccio "${VREG}express" "$ABBR")
read -r af_rps af_p50 af_p99 af_err af_b < <(wrk_row arca-full "${AREG}express" application/json)
read -r vf_rps vf_p50 vf_p99 vf_err vf_b < <(wrk_row verdaccio-full "${VREG}express" application/json)

# --- 2. warm npm ci -------------------------------------------------------------------------
# A lockfile without resolved URLs: npm ci then fetches everything from the registry it is given.
mkdir -p "$W/app"
printf '{"name":"bench-app","version":"1.0.0","private":true,"dependencies":{"express":"^4.21.0"}}\n' >"$W/app/package.json"
printf 'omit-lockfile-registry-resolved=true\nfund=false\naudit=false\nupdate-notifier=false\n' >"$W/npmrc"
(cd "$W/app" && npm --userconfig "$W/npmrc" --cache "$W/npm-cache-lock" install --package-lock-only --registry "$AREG" >/dev/null 2>&1)
PKGS=$(python3 -c "import json; print(len([k for k in json.load(open('$W/app/package-lock.json'))['packages'] if k]))")
ci() { # registry tag -> seconds
  rm -rf "$W/app/node_modules" "$W/npm-cache-$2"
  local t0; t0=$(date +%s.%N)
  (cd "$W/app" && npm --userconfig "$W/npmrc" --cache "$W/npm-cache-$2" ci --registry "$1" --prefer-online >"$W/ci-$2.log" 2>&1) || { echo "npm ci failed against $1" >&2; tail -5 "$W/ci-$2.log" >&2; return 1; }
  python3 -c "import time; print(f'{time.time() - $t0:.2f}')"
}
ci "$AREG" arca-fill >/dev/null
ci "$VREG" verdaccio-fill >/dev/null
stats() { python3 -c "import statistics,sys; v=sorted(map(float,sys.argv[1:])); print(f'{v[0]:.2f} {statistics.median(v):.2f}')" "$@"; }
a_runs=(); v_runs=()
for _ in $(seq 1 "$RUNS"); do
  a_runs+=("$(ci "$AREG" arca)")
  v_runs+=("$(ci "$VREG" verdaccio)")
done
read -r a_best a_med < <(stats "${a_runs[@]}")
read -r v_best v_med < <(stats "${v_runs[@]}")

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
echo "npm proxy benchmark ($(git rev-parse --short HEAD 2>/dev/null || echo '?'); wrk ${DUR}s at 64 connections; npm ci of $PKGS packages, $RUNS timed runs each)"
row() { printf '%-44s %14s %14s %10s\n' "$@"; }
row "" arca verdaccio "arca/verd"
row "packument GET as npm asks, req/s" "$a_rps" "$v_rps" "$(ratio "$a_rps" "$v_rps")"
row "  p50 / p99 latency, ms" "$a_p50/$a_p99" "$v_p50/$v_p99" ""
row "  errors; bytes per answer" "$a_err; $a_b" "$v_err; $v_b" ""
row "packument GET application/json, req/s" "$af_rps" "$vf_rps" "$(ratio "$af_rps" "$vf_rps")"
row "  p50 / p99 latency, ms" "$af_p50/$af_p99" "$vf_p50/$vf_p99" ""
row "  errors; bytes per answer" "$af_err; $af_b" "$vf_err; $vf_b" ""
row "warm npm ci, best, s" "$a_best" "$v_best" "$(ratio "$a_best" "$v_best")"
row "warm npm ci, median, s" "$a_med" "$v_med" "$(ratio "$a_med" "$v_med")"
row "peak RSS, MiB" "$(( $(rss_kb "$APID") / 1024 ))" "$(( $(rss_kb "$VPID") / 1024 ))" ""
