#!/usr/bin/env bash
# `arca import nexus` (issue 20) between two arca binaries: no Nexus can run here, and Arca
# speaks Nexus's API, so the source is an Arca seeded through the REST API and plain HTTP:
#   settings: a file blob store, a cleanup policy, a content selector, hosted raw/maven2/pypi/
#     yum/docker repositories, a raw proxy and group, typed privileges, nested roles, users
#     (one disabled), anonymous access on;
#   content: raw files (one of 5 MB), a Maven jar+pom in two versions, a PyPI wheel through the
#     upload API, an RPM, a docker image, an index over it and a referrer, through /v2/;
#   npm: a hosted repository (two versions of a package and a scoped one, published with the
#     real npm CLI, a dist-tag, a deprecation), a proxy and a group; after the import npm installs
#     from the target (so npm is needed too);
# then imports into an empty target, compares the two through the REST API (repository settings,
# every primary asset with its sha256, derived metadata present, users, roles, privileges,
# selectors, cleanup policies, anonymous, docker tags by digest, referrers) and reads a file of
# each format back from the target; changes the source (one raw file added, one deleted) and
# runs again: only the difference is copied (and the deletion pruned); a run killed half-way and
# run again leaves every file whole; a source listing a wrong checksum gets that asset refused.
# Prints the speed.
# ok/FAIL lines and a summary; exits non-zero on any FAIL. Needs ARCA_BIN, python3, curl.
# IMPORT_ASSETS (24) raw files are seeded: raise it to measure the speed on more assets;
# IMPORT_JOBS (4) is --jobs; IMPORT_KEEP=1 keeps the work directory (logs, state, reports).
# IMPORT_DB=postgres runs the target on a fresh PostgreSQL database (scripts/lib/pg.sh: the
# server ARCA_TEST_DATABASE_URL names, or a throw-away one); the source stays on SQLite.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pg.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
ARCA_BIN=${ARCA_BIN:-$CARGO_TARGET_DIR/debug/arca}
[ -x "$ARCA_BIN" ] || { echo "no arca binary at $ARCA_BIN (cargo build --bin arca, or set ARCA_BIN)" >&2; exit 2; }
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

# The real clients the copy is checked with (scripts/test.sh installs them for the whole suite).
for b in mvn skopeo dnf npm; do
  command -v "$b" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends maven libmaven-resources-plugin-java libmaven-compiler-plugin-java skopeo rpm dnf python3-venv >/dev/null; break; }
