#!/usr/bin/env bash
# Sonatype's generated Nexus REST clients against Arca: the Python package nexus-api-client and the npm
# package @sonatype/nexus-repo-api-client (versions pinned below, installed from the registries pip and npm
# are configured for, into ~/.cache/arca-tools) run common admin flows against a started arca binary on
# SQLite: status, blob stores and quota, repositories (create, read, update, health check, invalidate cache,
# rebuild index), cleanup policies at /v1/cleanup-policies attached to a repository, realms, user-token
# settings, anonymous access, users, privileges, search and suggestions, and the (disabled) script API.
# Each flow prints "ok"/"FAIL"; the last line is 'N passed, N failed'. Needs ARCA_BIN, python3, node/npm.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
TOOLS=$HOME/.cache/arca-tools
PY_CLIENT_VERSION=3.97.1
NPM_CLIENT_VERSION=3.96.3
VENV=${NEXUS_CLIENT_VENV:-$TOOLS/nexus-client-venv}
NPM_DIR=${NEXUS_CLIENT_NPM:-$TOOLS/nexus-npm-client}
W=$(mktemp -d /tmp/arca-clients.XXXXXX)
PID=""
cleanup() { if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null; fi; rm -rf "$W"; }
trap cleanup EXIT

# --- the clients, pinned
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('nexus-api-client') != '$PY_CLIENT_VERSION')" 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "nexus-api-client==$PY_CLIENT_VERSION" ||
    { echo "FAIL installing nexus-api-client $PY_CLIENT_VERSION"; echo "0 passed, 1 failed"; exit 1; }
fi
NPM_PKG="$NPM_DIR/node_modules/@sonatype/nexus-repo-api-client"
if [ "$(node -p "require('$NPM_PKG/package.json').version" 2>/dev/null)" != "$NPM_CLIENT_VERSION" ]; then
  mkdir -p "$NPM_DIR" && { [ -f "$NPM_DIR/package.json" ] || echo '{"private":true}' >"$NPM_DIR/package.json"; } &&
    (cd "$NPM_DIR" && npm install --no-audit --no-fund --silent "@sonatype/nexus-repo-api-client@$NPM_CLIENT_VERSION") ||
    { echo "FAIL installing @sonatype/nexus-repo-api-client $NPM_CLIENT_VERSION"; echo "0 passed, 1 failed"; exit 1; }
fi

# --- arca
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PID=$!
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done

# --- Python: nexus-api-client
cat >"$W/flows.py" <<'EOF'
import sys
import nexus_api_client as n
from nexus_api_client.rest import ApiException

url, pw = sys.argv[1], sys.argv[2]
api = n.ApiClient(n.Configuration(host=url + "/service/rest", username="admin", password=pw))
repos, cleanup = n.RepositoryManagementApi(api), n.CleanupPoliciesApi(api)

def flow(name, fn):
    try:
        fn()
        print(f"ok   py: {name}")
    except Exception as e:  # a failed flow is reported, the others still run
        print(f"FAIL py: {name}: {type(e).__name__}: {str(e)[:400]}")

def refused(status, fn):
    try:
        fn()
    except ApiException as e:
        assert e.status == status, f"HTTP {e.status}, want {status}: {e.body}"
        return
    raise AssertionError(f"accepted, want HTTP {status}")

def status():
    n.StatusApi(api).list_status()
    n.StatusApi(api).list_status_writable()

def blob_stores():
    stores = n.BlobStoreApi(api).list_blobstores()
    assert any(s.name == "default" for s in stores), stores
    assert n.BlobStoreApi(api).get_blobstores_file("default").path
    q = n.BlobStoreApi(api).get_blobstores_quota_status("default")
    assert q.message == "Blob store default has no quota", q

def repositories():
    repos.create_maven_hosted_repository(n.MavenHostedRepositoryApiRequest.from_dict({
        "name": "py-maven", "online": True,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": True, "writePolicy": "ALLOW_ONCE"},
        "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT", "contentDisposition": "INLINE"}}))
    repos.create_raw_proxy_repository(n.RawProxyRepositoryApiRequest.from_dict({
        "name": "py-proxy", "online": True,
        "storage": {"blobStoreName": "default", "strictContentTypeValidation": False},
        "proxy": {"remoteUrl": "http://127.0.0.1:9/", "contentMaxAge": 1440, "metadataMaxAge": 1440},
        "negativeCache": {"enabled": True, "timeToLive": 1440},
        "httpClient": {"blocked": False, "autoBlock": True}}))
    got = repos.get_maven_hosted_repository("py-maven")
    assert got.name == "py-maven" and got.maven.version_policy == "RELEASE", got
    assert {"py-maven", "py-proxy"} <= {r.name for r in repos.get_all_repositories()}

