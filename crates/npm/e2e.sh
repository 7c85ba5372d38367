#!/usr/bin/env bash
# Real npm, pnpm and yarn (classic) against Arca's npm repositories: publish to hosted (plain and
# scoped, token and Basic auth), install through the group into empty projects, npm ci from a
# lockfile, dist-tags, deprecate, unpublish, search, a real dependency tree (express) through a
# proxy of the registry npm is configured with (read at run time), then again with that remote
# unreachable, npm audit through the proxy; bad publishes refused in npm's error shape.
# Prints ok/FAIL lines and 'N passed, N failed'; exits nonzero on a failure.
# Env: ARCA_BIN (the arca binary), CACHE (a persistent directory for tools: pnpm and yarn are
# installed into $CACHE/npm-tools). Nothing global changes: each client gets its own userconfig
# and cache under a temp dir.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
CACHE=${CACHE:-$HOME/.cache/arca-tools}
TOOLS="$CACHE/npm-tools"
PNPM="$TOOLS/node_modules/.bin/pnpm"
YARN="$TOOLS/node_modules/.bin/yarn"
# pnpm 11 does not run on Node 20; yarn classic is 1.x.
if [ ! -x "$PNPM" ] || [ ! -x "$YARN" ]; then
  mkdir -p "$TOOLS"
  npm i --prefix "$TOOLS" --no-audit --no-fund --cache "$CACHE/npm-tools-cache" pnpm@10.34.9 yarn@1.22.22 >/dev/null 2>&1 \
    || { echo "FAIL installing pnpm and yarn into $TOOLS"; echo "0 passed, 1 failed"; exit 1; }
fi
W=$(mktemp -d /tmp/arca-npm.XXXXXX)
PID=""
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >"$W/cmd.log" 2>&1; then ok "$what"; else bad "$what"; tail -20 "$W/cmd.log"; fi; }
trap '[ -n "$PID" ] && { kill "$PID"; wait "$PID"; } 2>/dev/null; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The upstream registry: whatever npm is configured with here, never written down.
UPSTREAM=$(npm config get registry)
PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123
mkdir -p "$W/arca" "$W/home"
# Anonymous reads on: the install flows run without credentials, as against a public mirror.
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW ARCA_ANONYMOUS_ACCESS=true ARCA_MAX_UPLOAD_BYTES=5000000 "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PID=$!
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done

api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X "$1" "$URL/service/rest/v1/$2" -d "$3"; }
proxy_body() { echo "{\"name\":\"npm-proxy\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":true},\"proxy\":{\"remoteUrl\":\"$1\",\"contentMaxAge\":-1,\"metadataMaxAge\":$2},\"negativeCache\":{\"enabled\":true,\"timeToLive\":10},\"httpClient\":{\"blocked\":false,\"autoBlock\":true},\"npm\":{\"removeQuarantined\":false}}"; }
check "create npm-hosted" test "$(api POST repositories/npm/hosted '{"name":"npm-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW_ONCE"}}')" = 201
check "create npm-proxy" test "$(api POST repositories/npm/proxy "$(proxy_body "$UPSTREAM" 1440)")" = 201
check "create npm-all (group, writable member npm-hosted)" test "$(api POST repositories/npm/group '{"name":"npm-all","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true},"group":{"memberNames":["npm-hosted","npm-proxy"],"writableMember":"npm-hosted"}}')" = 201
check "GET repositories/npm/proxy/npm-proxy reports npm.removeQuarantined" bash -c "curl -sf -u admin:$PW $URL/service/rest/v1/repositories/npm/proxy/npm-proxy | grep -q removeQuarantined"

HOSTED="$URL/repository/npm-hosted/"; GROUP="$URL/repository/npm-all/"; PROXY="$URL/repository/npm-proxy/"
NERF="//127.0.0.1:$PORT/repository/"
# A client config per purpose: no auth, Basic (_auth), a login token (_authToken).
# npm looks credentials up by the exact registry URL: one line per repository.
creds() { for r in npm-hosted npm-all npm-proxy; do printf '%s%s/:%s\n' "$NERF" "$r" "$1"; done; }
printf 'registry=%s\n' "$GROUP" >"$W/anon.npmrc"
{ printf 'registry=%s\n' "$GROUP"; creds "_auth=$(printf 'admin:%s' "$PW" | base64)"; } >"$W/basic.npmrc"
npmc() { local rc=$1; shift; npm --userconfig "$W/$rc.npmrc" --cache "$W/cache-$rc" --no-audit --no-fund --no-update-notifier "$@"; }

check "npm ping" npmc anon ping --registry "$HOSTED"

