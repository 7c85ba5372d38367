#!/usr/bin/env bash
# Arca's REST API held against Nexus 3's: starts Arca on SQLite in a temp dir, seeds it through the REST API
# (a raw hosted repository with an uploaded file, a maven2 hosted one, a pypi proxy of an unreachable remote,
# a role and a user), then
#   - scripts/api-conformance.py: Arca's OpenAPI document (/service/rest/swagger.json) and its live GET
#     responses against tests/reference/nexus-openapi-3.94.yaml;
#   - schemathesis against Arca's own document: no 5xx, and responses match that document;
#   - no 5xx in Arca's request log over the whole run.
# Prints 'N passed, N failed'. Needs ARCA_BIN; PY_VENV (PyYAML and schemathesis, pinned) is made if absent.
# API_FUZZ_EXAMPLES (default 50) bounds schemathesis's test cases per operation.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${PY_VENV:-$HOME/.cache/arca-tools/pyvenv}
PYYAML_VERSION=6.0.3
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${API_FUZZ_EXAMPLES:-50}
have_tools() {
  "$VENV/bin/python" -c "import sys, yaml; sys.exit(yaml.__version__ != '$PYYAML_VERSION')" 2>/dev/null &&
    "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$"
}
have_tools || { python3 -m venv "$VENV" &&
  "$VENV/bin/pip" install -q "PyYAML==$PYYAML_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"; }
W=$(mktemp -d /tmp/arca-api.XXXXXX)
PID=""
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >"$W/cmd.log" 2>&1; then ok "$what"; else bad "$what"; tail -15 "$W/cmd.log"; fi; }
cleanup() { if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null; fi; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PID=$!
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done
check "arca answers /v1/status" curl -sf "$URL/service/rest/v1/status"

# --- seed data through the REST API
api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X "$1" "$URL/service/rest/v1/$2" -d "$3"; }
jget() { curl -s -u "admin:$PW" "$URL/service/rest/v1/$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)" 2>/dev/null; }
check "create raw-hosted" test "$(api POST repositories/raw/hosted '{"name":"raw-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":false,"writePolicy":"ALLOW"}}')" = 201
echo "hello from e2e-api" >"$W/a.txt"
check "upload a raw component" test "$(curl -s -o "$W/up.out" -w '%{http_code}' -u "admin:$PW" \
  -F raw.directory=/dir -F "raw.asset1=@$W/a.txt" -F raw.asset1.filename=a.txt \
  "$URL/service/rest/v1/components?repository=raw-hosted")" = 204
check "create maven-releases (maven2 hosted)" test "$(api POST repositories/maven/hosted '{"name":"maven-releases","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW_ONCE"},"maven":{"versionPolicy":"RELEASE","layoutPolicy":"STRICT","contentDisposition":"INLINE"}}')" = 201
check "create pypi-proxy (unreachable remote)" test "$(api POST repositories/pypi/proxy '{"name":"pypi-proxy","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true},"proxy":{"remoteUrl":"http://127.0.0.1:9/","contentMaxAge":1440,"metadataMaxAge":1440},"negativeCache":{"enabled":true,"timeToLive":1440},"httpClient":{"blocked":false,"autoBlock":true}}')" = 201
check "create role dev" test "$(api POST security/roles '{"id":"dev","name":"Developers","description":"e2e role","privileges":["nx-repository-view-*-*-read"],"roles":[]}')" = 200
check "create user alice" test "$(api POST security/users '{"userId":"alice","firstName":"Alice","lastName":"Doe","emailAddress":"alice@example.com","password":"alice-pass-123","status":"active","roles":["dev"]}')" = 200
# Best effort, not checked here: data for endpoints Arca may not have yet, so their GETs have something to show.
api POST security/content-selectors '{"name":"org-example","description":"e2e","expression":"format == \"maven2\" and path =^ \"/org/example/\""}' >/dev/null
api POST security/privileges/repository-view '{"name":"e2e-raw-read","description":"e2e","format":"raw","repository":"raw-hosted","actions":["READ","BROWSE"]}' >/dev/null
CID=$(jget 'components?repository=raw-hosted' 'd["items"][0]["id"]')
AID=$(jget 'assets?repository=raw-hosted' 'd["items"][0]["id"]')
TASK=$(jget tasks 'd["items"][0]["id"]')
# An S3 store when the suite's S3 server runs (ARCA_TEST_S3 holds its bucket configuration).
S3_STORE=""
if [ -n "${ARCA_TEST_S3:-}" ]; then
  check "create an S3 blob store" test "$(api POST blobstores/s3 "{\"name\":\"s3-store\",\"bucketConfiguration\":$(python3 -c 'import json,os; c=json.loads(os.environ["ARCA_TEST_S3"]); c["bucket"]["prefix"]="e2e-api"; print(json.dumps(c))')}")" = 201
  S3_STORE=s3-store
