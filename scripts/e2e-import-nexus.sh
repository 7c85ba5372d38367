#!/usr/bin/env bash
# `arca import nexus` from a Nexus-shaped source: scripts/e2e-import.sh uses a second Arca as the
# source, which answers only what Arca emits and serves docker at /v2/<repo>/. Here the source is
# a small server written in this test (Python http.server on 127.0.0.1) answering the shapes of
# Nexus 3.94's OpenAPI document (/work/shared/reference/nexus-openapi-3.94.yaml) with Nexus's field
# names, including what Arca never emits:
#   blob stores: a file one with softQuota, an S3 one whose secret key is hidden, a group one;
#   cleanup policies only at /service/rest/internal/cleanup-policies (3.94 has no v1 path);
#   repositories: raw/maven2/pypi/yum/docker hosted, proxy and group with component.
#     proprietaryComponents, replication, routingRuleName, docker subdomain/httpPort/httpsPort,
#     storage.latestPolicy, httpClient.authentication without its password, negativeCache, yum
#     repodataDepth/deployPolicy, maven and raw contentDisposition; a nuget and a helm repository;
#   privileges of every type (readOnly built-ins among them), roles with `source` (one LDAP),
#   users with source "default" and "LDAP" and externalRoles, anonymous access with realmName,
#   a Groovy script;
#   assets with md5/sha1/sha256/sha512 checksums, paged by continuationToken over several pages;
#   content: a raw repository (a name with a space), a Maven release (jar, pom, .sha1/.md5 files
#     and maven-metadata.xml listed as assets too), and a docker image (config + one layer)
#     served at /repository/<name>/v2/ as Nexus does (catalog, tags, manifests, blobs);
#   Basic credentials on every request (401 without).
# A real Arca is the target; the import runs with the default --docker-paths repository. Checked
# on the target through its REST API and content URLs: settings taken, what is not taken listed in
# the report with its reason, assets with their sha256, Maven metadata derived by the target,
# the image pullable by tag with the same digest (also on its own docker.httpPort), a second run
# copying nothing. ok/FAIL lines and a summary; exits non-zero on any FAIL.
# Needs ARCA_BIN, python3, curl. IMPORT_KEEP=1 keeps the work directory.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
ARCA_BIN=${ARCA_BIN:-$CARGO_TARGET_DIR/debug/arca}
[ -x "$ARCA_BIN" ] || { echo "no arca binary at $ARCA_BIN (cargo build --bin arca, or set ARCA_BIN)" >&2; exit 2; }
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

W=$(mktemp -d /tmp/arca-import-nexus.XXXXXX)
# The binary under test, copied (other builds may replace the original during the run) to a
# place that allows executing it (/tmp may be noexec).
mkdir -p "$HOME/.cache"
BINDIR=$(mktemp -d "$HOME/.cache/arca-import-nexus-bin.XXXXXX")
cp "$ARCA_BIN" "$BINDIR/arca"
BIN=$BINDIR/arca
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$BINDIR"
  if [ -n "${IMPORT_KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

TP=$(port)
mkdir -p "$W/target"
(cd "$W/target" && exec env ARCA_LISTEN="127.0.0.1:$TP" ARCA_ADMIN_PASSWORD=target-pass-456 "$BIN" >"$W/target.log" 2>&1) &
PIDS+=($!)
up=""
for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$TP/service/rest/v1/status" >/dev/null && { up=1; break; }; sleep 0.02; done
[ -n "$up" ] || { echo "FAIL target did not start"; tail -20 "$W/target.log"; exit 1; }
echo nexus-pass-123 >"$W/source.pw"
echo target-pass-456 >"$W/target.pw"

W="$W" DST="http://127.0.0.1:$TP" BIN="$BIN" python3 - <<'PY'
import gzip, hashlib, http.server, io, json, os, re, subprocess, sys, tarfile, threading, time, urllib.error, \
    urllib.parse, urllib.request, zipfile

sys.path.insert(0, "scripts/lib")
from e2e_util import ok, bad, check, note, basic, sha, free_port, passed, failed

W, DST, BIN = os.environ["W"], os.environ["DST"], os.environ["BIN"]
SRC_AUTH = basic("admin", "nexus-pass-123")
DST_AUTH = basic("admin", "target-pass-456")
DOCKER_PORT = free_port()  # docker.httpPort of the docker hosted repository, taken by the target
PORT = free_port()  # the fake Nexus's (its URLs appear in its answers)

# ---- content the fake Nexus holds ---------------------------------------------------------------
def checksums(b):
    return {"sha1": hashlib.sha1(b).hexdigest(), "sha512": hashlib.sha512(b).hexdigest(),
            "sha256": sha(b), "md5": hashlib.md5(b).hexdigest()}


RAW = {  # path -> bytes; 5 files, listed 2 a page
    "team-a/readme.txt": b"team A's notes\n" * 20,
    "team-a/dir/data.bin": os.urandom(70_000),
    "other/file-1.bin": os.urandom(3_000),
    "docs/read me.txt": b"a name with a space\n",
    "top.json": b'{"top": true}\n',
}
G = "org/example/app"
POM = (b'<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
       b"<groupId>org.example</groupId><artifactId>app</artifactId><version>1.0</version></project>")
jar = io.BytesIO()
with zipfile.ZipFile(jar, "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Version: 1.0\n")
JAR = jar.getvalue()
META = (b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- written by the fake Nexus -->\n<metadata><groupId>org.example'
        b"</groupId><artifactId>app</artifactId><versioning><release>1.0</release><versions><version>1.0</version>"
        b"<version>0.9</version></versions><lastUpdated>20200101000000</lastUpdated></versioning></metadata>\n")
MAVEN = {f"{G}/1.0/app-1.0.jar": JAR, f"{G}/1.0/app-1.0.pom": POM}
MAVEN_DERIVED = {
    f"{G}/1.0/app-1.0.jar.sha1": hashlib.sha1(JAR).hexdigest().encode(),
    f"{G}/1.0/app-1.0.jar.md5": hashlib.md5(JAR).hexdigest().encode(),
    f"{G}/1.0/app-1.0.pom.sha1": hashlib.sha1(POM).hexdigest().encode(),
    f"{G}/maven-metadata.xml": META,
    f"{G}/maven-metadata.xml.sha1": hashlib.sha1(META).hexdigest().encode(),
}

# A docker image: a real gzipped tar layer and an image config naming its diff_id.
tar_buf = io.BytesIO()
with tarfile.open(fileobj=tar_buf, mode="w") as t:
    data = b"hello from the fake Nexus\n"
    ti = tarfile.TarInfo("hello.txt")
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
LAYER_TAR = tar_buf.getvalue()
LAYER = gzip.compress(LAYER_TAR, mtime=0)
CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(LAYER_TAR)]}}).encode()
D_CFG, D_LAYER = "sha256:" + sha(CONFIG), "sha256:" + sha(LAYER)
DOCKER_M = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_M,
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(CONFIG), "digest": D_CFG},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(LAYER), "digest": D_LAYER}]},
    indent=3).encode()