def repository_operations():
    repos.createrepositoryname_invalidate_cache_repository("py-proxy")
    repos.createrepositoryname_rebuild_index_repository("py-maven")
    refused(409, lambda: repos.createrepositoryname_health_check_repository("py-proxy"))
    repos.delete_repositories_health_check("py-proxy")
    refused(400, lambda: repos.createrepositoryname_invalidate_cache_repository("py-maven"))
    refused(404, lambda: repos.createrepositoryname_rebuild_index_repository("nope"))

def cleanup_policies():
    cleanup.create_cleanup_policies(n.CleanupPolicyResourceXO.from_dict({
        "name": "py-old", "format": "maven2", "notes": "from the Python client",
        "criteriaLastDownloaded": 90, "criteriaReleaseType": "RELEASES", "retain": 2,
        "repositories": ["py-maven"]}))
    got = cleanup.get_cleanup_policies("py-old")
    assert got.criteria_last_downloaded == 90 and got.retain == 2 and got.repositories == ["py-maven"], got
    cleanup.update_cleanup_policies("py-old", n.CleanupPolicyResourceXO.from_dict({
        "name": "py-old", "format": "maven2", "criteriaLastDownloaded": 30, "repositories": []}))
    assert cleanup.get_cleanup_policies("py-old").criteria_last_downloaded == 30
    assert "py-old" in [p.name for p in cleanup.list_cleanup_policies()]
    cleanup.delete_cleanup_policies("py-old")

def realms():
    r = n.SecurityManagementRealmsApi(api)
    ids = [x.id for x in r.list_security_realms_available()]
    assert "NexusAuthenticatingRealm" in ids and "DockerToken" in ids, ids
    active = r.list_security_realms_active()
    r.update_security_realms_active(active)
    assert r.list_security_realms_active() == active

def user_tokens():
    t = n.SecurityManagementUserTokensApi(api)
    s = t.list_security_user_tokens()
    assert s.enabled is True, s
    t.update_security_user_tokens(n.UserTokensApiModel(enabled=True, expiration_enabled=True, expiration_days=90, protect_content=False))
    assert t.list_security_user_tokens().expiration_days == 90

def anonymous_and_users():
    a = n.SecurityManagementAnonymousAccessApi(api)
    s = a.list_security_anonymous()
    a.update_security_anonymous(n.AnonymousAccessSettingsXO(enabled=not s.enabled, user_id="anonymous", realm_name="NexusAuthorizingRealm"))
    a.update_security_anonymous(n.AnonymousAccessSettingsXO(enabled=s.enabled, user_id="anonymous", realm_name="NexusAuthorizingRealm"))
    u = n.SecurityManagementUsersApi(api)
    u.create_security_users(n.ApiCreateUser(user_id="py-user", first_name="Py", last_name="User",
        email_address="py@example.org", password="py-pass-123", status="active", roles=["nx-anonymous"]))
    assert "py-user" in [x.user_id for x in u.list_security_users()]
    u.delete_security_users("py-user")

def privileges():
    p = n.SecurityManagementPrivilegesApi(api)
    p.create_script_privilege(n.ApiPrivilegeScriptRequest(name="py-script", description="d", script_name="s", actions=["RUN"]))
    p.create_repository_view_privilege(n.ApiPrivilegeRepositoryViewRequest(name="py-view", description="d",
        format="maven2", repository="py-maven", actions=["READ", "BROWSE"]))
    # Not get_all_privileges: the client checks every name against Nexus's name pattern, which
    # Nexus's own built-in names (nx-repository-view-*-*-*) fail as well.
    got = p.get_security_privileges("py-script")
    assert got.type == "script" and got.script_name == "s", got
    assert p.get_security_privileges("py-view").repository == "py-maven"
    p.delete_security_privileges("py-script")

def search():
    s = n.SearchApi(api)
    s.list_search(repository="py-maven")
    assert isinstance(s.list_search_suggest(q="py"), list)
    refused(400, lambda: s.list_search_suggest(q="p"))

def scripts():
    sc = n.ScriptApi(api)
    assert sc.list_script() == []
    refused(410, lambda: sc.create_script(n.ScriptXO(name="s", type="groovy", content="1")))
    refused(404, lambda: sc.delete_script("s"))

for name, fn in [("status", status), ("blob stores", blob_stores), ("repositories", repositories),
                 ("repository operations", repository_operations), ("cleanup policies", cleanup_policies),
                 ("realms", realms), ("user tokens", user_tokens), ("anonymous access and users", anonymous_and_users),
                 ("privileges", privileges), ("search", search), ("scripts", scripts)]:
    flow(name, fn)
EOF
"$VENV/bin/python" "$W/flows.py" "$URL" "$PW" >"$W/py.log" 2>&1
cat "$W/py.log"