# npm login (legacy: user name and password, answered with a token the client then sends as Bearer).
# npm prompts on a terminal: `script` gives it one; the answers come when it asks.
npm_login() { # userconfig password
  printf 'registry=%s\n' "$GROUP" >"$1"
  (sleep 3; printf 'admin\n'; sleep 2; printf '%s\n' "$2"; sleep 3) |
    timeout 60 script -qec "npm --userconfig $1 --cache $W/cache-login login --auth-type=legacy --registry $HOSTED" /dev/null
}
login() {
  npm_login "$W/token.npmrc" "$PW" && grep -q "_authToken=arca_" "$W/token.npmrc" &&
  creds "_authToken=$(sed -n 's/.*_authToken=//p' "$W/token.npmrc" | head -1)" >>"$W/token.npmrc"
}
export -f creds npm_login; export W HOSTED GROUP NERF
check "npm login --auth-type=legacy issues a token" login
check "npm whoami with the token" bash -c "test \"\$(npm --userconfig $W/token.npmrc --cache $W/cache-token whoami --registry $HOSTED)\" = admin"
is2xx() { [[ "$1" == 2* ]]; }
anon() { api PUT security/anonymous "{\"enabled\":$1,\"userId\":\"anonymous\",\"realmName\":\"NexusAuthorizingRealm\"}"; }
check "anonymous access off" is2xx "$(anon false)"
check "npm login with anonymous access off" bash -c "npm_login $W/off.npmrc $PW && grep -q _authToken=arca_ $W/off.npmrc"
check "anonymous access on again" is2xx "$(anon true)"
check "npm login with a wrong password is refused" bash -c "! npm_login $W/wrong.npmrc wrong-password && ! grep -q _authToken $W/wrong.npmrc"

# Packages to publish.
mk() { # dir name version
  mkdir -p "$1"
  printf '{"name":"%s","version":"%s","main":"index.js","description":"arca npm e2e","license":"MIT"}\n' "$2" "$3" >"$1/package.json"
  printf 'module.exports = "%s@%s";\n' "$2" "$3" >"$1/index.js"
  printf '# %s\n' "$2" >"$1/README.md"
}
mk "$W/p1" arca-e2e-plain 1.0.0
mk "$W/p2" @arca-e2e/scoped 1.0.0
mk "$W/p3" arca-e2e-pnpm 1.0.0
mk "$W/p4" arca-e2e-yarn 1.0.0

check "npm publish (token)" bash -c "cd $W/p1 && npm --userconfig $W/token.npmrc --cache $W/cache-token publish --registry $HOSTED"
check "npm publish scoped (Basic _auth)" bash -c "cd $W/p2 && npm --userconfig $W/basic.npmrc --cache $W/cache-basic publish --registry $HOSTED"
cp "$W/token.npmrc" "$W/p3/.npmrc"; cp "$W/token.npmrc" "$W/p4/.npmrc"
check "pnpm publish" bash -c "cd $W/p3 && HOME=$W/home $PNPM publish --no-git-checks --registry $HOSTED"
check "yarn publish" bash -c "cd $W/p4 && HOME=$W/home $YARN publish --non-interactive --new-version 1.0.0 --no-git-tag-version --registry $HOSTED --cache-folder $W/yarn-cache"
check "npm publish through the group lands in npm-hosted" bash -c "mkdir -p $W/p5 && cd $W/p5 && printf '{\"name\":\"arca-e2e-via-group\",\"version\":\"0.1.0\"}' >package.json && npm --userconfig $W/token.npmrc --cache $W/cache-token publish --registry $GROUP && curl -sf ${HOSTED}arca-e2e-via-group | grep -q 0.1.0"

