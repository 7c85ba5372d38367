#!/usr/bin/env bash
# Benchmarks, each beside a reference server in the same run, printing ratios:
#   - GET of a cached 1 MiB Maven jar: Arca (maven hosted, Basic auth) vs nginx (static file)
#   - GET of a cached /simple/<project>/ page, HTML and PEP 691 JSON: Arca vs devpi-server
#   - start-to-ready time and idle RSS of the release binary
# Usage: bench/run.sh [seconds per wrk run, default 10] [--smoke]
#   --smoke: 1 s wrk runs
#   ARCA_BIN: the binary (default: cargo build --release, then the release binary)
#   BENCH_JSON: also write the figures there as JSON (bench/all.sh reads it)
# devpi-server, twine and build come from PyPI into a cached venv; when that fails, the PyPI rows are
# skipped with a note and the rest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=10
for a in "$@"; do
  case "$a" in
    --smoke) DUR=1 ;;
    ''|*[!0-9]*) echo "usage: bench/run.sh [seconds] [--smoke]" >&2; exit 2 ;;
    *) DUR=$a ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
for p in wrk nginx-light curl python3; do
  dpkg -s "$p" >/dev/null 2>&1 || { flock /var/lock/arca-apt.lock apt-get update -qq; DEBIAN_FRONTEND=noninteractive flock /var/lock/arca-apt.lock apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }
done
if [ -n "${ARCA_BIN:-}" ]; then
  BIN=$ARCA_BIN
else
  cargo build --release --quiet --bin arca
  BIN="$CARGO_TARGET_DIR/release/arca"
fi
W=$(mktemp -d /tmp/arca-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rps() { wrk -t2 -c16 -d"${DUR}s" "$@" | awk '/Requests\/sec/ {print $2}'; }

# devpi-server, twine and build from PyPI into a cached venv; the demo project built once per content.
VENV="${ARCA_TOOL_CACHE:-$HOME/.cache/arca-tools}/benchvenv"
PYPI=1
[ -x "$VENV/bin/devpi-server" ] && [ -x "$VENV/bin/twine" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q devpi-server twine build setuptools wheel; } \
  || { PYPI=0; echo "NOTE: devpi-server/twine could not be installed into $VENV: the PyPI rows are skipped" >&2; }
if [ $PYPI = 1 ]; then
  DIST="$VENV-dist/$(find tests/pypi -type f -not -path '*/build/*' -not -path '*.egg-info*' | sort | xargs sha256sum | sha256sum | cut -c1-16)"
  if [ ! -e "$DIST/.done" ]; then
    rm -rf "$DIST"; "$VENV/bin/python" -m build -q --no-isolation --outdir "$DIST" tests/pypi >/dev/null 2>&1; touch "$DIST/.done"
  fi
fi

# Arca, request logging at warn (nginx runs with access_log off).
PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=bench-pass-1
mkdir -p "$W/arca"
t0=$(date +%s%N)
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW ARCA_LOG=warn "$BIN" >"$W/arca.log" 2>&1) &
APID=$!; PIDS+=($APID)
for _ in $(seq 1 2000); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break
  kill -0 "$APID" 2>/dev/null || { echo "arca exited at start:" >&2; tail -20 "$W/arca.log" >&2; exit 1; }
  sleep 0.005
done
READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
sleep 1
IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$APID/status)
# devpi-server starts (slowly) while the rest is set up; every wrk run waits for it.
if [ $PYPI = 1 ]; then
  DPORT=$(port)
  ( "$VENV/bin/devpi-init" --serverdir "$W/devpi" --root-passwd rootpw --no-root-pypi >/dev/null 2>&1
    exec "$VENV/bin/devpi-server" --serverdir "$W/devpi" --host 127.0.0.1 --port "$DPORT" >"$W/devpi.log" 2>&1 ) &
  PIDS+=($!)
fi

head -c 1048576 /dev/urandom >"$W/lib-1.0.jar"
curl -sf -u "admin:$PW" -H 'content-type: application/json' "$URL/service/rest/v1/repositories/maven/hosted" \
  -d '{"name":"releases","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW_ONCE"},"maven":{"versionPolicy":"RELEASE","layoutPolicy":"STRICT"}}'
curl -sf -u "admin:$PW" -T "$W/lib-1.0.jar" "$URL/repository/releases/org/bench/lib/1.0/lib-1.0.jar"
AUTH="Authorization: Basic $(printf 'admin:%s' "$PW" | base64)"
JAR="$URL/repository/releases/org/bench/lib/1.0/lib-1.0.jar"
cmp <(curl -s -H "$AUTH" "$JAR") "$W/lib-1.0.jar"

# nginx serving the same file.
NPORT=$(port)
mkdir -p "$W/www/org/bench/lib/1.0" "$W/nginx"
chmod 755 "$W"   # nginx workers run as nobody
cp "$W/lib-1.0.jar" "$W/www/org/bench/lib/1.0/"
cat >"$W/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $W/nginx/body;
  proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fastcgi;
  uwsgi_temp_path $W/nginx/uwsgi;
  scgi_temp_path $W/nginx/scgi;
  server { listen 127.0.0.1:$NPORT; root $W/www; }
}
CONF
nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$NPORT/org/bench/lib/1.0/lib-1.0.jar" -o /dev/null && break; sleep 0.01; done

