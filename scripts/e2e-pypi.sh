#!/usr/bin/env bash
# Real twine, pip and uv against Arca: upload to hosted, install from hosted and from a group,
# install a real package with dependencies through a proxy of the public index (its URL comes
# from pip at run time), then again with the remote unreachable; bad uploads refused.
# Prints 'N passed, N failed'. Needs ARCA_BIN; PY_VENV (with twine, uv, build) is made if absent.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${PY_VENV:-$HOME/.cache/arca-tools/pyvenv}
[ -x "$VENV/bin/twine" ] && [ -x "$VENV/bin/uv" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q twine uv build setuptools wheel; }
W=$(mktemp -d /tmp/arca-pypi.XXXXXX)
PID=""
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >"$W/cmd.log" 2>&1; then ok "$what"; else bad "$what"; tail -15 "$W/cmd.log"; fi; }
trap '[ -n "$PID" ] && { kill "$PID"; wait "$PID"; } 2>/dev/null; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PYPI_SIMPLE=$("$VENV/bin/python" -c "from pip._internal.models.index import PyPI; print(PyPI.simple_url)")
PYPI_ROOT=${PYPI_SIMPLE%simple*}
PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123; AUTHURL="http://admin:$PW@127.0.0.1:$PORT"
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW ARCA_MAX_UPLOAD_BYTES=5000000 "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PID=$!
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done

api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X "$1" "$URL/service/rest/v1/$2" -d "$3"; }
proxy_body() { echo "{\"name\":\"pypi-proxy\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":true},\"proxy\":{\"remoteUrl\":\"$1\",\"contentMaxAge\":-1,\"metadataMaxAge\":$2},\"negativeCache\":{\"enabled\":true,\"timeToLive\":10},\"httpClient\":{\"blocked\":false,\"autoBlock\":true}}"; }
check "create pypi-hosted" test "$(api POST repositories/pypi/hosted '{"name":"pypi-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW_ONCE"}}')" = 201
check "create pypi-proxy" test "$(api POST repositories/pypi/proxy "$(proxy_body "$PYPI_ROOT" 1440)")" = 201
check "create pypi-all (group)" test "$(api POST repositories/pypi/group '{"name":"pypi-all","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true},"group":{"memberNames":["pypi-hosted","pypi-proxy"]}}')" = 201