fi
check "component and asset ids known" test -n "$CID" -a -n "$AID"

# --- Arca's document and live responses against Nexus's
check "arca serves /service/rest/swagger.json" curl -sf -u "admin:$PW" -o "$W/swagger.json" "$URL/service/rest/swagger.json"
samples=(
  --sample repository=raw-hosted
  --sample '/v1/blobstores/file/*:name=default' --sample '/v1/blobstores/*/quota-status:name=default'
  --sample '/v1/repositories/*:repositoryName=maven-releases'
  --sample '/v1/repositories/*:name=maven-releases'
  --sample '/v1/repositories/*:format=maven' --sample '/v1/repositories/*:kind=hosted'
  --sample '/v1/security/roles/*:id=dev'
  --sample '/v1/security/privileges/*:privilegeName=nx-all'
  --sample '/v1/security/content-selectors/*:name=org-example'
  --sample '/v1/formats/*:format=raw'
  --sample '/v1/search/suggest:q=dir'
  --sample "/v1/tasks/*:id=$TASK"
  --sample "/v1/components/*:id=$CID"
  --sample "/v1/assets/*:id=$AID"
  --get /v1/repositories/maven/hosted/maven-releases
  --get /v1/repositories/raw/hosted/raw-hosted
  --get /v1/repositories/pypi/proxy/pypi-proxy
)
[ -n "$S3_STORE" ] && samples+=(--sample "/v1/blobstores/s3/*:name=$S3_STORE")
if "$VENV/bin/python" "$ROOT/scripts/api-conformance.py" --base "$URL" --user admin --password "$PW" \
     --nexus "$ROOT/tests/reference/nexus-openapi-3.94.yaml" "${samples[@]}" >"$W/conformance.log" 2>&1; then
  ok "conformance with Nexus 3.94: $(tail -1 "$W/conformance.log")"
else
  bad "conformance with Nexus 3.94: $(tail -1 "$W/conformance.log")"
  sed 's/^/     /' "$W/conformance.log"
fi

# --- schemathesis against Arca's own document
# GETs with path parameters get the seeded names, so their real bodies are checked against the document;
# other methods get generated values (schemathesis runs last: it may change or delete what it finds),
# except that every operation on /security/users/{userId}... is pinned to alice: otherwise schemathesis
# picks "admin" out of GET /security/users and changes its password, roles or status mid-run.
"$VENV/bin/python" - "$W/swagger.json" "$W/schemathesis.toml" "$CID" "$AID" "$TASK" "$S3_STORE" <<'EOF'
import json, re, sys
doc_path, out, cid, aid, task, s3 = sys.argv[1:7]
try:
    doc = json.load(open(doc_path))
except (OSError, ValueError):
    doc = {"paths": {}}
P = r"\{[^}/]+\}"
table = [  # path template (after /service/rest) -> values of its path parameters, in order
    (rf"/v1/blobstores/{P}/quota-status", ["default"]),
    (rf"/v1/blobstores/file/{P}", ["default"]),
    (rf"/v1/blobstores/s3/{P}", [s3 or "default"]),
    (rf"/v1/repositories/{P}", ["maven-releases"]),
    (rf"/v1/repositories/{P}/{P}/{P}", ["maven", "hosted", "maven-releases"]),
    (rf"/v1/repositories/maven/hosted/{P}", ["maven-releases"]),
    (rf"/v1/security/roles/{P}", ["dev"]),
    (rf"/v1/security/privileges/{P}", ["nx-all"]),
    (rf"/v1/security/content-selectors/{P}", ["org-example"]),
    (rf"/v1/formats/{P}/upload-specs", ["raw"]),
    (rf"/v1/tasks/{P}", [task]),
    (rf"/v1/components/{P}", [cid]),
    (rf"/v1/assets/{P}", [aid]),
]
pinned = [(rf"/v1/security/users/{P}(/.*)?", ["alice"])]  # for every method
# Not fuzzed (crates/server/tests/it/ covers them): a freeze turns every later write into the 503 it is
# meant to be, generated absolute paths would make blob store directories anywhere on this machine,
# generated S3 endpoints would send requests off this machine, and a generated realm list may lock admin out.
skipped = ["POST /service/rest/v1/read-only/freeze", "POST /service/rest/v1/blobstores/file",
           "PUT /service/rest/v1/blobstores/file/{name}", "POST /service/rest/v1/blobstores/s3",
           "PUT /service/rest/v1/blobstores/s3/{name}",
           # Generated realm lists could leave only the token realm active (while a generated token exists),
           # and every later request as admin would be refused.
           "PUT /service/rest/v1/security/realms/active"]