D_MAN = "sha256:" + sha(MANIFEST)
IMAGE = "team/app"
BLOBS = {D_CFG: CONFIG, D_LAYER: LAYER}
TAGS = {"1.0": D_MAN, "latest": D_MAN}

# ---- settings, in Nexus 3.94's shapes -------------------------------------------------------------
HOSTED_STORAGE = lambda bs="default", wp="ALLOW": {"blobStoreName": bs, "strictContentTypeValidation": True, "writePolicy": wp}
PROXY_STORAGE = {"blobStoreName": "default", "strictContentTypeValidation": True, "writePolicy": "allow"}
GROUP_STORAGE = {"blobStoreName": "default", "strictContentTypeValidation": True}
def http_client(user=None):
    return {"blocked": False, "autoBlock": True,
            "connection": {"retries": None, "userAgentSuffix": None, "timeout": None, "enableCircularRedirects": False,
                           "enableCookies": False, "useTrustStore": False},
            # Nexus never answers the password
            "authentication": {"type": "username", "username": user, "preemptive": False, "ntlmHost": None,
                               "ntlmDomain": None} if user else None}
PROXY = lambda url, age=1440: {"remoteUrl": url, "contentMaxAge": age, "metadataMaxAge": age, "preserveEncodedCharacters": False}
DOCKER = lambda **kw: {"v1Enabled": False, "forceBasicAuth": True, "httpPort": None, "httpsPort": None, "subdomain": None,
                       "pathEnabled": True, **kw}