# Refusals.
if (cd "$W/p1" && npmc basic publish --registry "$HOSTED") >"$W/re.log" 2>&1; then bad "republish refused"; else check "republish refused, npm prints the registry's error" grep -q "You cannot publish over the previously published versions: 1.0.0" "$W/re.log"; fi
mk "$W/p6" arca-e2e-plain 2.0.0
if (cd "$W/p6" && npmc anon publish --registry "$HOSTED") >"$W/un.log" 2>&1; then bad "unauthenticated publish refused"; else check "unauthenticated publish refused: E401" grep -qE "E401|401 Unauthorized|ENEEDAUTH" "$W/un.log" || cat "$W/un.log"; fi
# Hand-made bodies: what a broken client or a tampered request sends.
body() { # name version tarball-file integrity-override
  python3 - "$@" <<'PY'
import base64, hashlib, json, sys
name, version, path = sys.argv[1:4]
data = open(path, 'rb').read()
integ = sys.argv[4] if len(sys.argv) > 4 else 'sha512-' + base64.b64encode(hashlib.sha512(data).digest()).decode()
f = f"{name}-{version}.tgz"
print(json.dumps({"_id": name, "name": name, "dist-tags": {"latest": version},
  "versions": {version: {"name": name, "version": version, "dist": {"shasum": hashlib.sha1(data).hexdigest(), "integrity": integ}}},
  "_attachments": {f: {"content_type": "application/octet-stream", "data": base64.b64encode(data).decode(), "length": len(data)}}}))
PY
}
put() { curl -s -o "$W/put.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X PUT "$HOSTED$1" --data-binary @"$2"; }
(cd "$W/p6" && npm pack --pack-destination "$W" >/dev/null 2>&1)
TGZ="$W/arca-e2e-plain-2.0.0.tgz"
echo 'not a tarball' >"$W/junk.tgz"
body arca-e2e-plain 2.0.0 "$W/junk.tgz" >"$W/junk.json"
refused() { # file status pattern
  test "$(put arca-e2e-plain "$1")" = "$2" && { [ -z "$3" ] || grep -q "\"error\":.*$3" "$W/put.out"; }
}
check "bad tarball (not gzip): 400 {\"error\"}" refused "$W/junk.json" 400 gzip
body arca-e2e-plain 2.0.0 "$TGZ" "sha512-$(head -c 64 /dev/zero | base64 -w0)" >"$W/wrong.json"
check "wrong integrity: 400 {\"error\"}" refused "$W/wrong.json" 400 integrity
head -c 6000000 /dev/urandom >"$W/big.bin"; gzip -1 -c "$W/big.bin" >"$W/big.tgz"
body arca-e2e-plain 2.0.0 "$W/big.tgz" >"$W/big.json"
check "oversized publish: 413" refused "$W/big.json" 413 ""
check "nothing of 2.0.0 stored" bash -c "! curl -sf ${HOSTED}arca-e2e-plain | grep -q '2\.0\.0'"

# Reading back.
check "npm view through the group" bash -c "test \"\$(npm --userconfig $W/anon.npmrc --cache $W/cache-v view @arca-e2e/scoped version)\" = 1.0.0"
check "npm dist-tag add / ls" bash -c "npm --userconfig $W/token.npmrc --cache $W/cache-token dist-tag add arca-e2e-plain@1.0.0 stable --registry $HOSTED && npm --userconfig $W/token.npmrc --cache $W/cache-token dist-tag ls arca-e2e-plain --registry $HOSTED | grep -q 'stable: 1.0.0'"
check "npm deprecate" bash -c "npm --userconfig $W/token.npmrc --cache $W/cache-token deprecate arca-e2e-yarn@1.0.0 'use something else' --registry $HOSTED && curl -sf ${HOSTED}arca-e2e-yarn | grep -q 'use something else'"
check "npm search" bash -c "npm --userconfig $W/anon.npmrc --cache $W/cache-s search arca-e2e --registry $HOSTED | grep -q arca-e2e-pnpm"
mk "$W/p7" arca-e2e-plain 1.1.0
check "npm unpublish name@version" bash -c "cd $W/p7 && npm --userconfig $W/token.npmrc --cache $W/cache-token publish --registry $HOSTED && npm --userconfig $W/token.npmrc --cache $W/cache-token unpublish arca-e2e-plain@1.1.0 --registry $HOSTED && ! curl -sf ${HOSTED}arca-e2e-plain | grep -q '1\.1\.0' && curl -sf ${HOSTED}arca-e2e-plain | grep -q '1\.0\.0'"
mk "$W/p8" arca-e2e-gone 1.0.0
check "npm unpublish --force (whole package)" bash -c "cd $W/p8 && npm --userconfig $W/token.npmrc --cache $W/cache-token publish --registry $HOSTED && npm --userconfig $W/token.npmrc --cache $W/cache-token unpublish arca-e2e-gone --force --registry $HOSTED && test \"\$(curl -s -o /dev/null -w '%{http_code}' ${HOSTED}arca-e2e-gone)\" = 404"

# Installing through the group into empty projects.
app() { mkdir -p "$W/$1" && printf '{"name":"%s","version":"1.0.0","private":true}\n' "$1" >"$W/$1/package.json"; }
app a1
check "npm install (hosted packages through the group)" bash -c "cd $W/a1 && npm --userconfig $W/anon.npmrc --cache $W/cache-a1 --no-audit --no-fund install arca-e2e-plain @arca-e2e/scoped arca-e2e-pnpm arca-e2e-yarn && node -e 'for (const p of [\"arca-e2e-plain\",\"@arca-e2e/scoped\",\"arca-e2e-pnpm\",\"arca-e2e-yarn\"]) console.log(require(p))' && grep -q '\"resolved\": \"$GROUP' package-lock.json"
check "npm ci from the lockfile (fresh cache)" bash -c "cd $W/a1 && rm -rf node_modules && npm --userconfig $W/anon.npmrc --cache $W/cache-a1-ci --no-audit --no-fund ci && node -e 'require(\"@arca-e2e/scoped\")'"
app a2
check "pnpm add through the group" bash -c "cd $W/a2 && cp $W/anon.npmrc .npmrc && HOME=$W/home $PNPM add arca-e2e-plain @arca-e2e/scoped --registry $GROUP --store-dir $W/pnpm-store && node -e 'require(\"arca-e2e-plain\"); require(\"@arca-e2e/scoped\")'"
app a3
check "yarn add through the group" bash -c "cd $W/a3 && cp $W/anon.npmrc .npmrc && HOME=$W/home $YARN add arca-e2e-plain @arca-e2e/scoped --registry $GROUP --cache-folder $W/yarn-cache-2 --non-interactive && grep -q '$GROUP' yarn.lock && node -e 'require(\"arca-e2e-plain\"); require(\"@arca-e2e/scoped\")'"

# A real dependency tree through the proxy, then through the group.
app a4
check "npm install express through the proxy" bash -c "cd $W/a4 && npm --userconfig $W/anon.npmrc --cache $W/cache-a4 --no-audit --no-fund install express --registry $PROXY && node -e 'require(\"express\")' && test \$(ls node_modules | wc -l) -gt 30 && ! grep -q '\"resolved\": \"$UPSTREAM' package-lock.json"
# npm audit goes to the remote as sent; whatever the remote answers comes back (here the
# remote may refuse POSTs: then npm audit reports that, and the pass-through is still checked).
audit_direct=$(curl -s -o "$W/audit-direct.out" -w '%{http_code}' -X POST -H 'content-type: application/json' "${UPSTREAM%/}/-/npm/v1/security/advisories/bulk" -d '{"express":["4.17.0"]}')
audit_arca=$(curl -s -o "$W/audit-arca.out" -w '%{http_code}' -X POST -H 'content-type: application/json' "$PROXY-/npm/v1/security/advisories/bulk" -d '{"express":["4.17.0"]}')
check "audit passed through to the remote (remote $audit_direct, through Arca $audit_arca)" test "$audit_direct" = "$audit_arca"
if [ "$audit_direct" = 200 ]; then
  check "npm audit through the proxy" bash -c "cd $W/a4 && npm --userconfig $W/anon.npmrc --cache $W/cache-a4 audit --json --registry $PROXY >$W/audit.json; python3 -c 'import json,sys; d=json.load(open(\"$W/audit.json\")); assert \"error\" not in d, d; assert \"vulnerabilities\" in d, d'"
fi
app a5
check "pnpm install express through the group" bash -c "cd $W/a5 && cp $W/anon.npmrc .npmrc && HOME=$W/home $PNPM add express --registry $GROUP --store-dir $W/pnpm-store-2 && node -e 'require(\"express\")'"
# The remote goes away, and metadata must be revalidated: what was cached still installs.
check "point the proxy at an unreachable remote" test "$(api PUT repositories/npm/proxy/npm-proxy "$(proxy_body "http://127.0.0.1:9/" 0)")" = 204
app a6
check "npm install express with the remote unreachable (fresh cache)" bash -c "cd $W/a6 && npm --userconfig $W/anon.npmrc --cache $W/cache-a6 --no-audit --no-fund install express arca-e2e-plain && node -e 'require(\"express\"); require(\"arca-e2e-plain\")'"
check "npm ci of the express lockfile with the remote unreachable" bash -c "cd $W/a4 && rm -rf node_modules && npm --userconfig $W/anon.npmrc --cache $W/cache-a4-ci --no-audit --no-fund ci --registry $PROXY && node -e 'require(\"express\")'"
check "an uncached package with the remote unreachable: an npm error, not a hang" bash -c "app() { :; }; mkdir -p $W/a7 && cd $W/a7 && echo '{}' >package.json && ! timeout 120 npm --userconfig $W/anon.npmrc --cache $W/cache-a7 --no-audit --no-fund --fetch-retries=0 install left-pad-never-cached-$RANDOM --registry $PROXY"
check "security headers on npm responses" bash -c "curl -sI ${GROUP}arca-e2e-plain | grep -qi 'x-content-type-options: nosniff' && curl -sI ${GROUP}arca-e2e-plain | grep -qi 'content-security-policy'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
