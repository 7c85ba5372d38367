#!/usr/bin/env bash
# The web UI in a real browser: Debian's headless Chromium driven by playwright-core (from npm,
# cached under ~/.cache/arca-tools/ui-node; it never downloads a browser). Starts Arca on SQLite in
# a temp dir, creates pypi-hosted and uploads a wheel with twine (a real client), then runs
# tests/ui/e2e-ui.mjs. Screenshots go to $SHOTS (default: a temp dir, printed).
# Needs ARCA_BIN; PY_VENV (twine, build) is made if absent. Prints 'N passed, N failed'.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${PY_VENV:-$HOME/.cache/arca-tools/pyvenv}
NODE_DIR=${UI_NODE_DIR:-$HOME/.cache/arca-tools/ui-node}
PLAYWRIGHT_VERSION=1.64.1
[ -x /usr/bin/chromium ] || { echo "e2e-ui: /usr/bin/chromium missing (apt-get install chromium)"; exit 1; }
if [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ] ||
   ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$NODE_DIR/node_modules/playwright-core/package.json"; then
  mkdir -p "$NODE_DIR" && npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION" || exit 1
fi
[ -x "$VENV/bin/twine" ] && "$VENV/bin/python" -c "import build" 2>/dev/null ||
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q twine uv build setuptools wheel; }
W=$(mktemp -d /tmp/arca-ui.XXXXXX)
SHOTS=${SHOTS:-$W/screenshots}
mkdir -p "$SHOTS"
PID=""
cleanup() { if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null; fi; rm -rf "$W/arca" "$W/src" "$W/dist"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PID=$!
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' \
  "$URL/service/rest/v1/repositories/pypi/hosted" \
  -d '{"name":"pypi-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW_ONCE"}}')
[ "$code" = 201 ] || { echo "FAIL create pypi-hosted: HTTP $code"; exit 1; }
cp -r "$ROOT/tests/pypi" "$W/src"
"$VENV/bin/python" -m build --no-isolation --wheel --outdir "$W/dist" "$W/src" >"$W/build.log" 2>&1 || { cat "$W/build.log"; exit 1; }
WHEEL=$(ls "$W"/dist/*.whl)
"$VENV/bin/twine" upload --non-interactive --repository-url "$URL/repository/pypi-hosted/" -u admin -p "$PW" "$WHEEL" >"$W/twine.log" 2>&1 ||
  { echo "FAIL twine upload"; cat "$W/twine.log"; exit 1; }
echo "ok   twine uploaded $(basename "$WHEEL")"
URL=$URL PW=$PW SHOTS=$SHOTS WHEEL_NAME=$(basename "$WHEEL") WHEEL_SHA256=$(sha256sum "$WHEEL" | cut -d' ' -f1) \
  UI_NODE_DIR="$NODE_DIR" node "$ROOT/tests/ui/e2e-ui.mjs"
rc=$?
echo "screenshots: $SHOTS"
if grep -E 'status=5[0-9]{2}' "$W/arca.log" | head -5 | grep -q .; then
  echo "FAIL server errors in Arca's log:"; grep -E 'status=5[0-9]{2}' "$W/arca.log" | head -5; rc=1
fi
exit $rc
