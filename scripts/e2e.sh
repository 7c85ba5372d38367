#!/usr/bin/env bash
# End-to-end checks of the arca binary as a user runs it: defaults, first-start admin password,
# a 2 GiB upload with flat memory, graceful shutdown during an upload, JSON logs, restart.
# Prints 'N passed, N failed'. Needs ARCA_BIN (scripts/test.sh sets it).
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
W=$(mktemp -d /tmp/arca-e2e.XXXXXX)
PID=""
pass=0; fail=0
ok()   { pass=$((pass+1)); echo "ok   $*"; }
bad()  { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
stop() { if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null; fi; PID=""; }
trap 'stop; rm -rf "$W"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts arca in $W/run with extra env; sets PID, URL, READY_MS.
start() {
  local p; p=$(port)
  URL="http://127.0.0.1:$p"
  local t0; t0=$(date +%s%N)
  (cd "$W/run" && exec env ARCA_LISTEN="127.0.0.1:$p" "$@" "$ARCA_BIN" >>"$W/log" 2>&1) &
  PID=$!
  for _ in $(seq 1 500); do
    if curl -sf "$URL/service/rest/v1/status" >/dev/null; then
      READY_MS=$(( ($(date +%s%N) - t0) / 1000000 )); return 0
    fi
    kill -0 "$PID" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }

mkdir -p "$W/run"
# 1. Defaults: ./data with SQLite and a file blob store, admin password in data/admin.password.
check "server starts with defaults" start
echo "     start-to-ready ${READY_MS} ms"
check "admin.password written" test -s "$W/run/data/admin.password"
check "sqlite database under data/" test -f "$W/run/data/arca.db"
PW=$(cat "$W/run/data/admin.password")
check "repositories answer []" test "$(curl -s -u "admin:$PW" "$URL/service/rest/v1/repositories")" = "[]"
sleep 1
echo "     idle RSS $(rss_kb) kB"

# 2. A 2 GiB upload and download stream through with flat memory.
curl -sf -u "admin:$PW" -H 'content-type: application/json' "$URL/service/rest/v1/repositories/raw/hosted" \
  -d '{"name":"big","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"}}'
code=$(head -c 2147483648 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -T - "$URL/repository/big/2g.bin")
check "2 GiB upload accepted" test "$code" = 201
sum=$(curl -s -u "admin:$PW" "$URL/repository/big/2g.bin" | sha256sum | cut -d' ' -f1)
want=$(head -c 2147483648 /dev/zero | sha256sum | cut -d' ' -f1)
check "2 GiB download intact" test "$sum" = "$want"
hwm=$(hwm_kb)
echo "     peak RSS after 2 GiB up and down: ${hwm} kB"
check "memory stays flat (peak RSS < 150 MiB)" test "$hwm" -lt 153600

# 3. SIGTERM during an upload: the upload finishes, then the server exits 0.
head -c 3000000 /dev/zero > "$W/3m.bin"
curl -s -o /dev/null -w '%{http_code}' --limit-rate 1500K -u "admin:$PW" -T "$W/3m.bin" "$URL/repository/big/slow.bin" > "$W/slow.code" &
CURL=$!
sleep 0.7
kill -TERM "$PID"
wait "$CURL"
wait "$PID"; rc=$?
PID=""
check "in-flight upload finished during shutdown" test "$(cat "$W/slow.code")" = 201
check "server exited 0 on SIGTERM" test "$rc" = 0

# 4. Restart on the same data: password kept, content kept; JSON logs on request.
: > "$W/log"
check "restart" start ARCA_LOG_FORMAT=json
check "admin password unchanged" test "$(cat "$W/run/data/admin.password")" = "$PW"
check "content kept across restart" test "$(curl -s -u "admin:$PW" -o /dev/null -w '%{size_download}' "$URL/repository/big/slow.bin")" = 3000000
curl -s -u "admin:$PW" "$URL/service/rest/v1/repositories" >/dev/null
check "JSON log lines" python3 -c '
import json,sys
lines=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
req=[l for l in lines if l.get("fields",{}).get("message")=="request"]
assert req and "status" in req[-1]["fields"] and "duration_ms" in req[-1]["fields"], lines[-3:]
assert req[-1]["span"]["path"]=="/service/rest/v1/repositories", req[-1]
' "$W/log"
stop

# 5. Wrong config fails at start, naming the key.
out=$(cd "$W/run" && ARCA_BASE_URL="nope" "$ARCA_BIN" 2>&1); rc=$?
check "bad config exits 2 naming the key" test "$rc" = 2 -a -n "$(echo "$out" | grep 'base_url:')"

echo
echo "e2e: $pass passed, $fail failed"
[ "$fail" = 0 ]