lines = []
for name in skipped:
    lines += ["[[operations]]", f"include-name = {json.dumps(name)}", "enabled = false", ""]
for path, item in (doc.get("paths") or {}).items():
    rel = path[path.find("/v1/"):] if "/v1/" in path else path
    for method in item:
        if method not in ("get", "put", "post", "delete", "patch"):
            continue
        for rx, values in pinned + (table if method == "get" else []):
            if re.fullmatch(rx, rel):
                names = re.findall(r"\{([^}/]+)\}", rel)
                params = ", ".join(f'"path.{n}" = {json.dumps(v)}' for n, v in zip(names, values) if v)
                # include-name, not include-method + include-path: those two select independently.
                lines += ["[[operations]]", f"include-name = {json.dumps(method.upper() + ' ' + path)}",
                          f"parameters = {{ {params} }}", ""]
                break
open(out, "w").write("\n".join(lines))
EOF
# Run from $W: schemathesis keeps a .schemathesis/ cache in its working directory.
(cd "$W" && exec timeout 300 "$VENV/bin/schemathesis" --config-file "$W/schemathesis.toml" \
  run "$URL/service/rest/swagger.json" --origin "$URL" --auth "admin:$PW" \
  --checks not_a_server_error,response_schema_conformance \
  --phases examples,coverage,fuzzing --max-examples "$EXAMPLES" --workers 2 --request-timeout 20 \
  --suppress-health-check all --generation-database none --no-color --output-truncate true) \
  >"$W/schemathesis.log" 2>&1
st_rc=$?
summary=$(grep -E '^=+ .* in [0-9.]+s =+$' "$W/schemathesis.log" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
# The report's sections: ERRORS (could not test an operation), FAILURES (one "- STnnn Title" line per
# failed check, with the request to reproduce it), WARNINGS, SUMMARY.
section() { sed -n "/^=\+ $1 =\+\$/,/^=\+ \(ERRORS\|FAILURES\|WARNINGS\|SUMMARY\) =\+\$/p" "$W/schemathesis.log" | sed '$d'; }
if [ -z "$summary" ]; then
  bad "schemathesis ran (exit $st_rc$([ $st_rc = 124 ] && echo ', timed out after 300 s'))"
  tail -20 "$W/schemathesis.log" | sed 's/^/     /'
else
  n5xx=$(section FAILURES | grep -c -E '^- ST[0-9]+ Server error')
  nother=$(section FAILURES | grep -c -E '^- ST[0-9]+ ' ); nother=$((nother - n5xx))
  nerr=$(section ERRORS | grep -c -E '^_+ .* _+$')
  if [ "$n5xx" = 0 ]; then ok "schemathesis: no 5xx ($summary)"; else bad "schemathesis: $n5xx server errors ($summary)"; fi
  if [ "$nother" -gt 0 ] || [ "$nerr" -gt 0 ]; then
    bad "schemathesis: $nother responses not as Arca's document says, $nerr operations not testable"
  elif [ "$st_rc" != 0 ] && [ "$n5xx" = 0 ]; then bad "schemathesis: exit $st_rc"
  else ok "schemathesis: responses match Arca's document"; fi
  if [ "$st_rc" != 0 ]; then { section ERRORS; section FAILURES; } | head -250 | sed 's/^/     /'; fi
fi

check "admin still signs in after schemathesis (else its later requests only saw 401s)" \
  curl -sf -o /dev/null -u "admin:$PW" "$URL/service/rest/v1/security/users"
check "no 5xx in Arca's request log" bash -c '! grep -E "status=5[0-9]{2}" "$1"' _ "$W/arca.log"
grep -E 'status=5[0-9]{2}' "$W/arca.log" | head -20 | sed 's/^/     /'

echo
echo "e2e-api: $pass passed, $fail failed"
[ "$fail" = 0 ]