# devpi-server with the same project.
A_HTML=""; D_HTML=""; A_JSON=""; D_JSON=""
if [ $PYPI = 1 ]; then
curl -sf -u "admin:$PW" -H 'content-type: application/json' "$URL/service/rest/v1/repositories/pypi/hosted" \
  -d '{"name":"pypi-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW_ONCE"}}'
"$VENV/bin/twine" upload --disable-progress-bar --non-interactive --repository-url "$URL/repository/pypi-hosted/" -u admin -p "$PW" "$DIST"/* >/dev/null
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$DPORT/+api" >/dev/null && break; sleep 0.1; done
# An index without a mirror base, as Arca's hosted repository.
TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d '{"user":"root","password":"rootpw"}' "http://127.0.0.1:$DPORT/+login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["password"])')
DAUTH="X-Devpi-Auth: $(printf 'root:%s' "$TOKEN" | base64 -w0)"
curl -sf -X PUT -H "$DAUTH" -H 'content-type: application/json' -d '{"bases":[]}' "http://127.0.0.1:$DPORT/root/dev" >/dev/null
"$VENV/bin/twine" upload --disable-progress-bar --non-interactive --repository-url "http://127.0.0.1:$DPORT/root/dev/" -u root -p rootpw "$DIST"/* >/dev/null
APAGE="$URL/repository/pypi-hosted/simple/arca-demo/"
DPAGE="http://127.0.0.1:$DPORT/root/dev/+simple/arca-demo/"
curl -sf -H "$AUTH" "$APAGE" | grep -q arca && curl -sf "$DPAGE" | grep -q arca
JSON_ACCEPT="Accept: application/vnd.pypi.simple.v1+json"
A_HTML=$(rps -H "$AUTH" "$APAGE"); D_HTML=$(rps "$DPAGE")
A_JSON=$(rps -H "$AUTH" -H "$JSON_ACCEPT" "$APAGE"); D_JSON=$(rps -H "$JSON_ACCEPT" "$DPAGE")
fi
ARCA_RPS=$(rps -H "$AUTH" "$JAR")
NGINX_RPS=$(rps "http://127.0.0.1:$NPORT/org/bench/lib/1.0/lib-1.0.jar")
HWM_KB=$(awk '/VmHWM/ {print $2}' /proc/$APID/status)

ratio=$(python3 -c "print(f'{$ARCA_RPS/$NGINX_RPS:.2f}' if $NGINX_RPS else '-')")
size=$(stat -c %s "$BIN")

echo
echo "| benchmark | Arca | reference | Arca / reference |"
echo "|---|---|---|---|"
echo "| GET cached 1 MiB jar, wrk -t2 -c16 (req/s) | $ARCA_RPS | nginx $NGINX_RPS | $ratio |"
r() { python3 -c "print(f'{$1/$2:.2f}' if $2 else '-')"; }
if [ $PYPI = 1 ]; then
  echo "| GET /simple/<project>/ HTML (req/s) | $A_HTML | devpi-server $D_HTML | $(r "$A_HTML" "$D_HTML") |"
  echo "| GET /simple/<project>/ PEP 691 JSON (req/s) | $A_JSON | devpi-server $D_JSON | $(r "$A_JSON" "$D_JSON") |"
else
  echo "| GET /simple/<project>/ (req/s) | skipped: devpi-server unavailable | | |"
fi
echo "| start to ready (ms) | $READY_MS | | |"
echo "| idle RSS (MiB) | $(python3 -c "print(f'{$IDLE_KB/1024:.1f}')") | | |"
echo "| binary size (MiB) | $(python3 -c "print(f'{$size/1048576:.1f}')") | | |"
echo "| Arca peak RSS over the run (MiB) | $(python3 -c "print(f'{$HWM_KB/1024:.1f}')") | | |"
if [ -n "${BENCH_JSON:-}" ]; then
  python3 - "$BENCH_JSON" "$DUR" "$ARCA_RPS" "$NGINX_RPS" "$A_HTML" "$D_HTML" "$A_JSON" "$D_JSON" "$READY_MS" "$IDLE_KB" "$HWM_KB" <<'PY'
import json, sys
out, dur, arca, nginx, a_html, d_html, a_json, d_json, ready, idle, hwm = sys.argv[1:]
rss = int(hwm) / 1024
def row(workload, ref, rv, av, unit="req/s"):
    rv, av = (float(rv) if rv else None), float(av)
    return {"workload": workload, "reference": ref, "reference_value": rv, "arca_value": av, "unit": unit,
            "ratio": av / rv if rv else None, "target_ratio": None, "pass": None, "peak_rss_mib": rss}
rows = [row("GET cached 1 MiB maven jar, Basic, c=16", "nginx (sendfile)", nginx, arca)]
if a_html:
    rows += [row("GET pypi /simple/<project>/ HTML, Basic, c=16", "devpi-server", d_html, a_html),
             row("GET pypi /simple/<project>/ PEP 691 JSON, Basic, c=16", "devpi-server", d_json, a_json)]
rows += [row("start to ready", None, None, ready, "ms"), row("idle RSS after start", None, None, int(idle) / 1024, "MiB")]
notes = [] if a_html else ["PyPI rows skipped: devpi-server could not be installed"]
json.dump({"wrk_seconds": int(dur), "rows": rows, "notes": notes}, open(out, "w"), indent=1)
PY
fi