done
W=$(mktemp -d /tmp/arca-import.XXXXXX)
# The binary under test, copied (other builds may replace the original during the run) to a
# place that allows executing it (/tmp may be noexec).
BINDIR=$(mktemp -d "$HOME/.cache/arca-import-bin.XXXXXX")
cp "$ARCA_BIN" "$BINDIR/arca"
BIN=$BINDIR/arca
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  pg_cleanup
  rm -rf "$BINDIR"
  if [ -n "${IMPORT_KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name port password [database URL]
  mkdir -p "$W/$1"
  (cd "$W/$1" && exec env ARCA_LISTEN="127.0.0.1:$2" ARCA_ADMIN_PASSWORD="$3" ${4:+ARCA_DATABASE_URL="$4"} "$BIN" >"$W/$1.log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$2/service/rest/v1/status" >/dev/null && return 0; sleep 0.02; done
  echo "FAIL $1 did not start"; tail -20 "$W/$1.log"; exit 1
}
SP=$(port); TP=$(port)
start source "$SP" source-pass-123
TARGET_DB=""
if [ "${IMPORT_DB:-sqlite}" = postgres ]; then
  command -v psql >/dev/null || { echo "psql is needed for IMPORT_DB=postgres" >&2; exit 2; }
  pg_fresh_database "$W" arca_import
  TARGET_DB=$PG_URL
  echo "target on PostgreSQL database $PG_DB"
fi
start target "$TP" target-pass-456 "$TARGET_DB"
echo source-pass-123 >"$W/source.pw"
echo target-pass-456 >"$W/target.pw"

W="$W" SRC="http://127.0.0.1:$SP" DST="http://127.0.0.1:$TP" BIN="$BIN" python3 - <<'PY'
import base64, gzip, hashlib, io, json, os, random, stat, struct, subprocess, sys, time, urllib.error, urllib.parse, urllib.request, zipfile

sys.path.insert(0, "scripts/lib")
from e2e_util import ok, bad, check, note, basic, sha, passed, failed

W, SRC, DST, BIN = os.environ["W"], os.environ["SRC"], os.environ["DST"], os.environ["BIN"]
AUTH = {SRC: basic("admin", "source-pass-123"), DST: basic("admin", "target-pass-456")}


def req(base, method, path, body=None, headers=None, auth=True):
    h = dict(headers or {})
    if auth:
        h["Authorization"] = AUTH[base]
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    r = urllib.request.Request(base + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def api(base, method, path, body=None):
    return req(base, method, "/service/rest/v1" + path, body)


def jget(base, path):
    st, b, _ = api(base, "GET", path)
    if st != 200:
        raise RuntimeError(f"GET {path}: {st} {b[:200]!r}")
    return json.loads(b)


def must(what, res, codes=(200, 201, 204)):
    st, b, _ = res
    if st not in codes:
        bad(f"seed: {what}", f"HTTP {st}: {b[:300]!r}")
    return res


def paged(base, path):
    out, tok = [], None
    while True:
        p = path + (f"&continuationToken={tok}" if tok else "")
        v = jget(base, p)
        out += v["items"]
        tok = v.get("continuationToken")
        if not tok:
            return out


# ---- seeding the source ---------------------------------------------------------------------------
hosted = lambda name, bs="default", extra=None: {"name": name, "online": True,
    "storage": {"blobStoreName": bs, "strictContentTypeValidation": True, "writePolicy": "ALLOW"}, **(extra or {})}
must("file blob store", api(SRC, "POST", "/blobstores/file", {"name": "extra", "path": "extra-store"}))
must("cleanup policy", api(SRC, "POST", "/cleanup-policies", {"name": "old-releases", "format": "maven2",
     "notes": "imported", "criteriaLastBlobUpdated": 30}))
must("content selector", api(SRC, "POST", "/security/content-selectors", {"name": "team-a",
     "description": "team A's files", "expression": 'format == "raw" and path =^ "/team-a/"'}))
must("raw hosted", api(SRC, "POST", "/repositories/raw/hosted", hosted("files", "extra", {"raw": {"contentDisposition": "INLINE"}})))
must("maven hosted", api(SRC, "POST", "/repositories/maven/hosted", hosted("maven-rel", extra={
     "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}, "cleanup": {"policyNames": ["old-releases"]}})))
must("pypi hosted", api(SRC, "POST", "/repositories/pypi/hosted", hosted("py")))
must("yum hosted", api(SRC, "POST", "/repositories/yum/hosted", hosted("rpms", extra={"yum": {"repodataDepth": 0, "deployPolicy": "STRICT"}})))
must("docker hosted", api(SRC, "POST", "/repositories/docker/hosted", hosted("dock", extra={"docker": {"v1Enabled": False, "forceBasicAuth": True}})))
must("raw proxy", api(SRC, "POST", "/repositories/raw/proxy", {"name": "raw-remote", "online": True,
     "storage": {"blobStoreName": "default", "strictContentTypeValidation": False},
     "proxy": {"remoteUrl": "http://127.0.0.1:9/", "contentMaxAge": 60, "metadataMaxAge": 60},
     "negativeCache": {"enabled": True, "timeToLive": 5}, "httpClient": {"blocked": False, "autoBlock": False}}))
must("raw group", api(SRC, "POST", "/repositories/raw/group", {"name": "raw-all", "online": True,
     "storage": {"blobStoreName": "default", "strictContentTypeValidation": False},
     "group": {"memberNames": ["files", "raw-remote"]}}))
must("content-selector privilege", api(SRC, "POST", "/security/privileges/repository-content-selector", {
     "name": "team-a-read", "description": "read team A", "actions": ["READ", "BROWSE"], "format": "raw",
     "repository": "files", "contentSelector": "team-a"}))
must("view privilege", api(SRC, "POST", "/security/privileges/repository-view", {
     "name": "files-add", "description": "add to files", "actions": ["ADD", "EDIT"], "format": "raw", "repository": "files"}))
must("application privilege", api(SRC, "POST", "/security/privileges/application", {
     "name": "search-only", "description": "search", "actions": ["READ"], "domain": "search"}))
# "deployers" nests "readers": created in that order on the target whatever the listing order.
must("role readers", api(SRC, "POST", "/security/roles", {"id": "readers", "name": "Readers", "description": "r",
     "privileges": ["team-a-read", "search-only"], "roles": []}))
must("role deployers", api(SRC, "POST", "/security/roles", {"id": "deployers", "name": "Deployers", "description": "d",
     "privileges": ["files-add"], "roles": ["readers"]}))
for uid, status in (("alice", "active"), ("bob", "disabled")):
    must(f"user {uid}", api(SRC, "POST", "/security/users", {"userId": uid, "firstName": uid.title(), "lastName": "Example",
         "emailAddress": f"{uid}@example.com", "password": "secret-pass-1", "status": status, "roles": ["deployers"]}))
must("anonymous on", api(SRC, "PUT", "/security/anonymous", {"enabled": True, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}))

rng = random.Random(20)
raw_files = {}
for i in range(int(os.environ.get("IMPORT_ASSETS", "24"))):
    size = 5_000_000 if i == 0 else rng.randrange(100, 300_000)
    path = f"team-a/dir{i % 3}/file-{i}.bin" if i % 2 else f"other/file-{i}.bin"
    data = rng.randbytes(size)
    raw_files[path] = data
    must(f"raw PUT {path}", req(SRC, "PUT", f"/repository/files/{path}", data))
for v in ("1.0", "1.1"):
    base = f"/repository/maven-rel/org/example/app/{v}/app-{v}"
    pom = (f'<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
           f"<groupId>org.example</groupId><artifactId>app</artifactId><version>{v}</version></project>").encode()
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nImplementation-Version: {v}\n")
    must(f"maven pom {v}", req(SRC, "PUT", base + ".pom", pom))
    must(f"maven jar {v}", req(SRC, "PUT", base + ".jar", jar.getvalue()))


def wheel(project, version):
    dist = project.replace("-", "_")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        di = f"{dist}-{version}.dist-info"
        z.writestr(f"{dist}/__init__.py", "")
        z.writestr(f"{di}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n")
        z.writestr(f"{di}/WHEEL", "Wheel-Version: 1.0\nGenerator: e2e-import\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{di}/RECORD", "")
    return f"{dist}-{version}-py3-none-any.whl", buf.getvalue()


whl_name, whl = wheel("demo-pkg", "1.0")
b = "----import" + os.urandom(8).hex()
form = io.BytesIO()
for k, v in ((":action", "file_upload"), ("protocol_version", "1"), ("name", "demo-pkg"), ("version", "1.0"),
             ("filetype", "bdist_wheel"), ("pyversion", "py3"), ("sha256_digest", sha(whl))):
    form.write(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
form.write(f'--{b}\r\nContent-Disposition: form-data; name="content"; filename="{whl_name}"\r\n'
           f"Content-Type: application/octet-stream\r\n\r\n".encode() + whl + f"\r\n--{b}--\r\n".encode())
must("pypi upload", req(SRC, "POST", "/repository/py/", form.getvalue(), {"Content-Type": f"multipart/form-data; boundary={b}"}))


def make_rpm(name, payload, version="1.0"):
    """An RPM (lead, signature header, main header, `payload`), as scripts/crash.sh writes one."""
    def header(entries):
        index, store = b"", b""
        for tag, typ, count, data, align in entries:
            while len(store) % align:
                store += b"\0"
            index += struct.pack(">IIII", tag, typ, len(store), count)
            store += data
        return b"\x8e\xad\xe8\x01\0\0\0\0" + struct.pack(">II", len(entries), len(store)) + index + store
    s = lambda v: v.encode() + b"\0"
    STR, I18N, ARR, I32 = 6, 9, 8, 4
    main = header([
        (100, ARR, 1, s("C"), 1), (1000, STR, 1, s(name), 1), (1001, STR, 1, s(version), 1),
        (1002, STR, 1, s("1"), 1), (1004, I18N, 1, s(f"import test package {name}"), 1),
        (1005, I18N, 1, s("Written by scripts/e2e-import.sh."), 1),
        (1006, I32, 1, struct.pack(">I", int(time.time())), 4), (1007, STR, 1, s("localhost"), 1),
        (1009, I32, 1, struct.pack(">I", len(payload)), 4), (1014, STR, 1, s("MIT"), 1),
        (1016, I18N, 1, s("Unspecified"), 1), (1021, STR, 1, s("linux"), 1),
        (1022, STR, 1, s("noarch"), 1), (1044, STR, 1, s(f"{name}-{version}-1.src.rpm"), 1),
        (1124, STR, 1, s("cpio"), 1), (1125, STR, 1, s("gzip"), 1), (1126, STR, 1, s("9"), 1),
    ])
    sig = header([(1000, I32, 1, struct.pack(">I", len(main) + len(payload)), 4),
                  (1007, I32, 1, struct.pack(">I", len(payload)), 4)])
    sig += b"\0" * (-len(sig) % 8)
    lead = b"\xed\xab\xee\xdb\x03\x00" + struct.pack(">HH", 0, 1) + name.encode()[:65].ljust(66, b"\0") \
        + struct.pack(">HH", 1, 5) + b"\0" * 16
    return lead + sig + main + payload


rpm = make_rpm("hello", os.urandom(4000))
must("rpm PUT", req(SRC, "PUT", "/repository/rpms/hello-1.0-1.noarch.rpm", rpm))


def push_blob(base, image, data):
    d = "sha256:" + sha(data)
    st, b, h = req(base, "POST", f"/v2/{image}/blobs/uploads/", b"")
    if st != 202:
        bad("seed: blob upload start", f"{st} {b[:200]!r}")
        return d
    loc = h.get("Location") or h.get("location")
    loc = loc if loc.startswith("/") else "/" + loc.split("/", 3)[3]
    sep = "&" if "?" in loc else "?"
    must(f"blob {d[:19]}", req(base, "PUT", f"{loc}{sep}digest={d}", data, {"Content-Type": "application/octet-stream"}))
    return d


def push_manifest(base, image, ref, m, mt):
    body = json.dumps(m).encode()
    must(f"manifest {image}:{ref}", req(base, "PUT", f"/v2/{image}/manifests/{ref}", body, {"Content-Type": mt}))
    return "sha256:" + sha(body), len(body)


OCI_M, OCI_I = "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"
img = "dock/team/app"
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
layer = gzip.compress(os.urandom(600_000))
cd, ld = push_blob(SRC, img, cfg), push_blob(SRC, img, layer)
man = {"schemaVersion": 2, "mediaType": OCI_M, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": len(layer)}]}
md, ml = push_manifest(SRC, img, "1.0", man, OCI_M)
push_manifest(SRC, img, "latest", man, OCI_M)
idx = {"schemaVersion": 2, "mediaType": OCI_I, "manifests": [{"mediaType": OCI_M, "digest": md, "size": ml,
       "platform": {"architecture": "amd64", "os": "linux"}}]}
xd, _ = push_manifest(SRC, img, "multi", idx, OCI_I)
empty = push_blob(SRC, img, b"{}")
sbom = push_blob(SRC, img, b'{"sbom":true}')
ref = {"schemaVersion": 2, "mediaType": OCI_M, "artifactType": "application/example.sbom",
       "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
       "layers": [{"mediaType": "application/example.sbom", "digest": sbom, "size": 13}],
       "subject": {"mediaType": OCI_M, "digest": md, "size": ml}}
rd = "sha256:" + sha(json.dumps(ref).encode())
push_manifest(SRC, img, rd, ref, OCI_M)
# ---- npm (seeding: npm-h through the real npm CLI, a proxy and a group) -----------------------
import shutil, tarfile
NPM_W = f"{W}/npm"
os.makedirs(NPM_W, exist_ok=True)
NPM_PLAIN, NPM_SCOPED = "arca-imp-plain", "@arca-imp/scoped"


def npm_cli(base, *args, cwd=None, cache="cache"):
    """The real npm against `base`'s npm-h, with its own userconfig (the script's Basic auth for
    that URL) and cache: nothing global is read or changed."""
    host = base.split("://", 1)[1]
    rc = f"{NPM_W}/{host.replace(':', '-')}.npmrc"
    with open(rc, "w") as f:
        f.write(f"//{host}/repository/npm-h/:_auth={AUTH[base].split()[1]}\n")
    cmd = ["npm", "--userconfig", rc, "--cache", f"{NPM_W}/{cache}", "--no-audit", "--no-fund", "--no-update-notifier",
           "--registry", f"{base}/repository/npm-h/", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def npm_seed(what, res):
    if res.returncode != 0:
        bad(f"seed: {what}", (res.stdout + res.stderr)[-400:])


def npm_dir(name, version):
    d = f"{NPM_W}/{name.replace('/', '+')}-{version}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/package.json", "w") as f:
        json.dump({"name": name, "version": version, "main": "index.js", "description": "e2e-import", "license": "MIT"}, f)
    with open(f"{d}/index.js", "w") as f:
        f.write(f'module.exports = "{name}@{version}";\n')
    return d


def npm_doc(base, repo, name):
    """A packument, full, as the npm CLI reads it (`@scope%2fname`)."""
    st, b, _ = req(base, "GET", f"/repository/{repo}/" + name.replace("/", "%2f"), headers={"Accept": "application/json"})
    return json.loads(b) if st == 200 else {}


if not shutil.which("npm"):
    bad("seed: npm", "the npm CLI is needed (it publishes to the source and installs from the target)")
else:
    must("npm hosted", api(SRC, "POST", "/repositories/npm/hosted", hosted("npm-h", extra={"storage": {
         "blobStoreName": "default", "strictContentTypeValidation": True, "writePolicy": "ALLOW_ONCE"}})))
    # The remote is whatever npm is configured with here, never written down; nothing reads it.
    remote = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True).stdout.strip()
    must("npm proxy", api(SRC, "POST", "/repositories/npm/proxy", {"name": "npm-proxy", "online": True,
         "storage": {"blobStoreName": "default", "strictContentTypeValidation": True},
         "proxy": {"remoteUrl": remote, "contentMaxAge": -1, "metadataMaxAge": 1440},
         "negativeCache": {"enabled": True, "timeToLive": 10}, "httpClient": {"blocked": False, "autoBlock": True},
         "npm": {"removeQuarantined": False}}))
    must("npm group", api(SRC, "POST", "/repositories/npm/group", {"name": "npm-all", "online": True,
         "storage": {"blobStoreName": "default", "strictContentTypeValidation": True},
         "group": {"memberNames": ["npm-h", "npm-proxy"], "writableMember": "npm-h"}}))
    for name, version in ((NPM_PLAIN, "1.0.0"), (NPM_PLAIN, "1.1.0"), (NPM_SCOPED, "2.0.0")):
        npm_seed(f"npm publish {name}@{version}", npm_cli(SRC, "publish", cwd=npm_dir(name, version)))
    npm_seed("npm dist-tag add beta", npm_cli(SRC, "dist-tag", "add", f"{NPM_PLAIN}@1.0.0", "beta"))
    npm_seed("npm deprecate", npm_cli(SRC, "deprecate", f"{NPM_PLAIN}@1.0.0", "use 1.1.0"))
    seeded = npm_doc(SRC, "npm-h", NPM_PLAIN)
    check("npm seeded: 2 versions, dist-tag beta, one deprecated",
          seeded.get("dist-tags") == {"latest": "1.1.0", "beta": "1.0.0"}
          and seeded["versions"]["1.0.0"].get("deprecated") == "use 1.1.0" and "deprecated" not in seeded["versions"]["1.1.0"],
          "", f"{seeded.get('dist-tags')}")
# ---- end npm ----

note(f"seeded the source: {len(raw_files)} raw files, 2 Maven versions, a wheel, an RPM, a docker image with index and referrer")
if failed:
    sys.exit(1)

# ---- first import -------------------------------------------------------------------------------
def run_import(*extra):
    cmd = [BIN, "import", "nexus", "--url", SRC, "--user", "admin", "--password-file", f"{W}/source.pw",
           "--target-url", DST, "--target-user", "admin", "--target-password-file", f"{W}/target.pw",
           "--docker-paths", "prefix", "--users-password-file", f"{W}/users.txt",
           "--jobs", os.environ.get("IMPORT_JOBS", "4"), "--report", f"{W}/report.json", *extra]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - t0
    print("\n".join("     | " + l for l in p.stdout.splitlines()))
    if p.stderr.strip():
        print("\n".join("     ! " + l for l in p.stderr.splitlines()[-15:]))
    rep = json.load(open(f"{W}/report.json")) if os.path.exists(f"{W}/report.json") else {}
    return p.returncode, rep, took


rc, dry, _ = run_import("--dry-run")
check("dry run: exit 0 and nothing written to the target", rc == 0 and
      [r["name"] for r in jget(DST, "/repositories")] == [] and dry.get("dry_run") is True,
      "", f"rc {rc}, target repositories {[r['name'] for r in jget(DST, '/repositories')]}")
rc, rep, took = run_import()
check("first import: exit 0, no failures", rc == 0, "", f"rc {rc}")
note(f"first run: {rep.get('assets_copied')} assets, {rep.get('bytes_copied')} bytes in {rep.get('elapsed_seconds')} s: "
     f"{rep.get('assets_per_second')} assets/s, {rep.get('megabytes_per_second')} MB/s")

# ---- compare through the REST API -------------------------------------------------------------------
def strip(v):
    v = dict(v)
    v.pop("url", None)
    return v


src_repos = {r["name"]: r for r in jget(SRC, "/repositories")}
dst_repos = {r["name"]: r for r in jget(DST, "/repositories")}
check("every repository on the target", set(src_repos) == set(dst_repos), "", f"{sorted(src_repos)} vs {sorted(dst_repos)}")
diff = []
for n, r in src_repos.items():
    p = f"/repositories/{r['format'].replace('maven2', 'maven')}/{r['type']}/{n}"
    a, b_ = strip(jget(SRC, p)), (strip(jget(DST, p)) if n in dst_repos else None)
    if a != b_:
        diff.append(f"{n}: {a} != {b_}")
check("repository settings equal", not diff, f"{len(src_repos)} repositories", "; ".join(diff)[:800])


def derived(fmt, path):
    f = path.rsplit("/", 1)[-1]
    if fmt == "maven2":
        return f.startswith("maven-metadata.xml") or f.endswith((".md5", ".sha1", ".sha256", ".sha512"))
    if fmt == "yum":
        return "repodata/" in path
    if fmt == "pypi":
        return path.startswith("simple") or f.endswith(".metadata")
    return False


for n, fmt in (("files", "raw"), ("maven-rel", "maven2"), ("py", "pypi"), ("rpms", "yum")):
    sa = {a["path"].lstrip("/"): a["checksum"]["sha256"] for a in paged(SRC, f"/assets?repository={n}") if not derived(fmt, a["path"].lstrip("/"))}
    da_all = {a["path"].lstrip("/"): a["checksum"]["sha256"] for a in paged(DST, f"/assets?repository={n}")}
    da = {p: s for p, s in da_all.items() if not derived(fmt, p)}
    check(f"{n}: every asset with its sha256", sa == da and sa, f"{len(sa)} assets",
          f"missing {sorted(set(sa) - set(da))[:5]}, extra {sorted(set(da) - set(sa))[:5]}, "
          f"differing {[p for p in sa if p in da and sa[p] != da[p]][:5]}")
    if fmt == "maven2":
        check("maven-rel: metadata derived by the target", "org/example/app/maven-metadata.xml" in da_all, "", f"{sorted(da_all)[:10]}")
    if fmt == "yum":
        check("rpms: repodata derived by the target", any("repodata/repomd.xml" in p for p in da_all) or
              req(DST, "GET", "/repository/rpms/repodata/repomd.xml")[0] == 200, "", f"{sorted(da_all)}")

cs = {n: len(paged(SRC, f"/components?repository={n}")) for n in ("files", "maven-rel", "py", "rpms", "dock")}
cd_ = {n: len(paged(DST, f"/components?repository={n}")) for n in cs}
check("components per repository equal", cs == cd_, f"{cs}", f"{cs} vs {cd_}")
ss = lambda base, path, key: sorted((json.dumps({k: v for k, v in x.items() if k not in ("url",)}, sort_keys=True)
                                     for x in jget(base, path) if not x.get("readOnly")), key=str)
for what, path in (("cleanup policies", "/cleanup-policies"), ("content selectors", "/security/content-selectors"),
                   ("privileges", "/security/privileges"), ("roles", "/security/roles")):
    a, b_ = ss(SRC, path, None), ss(DST, path, None)
    check(f"{what} equal", a == b_ and a, f"{len(a)}", f"{a[:3]} vs {b_[:3]}")
us = {u["userId"]: u for u in jget(SRC, "/security/users")}
ud = {u["userId"]: u for u in jget(DST, "/security/users")}
check("users with names, e-mail and roles", all(ud.get(i, {}).get(k) == us[i].get(k) for i in ("alice", "bob")
      for k in ("firstName", "lastName", "emailAddress", "roles")), "", f"{ud.get('alice')}")
check("users: an active one must change the random password, a disabled one stays disabled",
      ud.get("alice", {}).get("status") == "changepassword" and ud.get("bob", {}).get("status") == "disabled",
      "", f"{ud.get('alice', {}).get('status')}, {ud.get('bob', {}).get('status')}")
mode = stat.S_IMODE(os.stat(f"{W}/users.txt").st_mode) if os.path.exists(f"{W}/users.txt") else None
lines = open(f"{W}/users.txt").read().split() if mode is not None else []
check("users' passwords written with mode 0600", mode == 0o600 and "alice" in lines, "", f"mode {mode}")
check("anonymous access on", jget(DST, "/security/anonymous").get("enabled") is True, "", f"{jget(DST, '/security/anonymous')}")
check("blob store 'extra' created", any(b["name"] == "extra" for b in jget(DST, "/blobstores")), "", f"{jget(DST, '/blobstores')}")

ACCEPT = {"Accept": f"{OCI_M}, {OCI_I}"}
for tag, want in (("1.0", md), ("latest", md), ("multi", xd)):
    st, body, h = req(DST, "GET", f"/v2/{img}/manifests/{tag}", headers=ACCEPT)
    got = "sha256:" + sha(body) if st == 200 else f"HTTP {st}"
    check(f"docker {img}:{tag} on the target with the source's digest", got == want, want[:19], f"{got} {body[:200]!r}")
st, body, _ = req(DST, "GET", f"/v2/{img}/referrers/{md}")
refs = [m["digest"] for m in json.loads(body).get("manifests", [])] if st == 200 else []
check("docker referrer copied", rd in refs, "", f"HTTP {st} {refs}")
st, body, _ = req(DST, "GET", f"/v2/{img}/blobs/{ld}")
check("docker layer reads back from the target", st == 200 and "sha256:" + sha(body) == ld, "", f"HTTP {st}")

# one file of each format back from the target
p0 = "other/file-0.bin"
st, body, _ = req(DST, "GET", f"/repository/files/{p0}")
check("raw: 5 MB file reads back", st == 200 and body == raw_files[p0], "", f"HTTP {st}, {len(body)} bytes")
st, body, _ = req(DST, "GET", "/repository/maven-rel/org/example/app/1.1/app-1.1.pom")
check("maven: pom reads back", st == 200 and b"<version>1.1</version>" in body, "", f"HTTP {st}")
st, body, _ = req(DST, "GET", "/repository/py/simple/demo-pkg/")
check("pypi: the target's simple index lists the wheel", st == 200 and whl_name.encode() in body, "", f"HTTP {st} {body[:200]!r}")
st, body, _ = req(DST, "GET", "/repository/rpms/hello-1.0-1.noarch.rpm")
check("yum: the RPM reads back", st == 200 and body == rpm, "", f"HTTP {st}")

# ---- npm (after the first import: tarballs, dist-tags, deprecation, npm install from the target) ----
npm_assets = lambda base: {a["path"].lstrip("/"): a["checksum"]["sha256"] for a in paged(base, "/assets?repository=npm-h")}
sa, da = npm_assets(SRC), npm_assets(DST)
check("npm-h: every tarball with its sha256", sa == da and len(sa) == 3, f"{len(sa)} tarballs",
      f"missing {sorted(set(sa) - set(da))}, extra {sorted(set(da) - set(sa))}, differing {[p for p in sa if p in da and sa[p] != da[p]]}")
nr = rep.get("repositories", {}).get("npm-h", {})
check("npm-h: 3 tarballs copied, no failure", nr.get("copied") == 3 and not nr.get("failed"), "", f"{nr}")
deprecations = lambda doc: {v: m.get("deprecated") for v, m in doc.get("versions", {}).items()}
for name in (NPM_PLAIN, NPM_SCOPED):
    s_, d_ = npm_doc(SRC, "npm-h", name), npm_doc(DST, "npm-h", name)
    check(f"npm {name}: dist-tags equal", s_.get("dist-tags") and s_.get("dist-tags") == d_.get("dist-tags"),
          f"{d_.get('dist-tags')}", f"{s_.get('dist-tags')} vs {d_.get('dist-tags')}")
    check(f"npm {name}: versions and deprecation messages equal", s_.get("versions") and deprecations(s_) == deprecations(d_),
          f"{deprecations(d_)}", f"{deprecations(s_)} vs {deprecations(d_)}")
proj = f"{NPM_W}/install"
os.makedirs(proj, exist_ok=True)
with open(f"{proj}/package.json", "w") as f:
    json.dump({"name": "consumer", "version": "0.0.0", "private": True}, f)
want = {NPM_PLAIN: "1.0.0", NPM_SCOPED: "2.0.0"}
# A cache of its own: every tarball comes from the target, none from the publishes' cache.
res = npm_cli(DST, "install", *(f"{n}@{v}" for n, v in want.items()), cwd=proj, cache="cache-install")
lock = json.load(open(f"{proj}/package-lock.json")).get("packages", {}) if os.path.exists(f"{proj}/package-lock.json") else {}
got = {n: lock.get(f"node_modules/{n}", {}) for n in want}
integrity = {n: npm_doc(SRC, "npm-h", n).get("versions", {}).get(v, {}).get("dist", {}).get("integrity") for n, v in want.items()}
code = {n: open(f"{proj}/node_modules/{n}/index.js").read() if os.path.exists(f"{proj}/node_modules/{n}/index.js") else "" for n in want}
check("npm install from the target: both packages resolve there, with the source's integrity",
      res.returncode == 0 and all(got[n].get("version") == v and got[n].get("resolved", "").startswith(f"{DST}/repository/npm-h/")
                                  and got[n].get("integrity") == integrity[n] and f"{n}@{v}" in code[n] for n, v in want.items()),
      f"{', '.join(f'{n}@{v}' for n, v in want.items())}", f"rc {res.returncode} {got} {integrity} {(res.stdout + res.stderr)[-400:]}")
# ---- end npm ----

# ---- a second run copies only what changed --------------------------------------------------------
new = "team-a/new-file.bin"
must("raw PUT new", req(SRC, "PUT", f"/repository/files/{new}", b"new content " * 1000))
gone = "other/file-2.bin"
must("raw DELETE", req(SRC, "DELETE", f"/repository/files/{gone}"))
push_manifest(SRC, img, "1.1", man, OCI_M)
must("docker tag DELETE", req(SRC, "DELETE", f"/v2/{img}/manifests/latest"), (202,))
# Deleted at the source, but re-pushed on the target by one of its users since: --prune keeps it.
must("docker tag DELETE (multi)", req(SRC, "DELETE", f"/v2/{img}/manifests/multi"), (202,))
push_manifest(DST, img, "multi", man, OCI_M)
# Put on the target by one of its users with the very bytes the source adds: unchanged for the
# import, but never recorded as its own, so never pruned when the source deletes it.
same, same_bytes = "team-a/same.bin", b"the same bytes on both sides" * 100
must("raw PUT same (source)", req(SRC, "PUT", f"/repository/files/{same}", same_bytes))
must("raw PUT same (target)", req(DST, "PUT", f"/repository/files/{same}", same_bytes))
# Deleted at the source, but replaced on the target by one of Arca's users since: --prune keeps it.
theirs = "other/file-4.bin"
must("raw DELETE (source)", req(SRC, "DELETE", f"/repository/files/{theirs}"))
must("raw PUT (target, replacing)", req(DST, "PUT", f"/repository/files/{theirs}", b"a target user's own content"))
recorded = json.loads(req(DST, "GET", "/service/rest/internal/import-progress?source=" + urllib.parse.quote(SRC, safe="")
                          + "&repository=files")[1] or b"{}").get("items", [])
check("what the first run copied is recorded in the target's database (no state file)",
      {i["path"] for i in recorded} >= set(raw_files) and not os.path.exists("arca-import-state.json"),
      f"{len(recorded)} entries", f"{[i['path'] for i in recorded][:5]}")
# ---- npm (at the source before the second run: a dist-tag removed, one added, a tarball deleted) ----
npm_seed("npm dist-tag rm beta", npm_cli(SRC, "dist-tag", "rm", NPM_PLAIN, "beta"))
npm_seed("npm dist-tag add old", npm_cli(SRC, "dist-tag", "add", f"{NPM_PLAIN}@1.0.0", "old"))
must("npm tarball DELETE (source)", req(SRC, "DELETE", "/repository/npm-h/@arca-imp/scoped/-/scoped-2.0.0.tgz"))
# ---- end npm ----
rc, rep2, _ = run_import("--prune")
r2 = rep2.get("repositories", {})
copied = {n: r["copied"] for n, r in r2.items() if r["copied"]}
check("second run: exit 0, only the added file copied", rc == 0 and copied == {"files": 1}, "", f"rc {rc}, copied {copied}")
check("second run: the deletion reported and pruned", sorted(r2.get("files", {}).get("deleted_at_source", [])) == sorted([gone, theirs])
      and r2["files"].get("pruned") == 1 and req(DST, "GET", f"/repository/files/{gone}")[0] == 404
      and req(DST, "GET", f"/repository/files/{new}")[0] == 200, "", f"{r2.get('files')}")
check("--prune keeps what a target user replaced since the import, and says so",
      req(DST, "GET", f"/repository/files/{theirs}")[1] == b"a target user's own content"
      and any(theirs in x and "kept" in x for x in r2.get("files", {}).get("skipped", [])), "", f"{r2.get('files')}")
d2 = r2.get("dock", {})
check("second run: a new docker tag set, a deleted one pruned", d2.get("tags") == 1
      and sorted(d2.get("deleted_at_source", [])) == ["team/app:latest", "team/app:multi"]
      and d2.get("pruned") == 1 and req(DST, "GET", f"/v2/{img}/manifests/1.1", headers=ACCEPT)[0] == 200
      and req(DST, "GET", f"/v2/{img}/manifests/latest", headers=ACCEPT)[0] == 404
      and req(DST, "GET", f"/v2/{img}/manifests/1.0", headers=ACCEPT)[0] == 200, "", f"{d2}")
mh = {k.lower(): v for k, v in req(DST, "GET", f"/v2/{img}/manifests/multi", headers=ACCEPT)[2].items()}
check("--prune keeps a docker tag a target user re-pushed since the import, and says so",
      mh.get("docker-content-digest") == md and any("team/app:multi" in x and "kept" in x for x in d2.get("skipped", [])),
      "", f"{mh.get('docker-content-digest')} vs {md}, {d2.get('skipped')}")
created = [i for i in rep2.get("items", []) if i["outcome"] == "created"]
check("second run: no setting created again", not created, "", f"{created[:3]}")

# ---- npm (second run: what the source deleted is pruned, the new tag set, nothing copied) ----
n2 = r2.get("npm-h", {})
check("npm second run: the deleted tarball and the removed dist-tag pruned, the new tag set",
      sorted(n2.get("deleted_at_source", [])) == sorted(["@arca-imp/scoped/-/scoped-2.0.0.tgz", f"{NPM_PLAIN} dist-tag beta"])
      and n2.get("pruned") == 2 and n2.get("tags") == 1 and n2.get("copied") == 0 and not n2.get("failed")
      and req(DST, "GET", "/repository/npm-h/@arca-imp/scoped/-/scoped-2.0.0.tgz")[0] == 404
      and npm_doc(DST, "npm-h", NPM_PLAIN).get("dist-tags") == npm_doc(SRC, "npm-h", NPM_PLAIN).get("dist-tags") == {"latest": "1.1.0", "old": "1.0.0"},
      "", f"{n2}, target tags {npm_doc(DST, 'npm-h', NPM_PLAIN).get('dist-tags')}")
# ---- end npm ----
must("raw DELETE same (source)", req(SRC, "DELETE", f"/repository/files/{same}"))
rc, rep3, _ = run_import("--prune")
check("third run: nothing to copy", rc == 0 and rep3.get("assets_copied") == 0, "", f"rc {rc}, {rep3.get('assets_copied')}")
check("--prune never deletes what the target had before the import copied it (same bytes, a target user's)",
      req(DST, "GET", f"/repository/files/{same}")[1] == same_bytes
      and same not in rep3.get("repositories", {}).get("files", {}).get("deleted_at_source", []), "",
      f"{rep3.get('repositories', {}).get('files')}")

# ---- an interrupted run, then a complete one: resumed, nothing half-written --------------------
batch = {f"batch/file-{i}.bin": rng.randbytes(3_000_000) for i in range(16)}
for path, data in batch.items():
    must(f"raw PUT {path}", req(SRC, "PUT", f"/repository/files/{path}", data))
cmd = [BIN, "import", "nexus", "--url", SRC, "--password-file", f"{W}/source.pw", "--target-url", DST,
       "--target-password-file", f"{W}/target.pw", "--docker-paths", "prefix",
       "--users-password-file", f"{W}/users.txt", "--only", "content", "--repositories", "files", "--jobs", "2"]
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.35)
proc.kill()
proc.wait()
time.sleep(0.5)  # uploads whose whole body was sent before the kill are still being stored
before = {a["path"].lstrip("/"): a["checksum"]["sha256"] for a in paged(DST, "/assets?repository=files")}
half = [p for p in batch if p in before and before[p] != sha(batch[p])]
rc, rep4, _ = run_import("--only", "content", "--repositories", "files")
after = {a["path"].lstrip("/"): a["checksum"]["sha256"] for a in paged(DST, "/assets?repository=files")}
done_before = len([p for p in batch if p in before])
copied4 = rep4.get("repositories", {}).get("files", {}).get("copied")
check("interrupted run (SIGKILL) then a second: every file whole, only the rest copied",
      rc == 0 and not half and all(after.get(p) == sha(d) for p, d in batch.items()) and copied4 == len(batch) - done_before,
      f"{done_before} done before the kill, {copied4} after", f"rc {rc}, half-written {half}, copied {copied4}, before {done_before}")

# ---- real clients resolve the same artifacts from the copy ---------------------------------------
TP_HOST = DST.split("//", 1)[1]
cred_url = lambda path: f"http://admin:target-pass-456@{TP_HOST}{path}"


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


# pip, in a venv of its own: the wheel from the target's simple index.
venv = os.path.join(W, "venv")
p = run([sys.executable, "-m", "venv", venv])
dl = os.path.join(W, "pipdl")
if p.returncode == 0:
    p = run([os.path.join(venv, "bin", "python"), "-m", "pip", "download", "--no-deps", "--no-cache-dir",
             "--disable-pip-version-check", "-d", dl, "--index-url", cred_url("/repository/py/simple/"), "demo-pkg==1.0"])
got = open(os.path.join(dl, whl_name), "rb").read() if os.path.exists(os.path.join(dl, whl_name)) else b""
check("pip downloads the wheel from the copy, byte for byte", sha(got) == sha(whl), whl_name, f"rc {p.returncode} {p.stderr[-400:]}")

# mvn: a project depending on org.example:app:1.1, resolved from the copy (plugins from Debian's repo).
mv = os.path.join(W, "mvn")
os.makedirs(mv, exist_ok=True)
open(os.path.join(mv, "settings.xml"), "w").write(f"""<settings><localRepository>{mv}/m2</localRepository>
  <mirrors><mirror><id>debian</id><mirrorOf>*,!arca</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
  <servers><server><id>arca</id><username>admin</username><password>target-pass-456</password></server></servers></settings>""")
plugins = "".join(f"<plugin><groupId>org.apache.maven.plugins</groupId><artifactId>{a}</artifactId><version>{v}</version></plugin>"
                  for a, v in (("maven-compiler-plugin", "3.10.1"), ("maven-resources-plugin", "3.3.0")))
open(os.path.join(mv, "pom.xml"), "w").write(f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>org.example</groupId><artifactId>consumer</artifactId><version>1</version>
  <repositories><repository><id>arca</id><url>{DST}/repository/maven-rel/</url></repository></repositories>
  <dependencies><dependency><groupId>org.example</groupId><artifactId>app</artifactId><version>1.1</version></dependency></dependencies>
  <build><plugins>{plugins}</plugins></build></project>""")
p = run(["mvn", "-B", "-q", "-s", "settings.xml", "compile"], cwd=mv)
jar_path = os.path.join(mv, "m2/org/example/app/1.1/app-1.1.jar")
src_jar = req(SRC, "GET", "/repository/maven-rel/org/example/app/1.1/app-1.1.jar")[1]
check("mvn resolves org.example:app:1.1 from the copy, byte for byte",
      p.returncode == 0 and os.path.exists(jar_path) and sha(open(jar_path, "rb").read()) == sha(src_jar), "",
      f"rc {p.returncode} {(p.stdout + p.stderr)[-600:]}")

# skopeo: the image by tag, every blob checked by digest on the way, the manifest the source's.
p = run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--src-creds", "admin:target-pass-456",
         f"docker://{TP_HOST}/{img}:1.0", f"dir:{W}/img"])
man_copy = open(f"{W}/img/manifest.json", "rb").read() if os.path.exists(f"{W}/img/manifest.json") else b""
want = {k.lower(): v for k, v in req(SRC, "GET", f"/v2/{img}/manifests/1.0", headers=ACCEPT)[2].items()}.get("docker-content-digest", "?")
check("skopeo copies the image from the copy, manifest digest unchanged", "sha256:" + sha(man_copy) == want, want[:19],
      f"rc {p.returncode}, copied {sha(man_copy)[:12]}, source {want} {man_copy[:300]!r} {p.stderr[-400:]}")

# dnf: the copy's repodata resolves the package to its RPM.
p = run(["dnf", "-q", "repoquery", f"--installroot={W}/dnfroot", "--releasever=1", "--setopt=reposdir=/dev/null",
         f"--repofrompath=arca,{cred_url('/repository/rpms/')}", "--setopt=arca.gpgcheck=0", "--location", "hello"])
loc = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
got = req(DST, "GET", "/" + loc.split("/", 3)[3])[1] if loc.count("/") >= 3 else b""
check("dnf resolves hello from the copy's repodata to the RPM, byte for byte", got == rpm, loc,
      f"rc {p.returncode} {p.stdout[-200:]} {p.stderr[-400:]}")

# ---- --proxy-caches: a proxy's cached files refilled on the target from the same remote --------
import functools, http.server, threading
remote_dir = os.path.join(W, "remote")
os.makedirs(os.path.join(remote_dir, "lib"), exist_ok=True)
remote_files = {f"lib/r-{i}.bin": os.urandom(40_000 + i) for i in range(4)}
for rp, data in remote_files.items():
    open(os.path.join(remote_dir, rp), "wb").write(data)
rsrv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=remote_dir))
rsrv.RequestHandlerClass.log_message = lambda *a: None
threading.Thread(target=rsrv.serve_forever, daemon=True).start()
must("raw proxy with a live remote", api(SRC, "POST", "/repositories/raw/proxy", {"name": "raw-cache", "online": True,
     "storage": {"blobStoreName": "default", "strictContentTypeValidation": False},
     "proxy": {"remoteUrl": f"http://127.0.0.1:{rsrv.server_address[1]}/", "contentMaxAge": 1440, "metadataMaxAge": 1440},
     "negativeCache": {"enabled": True, "timeToLive": 1440}, "httpClient": {"blocked": False, "autoBlock": False}}))
cached = ["lib/r-0.bin", "lib/r-1.bin", "lib/r-2.bin"]
for rp in cached:  # cached by the source's proxy; lib/r-3.bin never asked for
    must(f"GET through the source proxy {rp}", req(SRC, "GET", f"/repository/raw-cache/{rp}"))
os.remove(os.path.join(remote_dir, "lib/r-2.bin"))  # gone from the remote since
rc, rep5, _ = run_import("--only", "repositories,content", "--repositories", "raw-cache")
no_warm = {a["path"].lstrip("/") for a in paged(DST, "/assets?repository=raw-cache")}
check("proxy caches are not copied by default", rc == 0 and not no_warm, "", f"rc {rc}, {no_warm}")
rc, rep5, _ = run_import("--only", "content", "--repositories", "raw-cache", "--proxy-caches")
warm = {a["path"].lstrip("/"): a["checksum"]["sha256"] for a in paged(DST, "/assets?repository=raw-cache")}
rc5 = rep5.get("repositories", {}).get("raw-cache", {})
check("--proxy-caches: what the source's proxy cached is cached on the target, checked against the source's checksums",
      all(warm.get(p) == sha(remote_files[p]) for p in cached[:2]) and "lib/r-3.bin" not in warm and rc5.get("copied") == 2,
      f"{sorted(warm)}", f"{warm}, {rc5}")
check("--proxy-caches: a file the remote no longer serves is reported, exit 1",
      rc == 1 and len(rc5.get("failed", [])) == 1 and "lib/r-2.bin" in rc5["failed"][0] and "no longer serves" in rc5["failed"][0],
      "", f"rc {rc}, {rc5.get('failed')}")
rsrv.shutdown()

# ---- a source whose listing lies: the asset is refused, the target never stores it ------------
import http.server, threading
good, lie = os.urandom(70_000), os.urandom(90_000)
FAKE = {
    "/service/rest/v1/repositories": json.dumps([{"name": "lying", "format": "raw", "type": "hosted"},
                                                 {"name": "npm-hosted", "format": "npm", "type": "hosted"},
                                                 {"name": "nuget-hosted", "format": "nuget", "type": "hosted"}]).encode(),
    "/service/rest/v1/repositories/raw/hosted/lying": json.dumps({"name": "lying", "online": True, "format": "raw",
        "type": "hosted", "storage": {"blobStoreName": "default", "strictContentTypeValidation": False, "writePolicy": "ALLOW"}}).encode(),
    "/service/rest/v1/assets?repository=lying": json.dumps({"continuationToken": None, "items": [
        {"path": "good.bin", "checksum": {"sha1": hashlib.sha1(good).hexdigest(), "sha256": sha(good)}, "fileSize": len(good)},
        {"path": "bad.bin", "checksum": {"sha1": hashlib.sha1(lie).hexdigest(), "sha256": sha(b"not this")}, "fileSize": len(lie)}]}).encode(),
    "/repository/lying/good.bin": good, "/repository/lying/bad.bin": lie, "/service/rest/v1/script": b"[]",
}

# ---- npm (a Nexus-shaped npm hosted repository: packument assets listed, scoped paths) ----
def npm_pack(name, version):
    """A package tarball as npm packs one: package/package.json and package/index.js, gzipped."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.USTAR_FORMAT) as t:
        for f, data in (("package.json", json.dumps({"name": name, "version": version}).encode()), ("index.js", b"module.exports = 1;\n")):
            ti = tarfile.TarInfo("package/" + f)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


# name: (version, listed path, packument URL, tarball URL) as the importer asks for them
NX = {"nexus-pkg": ("1.0.0", "nexus-pkg/-/nexus-pkg-1.0.0.tgz", "/repository/npm-hosted/nexus-pkg",
                    "/repository/npm-hosted/nexus-pkg/-/nexus-pkg-1.0.0.tgz"),
      "@nexus/scoped": ("0.1.0", "@nexus/scoped/-/scoped-0.1.0.tgz", "/repository/npm-hosted/@nexus%2fscoped",
                        "/repository/npm-hosted/%40nexus/scoped/-/scoped-0.1.0.tgz")}
NX_TGZ, nx_items = {}, []
for name, (v, path, doc_url, tgz_url) in NX.items():
    data = NX_TGZ[name] = FAKE[tgz_url] = npm_pack(name, v)
    # Nexus lists each package's packument as an asset (path = the name) beside its tarballs.
    nx_items += [{"path": name, "format": "npm", "checksum": {"sha1": hashlib.sha1(name.encode()).hexdigest()}},
                 {"path": path, "format": "npm", "fileSize": len(data), "checksum": {
                     "sha1": hashlib.sha1(data).hexdigest(), "sha256": sha(data), "sha512": hashlib.sha512(data).hexdigest(),
                     "md5": hashlib.md5(data).hexdigest()}}]
    FAKE[doc_url] = json.dumps({"_id": name, "name": name, "dist-tags": {"latest": v, "stable": v},
                                "versions": {v: {"name": name, "version": v, "deprecated": f"{name} is retired"}}}).encode()
FAKE["/service/rest/v1/repositories/npm/hosted/npm-hosted"] = json.dumps({"name": "npm-hosted", "format": "npm", "type": "hosted",
    "url": "http://nexus.invalid/repository/npm-hosted", "online": True, "cleanup": None, "component": {"proprietaryComponents": False},
    "storage": {"blobStoreName": "default", "strictContentTypeValidation": True, "writePolicy": "ALLOW_ONCE"}}).encode()
# A version whose listed sha256 is wrong: refused on the way, never stored; its tag is reported.
nx_bad = FAKE["/repository/npm-hosted/nexus-pkg/-/nexus-pkg-2.0.0.tgz"] = npm_pack("nexus-pkg", "2.0.0")
nx_items.append({"path": "nexus-pkg/-/nexus-pkg-2.0.0.tgz", "format": "npm", "fileSize": len(nx_bad),
                 "checksum": {"sha1": hashlib.sha1(nx_bad).hexdigest(), "sha256": sha(b"not this")}})
nx_doc = json.loads(FAKE["/repository/npm-hosted/nexus-pkg"])
nx_doc["versions"]["2.0.0"] = {"name": "nexus-pkg", "version": "2.0.0"}
nx_doc["dist-tags"]["next"] = "2.0.0"
FAKE["/repository/npm-hosted/nexus-pkg"] = json.dumps(nx_doc).encode()
FAKE["/service/rest/v1/assets?repository=npm-hosted"] = json.dumps({"continuationToken": None, "items": nx_items}).encode()
# ---- end npm ----



class Fake(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = FAKE.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
threading.Thread(target=srv.serve_forever, daemon=True).start()
FAKE_URL = f"http://127.0.0.1:{srv.server_address[1]}"
p = subprocess.run([BIN, "import", "nexus", "--url", FAKE_URL, "--password-file", f"{W}/source.pw", "--target-url", DST,
                    "--target-password-file", f"{W}/target.pw", "--only", "repositories,content",
                    "--report", f"{W}/lying-report.json"], capture_output=True, text=True)
lr = json.load(open(f"{W}/lying-report.json")).get("repositories", {}).get("lying", {}) if os.path.exists(f"{W}/lying-report.json") else {}
check("a checksum the source lists wrongly: exit 1, that asset reported, the other copied",
      p.returncode == 1 and lr.get("copied") == 1 and len(lr.get("failed", [])) == 1 and "checksum mismatch" in lr["failed"][0],
      lr.get("failed", [""])[0][:120], f"rc {p.returncode}, {lr}, {p.stderr[-300:]}")
check("the mismatched asset is not on the target, the good one is",
      req(DST, "GET", "/repository/lying/bad.bin")[0] == 404 and req(DST, "GET", "/repository/lying/good.bin")[1] == good, "", "")
items = json.load(open(f"{W}/lying-report.json")).get("items", []) if os.path.exists(f"{W}/lying-report.json") else []
check("a format Arca lacks is listed as skipped with the reason",
      any(i["name"] == "nuget-hosted" and i["outcome"] == "skipped" and "not one Arca serves" in i["detail"] for i in items),
      "", f"{items}")
# ---- npm (the Nexus-shaped source: tarballs copied, packuments left to the target, tags and deprecations carried) ----
nr = json.load(open(f"{W}/lying-report.json")).get("repositories", {}).get("npm-hosted", {}) if os.path.exists(f"{W}/lying-report.json") else {}
check("npm from a Nexus-shaped listing: 2 tarballs copied, 2 packument assets counted as derived, the lying one refused",
      nr.get("copied") == 2 and nr.get("derived") == 2 and len(nr.get("failed", [])) == 1
      and "nexus-pkg-2.0.0.tgz" in nr["failed"][0] and "checksum mismatch" in nr["failed"][0]
      and req(DST, "GET", "/repository/npm-hosted/nexus-pkg/-/nexus-pkg-2.0.0.tgz")[0] == 404
      and len(nr.get("skipped", [])) == 1 and "dist-tag next names version 2.0.0" in nr["skipped"][0], "", f"{nr}")
for name, (v, path, doc_url, tgz_url) in NX.items():
    st, body, _ = req(DST, "GET", tgz_url)
    d_ = json.loads(req(DST, "GET", doc_url, headers={"Accept": "application/json"})[1] or b"{}")
    check(f"npm {name} from the Nexus-shaped source: tarball, dist-tags and deprecation on the target",
          st == 200 and body == NX_TGZ[name] and d_.get("dist-tags") == {"latest": v, "stable": v}
          and d_.get("versions", {}).get(v, {}).get("deprecated") == f"{name} is retired", "", f"HTTP {st}, {d_.get('dist-tags')}, {d_.get('versions')}")
# ---- end npm ----
srv.shutdown()

print(f"\n{len(passed)} passed, {len(failed)} failed")
print(f"speed (first run): {rep.get('assets_copied')} assets, {rep.get('bytes_copied', 0) / 1e6:.1f} MB in "
      f"{rep.get('elapsed_seconds')} s: {rep.get('assets_per_second')} assets/s, {rep.get('megabytes_per_second')} MB/s")
sys.exit(1 if failed else 0)
PY