REPOS = [  # (format path segment, detail)
    ("raw", {"name": "files", "format": "raw", "type": "hosted", "online": True,
             "storage": HOSTED_STORAGE("extra", "ALLOW_ONCE"), "cleanup": None,
             "component": {"proprietaryComponents": True},
             "raw": {"contentDisposition": "INLINE"}}),
    ("raw", {"name": "raw-remote", "format": "raw", "type": "proxy", "online": True, "storage": PROXY_STORAGE,
             "cleanup": None, "proxy": PROXY("http://127.0.0.1:9/raw/", 60),
             "negativeCache": {"enabled": True, "timeToLive": 5}, "httpClient": http_client("remote-reader"),
             "routingRuleName": "only-releases", "replication": {"preemptivePullEnabled": True, "assetPathRegex": "releases/.*"},
             "raw": {"contentDisposition": "ATTACHMENT", "forwardQueryParameters": False, "excludedQueryParameters": []}}),
    ("raw", {"name": "raw-all", "format": "raw", "type": "group", "online": True, "storage": GROUP_STORAGE,
             "group": {"memberNames": ["files", "raw-remote"]}, "raw": {"contentDisposition": "ATTACHMENT"}}),
    ("maven", {"name": "maven-rel", "format": "maven2", "type": "hosted", "online": True,
               "storage": HOSTED_STORAGE(wp="ALLOW_ONCE"), "cleanup": {"policyNames": ["old-releases"]},
               "component": {"proprietaryComponents": False},
               "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT", "contentDisposition": "INLINE"}}),
    ("maven", {"name": "maven-central", "format": "maven2", "type": "proxy", "online": True, "storage": PROXY_STORAGE,
               "cleanup": None, "proxy": PROXY("http://127.0.0.1:9/maven2/", -1),
               "negativeCache": {"enabled": False, "timeToLive": 1440}, "httpClient": http_client(),
               "routingRuleName": None, "replication": None,
               "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "PERMISSIVE", "contentDisposition": "ATTACHMENT"}}),
    ("maven", {"name": "maven-public", "format": "maven2", "type": "group", "online": True, "storage": GROUP_STORAGE,
               "group": {"memberNames": ["maven-rel", "maven-central"]}}),
    ("pypi", {"name": "py", "format": "pypi", "type": "hosted", "online": True, "storage": HOSTED_STORAGE(wp="DENY"),
              "cleanup": None, "component": {"proprietaryComponents": False}}),
    ("yum", {"name": "rpms", "format": "yum", "type": "hosted", "online": True, "storage": HOSTED_STORAGE(),
             "cleanup": None, "component": {"proprietaryComponents": False},
             "yum": {"repodataDepth": 1, "deployPolicy": "PERMISSIVE"}}),
    ("yum", {"name": "yum-remote", "format": "yum", "type": "proxy", "online": False, "storage": PROXY_STORAGE,
             "cleanup": None, "proxy": PROXY("http://127.0.0.1:9/yum/"), "negativeCache": {"enabled": True, "timeToLive": 1440},
             "httpClient": http_client(), "routingRuleName": None, "yumSigning": None}),
    ("docker", {"name": "dock", "format": "docker", "type": "hosted", "online": True,
                "storage": {**HOSTED_STORAGE(), "latestPolicy": True}, "cleanup": None,
                "component": {"proprietaryComponents": False},
                "docker": DOCKER(httpPort=DOCKER_PORT, httpsPort=18443, subdomain="dock")}),
    ("docker", {"name": "docker-remote", "format": "docker", "type": "proxy", "online": True, "storage": PROXY_STORAGE,
                "cleanup": None, "proxy": PROXY("http://127.0.0.1:9/"), "negativeCache": {"enabled": True, "timeToLive": 1440},
                "httpClient": http_client(), "routingRuleName": None, "docker": DOCKER(),
                "dockerProxy": {"indexType": "REGISTRY", "indexUrl": None, "cacheForeignLayers": False,
                                "foreignLayerUrlWhitelist": []}}),
    ("docker", {"name": "docker-all", "format": "docker", "type": "group", "online": True, "storage": GROUP_STORAGE,
                "group": {"memberNames": ["dock", "docker-remote"], "writableMember": "dock"}, "docker": DOCKER(v1Enabled=True)}),
    ("nuget", {"name": "nuget-hosted", "format": "nuget", "type": "hosted", "online": True, "storage": HOSTED_STORAGE(),
               "cleanup": None, "component": {"proprietaryComponents": False}}),
    ("helm", {"name": "helm-charts", "format": "helm", "type": "hosted", "online": True, "storage": HOSTED_STORAGE(),
              "cleanup": None, "component": {"proprietaryComponents": False}}),
]
REPO = {d["name"]: (seg, d) for seg, d in REPOS}
SUPPORTED = {n for n, (_, d) in REPO.items() if d["format"] in ("raw", "maven2", "pypi", "yum", "docker")}

def repo_url(n):
    return f"http://127.0.0.1:{PORT}/repository/{n}"


def repo_list():
    return [{"name": d["name"], "format": d["format"], "type": d["type"], "url": repo_url(d["name"]), "size": 0,
             "attributes": {"proxy": {"remoteUrl": d["proxy"]["remoteUrl"]}} if "proxy" in d else {}} for _, d in REPOS]


BLOBSTORES = [
    {"name": "default", "type": "File", "unavailable": False, "blobCount": 12, "totalSizeInBytes": 4096,
     "availableSpaceInBytes": 1 << 40, "softQuota": None},
    {"name": "extra", "type": "File", "unavailable": False, "blobCount": 5, "totalSizeInBytes": 80_000,
     "availableSpaceInBytes": 1 << 40, "softQuota": {"type": "spaceRemainingQuota", "limit": 1_048_576_000}},
    {"name": "s3-store", "type": "S3", "unavailable": False, "blobCount": 0, "totalSizeInBytes": 0,
     "availableSpaceInBytes": 0, "softQuota": None},
    {"name": "both", "type": "Group", "unavailable": False, "blobCount": 0, "totalSizeInBytes": 0,
     "availableSpaceInBytes": 0, "softQuota": None},
]
FILE_STORES = {"default": {"path": "default", "softQuota": None},
               "extra": {"path": "extra", "softQuota": {"type": "spaceRemainingQuota", "limit": 1_048_576_000}}}
S3_STORE = {"name": "s3-store", "type": "S3", "softQuota": {"type": "spaceUsedQuota", "limit": 10_000_000_000},
            "bucketConfiguration": {
                "bucket": {"region": "us-east-1", "name": "nexus-blobs", "prefix": "nx"},
                # the secret access key is never answered
                "bucketSecurity": {"accessKeyId": "AKIAEXAMPLEKEYID", "role": None, "sessionToken": None},
                "encryption": {"encryptionType": "s3ManagedEncryption", "encryptionKey": None},
                "advancedBucketConnection": {"endpoint": "http://127.0.0.1:9", "signerType": "DEFAULT",
                                             "forcePathStyle": True, "maxConnectionPoolSize": None},
                "failoverBuckets": [], "activeRegion": "us-east-1", "preSignedUrlEnabled": False}}
CLEANUP = [{"name": "old-releases", "format": "maven2", "notes": "releases not touched for 30 days",
            "criteriaLastBlobUpdated": 30, "criteriaLastDownloaded": None, "criteriaReleaseType": "RELEASES",
            "criteriaAssetRegex": None, "retain": None, "sortBy": None, "inUseCount": 1, "repositories": ["maven-rel"]}]
SELECTORS = [{"name": "team-a", "type": "csel", "description": "team A's files",
              "expression": 'format == "raw" and path =^ "/team-a/"'}]
P = lambda ty, name, desc, ro=False, **kw: {"type": ty, "name": name, "description": desc, "readOnly": ro, **kw}
PRIVILEGES = [
    P("wildcard", "nx-all", "All permissions", True, pattern="nexus:*"),
    P("repository-view", "nx-repository-view-raw-files-read", "Read raw files", True, format="raw", repository="files", actions=["READ"]),
    P("repository-view", "files-add", "add to files", format="raw", repository="files", actions=["ADD", "EDIT"]),
    P("repository-admin", "maven-admin", "administer maven-rel", format="maven2", repository="maven-rel", actions=["BROWSE", "READ", "EDIT"]),
    P("repository-content-selector", "team-a-read", "read team A", format="raw", repository="files", contentSelector="team-a", actions=["READ", "BROWSE"]),
    P("application", "search-only", "search", domain="search", actions=["READ"]),
    P("wildcard", "blobstores-all", "every blob store action", pattern="nexus:blobstores:*"),
    P("script", "run-cleanup", "run the cleanup script", scriptName="cleanup-script", actions=["RUN", "BROWSE"]),
    P("repository-view", "nuget-read", "read nuget", format="nuget", repository="nuget-hosted", actions=["READ", "BROWSE"]),
]
ROLES = [  # "deployers" is listed before the role it nests
    {"id": "nx-admin", "source": "default", "name": "nx-admin", "description": "Administrator Role", "readOnly": True,
     "privileges": ["nx-all"], "roles": []},
    {"id": "nx-anonymous", "source": "default", "name": "nx-anonymous", "description": "Anonymous Role", "readOnly": True,
     "privileges": ["nx-search-read"], "roles": []},
    {"id": "deployers", "source": "default", "name": "Deployers", "description": "deploy", "readOnly": False,
     "privileges": ["files-add", "maven-admin", "blobstores-all"], "roles": ["readers"]},
    {"id": "readers", "source": "default", "name": "Readers", "description": "read", "readOnly": False,
     "privileges": ["team-a-read", "search-only", "nuget-read"], "roles": []},
    {"id": "ldap-devs", "source": "LDAP", "name": "ldap-devs", "description": "mapped from LDAP", "readOnly": False,
     "privileges": ["files-add"], "roles": []},
]
U = lambda uid, src, status, roles, ext=(), ro=False: {"userId": uid, "firstName": uid.title(), "lastName": "Example",
    "emailAddress": f"{uid}@example.com", "source": src, "status": status, "readOnly": ro, "roles": list(roles),
    "externalRoles": list(ext)}
USERS = [U("admin", "default", "active", ["nx-admin"]), U("anonymous", "default", "active", ["nx-anonymous"]),
         U("alice", "default", "active", ["deployers"]), U("bob", "default", "disabled", ["readers"]),
         U("carol", "default", "locked", ["readers"]),
         U("jdoe", "LDAP", "active", [], ["ldap-devs"], True)]
ANONYMOUS = {"enabled": True, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}
SCRIPTS = [{"name": "cleanup-script", "content": "log.info('cleaning up')", "type": "groovy"}]


def asset_items(repo, fmt, files, bs):
    out = []
    for i, (p, b) in enumerate(sorted(files.items())):
        out.append({"downloadUrl": f"{repo_url(repo)}/{urllib.parse.quote(p)}", "path": "/" + p,
                    "id": f"{repo}-{i:04d}", "repository": repo, "format": fmt, "checksum": checksums(b),
                    "contentType": "application/octet-stream", "lastModified": "2025-01-02T03:04:05.678+00:00",
                    "lastDownloaded": None, "uploader": "admin", "uploaderIp": "10.0.0.1", "fileSize": len(b),
                    "blobCreated": "2025-01-02T03:04:05.678+00:00", "blobStoreName": bs})
    return out


ASSETS = {"files": (asset_items("files", "raw", RAW, "extra"), 2),
          "maven-rel": (asset_items("maven-rel", "maven2", {**MAVEN, **MAVEN_DERIVED}, "default"), 3),
          "py": ([], 10), "rpms": ([], 10)}
CONTENT = {"files": RAW, "maven-rel": {**MAVEN, **MAVEN_DERIVED}}
# continuationToken (opaque, as Nexus's) -> (repository, offset)
TOKENS = {hashlib.md5(f"{r}:{o}".encode()).hexdigest(): (r, o) for r, (items, n) in ASSETS.items()
          for o in range(n, len(items), n)}

# ---- the fake Nexus -------------------------------------------------------------------------------
LOG = []  # (method, path, authorized)
LOCK = threading.Lock()


class Nexus(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        authorized = self.headers.get("Authorization") == SRC_AUTH
        with LOCK:
            LOG.append((self.command, self.path, authorized))
        if not authorized:
            return self.send(401, b"", "text/plain", {"WWW-Authenticate": 'BASIC realm="Sonatype Nexus Repository Manager"'})
        u = urllib.parse.urlsplit(self.path)
        path, q = urllib.parse.unquote(u.path), dict(urllib.parse.parse_qsl(u.query))
        if path.startswith("/service/rest/"):
            return self.rest(path[len("/service/rest"):], q)
        m = re.fullmatch(r"/repository/([^/]+)/v2/(.*)", path)
        if m and m.group(1) == "dock":
            return self.registry(m.group(2), q)
        m = re.fullmatch(r"/repository/([^/]+)/(.+)", path)
        if m and m.group(2) in CONTENT.get(m.group(1), {}):
            return self.send(200, CONTENT[m.group(1)][m.group(2)], "application/octet-stream",
                             {"Last-Modified": "Thu, 02 Jan 2025 03:04:05 GMT"})
        self.send(404, b"<html>Not Found</html>", "text/html")

    def rest(self, p, q):
        simple = {"/v1/repositories": repo_list, "/v1/blobstores": lambda: BLOBSTORES,
                  "/internal/cleanup-policies": lambda: CLEANUP, "/v1/security/content-selectors": lambda: SELECTORS,
                  "/v1/security/privileges": lambda: PRIVILEGES, "/v1/security/roles": lambda: ROLES,
                  "/v1/security/users": lambda: USERS, "/v1/security/anonymous": lambda: ANONYMOUS,
                  "/v1/script": lambda: SCRIPTS, "/v1/blobstores/s3/s3-store": lambda: S3_STORE}
        if p in simple:
            return self.send(200, simple[p]())
        m = re.fullmatch(r"/v1/blobstores/file/([^/]+)", p)
        if m and m.group(1) in FILE_STORES:
            return self.send(200, FILE_STORES[m.group(1)])
        m = re.fullmatch(r"/v1/repositories/([^/]+)/([^/]+)/([^/]+)", p)
        if m and m.group(3) in REPO:
            seg, d = REPO[m.group(3)]
            if (seg, d["type"]) == (m.group(1), m.group(2)):
                return self.send(200, {**d, "url": repo_url(d["name"])})
        if p == "/v1/assets":
            if "repository" not in q:
                return self.send(422, b"Parameter 'repository' is required", "text/plain")
            if q["repository"] not in REPO:
                return self.send(404, b"Repository not found", "text/plain")
            items, n = ASSETS.get(q["repository"], ([], 10))
            off = 0
            if "continuationToken" in q:
                r, off = TOKENS.get(q["continuationToken"], (None, 0))
                if r != q["repository"]:
                    return self.send(400, [{"id": "*", "message": "invalid continuation token"}])
            nxt = hashlib.md5(f"{q['repository']}:{off + n}".encode()).hexdigest() if off + n < len(items) else None
            return self.send(200, {"items": items[off:off + n], "continuationToken": nxt})
        self.send(404, b"", "text/plain")  # e.g. /v1/cleanup-policies, which 3.94 does not have

    def registry(self, rest, q):
        hdr = {"Docker-Distribution-Api-Version": "registry/2.0"}
        err = lambda code, msg: self.send(404, {"errors": [{"code": code, "message": msg, "detail": None}]},
                                          "application/json", hdr)
        if rest == "":
            return self.send(200, {}, "application/json", hdr)
        if rest == "_catalog":
            return self.send(200, {"repositories": [IMAGE]}, "application/json", hdr)
        m = re.fullmatch(r"(.+)/(tags/list|manifests/[^/]+|blobs/[^/]+|referrers/[^/]+)", rest)
        if not m or m.group(1) != IMAGE:
            return err("NAME_UNKNOWN", "repository name not known to registry")
        what = m.group(2)
        if what == "tags/list":
            return self.send(200, {"name": IMAGE, "tags": sorted(TAGS)}, "application/json", hdr)
        if what.startswith("manifests/"):
            ref = what.split("/", 1)[1]
            if TAGS.get(ref, ref) != D_MAN:
                return err("MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, MANIFEST, DOCKER_M, {**hdr, "Docker-Content-Digest": D_MAN})
        if what.startswith("blobs/"):
            d = what.split("/", 1)[1]
            if d not in BLOBS:
                return err("BLOB_UNKNOWN", "blob unknown to registry")
            return self.send(200, BLOBS[d], "application/octet-stream", {**hdr, "Docker-Content-Digest": d})
        return err("UNSUPPORTED", "referrers are not served")  # 3.94 has no referrers API

    def refuse(self):
        with LOCK:
            LOG.append((self.command, self.path, self.headers.get("Authorization") == SRC_AUTH))
        self.send(405, b"read-only fake", "text/plain")

    do_PUT = do_POST = do_DELETE = refuse


srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Nexus)
srv.daemon_threads = True
SRC = f"http://127.0.0.1:{PORT}"
threading.Thread(target=srv.serve_forever, daemon=True).start()


# ---- helpers against the target -------------------------------------------------------------------
def req(base, method, path, body=None, headers=None, auth=DST_AUTH):
    h = dict(headers or {})
    if auth:
        h["Authorization"] = auth
    r = urllib.request.Request(base + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}
    except OSError as e:
        return 0, str(e).encode(), {}


def jget(path):
    st, b, _ = req(DST, "GET", "/service/rest/v1" + path)
    if st != 200:
        raise RuntimeError(f"GET {path}: {st} {b[:200]!r}")
    return json.loads(b)


def paged(path):
    out, tok = [], None
    while True:
        v = jget(path + (f"&continuationToken={tok}" if tok else ""))
        out += v["items"]
        tok = v.get("continuationToken")
        if not tok:
            return out


def run_import(*extra):
    cmd = [BIN, "import", "nexus", "--url", SRC, "--user", "admin", "--password-file", f"{W}/source.pw",
           "--target-url", DST, "--target-user", "admin", "--target-password-file", f"{W}/target.pw",
           "--users-password-file", f"{W}/users.txt", "--report", f"{W}/report.json", *extra]
    if os.path.exists(f"{W}/report.json"):
        os.remove(f"{W}/report.json")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print("\n".join("     | " + l for l in p.stdout.splitlines()))
    if p.stderr.strip():
        print("\n".join("     ! " + l for l in p.stderr.splitlines()[-15:]))
    rep = json.load(open(f"{W}/report.json")) if os.path.exists(f"{W}/report.json") else {}
    return p.returncode, rep


def ptr(v, p):
    for k in p.split("/")[1:]:
        if not isinstance(v, dict):
            return None
        v = v.get(k)
    return v


def item(rep, kind, name):
    return next((i for i in rep.get("items", []) if i["kind"] == kind and i["name"] == name), None)


# ---- before ---------------------------------------------------------------------------------------
check("target starts empty with anonymous access off",
      jget("/repositories") == [] and jget("/security/anonymous").get("enabled") is False, "", "")
st, _, _ = req(SRC, "GET", "/service/rest/v1/repositories", auth=None)
check("the fake Nexus answers 401 without credentials", st == 401, "", f"HTTP {st}")

# ---- dry run, then the import ----------------------------------------------------------------------
rc, dry = run_import("--dry-run")
check("dry run: exit 0, nothing written to the target",
      rc == 0 and dry.get("dry_run") is True and jget("/repositories") == [], "", f"rc {rc}, {jget('/repositories')}")
LOG.clear()
rc, rep = run_import()
failures = [i for i in rep.get("items", []) if i["outcome"] == "failed"] + \
           [f"{n}: {f}" for n, r in rep.get("repositories", {}).items() for f in r.get("failed", [])]
check("first import: exit 0, no failures", rc == 0 and not failures and rep, "", f"rc {rc}, {failures}")
unauth = [f"{m} {p}" for m, p, a in LOG if not a]
check("every request to the source carried its credentials", LOG and not unauth, f"{len(LOG)} requests", f"{unauth[:5]}")
writes = [f"{m} {p}" for m, p, _ in LOG if m not in ("GET", "HEAD")]
check("nothing but GET and HEAD sent to the source", LOG and not writes, "", f"{writes[:5]}")
for repo, (items, n) in ASSETS.items():
    if len(items) > n:
        pages = [p for m, p, _ in LOG if p.startswith("/service/rest/v1/assets") and f"repository={repo}" in p]
        want = -(-len(items) // n)
        check(f"{repo}: the asset listing read page by page with continuationToken", len(pages) == want
              and sum("continuationToken=" in p for p in pages) == want - 1, f"{want} pages", f"{pages}")
reg = [p for m, p, _ in LOG if p.startswith("/repository/dock/v2/")]
check("docker read at /repository/<name>/v2/ (Nexus's layout)", any("/manifests/" in p for p in reg)
      and any("/blobs/" in p for p in reg), f"{len(reg)} requests", f"{reg[:5]}")

# ---- repositories and their settings ----------------------------------------------------------------
have = {r["name"]: r for r in jget("/repositories")}
check("every repository of Arca's formats created, the others not", set(have) == SUPPORTED, f"{len(have)}",
      f"missing {sorted(SUPPORTED - set(have))}, extra {sorted(set(have) - SUPPORTED)}")
for n in ("nuget-hosted", "helm-charts"):
    i = item(rep, "repository", n)
    check(f"{n}: listed as skipped, its format named", i and i["outcome"] == "skipped"
          and REPO[n][1]["format"] in i["detail"] and "not one Arca serves" in i["detail"], i and i["detail"], f"{i}")
TAKEN = {  # JSON pointers whose value the target must have as the source does
    "files": ["/online", "/storage/blobStoreName", "/storage/writePolicy", "/storage/strictContentTypeValidation",
              "/raw/contentDisposition"],
    "raw-remote": ["/proxy/remoteUrl", "/proxy/contentMaxAge", "/proxy/metadataMaxAge", "/negativeCache/enabled",
                   "/negativeCache/timeToLive", "/httpClient/authentication/username", "/httpClient/autoBlock",
                   "/storage/strictContentTypeValidation", "/raw/contentDisposition"],
    "raw-all": ["/group/memberNames", "/raw/contentDisposition"],
    "maven-rel": ["/storage/writePolicy", "/maven/versionPolicy", "/maven/layoutPolicy", "/maven/contentDisposition",
                  "/cleanup/policyNames"],
    "maven-central": ["/proxy/remoteUrl", "/proxy/contentMaxAge", "/negativeCache/enabled", "/maven/layoutPolicy",
                      "/maven/contentDisposition"],
    "maven-public": ["/group/memberNames"],
    "py": ["/storage/writePolicy"],
    "rpms": ["/yum/repodataDepth", "/yum/deployPolicy"],
    "yum-remote": ["/online", "/proxy/remoteUrl"],
    "dock": ["/docker/httpPort", "/docker/forceBasicAuth", "/docker/v1Enabled", "/storage/writePolicy"],
    "docker-remote": ["/proxy/remoteUrl", "/dockerProxy/indexType", "/negativeCache/timeToLive"],
    "docker-all": ["/group/memberNames", "/group/writableMember", "/docker/forceBasicAuth"],
}
for n, ptrs in TAKEN.items():
    seg, d = REPO[n]
    st, b, _ = req(DST, "GET", f"/service/rest/v1/repositories/{seg}/{d['type']}/{n}")
    got = json.loads(b) if st == 200 else {}
    diff = [f"{p}: {ptr(d, p)!r} != {ptr(got, p)!r}" for p in ptrs if ptr(d, p) != ptr(got, p) or ptr(d, p) is None]
    check(f"{n}: settings taken ({', '.join(p[1:] for p in ptrs)})", st == 200 and not diff, "", f"HTTP {st}, {diff}")

# ---- blob stores, cleanup, selectors, security ------------------------------------------------------------
stores = {b["name"]: b for b in jget("/blobstores")}
st, b, _ = req(DST, "GET", "/service/rest/v1/blobstores/file/extra")
extra = json.loads(b) if st == 200 else {}
check("file blob store 'extra' created with its path and soft quota",
      extra.get("path") == "extra" and extra.get("softQuota") == FILE_STORES["extra"]["softQuota"], "", f"HTTP {st} {extra}")
pol = {p["name"]: p for p in jget("/cleanup-policies")}.get("old-releases", {})
check("cleanup policy read from 3.94's internal path and created", all(pol.get(k) == CLEANUP[0][k] for k in
      ("format", "notes", "criteriaLastBlobUpdated", "criteriaReleaseType")), "", f"{pol}")
sel = {s["name"]: s for s in jget("/security/content-selectors")}.get("team-a", {})
check("content selector", all(sel.get(k) == SELECTORS[0][k] for k in ("description", "expression")), "", f"{sel}")
privs = {p["name"]: p for p in jget("/security/privileges")}
diff = []
for p in PRIVILEGES:
    if p["readOnly"] or p["type"] == "script" or p.get("format") == "nuget":
        continue
    t = privs.get(p["name"])
    for k, v in p.items():
        if k == "readOnly":
            continue
        got = t.get(k) if t else "absent"
        if (sorted(v) if isinstance(v, list) else v) != (sorted(got) if isinstance(got, list) else got):
            diff.append(f"{p['name']}.{k}: {v!r} != {got!r}")
check("privileges of each type Arca takes equal (view, admin, content selector, application, wildcard)",
      not diff, "5 privileges", "; ".join(diff))
roles = {r["id"]: r for r in jget("/security/roles")}
diff = []
for r in ROLES:
    if r["source"] != "default" or r["readOnly"]:
        continue
    t = roles.get(r["id"], {})
    if (t.get("name"), t.get("description"), sorted(t.get("privileges") or []), sorted(t.get("roles") or [])) != \
            (r["name"], r["description"], sorted(r["privileges"]), sorted(r["roles"])):
        diff.append(f"{r['id']}: {t}")
check("roles equal, the nesting one created after the one it nests", not diff, "", f"{diff} {roles.get('deployers')}")
users = {u["userId"]: u for u in jget("/security/users")}
diff = [f"{u['userId']}.{k}" for u in USERS if u["userId"] in ("alice", "bob", "carol")
        for k in ("firstName", "lastName", "emailAddress", "roles") if users.get(u["userId"], {}).get(k) != u[k]]
check("local users with names, e-mail and roles", not diff, "", f"{diff}")
check("users: the active one must change its random password, the disabled and the locked one stay so",
      [users.get(u, {}).get("status") for u in ("alice", "bob", "carol")] == ["changepassword", "disabled", "locked"],
      "", f"{users.get('alice')}, {users.get('bob')}, {users.get('carol')}")
pw = dict(l.split("\t") for l in open(f"{W}/users.txt").read().splitlines()) if os.path.exists(f"{W}/users.txt") else {}
st, _, _ = req(DST, "GET", "/service/rest/v1/status/check", auth=basic("alice", pw.get("alice", "-")))
st_bad, _, _ = req(DST, "GET", "/service/rest/v1/status/check", auth=basic("alice", "not-her-password"))
check("alice signs in on the target with the password written for her (403 until she changes it)",
      set(pw) == {"alice", "bob", "carol"} and st == 403 and st_bad == 401, "", f"{sorted(pw)}, HTTP {st}, with a wrong password HTTP {st_bad}")
check("anonymous access on", jget("/security/anonymous").get("enabled") is True, "", f"{jget('/security/anonymous')}")

# What is not taken, listed with the reason: (kind, name, words the reason holds).
NOT_TAKEN = [
    ("repository setting", "files: component.proprietaryComponents", "proprietary"),
    ("repository setting", "raw-remote: routingRuleName", "routing rules"),
    ("repository setting", "raw-remote: replication", "Pro"),
    ("repository setting", "raw-remote: httpClient.authentication.password", "password"),
    ("repository setting", "dock: docker.subdomain", "subdomain"),
    ("repository setting", "dock: docker.httpsPort", "TLS"),
    ("repository setting", "dock: storage.latestPolicy", "latest"),
    ("repository setting", "docker-all: docker.v1Enabled", "V2"),
    ("blob store", "s3-store", "secret"),
    ("blob store", "both", "group"),
    ("privilege", "run-cleanup", "script"),
    ("privilege", "nuget-read", "nuget"),
    ("role", "ldap-devs", "LDAP"),
    ("user", "jdoe", "LDAP"),
    ("script", "cleanup-script", "script"),
]
ON_TARGET = {"blob store": stores, "privilege": privs, "role": roles, "user": users}
for kind, name, word in NOT_TAKEN:
    i = item(rep, kind, name)
    check(f"not taken, with the reason: {kind} {name}", i and i["outcome"] == "skipped" and word.lower() in i["detail"].lower()
          and name not in ON_TARGET.get(kind, {}), i and i["detail"][:90], f"{i}, on the target: {name in ON_TARGET.get(kind, {})}")
spurious = [i["name"] for i in rep.get("items", []) if i["kind"] == "repository setting"
            and i["name"] not in {n for k, n, _ in NOT_TAKEN if k == "repository setting"}]
check("no setting reported as not taken that the source does not set", rep.get("items") and not spurious, "", f"{spurious}")

# ---- content --------------------------------------------------------------------------------------------------
for n, files, derived in (("files", RAW, {}), ("maven-rel", MAVEN, MAVEN_DERIVED)):
    on = {a["path"].lstrip("/"): a["checksum"].get("sha256") for a in paged(f"/assets?repository={n}")}
    missing = [p for p, b in files.items() if on.get(p) != sha(b)]
    check(f"{n}: every primary asset on the target with its sha256", not missing, f"{len(files)} assets", f"{missing}")
    r = rep.get("repositories", {}).get(n, {})
    check(f"{n}: report counts {len(files)} copied, {len(derived)} left to the target",
          r.get("copied") == len(files) and r.get("derived") == len(derived), "", f"{r}")
st, body, _ = req(DST, "GET", "/repository/files/docs/read%20me.txt")
check("raw: a file whose name has a space reads back", st == 200 and body == RAW["docs/read me.txt"], "", f"HTTP {st}")
st, body, _ = req(DST, "GET", f"/repository/maven-rel/{G}/maven-metadata.xml")
check("maven: maven-metadata.xml derived by the target, not copied",
      st == 200 and b"<version>1.0</version>" in body and b"fake Nexus" not in body and b"0.9" not in body,
      "", f"HTTP {st} {body[:300]!r}")
st, body, _ = req(DST, "GET", f"/repository/maven-rel/{G}/1.0/app-1.0.jar.sha1")
check("maven: the jar's .sha1 answered by the target", st == 200 and body.strip() == hashlib.sha1(JAR).hexdigest().encode(),
      "", f"HTTP {st} {body[:80]!r}")

ACCEPT = {"Accept": f"{DOCKER_M}, application/vnd.oci.image.manifest.v1+json"}
for tag in TAGS:
    st, body, h = req(DST, "GET", f"/v2/dock/{IMAGE}/manifests/{tag}", headers=ACCEPT)
    check(f"docker dock/{IMAGE}:{tag} on the target with the source's digest",
          st == 200 and h.get("docker-content-digest") == D_MAN and body == MANIFEST, D_MAN[:19],
          f"HTTP {st} {h.get('docker-content-digest')} {body[:120]!r}")
st, body, _ = req(DST, "GET", f"/v2/dock/{IMAGE}/blobs/{D_LAYER}")
check("docker: the layer reads back from the target", st == 200 and body == LAYER, "", f"HTTP {st}")
for _ in range(50):  # the target opens a repository's connector within 2 s of its creation
    st, body, h = req(f"http://127.0.0.1:{DOCKER_PORT}", "GET", f"/v2/{IMAGE}/manifests/1.0", headers=ACCEPT)
    if st:
        break
    time.sleep(0.1)
check("docker: the image pullable on the repository's own httpPort too", st == 200 and h.get("docker-content-digest") == D_MAN,
      f"port {DOCKER_PORT}", f"HTTP {st} {body[:120]!r}")
d = rep.get("repositories", {}).get("dock", {})
check("dock: report counts 2 tags, 3 manifests and blobs", d.get("tags") == 2 and d.get("copied") == 3, "", f"{d}")

# ---- a second run copies nothing ---------------------------------------------------------------
LOG.clear()
rc, rep2 = run_import()
created = [f"{i['kind']} {i['name']}" for i in rep2.get("items", []) if i["outcome"] in ("created", "failed")]
r2 = rep2.get("repositories", {})
check("second run: exit 0, nothing created or copied, every asset and tag unchanged",
      rc == 0 and rep2.get("assets_copied") == 0 and not created and r2.get("files", {}).get("unchanged") == len(RAW)
      and r2.get("maven-rel", {}).get("unchanged") == len(MAVEN) and r2.get("dock", {}).get("unchanged") == len(TAGS)
      and r2.get("dock", {}).get("tags") == 0, "", f"rc {rc}, copied {rep2.get('assets_copied')}, {created}, "
      f"{ {n: (r.get('copied'), r.get('unchanged'), r.get('tags')) for n, r in r2.items()} }")
gets = [p for m, p, _ in LOG if "/blobs/" in p or re.match(r"/repository/(files|maven-rel)/", p)]
check("second run: no content read from the source again", not gets, "", f"{gets[:5]}")

srv.shutdown()
print(f"\n{len(passed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
PY