# --- TypeScript/JavaScript: @sonatype/nexus-repo-api-client
cat >"$W/flows.cjs" <<'EOF'
const [pkg, url, pw] = process.argv.slice(2);
const n = require(pkg);
const cfg = new n.Configuration({ basePath: url + "/service/rest", username: "admin", password: pw });
const repos = new n.RepositoryManagementApi(cfg);
const cleanup = new n.CleanupPoliciesApi(cfg);
const assert = (c, m) => { if (!c) throw new Error(m || "assertion failed"); };
async function refused(status, p) {
  try { await p; } catch (e) {
    const got = e.response ? e.response.status : String(e);
    assert(got === status, `HTTP ${got}, want ${status}`);
    return;
  }
  throw new Error(`accepted, want HTTP ${status}`);
}
const flows = {
  async status() { await new n.StatusApi(cfg).listStatus(); },
  async repositories() {
    await repos.createRawHostedRepository({ rawHostedRepositoryApiRequest: { name: "js-raw", online: true,
      storage: { blobStoreName: "default", strictContentTypeValidation: false, writePolicy: "allow" } } });
    const got = await repos.getRawHostedRepository({ repositoryName: "js-raw" });
    assert(got.name === "js-raw", JSON.stringify(got));
    await refused(400, repos.createrepositorynameRebuildIndexRepository({ repositoryName: "js-raw" }));
    await refused(409, repos.createrepositorynameHealthCheckRepository({ repositoryName: "js-raw" }));
  },
  async cleanupPolicies() {
    await cleanup.createCleanupPolicies({ cleanupPolicyResourceXO: { name: "js-old", format: "raw",
      criteriaLastBlobUpdated: 10, repositories: ["js-raw"] } });
    const got = await cleanup.getCleanupPolicies({ name: "js-old" });
    assert(got.criteriaLastBlobUpdated === 10, JSON.stringify(got));
    assert(JSON.stringify(got.repositories) === '["js-raw"]', JSON.stringify(got));
    await cleanup.updateCleanupPolicies({ policyName: "js-old", cleanupPolicyResourceXO: { name: "js-old",
      format: "raw", criteriaLastBlobUpdated: 20, repositories: [] } });
    const all = await cleanup.listCleanupPolicies();
    assert(all.some((p) => p.name === "js-old" && p.criteriaLastBlobUpdated === 20), JSON.stringify(all));
    await cleanup.deleteCleanupPolicies({ name: "js-old" });
  },
  async realms() {
    const r = new n.SecurityManagementRealmsApi(cfg);
    const active = await r.listSecurityRealmsActive();
    assert(active.includes("NexusAuthenticatingRealm"), JSON.stringify(active));
    await r.updateSecurityRealmsActive({ requestBody: active });
    await refused(400, r.updateSecurityRealmsActive({ requestBody: ["NoSuchRealm"] }));
  },
  async userTokens() {
    const t = new n.SecurityManagementUserTokensApi(cfg);
    const s = await t.listSecurityUserTokens();
    assert(typeof s.enabled === "boolean", JSON.stringify(s));
    await t.updateSecurityUserTokens({ userTokensApiModel: { enabled: true, expirationEnabled: false, expirationDays: 30, protectContent: false } });
  },
  async blobStores() {
    const b = new n.BlobStoreApi(cfg);
    const q = await b.getBlobstoresQuotaStatus({ name: "default" });
    assert(q.blobStoreName === "default" && q.isViolation === false, JSON.stringify(q));
  },
  async scripts() {
    const sc = new n.ScriptApi(cfg);
    assert((await sc.listScript()).length === 0);
    await refused(410, sc.createScript({ scriptXO: { name: "s", type: "groovy", content: "1" } }));
  },
};
(async () => {
  for (const [name, fn] of Object.entries(flows)) {
    try { await fn(); console.log(`ok   js: ${name}`); }
    catch (e) {
      let detail = e.message;
      if (e.response) { try { detail += " " + (await e.response.text()).slice(0, 300); } catch (_) {} }
      console.log(`FAIL js: ${name}: ${detail}`);
    }
  }
})();
EOF
node "$W/flows.cjs" "$NPM_PKG" "$URL" "$PW" >"$W/js.log" 2>&1
cat "$W/js.log"

if grep -qE 'status=5[0-9]{2}' "$W/arca.log"; then
  echo "FAIL 5xx in Arca's request log"; grep -E 'status=5[0-9]{2}' "$W/arca.log" | head -10 | sed 's/^/     /'
else
  echo "ok   no 5xx in Arca's request log"
fi
pass=$(cat "$W/py.log" "$W/js.log" | grep -c '^ok ')
fail=$(cat "$W/py.log" "$W/js.log" | grep -c '^FAIL ')
grep -qE 'status=5[0-9]{2}' "$W/arca.log" && fail=$((fail+1)) || pass=$((pass+1))
# A client that crashed before its flows printed anything counts as failed.
for l in py js; do grep -qE '^(ok|FAIL) ' "$W/$l.log" || { echo "FAIL $l client did not run"; tail -5 "$W/$l.log"; fail=$((fail+1)); }; done
echo
echo "e2e-nexus-clients: $pass passed, $fail failed"
[ "$fail" = 0 ]