# Build the demo package: a wheel and an sdist.
cp -r "$ROOT/tests/pypi" "$W/src"
check "build wheel and sdist" "$VENV/bin/python" -m build --no-isolation --outdir "$W/dist" "$W/src"
WHEEL=$(ls "$W"/dist/*.whl); SDIST=$(ls "$W"/dist/*.tar.gz)

check "twine upload (wheel + sdist)" "$VENV/bin/twine" upload --non-interactive --repository-url "$URL/repository/pypi-hosted/" -u admin -p "$PW" "$WHEEL" "$SDIST"
if "$VENV/bin/twine" upload --non-interactive --repository-url "$URL/repository/pypi-hosted/" -u admin -p "$PW" "$WHEEL" >"$W/re.log" 2>&1; then
  bad "re-upload refused"; else check "re-upload refused with 400" grep -q 400 "$W/re.log"; fi
page=$(curl -s -u "admin:$PW" "$URL/repository/pypi-hosted/simple/arca-demo/")
check "HTML page has sha256, requires-python, core metadata" bash -c 'grep -q "#sha256=$(sha256sum "$2" | cut -d" " -f1)" <<<"$1" && grep -q "data-requires-python=\"&gt;=3.8\"" <<<"$1" && grep -q "data-core-metadata=\"sha256=" <<<"$1"' _ "$page" "$WHEEL"
json=$(curl -s -u "admin:$PW" -H 'Accept: application/vnd.pypi.simple.v1+json' "$URL/repository/pypi-hosted/simple/arca-demo/")
check "PEP 691 JSON page" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["meta"]["api-version"].startswith("1."); assert len(d["files"])==2; assert d["versions"]==["1.0.0"]' "$json"
check "PEP 658 metadata served" bash -c 'curl -sf -u "admin:$1" "$2/repository/pypi-hosted/packages/arca-demo/1.0.0/$(basename "$3").metadata" | grep -q "^Name: arca-demo"' _ "$PW" "$URL" "$WHEEL"
check "non-normalised name redirects" test "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -u "admin:$PW" "$URL/repository/pypi-hosted/simple/Arca_Demo/")" = "301 $URL/repository/pypi-hosted/simple/arca-demo/"

check "pip install from hosted" bash -c "python3 -m venv $W/v1 && $W/v1/bin/pip install -q --no-cache-dir --index-url $AUTHURL/repository/pypi-hosted/simple arca-demo && $W/v1/bin/python -c 'import arca_demo; print(arca_demo.hello())'"
check "uv pip install from hosted" bash -c "python3 -m venv $W/v2 && $VENV/bin/uv pip install -q --no-cache --python $W/v2/bin/python --index-url $AUTHURL/repository/pypi-hosted/simple arca-demo && $W/v2/bin/python -c 'import arca_demo'"
check "uv pip install from the group" bash -c "python3 -m venv $W/v3 && $VENV/bin/uv pip install -q --no-cache --python $W/v3/bin/python --index-url $AUTHURL/repository/pypi-all/simple arca-demo && $W/v3/bin/python -c 'import arca_demo'"
# The sdist's build backend (setuptools) comes through the group's proxy member.
check "pip download --no-binary (sdist)" bash -c "$VENV/bin/pip download -q --no-cache-dir --no-deps --no-binary arca-demo -d $W/dl --index-url $AUTHURL/repository/pypi-all/simple arca-demo && ls $W/dl/*1.0.0.tar.gz"
echo "arca-demo==1.0.0 --hash=sha256:$(sha256sum "$WHEEL" | cut -d' ' -f1)" >"$W/req.txt"
check "pip --require-hashes" bash -c "python3 -m venv $W/v4 && $W/v4/bin/pip install -q --no-cache-dir --require-hashes -r $W/req.txt --index-url $AUTHURL/repository/pypi-hosted/simple"

# A real package with dependencies through the proxy, then through the group.
check "pip install requests through the proxy" bash -c "python3 -m venv $W/v5 && $W/v5/bin/pip install -q --no-cache-dir --index-url $AUTHURL/repository/pypi-proxy/simple requests && $W/v5/bin/python -c 'import requests, urllib3, idna, certifi'"
check "pip install requests + arca-demo through the group" bash -c "python3 -m venv $W/v6 && $W/v6/bin/pip install -q --no-cache-dir --index-url $AUTHURL/repository/pypi-all/simple requests arca-demo && $W/v6/bin/python -c 'import requests, arca_demo'"
# The remote goes away (and pages must be revalidated): everything cached still installs.
check "point the proxy at an unreachable remote" test "$(api PUT repositories/pypi/proxy/pypi-proxy "$(proxy_body "http://127.0.0.1:9/" 0)")" = 204
check "pip install requests with the remote unreachable" bash -c "python3 -m venv $W/v7 && $W/v7/bin/pip install -q --no-cache-dir --index-url $AUTHURL/repository/pypi-all/simple requests && $W/v7/bin/python -c 'import requests'"

# Bad uploads: clear 4xx, nothing stored.
up() { curl -s -o "$W/up.out" -w '%{http_code}' "$@" "$URL/repository/pypi-hosted/"; }
form=(-F ':action=file_upload' -F 'protocol_version=1' -F 'name=arca-demo' -F 'version=2.0' -F 'filetype=bdist_wheel')
echo junk >"$W/arca_demo-2.0-py3-none-any.whl"
check "wrong sha256: 400" test "$(up -u "admin:$PW" "${form[@]}" -F "sha256_digest=$(printf '0%.0s' $(seq 64))" -F "content=@$W/arca_demo-2.0-py3-none-any.whl")" = 400
cp "$W/arca_demo-2.0-py3-none-any.whl" "$W/arca-demo.exe"
check "bad filename: 400" test "$(up -u "admin:$PW" "${form[@]}" -F "content=@$W/arca-demo.exe")" = 400
check "not a wheel (no zip): 400" test "$(up -u "admin:$PW" "${form[@]}" -F "content=@$W/arca_demo-2.0-py3-none-any.whl")" = 400
mkdir -p "$W/big" && head -c 6000000 /dev/urandom >"$W/big/arca_demo-2.0-py3-none-any.whl"
check "oversized upload: 413" test "$(up -u "admin:$PW" "${form[@]}" -F "content=@$W/big/arca_demo-2.0-py3-none-any.whl")" = 413
check "unauthenticated upload: 401" test "$(up "${form[@]}" -F "content=@$WHEEL")" = 401
check "nothing of 2.0 stored" bash -c '! curl -s -u "admin:$1" "$2/repository/pypi-hosted/simple/arca-demo/" | grep -q "2\.0-py3"' _ "$PW" "$URL"

# Yanking (PEP 592) through the REST API.
check "yank 1.0.0" test "$(api POST pypi/pypi-hosted/arca-demo/1.0.0/yank '{"reason":"broken build"}')" = 200
check "yanked in HTML and JSON" bash -c 'curl -s -u "admin:$1" "$2/repository/pypi-hosted/simple/arca-demo/" | grep -q "data-yanked=\"broken build\"" && curl -s -u "admin:$1" -H "Accept: application/vnd.pypi.simple.v1+json" "$2/repository/pypi-hosted/simple/arca-demo/" | grep -q "\"yanked\":\"broken build\""' _ "$PW" "$URL"

echo
echo "pypi e2e: $pass passed, $fail failed"
[ "$fail" = 0 ]
