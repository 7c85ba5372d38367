#!/usr/bin/env bash
# Several Arca nodes as one (issue 15): three `arca` processes on loopback, each with its own data
# directory and port, on one PostgreSQL database and one S3 blob store (s3s-fs), checked with plain
# HTTP and real clients:
#  (a) an S3 blob store and a repository created through node A take uploads through B at once;
#  (b) delete-and-reupload races across nodes with a 1 s GC grace (the blob GC run beside them),
#      96 rounds: every listed asset reads back with its sha256, every acknowledged upload that
#      nothing deleted reads back; no upload is refused (201 every time);
#  (c) 20 concurrent uploads of the same content through all nodes: one blob object, usage +1,
#      reference counting across nodes (deletes through other nodes; once the last is deleted
#      the blob GC frees it after the 1 s grace);
#  (d) two versions of a Maven artifact deployed through A and B at once, 20 trials: every PUT
#      201, maven-metadata.xml lists both, read through both nodes; a Maven group's metadata read
#      through B right after a deploy through A; the same for two PyPI uploads (simple page);
#  (e) 48 RPM uploads through A and B at once while repomd.xml is polled through both nodes: every
#      file it names answers 200 with its checksum; at the end every RPM is listed (and dnf);
#  (f) the integrity task asked on A and B at the same moment never runs twice at once (audit log);
#  (g) password change, disabled user, anonymous on/off, read-only freeze and release, a proxy's
#      remote URL change, a repository taken offline, back online, deleted: done on A, in effect
#      on the other nodes within 1 s (delay reported);
#  (h) kill -9 of node A during uploads to A and B: B keeps serving, nothing half-visible;
#  (i) 120 simultaneous proxy misses of 30 paths through A and B: at most 30 upstream fetches;
#  (j) docker GC racing pushes across nodes: B pushes layers and a manifest while A runs docker-gc
#      at the same moment and C deletes earlier manifests by digest, up to 200 rounds: every
#      manifest answered 201 has every blob readable through A and C (a 400 MANIFEST_BLOB_UNKNOWN
#      is retried after a re-upload, counted); after the grace every tagged manifest keeps its
#      blobs and what only deleted manifests named is collected;
#  real clients: mvn deploy through A and a build resolving it through B, twine upload through A
#  and pip download through B, skopeo push to A and copy back from B, dnf through B.
# Prints ok/FAIL lines and a summary; exits non-zero on any FAIL.
#
# Needs ARCA_BIN (default $CARGO_TARGET_DIR/debug/arca), python3, psql and PostgreSQL: either
# ARCA_TEST_DATABASE_URL (a server to create a throw-away database on; scripts/test.sh sets it)
# or a local installation to start one from (as root); an S3 server: ARCA_TEST_S3 (the bucket
# configuration scripts/test.sh exports; ARCA_TEST_S3_DIR, when set, is s3s-fs's root directory,
# for counting objects) or s3s-fs in ~/.cache/arca-tools/bin, started here. Real clients that are
# missing (mvn, twine in PY_VENV, skopeo, dnf) are skipped with a note. CLUSTER_NODES=2 runs two
# nodes instead of three; CLUSTER_KEEP=1 keeps the work directory (node logs) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pg.sh
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
CACHE="${ARCA_TOOL_CACHE:-$HOME/.cache/arca-tools}"
ARCA_BIN=${ARCA_BIN:-$CARGO_TARGET_DIR/debug/arca}
[ -x "$ARCA_BIN" ] || { echo "no arca binary at $ARCA_BIN (cargo build --bin arca, or set ARCA_BIN)" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql is needed" >&2; exit 2; }
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

W=$(mktemp -d /tmp/arca-cluster.XXXXXX)
# The binary under test, copied: other builds may replace the original during the run.
cp "$ARCA_BIN" "$W/arca"
S3_PID=""
cleanup() {
  pg_cleanup
  if [ -n "$S3_PID" ]; then kill "$S3_PID" 2>/dev/null || true; wait "$S3_PID" 2>/dev/null || true; fi
  if [ -n "${CLUSTER_KEEP:-}" ]; then echo "kept $W (node logs node-*.log)"; else rm -rf "$W"; fi
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL: a fresh database (scripts/lib/pg.sh).
pg_fresh_database "$W" arca_cluster 300

# S3: the test server scripts/test.sh started, or our own s3s-fs (a bucket is a directory).
if [ -n "${ARCA_TEST_S3:-}" ]; then
  S3_JSON=$ARCA_TEST_S3
  S3_DIR=${ARCA_TEST_S3_DIR:-}
else
  [ -x "$CACHE/bin/s3s-fs" ] || { echo "no S3 server: set ARCA_TEST_S3 or build s3s-fs (scripts/test.sh does)" >&2; exit 2; }
  S3PORT=$(port)
  S3_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  mkdir -p "$W/s3/arca-cluster"
  "$CACHE/bin/s3s-fs" --host 127.0.0.1 --port "$S3PORT" --access-key arca-cluster \
    --secret-key "$S3_SECRET" "$W/s3" >"$W/s3s-fs.log" 2>&1 &
  S3_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$S3PORT") 2>/dev/null && break
    kill -0 "$S3_PID" 2>/dev/null || { cat "$W/s3s-fs.log"; exit 1; }
    sleep 0.1
  done
  S3_JSON="{\"bucket\":{\"name\":\"arca-cluster\",\"region\":\"us-east-1\",\"prefix\":\"\"},\"bucketSecurity\":{\"accessKeyId\":\"arca-cluster\",\"secretAccessKey\":\"$S3_SECRET\"},\"advancedBucketConnection\":{\"endpoint\":\"http://127.0.0.1:$S3PORT\",\"forcePathStyle\":true}}"
  S3_DIR=$W/s3
fi

cat >"$W/cluster.py" <<'PY'
"""The multi-node checks; see scripts/e2e-cluster.sh."""
import concurrent.futures as cf, hashlib, http.client, http.server, io, json, os, random
import re, shutil, signal, struct, subprocess, sys, threading, time, urllib.parse, gzip
import xml.etree.ElementTree as ET

WORK, BIN, ROOT = os.environ["CL_WORK"], os.environ["CL_BIN"], os.environ["CL_ROOT"]
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))
from e2e_util import bad, basic, check, failed, free_port, note, passed, sha, short  # noqa: E402
PG_URL, S3_DIR, VENV = os.environ["CL_PG_URL"], os.environ.get("CL_S3_DIR", ""), os.environ.get("CL_VENV", "")
NODES = int(os.environ.get("CL_NODES", "3"))
S3 = json.loads(os.environ["CL_S3_JSON"])
PREFIX = f"cluster-{os.getpid()}-{random.randrange(1 << 30):x}/"
S3["bucket"]["prefix"] = PREFIX
STORE = "s3-cluster"
PW = "cluster-admin-pass-1"
GRACE = 1
AUTH = basic("admin", PW)
rng = random.Random()
T_START = time.monotonic()


class Node:
    def __init__(self, name):
        self.name, self.port, self.proc = name, free_port(), None
        self.data = os.path.join(WORK, "node-" + name)
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        self.log = open(os.path.join(WORK, f"node-{name}.log"), "ab")

    def start(self):
        # The `default` file store is one directory all nodes share (the repositories here are
        # on the S3 store; the default one must still be the same for every node).
        env = dict(os.environ, ARCA_DATA_DIR=self.data, ARCA_LISTEN=f"127.0.0.1:{self.port}",
                   ARCA_ADMIN_PASSWORD=PW, ARCA_DATABASE_URL=PG_URL, ARCA_GC_GRACE=str(GRACE),
                   ARCA_BLOB_DIR=os.path.join(WORK, "shared-blobs"), ARCA_LOG="info")
        self.log.write(f"=== start on port {self.port}\n".encode())
        self.log.flush()
        t0 = time.monotonic()
        self.proc = subprocess.Popen([BIN], cwd=self.data, env=env, stdout=self.log, stderr=self.log)
        while time.monotonic() - t0 < 60:
            if self.proc.poll() is not None:
                raise SystemExit(f"node {self.name} exited with {self.proc.returncode} at start; "
                                 f"see {self.log.name}")
            if self.req("GET", "/service/rest/v1/status", timeout=2)[0] == 200:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise SystemExit(f"node {self.name} not ready after 60 s")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def req(self, method, path, body=None, headers=None, auth=AUTH, timeout=30, pace=0.0):
        """(status, body, headers); status None on a connection error."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                h = {} if auth is None else {"Authorization": auth}
                h.update(headers or {})
                conn.putrequest(method, path, skip_accept_encoding=True)
                if body is not None:
                    h["Content-Length"] = str(len(body))
                for k, v in h.items():
                    conn.putheader(k, v)
                conn.endheaders()
                if body:
                    step = 32768
                    n = max(1, (len(body) + step - 1) // step)
                    for i in range(n):
                        conn.send(body[i * step:(i + 1) * step])
                        if pace:
                            time.sleep(pace / n)
                r = conn.getresponse()
                return r.status, r.read(), r.headers
            finally:
                conn.close()
        except OSError as e:
            return None, str(e).encode(), {}

    def api(self, method, path, obj=None, auth=AUTH):
        body = json.dumps(obj).encode() if obj is not None else None
        return self.req(method, "/service/rest/v1/" + path, body,
                        {"Content-Type": "application/json"} if body is not None else None, auth)

    def url(self, auth=False):
        return f"http://{'admin:' + PW + '@' if auth else ''}127.0.0.1:{self.port}"


nodes = [Node(n) for n in "ABC"[:NODES]]
A, B = nodes[0], nodes[1]


def at_once(fns):
    """Runs the callables in threads released by one barrier; their results in order."""
    bar = threading.Barrier(len(fns))
    out = [None] * len(fns)

    def run(i):
        bar.wait()
        out[i] = fns[i]()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def list_assets(node, repo):
    items, token = [], None
    while True:
        q = f"assets?repository={repo}" + (f"&continuationToken={urllib.parse.quote(token)}" if token else "")
        st, out, _ = node.api("GET", q)
        if st != 200:
            return None, f"listing {repo} through {node.name}: {st} {short(out)}"
        page = json.loads(out)
        items += page["items"]
        token = page.get("continuationToken")
        if not token:
            return items, None


def read_listed(node, items, pool):
    """Listed assets that do not read back through `node` with their listed sha256 (generated
    files re-read from their row, which may have been replaced since the listing)."""
    def one(a):
        get = f"/repository/{a['repository']}/{a['path']}"
        for _ in range(3):
            st, body, _ = node.req("GET", get)
            if st == 200 and sha(body) == a["checksum"]["sha256"]:
                return None
            time.sleep(0.3)
            s2, out, _ = node.api("GET", "assets/" + urllib.parse.quote(a["id"]))
            if s2 == 404:
                return None
            if s2 == 200:
                a = json.loads(out)
        seen = f"200 with sha256 {sha(body)[:12]}" if st == 200 else f"{st} {short(body, 60)}"
        return f"{get} through {node.name}: {seen}, listed sha256 {a['checksum']['sha256'][:12]}"
    return [m for m in pool.map(one, items) if m]


def task_message(tid):
    st, out, _ = A.api("GET", f"tasks/{tid}")
    return json.loads(out).get("message") if st == 200 else st


def gc_task_id(kind="blobstore.compact"):
    st, out, _ = A.api("GET", "tasks")
    for t in json.loads(out)["items"] if st == 200 else []:
        if t["type"] == kind:
            return t["id"]
    return None


# ---- the upstream HTTP server: proxies' remote, counting requests per path -----------------------
UP_COUNTS, UP_LOCK = {}, threading.Lock()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        p = urllib.parse.urlsplit(self.path).path
        with UP_LOCK:
            UP_COUNTS[p] = UP_COUNTS.get(p, 0) + 1
        # A registry for the docker proxy: /v2/ and the blobs of DOCKER_BLOBS, slowly.
        d = re.fullmatch(r"/v2/sfimg/blobs/sha256:([0-9a-f]{64})", p)
        if p == "/v2/" or (d and d.group(1) in DOCKER_BLOBS):
            body = b"{}" if p == "/v2/" else DOCKER_BLOBS[d.group(1)]
            if d:
                time.sleep(0.5)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)
            return
        m = re.fullmatch(r"/(sf|one|two)/(.+)", p)
        if not m:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if m.group(1) == "sf":
            time.sleep(0.5)  # a slow remote: concurrent misses overlap
        body = upstream_body(m.group(1), m.group(2))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


DOCKER_BLOBS = {hashlib.sha256(b).hexdigest(): b for b in (os.urandom(1 << 20) for _ in range(4))}


def upstream_body(kind, name):
    return (f"{kind} {name}\n" * (4000 if kind == "sf" else 1)).encode()


# ---- content --------------------------------------------------------------------------------------

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
        (1002, STR, 1, s("1"), 1), (1004, I18N, 1, s(f"cluster test package {name}"), 1),
        (1005, I18N, 1, s("Written by scripts/e2e-cluster.sh."), 1),
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


def s3_objects():
    """Object keys under our prefix, from s3s-fs's directory; None when it is not known."""
    if not S3_DIR:
        return None
    root = os.path.join(S3_DIR, S3["bucket"]["name"])
    out = []
    for dp, _, fs in os.walk(root):
        for f in fs:
            key = os.path.relpath(os.path.join(dp, f), root)
            if key.startswith(PREFIX):
                out.append(key[len(PREFIX):])
    return out


def usage(node):
    st, out, _ = node.api("GET", "blobstores")
    if st != 200:
        return None
    for s in json.loads(out):
        if s["name"] == STORE:
            return s
    return None


# ---- (a) the blob store and repositories ---------------------------------------------------------

def st_(**kw):
    d = {"blobStoreName": STORE, "strictContentTypeValidation": True}
    d.update(kw)
    return d


def proxy_body(name, remote):
    return {"name": name, "online": True, "storage": st_(),
            "proxy": {"remoteUrl": remote, "contentMaxAge": -1, "metadataMaxAge": 1440},
            "negativeCache": {"enabled": False, "timeToLive": 1}, "httpClient": {"blocked": False, "autoBlock": False}}


def setup(up_port):
    t0 = time.monotonic()
    st, out, _ = A.api("POST", "blobstores/s3", {"name": STORE, "bucketConfiguration": S3})
    if st != 201:
        raise SystemExit(f"creating the S3 blob store through A: {st} {short(out, 400)}")
    st, out, _ = A.api("POST", "repositories/raw/hosted", {"name": "c-raw", "online": True, "storage": st_(writePolicy="ALLOW")})
    if st != 201:
        raise SystemExit(f"creating c-raw through A: {st} {short(out, 400)}")
    # (a): at once, through B (and C): the store is listed and usable, no restart.
    listed = {n.name: usage(n) for n in nodes[1:]}
    check("(a) the S3 blob store created through A is listed, available, by the other nodes",
          all(v and not v.get("unavailable") for v in listed.values()),
          ", ".join(f"{k}: blobCount {v['blobCount']}" for k, v in listed.items() if v),
          "; ".join(f"{k}: {'missing' if v is None else 'unavailable'}" for k, v in listed.items()
                    if not v or v.get("unavailable")))
    data = os.urandom(70000)
    first = None
    t1 = time.monotonic()
    while time.monotonic() - t1 < 5:
        st, out, _ = B.req("PUT", "/repository/c-raw/a/first.bin", data)
        if first is None:
            first = (st, short(out))
        if st == 201:
            break
        time.sleep(0.05)
    delay = (time.monotonic() - t1) * 1000
    st2, back, _ = A.req("GET", "/repository/c-raw/a/first.bin")
    check("(a) a PUT through B into a repository on the store created through A, at once",
          first[0] == 201 and st2 == 200 and back == data,
          "201 at the first attempt, read back through A",
          f"first PUT through B: {first[0]} {first[1]}; "
          + (f"201 after {delay:.0f} ms" if st == 201 else "never 201 within 5 s")
          + f"; read through A: {st2}{' same bytes' if back == data else ''}")
    if first[0] != 201:
        note("restarting the other nodes so that the remaining checks see the store")
        for n in nodes[1:]:
            n.stop()
            n.start()
        B.req("PUT", "/repository/c-raw/a/first.bin", data)
    up = f"http://127.0.0.1:{up_port}"
    specs = [
        ("raw/hosted", {"name": "c-race", "online": True, "storage": st_(writePolicy="ALLOW")}),
        ("raw/hosted", {"name": "c-same", "online": True, "storage": st_(writePolicy="ALLOW")}),
        ("raw/hosted", {"name": "c-kill", "online": True, "storage": st_(writePolicy="ALLOW")}),
        ("maven/hosted", {"name": "maven-releases", "online": True, "storage": st_(writePolicy="ALLOW_ONCE"),
                          "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}),
        ("maven/group", {"name": "c-maven-group", "online": True, "storage": st_(),
                         "group": {"memberNames": ["maven-releases"]}}),
        ("pypi/hosted", {"name": "c-pypi", "online": True, "storage": st_(writePolicy="ALLOW_ONCE")}),
        ("pypi/hosted", {"name": "c-pypi-race", "online": True, "storage": st_(writePolicy="ALLOW_ONCE")}),
        ("docker/hosted", {"name": "c-docker", "online": True, "storage": st_(writePolicy="ALLOW"),
                           "docker": {"v1Enabled": False, "forceBasicAuth": True}}),
        ("yum/hosted", {"name": "c-yum", "online": True, "storage": st_(writePolicy="ALLOW"),
                        "yum": {"repodataDepth": 0, "deployPolicy": "STRICT"}}),
        ("raw/proxy", proxy_body("c-proxy", up + "/sf/")),
        ("docker/proxy", dict(proxy_body("c-dproxy", up + "/"),
                              docker={"v1Enabled": False, "forceBasicAuth": True},
                              dockerProxy={"indexType": "REGISTRY"})),
        ("raw/proxy", proxy_body("c-move", up + "/one/")),
    ]
    for kind, body in specs:
        st, out, _ = A.api("POST", "repositories/" + kind, body)
        if st != 201:
            raise SystemExit(f"creating {body['name']} through A: {st} {short(out, 400)}")
    note(f"setup: blob store and {len(specs) + 1} repositories through A in {time.monotonic() - t0:.1f} s")


# ---- (c) the same content through every node at once ---------------------------------------------

def same_content(pool):
    data = os.urandom(256 * 1024)
    digest = sha(data)
    before = usage(A)
    res = at_once([lambda i=i: nodes[i % NODES].req("PUT", f"/repository/c-same/p{i}.bin", data) for i in range(20)])
    codes = [r[0] for r in res]
    check("(c) 20 concurrent PUTs of the same content through all nodes: all 201",
          all(c == 201 for c in codes), "", f"statuses {sorted(codes, key=str)}")
    reads = [nodes[(i + 1) % NODES].req("GET", f"/repository/c-same/p{i}.bin") for i in range(20)]
    good = sum(1 for r in reads if r[0] == 200 and r[1] == data)
    check("(c) each reads back through another node", good == 20, "20 of 20", f"{good} of 20 read back whole")
    time.sleep(0.3)
    objs = s3_objects()
    if objs is not None:
        blobs = [k for k in objs if k.endswith(digest)]
        # (A node's bucket probe, tmp/probe-*, may pass by at any time.)
        tmp = [k for k in objs if k.startswith("tmp/") and not k.startswith("tmp/probe-")]
        check("(c) one blob object in the bucket for the content", len(blobs) == 1 and not tmp,
              f"{blobs[0] if blobs else ''}", f"{len(blobs)} objects named by its digest, {len(tmp)} tmp/ objects left")
    else:
        note("(c) s3s-fs's directory is not known (ARCA_TEST_S3_DIR): objects not counted")
    after = {n.name: usage(n) for n in nodes}
    if before:
        deltas = {k: (v["blobCount"] - before["blobCount"], v["totalSizeInBytes"] - before["totalSizeInBytes"])
                  for k, v in after.items() if v}
        check("(c) blob store usage: +1 blob, +256 KiB, as every node reports it",
              all(d == (1, len(data)) for d in deltas.values()) and len(deltas) == NODES,
              f"{deltas['A']}", f"(blobs, bytes) added: {deltas}")
    # Reference counting across nodes: delete 19 through rotating nodes, GC after the grace:
    # the last still reads; delete it, GC: the object goes.
    dels = list(pool.map(lambda i: nodes[(i + 2) % NODES].req("DELETE", f"/repository/c-same/p{i}.bin")[0], range(19)))
    gid = gc_task_id()
    time.sleep(GRACE + 0.3)
    g1 = B.api("POST", f"tasks/{gid}/run")[0]
    st, body, _ = C_or_A().req("GET", "/repository/c-same/p19.bin")
    check("(c) 19 deleted through other nodes, blob GC after the grace: the 20th still reads",
          all(d == 204 for d in dels) and st == 200 and body == data, f"GC {g1}",
          f"deletes {sorted(set(map(str, dels)))}, GC {g1}, the 20th reads {st}{' whole' if body == data else ''}")
    d = A.req("DELETE", "/repository/c-same/p19.bin")[0]
    time.sleep(GRACE + 0.3)
    g2 = B.api("POST", f"tasks/{gid}/run")[0]
    objs = s3_objects()
    u = usage(A)
    gone_obj = objs is None or not [k for k in objs if k.endswith(digest)]
    gone_use = u is not None and before is not None and u["blobCount"] == before["blobCount"]
    check("(c) the last reference deleted, blob GC: the object and its count are gone",
          d == 204 and gone_obj and gone_use, "",
          f"delete {d}, GC {g2} ({task_message(gid)}), object {'gone' if gone_obj else 'still in the bucket'}, "
          f"blobCount {u and u['blobCount']} (before the uploads {before and before['blobCount']}); "
          f"{blob_row(digest)}; now {int(time.time() * 1000)}")


def pg(q):
    r = subprocess.run(["psql", PG_URL, "-qAtc", q], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else f"(psql: {r.stderr.strip()[:100]})"


def blob_row(digest):
    """The blob's database row as `refcount|held_until_ms|...`, for failure messages."""
    cols = pg("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns "
              "WHERE table_name = 'blobs'")
    row = pg(f"SELECT * FROM blobs WHERE digest = '{digest}'")
    return f"blobs row ({cols}): {row or 'none'}"


def C_or_A():
    return nodes[2] if NODES > 2 else A


# ---- (b) delete and re-upload races --------------------------------------------------------------

def races(pool):
    gid = gc_task_id()
    stop = threading.Event()
    gc_codes = []

    def gc_loop():
        i = 0
        while not stop.is_set():
            gc_codes.append(nodes[i % NODES].api("POST", f"tasks/{gid}/run")[0])
            i += 1
            time.sleep(0.15)
    must = {}       # path -> sha256: acknowledged and deleted by nothing after
    errors = []
    kinds = {"T1": 0, "T2": 0, "T3": 0}

    def lane(L):
        for r in range(12):
            data = os.urandom(rng.randrange(4096, 65536))
            h = sha(data)
            p1, p2 = f"/repository/c-race/l{L}/r{r}-one.bin", f"/repository/c-race/l{L}/r{r}-two.bin"
            st = A.req("PUT", p1, data)[0]
            if st != 201:
                errors.append(f"setup PUT through A: {st}")
                continue
            kind = ("T1", "T2", "T3")[r % 3]
            kinds[kind] += 1
            off = rng.uniform(0, 0.05)
            if kind == "T1":    # B PUTs the content elsewhere 0-50 ms before A deletes it
                def put():
                    return B.req("PUT", p2, data)[0]

                def dele():
                    time.sleep(off)
                    return A.req("DELETE", p1)[0]
                sp, sd = at_once([put, dele])
                if sp == 201:
                    must[p2] = h
            elif kind == "T2":  # A deletes, B re-uploads to the same path 0-50 ms later
                def dele():
                    return A.req("DELETE", p1)[0]

                def put():
                    time.sleep(off)
                    return B.req("PUT", p1, data)[0]
                sd, sp = at_once([dele, put])
            else:               # deleted; after the grace, B re-uploads while A runs the GC
                sd = A.req("DELETE", p1)[0]
                time.sleep(GRACE + rng.uniform(-0.05, 0.25))

                def put():
                    time.sleep(off)
                    return B.req("PUT", p2, data)[0]

                def gc():
                    return A.api("POST", f"tasks/{gid}/run")[0]
                sp, _ = at_once([put, gc])
                if sp == 201:
                    must[p2] = h
            # An upload deduplicating onto content being freed keeps it (held under the blob's
            # lock as the put finds it), so no 503 "retry the upload" either.
            if sp != 201 or sd != 204:
                errors.append(f"{kind}: PUT through B {sp}, DELETE through A {sd}")
    t0 = time.monotonic()
    g = threading.Thread(target=gc_loop)
    g.start()
    list(pool.map(lane, range(8)))
    stop.set()
    g.join()
    # Whatever the GC may still free wrongly, it frees now.
    time.sleep(GRACE + 0.3)
    final_gc = A.api("POST", f"tasks/{gid}/run")[0]
    took = time.monotonic() - t0
    check("(b) races: every PUT 201 and every DELETE 204", not errors,
          f"{sum(kinds.values())} rounds {kinds}", f"{len(errors)} not: {errors[:4]}")
    gcs = sorted(set(map(str, gc_codes)))
    check("(b) the blob GC run beside the races: 204 or 409 only",
          all(c in (204, 409) for c in gc_codes) and final_gc == 204, f"{len(gc_codes)} runs: {gcs}",
          f"statuses {gcs}, final {final_gc}")
    items, err = list_assets(B, "c-race")
    if err:
        bad("(b) listing c-race", err)
        return
    badl = read_listed(A, items, pool) + read_listed(B, items, pool)
    check("(b) every asset listed reads back with its sha256 through A and B", not badl,
          f"{len(items)} assets, {took:.0f} s", f"{len(badl)} do not, e.g. {badl[:3]}")
    lost = [p for p, h in must.items() if (lambda r: not (r[0] == 200 and sha(r[1]) == h))(C_or_A().req("GET", p))]
    check("(b) every acknowledged upload nothing deleted reads back", not lost, f"{len(must)}",
          f"{len(lost)} of {len(must)} do not (blob freed under a live asset?), e.g. {lost[:3]}")


# ---- (d) Maven deploys of two versions through two nodes at once --------------------------------

def maven_deploy(node, aid, version):
    """What mvn deploy sends: jar, pom and their checksums, then the artifact metadata it merged
    from what it read. Returns the answers other than 201."""
    base = f"/repository/maven-releases/org/arca/cluster/{aid}"
    jar = os.urandom(2048)
    pom = (f'<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">'
           f"<modelVersion>4.0.0</modelVersion><groupId>org.arca.cluster</groupId><artifactId>{aid}</artifactId>"
           f"<version>{version}</version></project>\n").encode()
    bad_ = []

    def put(path, data):
        for suffix, d in (("", data), (".sha1", hashlib.sha1(data).hexdigest().encode()),
                          (".md5", hashlib.md5(data).hexdigest().encode())):
            st, out, _ = node.req("PUT", path + suffix, d)
            if st != 201:
                bad_.append(f"{node.name} PUT {path.rsplit('/', 1)[1]}{suffix}: {st} {short(out, 80)}")
    put(f"{base}/{version}/{aid}-{version}.jar", jar)
    put(f"{base}/{version}/{aid}-{version}.pom", pom)
    st, out, _ = node.req("GET", f"{base}/maven-metadata.xml")
    versions = re.findall(r"<version>([^<]+)</version>", out.decode("utf-8", "replace")) if st == 200 else []
    versions = sorted(set(versions) | {version})
    meta = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata><groupId>org.arca.cluster</groupId>"
            f"<artifactId>{aid}</artifactId><versioning><latest>{versions[-1]}</latest><release>{versions[-1]}</release>"
            "<versions>" + "".join(f"<version>{v}</version>" for v in versions) + "</versions>"
            f"<lastUpdated>{time.strftime('%Y%m%d%H%M%S', time.gmtime())}</lastUpdated></versioning></metadata>\n").encode()
    put(f"{base}/maven-metadata.xml", meta)
    return bad_


def meta_versions(node, repo, aid):
    st, out, _ = node.req("GET", f"/repository/{repo}/org/arca/cluster/{aid}/maven-metadata.xml")
    return sorted(re.findall(r"<version>([^<]+)</version>", out.decode("utf-8", "replace"))) if st == 200 else st


def maven_group_fresh():
    """Group metadata (a merge a node may cache) read through B right after a deploy through A."""
    aid = "grouped"
    errs = maven_deploy(A, aid, "1.0")
    seen1 = {n.name: meta_versions(n, "c-maven-group", aid) for n in nodes}
    for _ in range(3):                         # warm every node's group metadata
        for n in nodes:
            meta_versions(n, "c-maven-group", aid)
    errs += maven_deploy(A, aid, "2.0")
    t0 = time.monotonic()
    seen2 = {n.name: meta_versions(n, "c-maven-group", aid) for n in nodes[1:]}
    late = {}
    while any(v != ["1.0", "2.0"] for v in seen2.values()) and time.monotonic() - t0 < 5:
        time.sleep(0.1)
        seen2 = {n.name: meta_versions(n, "c-maven-group", aid) for n in nodes[1:]}
    if time.monotonic() - t0 > 0.5:
        late = seen2
    check("(d) Maven group metadata read through the other nodes right after a deploy through A lists it",
          not errs and all(v == ["1.0"] for v in seen1.values()) and not late,
          "", f"deploy errors {errs[:2]}; after 1.0: {seen1}; after 2.0: "
          + (f"{seen2} after {(time.monotonic() - t0) * 1000:.0f} ms" if late else "listed"))


def pypi_upload(node, project, version):
    dist = project.replace("-", "_")
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        di = f"{dist}-{version}.dist-info"
        z.writestr(f"{dist}/__init__.py", "")
        z.writestr(f"{di}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n")
        z.writestr(f"{di}/WHEEL", "Wheel-Version: 1.0\nGenerator: e2e-cluster\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{di}/RECORD", "")
    content = buf.getvalue()
    fname = f"{dist}-{version}-py3-none-any.whl"
    b = "----cluster" + os.urandom(12).hex()
    out = io.BytesIO()
    for k, v in ((":action", "file_upload"), ("protocol_version", "1"), ("metadata_version", "2.1"),
                 ("name", project), ("version", version), ("filetype", "bdist_wheel"), ("pyversion", "py3"),
                 ("sha256_digest", sha(content))):
        out.write(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    out.write(f'--{b}\r\nContent-Disposition: form-data; name="content"; filename="{fname}"\r\n'
              f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + f"\r\n--{b}--\r\n".encode())
    st, body, _ = node.req("POST", "/repository/c-pypi-race/", out.getvalue(),
                           {"Content-Type": f"multipart/form-data; boundary={b}"})
    return fname, st, body


def pypi_races(pool):
    """Two versions of a project uploaded through A and B at once: the simple page through both
    nodes lists both files right after."""
    def trial(t):
        project = f"cluster-race-{t}"
        r = at_once([lambda: pypi_upload(A, project, "1.0"), lambda: pypi_upload(B, project, "2.0")])
        errs = [f"{f}: {st} {short(body, 80)}" for f, st, body in r if st != 200]
        seen = {}
        for n in (A, B):
            st, page, _ = n.req("GET", f"/repository/c-pypi-race/simple/{project}/")
            seen[n.name] = sorted(f for f, _, _ in r if f.encode() in page) if st == 200 else st
        return errs, seen, [f for f, _, _ in r]
    res = list(pool.map(trial, range(10)))
    errs = [e for es, _, _ in res for e in es]
    check("(d) PyPI: 1.0 through A and 2.0 through B at once, 10 trials: every upload 200", not errs,
          "", f"{len(errs)} not, e.g. {errs[:3]}")
    wrong = [seen for _, seen, files in res if any(v != sorted(files) for v in seen.values())]
    check("(d) PyPI: the simple page through A and B lists both files right after", not wrong,
          "10 of 10", f"{len(wrong)} of 10 not, e.g. {wrong[:2]}")


def maven_races(pool):
    def trial(t):
        aid = f"lib-{t}"
        r = at_once([lambda: maven_deploy(A, aid, "1.0"), lambda: maven_deploy(B, aid, "2.0")])
        errs = r[0] + r[1]
        seen = {}
        for n in (A, B):
            st, out, _ = n.req("GET", f"/repository/maven-releases/org/arca/cluster/{aid}/maven-metadata.xml")
            seen[n.name] = sorted(re.findall(r"<version>([^<]+)</version>", out.decode("utf-8", "replace"))) if st == 200 else st
        return aid, errs, seen
    res = list(pool.map(trial, range(20)))
    errs = [e for _, es, _ in res for e in es]
    check("(d) Maven: 1.0 through A and 2.0 through B at once, 20 trials: every PUT 201", not errs,
          f"{20 * 2 * 9} PUTs", f"{len(errs)} not, e.g. {errs[:4]}")
    wrong = [(aid, seen) for aid, _, seen in res if any(v != ["1.0", "2.0"] for v in seen.values())]
    late = []
    if wrong:
        time.sleep(3)
        for aid, _ in wrong:
            st, out, _ = B.req("GET", f"/repository/maven-releases/org/arca/cluster/{aid}/maven-metadata.xml")
            if st == 200 and sorted(re.findall(r"<version>([^<]+)</version>", out.decode())) == ["1.0", "2.0"]:
                late.append(aid)
    check("(d) maven-metadata.xml lists both versions, read through A and B right after", not wrong,
          "20 of 20", f"{len(wrong)} of 20 trials not, e.g. {wrong[:3]}; {len(late)} of them list both 3 s later")


# ---- (e) RPM uploads through A and B while repomd.xml is polled ----------------------------------

def repo_files_ok(node, base):
    """(repomd found, problems) for repomd.xml and every file it names, through `node`."""
    st, body, _ = node.req("GET", f"{base}/repodata/repomd.xml")
    if st == 404:
        return False, []
    if st != 200:
        return False, [f"repomd.xml {st}"]
    probs = []
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        return True, [f"repomd.xml does not parse: {e}"]
    ns = "{http://linux.duke.edu/metadata/repo}"
    for d in root.findall(ns + "data"):
        href = d.find(ns + "location").get("href")
        want = d.find(ns + "checksum").text
        s2, f, _ = node.req("GET", f"{base}/{href}")
        if s2 != 200:
            probs.append(f"{href}: {s2}")
        elif sha(f) != want:
            probs.append(f"{href}: sha256 {sha(f)[:12]}, repomd says {want[:12]}")
    return True, probs


def primary_names(node, base):
    st, body, _ = node.req("GET", f"{base}/repodata/repomd.xml")
    if st != 200:
        return None
    m = re.search(rb'href="(repodata/[^"]*primary\.xml\.gz)"', body)
    if not m:
        return None
    st, gz, _ = node.req("GET", f"{base}/{m.group(1).decode()}")
    if st != 200:
        return None
    return set(re.findall(r"<name>([^<]+)</name>", gzip.decompress(gz).decode("utf-8", "replace")))


def rpm_uploads(pool):
    base = "/repository/c-yum"
    done = threading.Event()
    polls = {n.name: [0, []] for n in (A, B)}

    def poller(n):
        while not done.is_set():
            found, probs = repo_files_ok(n, base)
            polls[n.name][0] += found
            polls[n.name][1] += probs
            time.sleep(0.02)
    names, errs = [], []

    def uploader(n, k):
        for j in range(12):
            name = f"cl-{n.name.lower()}{k}-{j}"
            st, out, _ = n.req("PUT", f"{base}/Packages/{name}-1.0-1.noarch.rpm", make_rpm(name, os.urandom(3000)),
                               pace=rng.uniform(0.02, 0.15))
            if st == 201:
                names.append(name)
            else:
                errs.append(f"{name} through {n.name}: {st} {short(out, 80)}")
    ps = [threading.Thread(target=poller, args=(n,)) for n in (A, B)]
    for p in ps:
        p.start()
    t0 = time.monotonic()
    at_once([lambda n=n, k=k: uploader(n, k) for n in (A, B) for k in range(2)])
    t_up = time.monotonic() - t0
    # Settle: until both nodes list everything (or 15 s).
    conv = None
    while time.monotonic() - t0 < t_up + 15:
        got = [primary_names(n, base) for n in (A, B)]
        if all(g is not None and set(names) <= g for g in got):
            conv = time.monotonic() - t0 - t_up
            break
        time.sleep(0.2)
    time.sleep(0.3)
    done.set()
    for p in ps:
        p.join()
    check("(e) 48 RPM uploads through A and B at once: all 201", not errs, f"{t_up:.1f} s", f"{len(errs)} not: {errs[:3]}")
    probs = polls["A"][1] + polls["B"][1]
    check("(e) repomd.xml polled through A and B during the uploads: every file it names answers 200 with its checksum",
          not probs, f"{polls['A'][0]} + {polls['B'][0]} repomd.xml read",
          f"{len(probs)} bad reads, e.g. {probs[:4]}")
    final = {n.name: primary_names(n, base) for n in (A, B)}
    missing = {k: sorted(set(names) - (v or set()))[:4] for k, v in final.items() if v is None or set(names) - v}
    check("(e) every uploaded RPM listed in primary.xml through A and B", conv is not None and not missing,
          f"{conv:.1f} s after the last upload" if conv is not None else "",
          f"after 15 s still missing: {missing}")
    return names


# ---- (f) a task started on two nodes at the same moment ------------------------------------------

def audit_after(node, since_id):
    st, out, _ = node.api("GET", "audit")
    if st != 200:
        return None
    return [e for e in json.loads(out)["items"] if e["id"] > since_id]


def task_once():
    # The integrity check reads every blob of the S3 store: usually still running when the
    # second node's request comes, which must then join it, not run again. Two runs are
    # right only when one had ended before the other request came (a short run on a loaded
    # machine); what must never happen is two runs at once. Each run's audit event says when
    # it started and ended.
    gid = gc_task_id("blobstore.integrity")
    if not gid:
        bad("(f) the integrity task", "no blobstore.integrity task in GET /tasks")
        return
    results, overlaps = [], []
    for trial in range(3):
        st, out, _ = A.api("GET", "audit")
        last = max([e["id"] for e in json.loads(out)["items"]], default=0) if st == 200 else 0
        codes = at_once([lambda: A.api("POST", f"tasks/{gid}/run")[0], lambda: B.api("POST", f"tasks/{gid}/run")[0]])
        ev = audit_after(A, last) or []
        mine = [e for e in ev if e["domain"] == "tasks" and e["context"] == gid]
        runs = sorted((e["attributes"].get("startedMs", 0), e["attributes"].get("endedMs", 0))
                      for e in mine if e["type"] == "run")
        joined = sum(1 for e in mine if e["type"] == "run-joined")
        overlaps += [(a, b) for a, b in zip(runs, runs[1:]) if b[0] < a[1]]
        results.append((codes, len(runs), joined, [e - s for s, e in runs]))
        time.sleep(0.3)
    once = sum(1 for _, n, j, _ in results if n == 1 and j == 1)
    check("(f) the integrity task asked on A and B at the same moment: never two runs at once, "
          "a request during a run joins it (audit log), 3 trials",
          not overlaps and once >= 1 and all(n >= 1 and n + j == 2 for _, n, j, _ in results)
          and all(all(c == 204 for c in cs) for cs, _, _, _ in results),
          f"runs, joins, run ms per trial {[(n, j, d) for _, n, j, d in results]}",
          f"overlapping runs {overlaps}; runs, joins, run ms per trial {[(n, j, d) for _, n, j, d in results]}, "
          f"answers (A, B) {[cs for cs, _, _, _ in results]}")


# ---- (g) changes on A, in effect on the other nodes within 1 s -------------------------------------------

def propagate(name, action, probe, limit=1.0, wait=8.0):
    """`action` on A, then `probe(node)` polled every 50 ms on every other node until true."""
    others = nodes[1:]
    for _ in range(3):              # warm the other nodes' caches in the old state
        for n in others:
            probe.warm(n)
    pre = [n.name for n in others if probe(n)]
    if pre:
        bad(name, f"already in effect on {pre} before the change")
        return
    st = action()
    t0 = time.monotonic()
    delays, last = {}, {}
    while time.monotonic() - t0 < wait and len(delays) < len(others):
        for n in others:
            if n.name in delays:
                continue
            r = probe(n)
            if r:
                delays[n.name] = (time.monotonic() - t0) * 1000
            last[n.name] = probe.last
        time.sleep(0.05)
    ok_ = st and len(delays) == len(others) and max(delays.values()) <= limit * 1000
    txt = ", ".join(f"{k} {v:.0f} ms" for k, v in sorted(delays.items()))
    missing = [n.name for n in others if n.name not in delays]
    check(name, ok_, txt, (f"the change through A failed; " if not st else "")
          + (f"in effect on {txt}; " if delays else "")
          + (f"not in effect on {missing} after {wait * 1000:.0f} ms (last seen: "
             + ", ".join(f"{k} {last.get(k)}" for k in missing) + ")" if missing else f"limit {limit * 1000:.0f} ms"))


class Probe:
    """A probe: `fn(node)` returns (done, what was seen); `warm(node)` puts the node's caches in
    the old state (the probe itself by default)."""
    def __init__(self, fn, warm=None):
        self.fn, self.last, self.warm_fn = fn, None, warm

    def __call__(self, node):
        done, self.last = self.fn(node)
        return done

    def warm(self, node):
        (self.warm_fn or self)(node)


def changes():
    data = b"cluster propagation check\n"
    A.req("PUT", "/repository/c-raw/g/file.txt", data)
    user = {"userId": "cl-user", "firstName": "C", "lastName": "U", "emailAddress": "cl@example.org",
            "password": "first-pass-123", "status": "active", "roles": ["nx-admin"]}
    st, out, _ = A.api("POST", "security/users", user)
    if st != 200:
        bad("(g) creating cl-user through A", f"{st} {short(out)}")
        return
    old, new = basic("cl-user", "first-pass-123"), basic("cl-user", "second-pass-456")
    get = "/repository/c-raw/g/file.txt"

    def pw_changed(n):
        # The new password only once the old one is refused: failed logins are throttled.
        a = n.req("GET", get, auth=old)[0]
        b = n.req("GET", get, auth=new)[0] if a == 401 else None
        return a == 401 and b == 200, f"old {a}, new {b}"
    propagate("(g) password changed through A: old refused, new accepted on the other nodes", lambda: A.req(
        "PUT", "/service/rest/v1/security/users/cl-user/change-password", b"second-pass-456",
        {"Content-Type": "text/plain"})[0] == 204, Probe(pw_changed, lambda n: n.req("GET", get, auth=old)))

    def disabled(n):
        s = n.req("GET", get, auth=new)[0]
        return s in (401, 403), s
    body = dict(user, status="disabled")
    body.pop("password")
    body["source"] = "default"
    propagate("(g) user disabled through A: refused on the other nodes",
              lambda: A.api("PUT", "security/users/cl-user", body)[0] == 204, Probe(disabled))

    anon = {"enabled": True, "userId": "anonymous", "realmName": "NexusAuthorizingRealm"}

    def anon_on(n):
        s = n.req("GET", get, auth=None)[0]
        return s == 200, s
    propagate("(g) anonymous access on through A: anonymous GET 200 on the other nodes",
              lambda: A.api("PUT", "security/anonymous", anon)[0] == 200, Probe(anon_on))

    def anon_off(n):
        s = n.req("GET", get, auth=None)[0]
        return s == 401, s
    propagate("(g) anonymous access off through A: anonymous GET 401 on the other nodes",
              lambda: A.api("PUT", "security/anonymous", dict(anon, enabled=False))[0] == 200, Probe(anon_off))

    seq = iter(range(1 << 30))

    def frozen(n):
        s = n.req("PUT", f"/repository/c-raw/g/freeze-{next(seq)}.txt", b"x")[0]
        return s == 503, s
    propagate("(g) read-only freeze through A: uploads refused with 503 on the other nodes",
              lambda: A.api("POST", "read-only/freeze")[0] == 204, Probe(frozen))

    def writable(n):
        s = n.req("PUT", f"/repository/c-raw/g/release-{next(seq)}.txt", b"x")[0]
        return s == 201, s
    propagate("(g) read-only release through A: uploads accepted on the other nodes",
              lambda: A.api("POST", "read-only/release")[0] == 204, Probe(writable))
    A.api("POST", "read-only/force-release")

    up = UPSTREAM_URL

    def moved(n):
        st, body, _ = n.req("GET", f"/repository/c-move/probe-{next(seq)}.txt")
        return st == 200 and body.startswith(b"two "), (st, short(body, 20))
    propagate("(g) proxy remote URL changed through A: the other nodes fetch from the new remote",
              lambda: A.api("PUT", "repositories/raw/proxy/c-move", proxy_body("c-move", up + "/two/"))[0] == 204,
              Probe(moved))

    # Every node caches repositories by name; a change through A must reach their caches.
    hosted = {"name": "c-gone", "online": True, "storage": st_(writePolicy="ALLOW")}
    st, out, _ = A.api("POST", "repositories/raw/hosted", hosted)
    if st != 201 or A.req("PUT", "/repository/c-gone/f.txt", b"here")[0] != 201:
        bad("(g) creating c-gone through A", f"{st} {short(out)}")
        return

    def status_is(want):
        def probe(n):
            s = n.req("GET", "/repository/c-gone/f.txt")[0]
            return s == want, s
        return Probe(probe)
    propagate("(g) repository taken offline through A: 503 on the other nodes",
              lambda: A.api("PUT", "repositories/raw/hosted/c-gone", dict(hosted, online=False))[0] == 204,
              status_is(503))
    propagate("(g) repository back online through A: 200 on the other nodes",
              lambda: A.api("PUT", "repositories/raw/hosted/c-gone", hosted)[0] == 204, status_is(200))
    propagate("(g) repository deleted through A: 404 on the other nodes",
              lambda: A.api("DELETE", "repositories/c-gone")[0] == 204, status_is(404))


# ---- (i) single flight across nodes ------------------------------------------------------------

def single_flight():
    paths = [f"sf-{i:02d}.bin" for i in range(30)]
    before = {p: UP_COUNTS.get(f"/sf/{p}", 0) for p in paths}
    calls = [(A if i % 2 == 0 else B, paths[i % 30]) for i in range(120)]
    t0 = time.monotonic()
    res = at_once([lambda n=n, p=p: n.req("GET", f"/repository/c-proxy/{p}", timeout=60) for n, p in calls])
    took = time.monotonic() - t0
    wrong = [(n.name, p, r[0]) for (n, p), r in zip(calls, res) if not (r[0] == 200 and r[1] == upstream_body("sf", p))]
    check("(i) 120 simultaneous proxy misses of 30 paths through A and B: all 200 with the remote's bytes",
          not wrong, f"{took:.1f} s", f"{len(wrong)} not, e.g. {wrong[:4]}")
    counts = {p: UP_COUNTS.get(f"/sf/{p}", 0) - before[p] for p in paths}
    total = sum(counts.values())
    check("(i) ... at most one upstream fetch per path (single flight across nodes)", total <= 30,
          f"{total} upstream fetches", f"{total} upstream fetches for 30 paths, up to {max(counts.values())} for one path")


def docker_single_flight():
    digests = sorted(DOCKER_BLOBS)
    before = {d: UP_COUNTS.get(f"/v2/sfimg/blobs/sha256:{d}", 0) for d in digests}
    calls = [(A if i % 2 == 0 else B, digests[i % 4]) for i in range(40)]
    t0 = time.monotonic()
    res = at_once([lambda n=n, d=d: n.req("GET", f"/v2/c-dproxy/sfimg/blobs/sha256:{d}", timeout=60)
                   for n, d in calls])
    took = time.monotonic() - t0
    wrong = [(n.name, d[:12], r[0]) for (n, d), r in zip(calls, res) if not (r[0] == 200 and r[1] == DOCKER_BLOBS[d])]
    check("(i) 40 simultaneous docker proxy pulls of 4 layers (1 MiB) through A and B: all 200, right bytes",
          not wrong, f"{took:.1f} s", f"{len(wrong)} not, e.g. {wrong[:4]}")
    counts = {d: UP_COUNTS.get(f"/v2/sfimg/blobs/sha256:{d}", 0) - before[d] for d in digests}
    total = sum(counts.values())
    check("(i) ... one upstream fetch per layer (single flight across nodes)", total <= 4,
          f"{total} upstream fetches", f"{total} upstream fetches for 4 layers: {list(counts.values())}")


def throttle_shared():
    """Failed logins through A count on B too: the throttle backs off on every node."""
    flood = basic("cl-flood", "wrong-password")
    get = "/repository/c-raw/g/file.txt"
    seen = [A.req("GET", get, auth=flood)[0] for _ in range(7)]
    time.sleep(0.3)
    on_b = B.req("GET", get, auth=flood)[0]
    check("(g) failed logins through A throttle the same user and address on B (429 at the first try)",
          seen[-1] == 429 and on_b == 429, f"A {seen}, then B {on_b}", f"A {seen}, then B {on_b} (want 429)")


# ---- real clients -------------------------------------------------------------------------------

def run(cmd, cwd=None, env=None, timeout=300):
    r = subprocess.run(cmd, cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True, text=True, timeout=timeout)
    return r.returncode == 0, (r.stdout + r.stderr)[-1500:]


def client_maven():
    if not shutil.which("mvn") or not os.path.isdir("/usr/share/maven-repo"):
        note("skip: mvn or /usr/share/maven-repo missing")
        return
    w = os.path.join(WORK, "mvn")
    os.makedirs(w)
    for d in ("lib", "app"):
        os.makedirs(f"{w}/{d}/src/main/java/org/arca/test")
    tmpl = open(os.path.join(ROOT, "tests/maven/pom.xml.in")).read()
    pom = lambda aid, deps: (tmpl.replace("@AID@", aid).replace("@VER@", "1.0").replace("@DEPS@", deps)
                             .replace("@URL@", A.url()))
    open(f"{w}/lib/pom.xml", "w").write(pom("greeter", ""))
    open(f"{w}/lib/src/main/java/org/arca/test/Greeter.java", "w").write(
        'package org.arca.test; public class Greeter { public static String greet(String n) { return "Hello, " + n; } }\n')
    open(f"{w}/app/pom.xml", "w").write(pom("app", "<dependency><groupId>org.arca.test</groupId>"
                                             "<artifactId>greeter</artifactId><version>1.0</version></dependency>"))
    open(f"{w}/app/src/main/java/org/arca/test/App.java", "w").write(
        'package org.arca.test; public class App { public static void main(String[] a) { System.out.println(Greeter.greet("Arca")); } }\n')
    open(f"{w}/deploy.xml", "w").write(f"""<settings><localRepository>{w}/m2-deploy</localRepository>
<mirrors><mirror><id>debian</id><mirrorOf>*</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
<servers><server><id>arca-releases</id><username>admin</username><password>{PW}</password></server></servers></settings>""")
    # The consumer: plugins from Debian's repository, the library from node B only.
    open(f"{w}/consume.xml", "w").write(f"""<settings><localRepository>{w}/m2-consume</localRepository>
<mirrors><mirror><id>debian</id><mirrorOf>*,!arca-b</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
<servers><server><id>arca-b</id><username>admin</username><password>{PW}</password></server></servers>
<profiles><profile><id>b</id><repositories><repository><id>arca-b</id><url>{B.url()}/repository/maven-releases/</url></repository></repositories></profile></profiles>
<activeProfiles><activeProfile>b</activeProfile></activeProfiles></settings>""")
    t0 = time.monotonic()
    good, out = run(["mvn", "-B", "-q", "-s", f"{w}/deploy.xml", "deploy"], cwd=f"{w}/lib")
    if not check("client: mvn deploy through A", good, f"{time.monotonic() - t0:.0f} s", short(out, 600)):
        return
    t0 = time.monotonic()
    good, out = run(["mvn", "-B", "-q", "-s", f"{w}/consume.xml", "package"], cwd=f"{w}/app")
    jar = f"{w}/m2-consume/org/arca/test/greeter/1.0/greeter-1.0.jar"
    same = good and os.path.exists(jar) and open(jar, "rb").read() == open(f"{w}/lib/target/greeter-1.0.jar", "rb").read()
    check("client: mvn package resolving the library through B (same jar)", same,
          f"{time.monotonic() - t0:.0f} s", short(out, 600))


def client_pypi():
    if not VENV or not os.path.exists(os.path.join(VENV, "bin/twine")):
        note("skip: no twine in PY_VENV")
        return
    w = os.path.join(WORK, "pypi")
    shutil.copytree(os.path.join(ROOT, "tests/pypi"), f"{w}/src")
    good, out = run([f"{VENV}/bin/python", "-m", "build", "--no-isolation", "--wheel", "--outdir", f"{w}/dist", f"{w}/src"])
    if not good:
        bad("client: building the demo wheel", short(out, 400))
        return
    wheel = [f for f in os.listdir(f"{w}/dist") if f.endswith(".whl")][0]
    good, out = run([f"{VENV}/bin/twine", "upload", "--non-interactive", "--repository-url",
                     f"{A.url()}/repository/c-pypi/", "-u", "admin", "-p", PW, f"{w}/dist/{wheel}"])
    if not check("client: twine upload through A", good, "", short(out, 400)):
        return
    good, out = run([f"{VENV}/bin/pip", "download", "-q", "--no-cache-dir", "--no-deps", "-d", f"{w}/dl",
                     "--index-url", f"{B.url(True)}/repository/c-pypi/simple", "arca-demo"])
    same = good and os.path.exists(f"{w}/dl/{wheel}") and \
        open(f"{w}/dl/{wheel}", "rb").read() == open(f"{w}/dist/{wheel}", "rb").read()
    check("client: pip download through B (same wheel)", same, "", short(out, 400))


def oci_layout(out, tag):
    os.makedirs(f"{out}/blobs/sha256")
    js = lambda o: json.dumps(o, separators=(",", ":")).encode()

    def blob(data, mt):
        d = sha(data)
        open(f"{out}/blobs/sha256/{d}", "wb").write(data)
        return {"mediaType": mt, "digest": "sha256:" + d, "size": len(data)}
    buf, data = io.BytesIO(), os.urandom(4096)
    import tarfile
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("etc/random")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    tar = buf.getvalue()
    layer = blob(gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = blob(js({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {
        "type": "layers", "diff_ids": ["sha256:" + sha(tar)]}}), "application/vnd.oci.image.config.v1+json")
    m = blob(js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "config": config, "layers": [layer]}), "application/vnd.oci.image.manifest.v1+json")
    open(f"{out}/index.json", "wb").write(js({"schemaVersion": 2, "manifests": [
        dict(m, annotations={"org.opencontainers.image.ref.name": tag})]}))
    open(f"{out}/oci-layout", "wb").write(js({"imageLayoutVersion": "1.0.0"}))
    return m["digest"]


def client_docker():
    if not shutil.which("skopeo"):
        note("skip: no skopeo")
        return
    w = os.path.join(WORK, "oci")
    digest = oci_layout(f"{w}/src", "1")
    env = {"REGISTRY_AUTH_FILE": f"{WORK}/auth.json"}
    open(f"{WORK}/auth.json", "w").write("{}")
    good, out = run(["skopeo", "copy", "-q", "--dest-creds", f"admin:{PW}", "--dest-tls-verify=false",
                     f"oci:{w}/src:1", f"docker://127.0.0.1:{A.port}/c-docker/cluster/img:1"], env=env)
    if not check("client: skopeo copy (push) to A", good, "", short(out, 400)):
        return
    good, out = run(["skopeo", "copy", "-q", "--src-creds", f"admin:{PW}", "--src-tls-verify=false",
                     f"docker://127.0.0.1:{B.port}/c-docker/cluster/img:1", f"oci:{w}/back:1"], env=env)
    same = good and digest in open(f"{w}/back/index.json").read()
    check("client: skopeo copy (pull) from B: same manifest digest", same, digest[:19], short(out, 400))


def client_dnf(names):
    if not shutil.which("dnf"):
        note("skip: no dnf")
        return
    w = os.path.join(WORK, "dnf")
    good, out = run(["dnf", "-q", "--installroot", f"{w}/root", "--releasever=1", "--setopt=reposdir=/dev/null",
                     f"--setopt=cachedir={w}/cache", f"--repofrompath=arca,{B.url(True)}/repository/c-yum/",
                     "--setopt=arca.gpgcheck=0", "repoquery", "--qf", "%{name}"], timeout=120)
    got = set(out.split()) if good else set()
    missing = sorted(set(names) - got)
    check("client: dnf repoquery through B lists every RPM uploaded through A and B", good and not missing,
          f"{len(names)}", short(out, 300) if not good else f"missing {missing[:5]}")


# ---- (j) docker GC racing pushes across nodes ----------------------------------------------------

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
GC_LINE = re.compile(r"(\S+): deleted (\d+) manifests and (\d+) blobs \((\d+) bytes\)")


def d_upload(node, image, data):
    """A monolithic blob upload (POST …/blobs/uploads/?digest=…): the status."""
    return node.req("POST", f"/v2/c-docker/{image}/blobs/uploads/?digest=sha256:{sha(data)}", data,
                    {"Content-Type": "application/octet-stream"})[0]


def d_blob_bad(node, image, data):
    """None when the blob reads back through `node` with its sha256, else what it answered."""
    st, body, _ = node.req("GET", f"/v2/c-docker/{image}/blobs/sha256:{sha(data)}")
    if st == 200 and sha(body) == sha(data):
        return None
    return f"{sha(data)[:12]} through {node.name}: " + (f"200 with sha256 {sha(body)[:12]}" if st == 200 else f"{st} {short(body, 80)}")


def d_blob_bad_404(node, hexdigest):
    """True unless the blob answers 404 through `node`."""
    return node.req("GET", f"/v2/c-docker/gcrace/img0/blobs/sha256:{hexdigest}")[0] != 404


def d_gc_counts(msg):
    """(manifests, blobs, bytes) c-docker's line of a docker-gc message names."""
    for repo, m, b, n in GC_LINE.findall(msg if isinstance(msg, str) else ""):
        if repo.rstrip(";") == "c-docker":
            return int(m), int(b), int(n)
    return 0, 0, 0


def docker_gc_races(pool):
    """B pushes (a shared layer, a layer of its own, a config, then the manifest) while A runs
    docker-gc at the same moment (at_once: a run starts with the push unless the previous one
    still runs, so every push meets a run); C deletes manifests by digest once they are checked.
    A run takes 0.1-2 s here (it reads every kept manifest from S3), so the rounds do not wait
    for it: a manifest answered 201 is checked (every blob through A and C) once every run that
    had started by its 201 is over. The shared layers take turns (S of them, G rounds each): a
    turn's manifests are deleted soon after, so when the layer's turn comes again it is unnamed
    and past the 1 s grace, a candidate of the run its upload races. Manifests of shared layer 0
    are never deleted: they are checked again at the end."""
    ROUNDS, BUDGET, S, G = 200, 32.0, 10, 4
    shared = [os.urandom(rng.randrange(20000, 60000)) for _ in range(S)]
    done = {}                   # round -> (image, manifest digest, [config, shared, layer]); None: deleted
    own = {}                    # round -> sha256 of its config and its own layer
    pending, deletable = [], []
    put_codes, upload_bad, lost, del_codes = {}, [], [], {}
    retried, candidates = 0, 0
    gl = threading.Lock()
    gs = {"thread": None, "started": 0, "finished": 0, "runs": []}

    def gc_run(seq):
        tg = time.monotonic()
        st = A.api("POST", "tasks/docker-gc/run")[0]
        took = time.monotonic() - tg
        msg = task_message("docker-gc")
        with gl:
            gs["runs"].append((st, msg, took))
            gs["finished"] = seq

    def gc_kick():
        with gl:
            t = gs["thread"]
            if t is None or not t.is_alive():
                gs["started"] += 1
                t = threading.Thread(target=gc_run, args=(gs["started"],))
                gs["thread"] = t
                t.start()
            return gs["started"]

    def verify(ready_only=True):
        with gl:
            fin = gs["finished"]
        now = [p for p in pending if not ready_only or p[-1] <= fin]
        for p in now:
            pending.remove(p)
            x, image, blobs, mdig, _ = p
            miss = [m for m in pool.map(lambda nb: d_blob_bad(nb[0], image, nb[1]),
                                        [(n, b) for n in (A, C_or_A()) for b in blobs]) if m]
            if miss:
                lost.append(f"round {x} (manifest {mdig[7:19]}): {miss[:2]}")
            elif (x // G) % S != 0:
                deletable.append(x)
    t0 = time.monotonic()
    r = 0
    last_turn_end = {}
    while r < ROUNDS and time.monotonic() - t0 < BUDGET:
        k = (r // G) % S
        if r % G == 0 and k != 0 and k in last_turn_end and time.monotonic() - last_turn_end[k] > GRACE:
            candidates += 1
        image = f"gcrace/img{r % 3}"
        layer = os.urandom(rng.randrange(2048, 16384))
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "round": r, "rootfs": {
            "type": "layers", "diff_ids": ["sha256:" + sha(shared[k]), "sha256:" + sha(layer)]}}).encode()
        blobs = [config, shared[k], layer]
        own[r] = [sha(config), sha(layer)]
        desc = lambda b, mt: {"mediaType": mt, "digest": "sha256:" + sha(b), "size": len(b)}
        man = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": desc(config, "application/vnd.oci.image.config.v1+json"),
                          "layers": [desc(b, "application/vnd.oci.image.layer.v1.tar+gzip") for b in blobs[1:]]}).encode()

        def push():
            codes = [d_upload(B, image, b) for b in (shared[k], layer, config)]
            tries = 0
            while True:
                st, body, _ = B.req("PUT", f"/v2/c-docker/{image}/manifests/r{r}", man, {"Content-Type": OCI_MANIFEST})
                if st == 400 and b"MANIFEST_BLOB_UNKNOWN" in body and tries < 5:
                    tries += 1      # a blob collected under it: upload what is missing again
                    for b in blobs:
                        if B.req("HEAD", f"/v2/c-docker/{image}/blobs/sha256:{sha(b)}")[0] != 200:
                            codes.append(d_upload(B, image, b))
                    continue
                with gl:
                    return codes, st, body, tries, gs["started"]
        (codes, st, body, tries, seq), _ = at_once([push, gc_kick])
        retried += tries
        put_codes[st] = put_codes.get(st, 0) + 1
        if any(c != 201 for c in codes):
            upload_bad.append(f"round {r}: uploads {codes}")
        if st == 201:
            done[r] = (image, "sha256:" + sha(man), blobs)
            pending.append((r, image, blobs, "sha256:" + sha(man), seq))
        else:
            upload_bad.append(f"round {r}: manifest PUT {st} {short(body, 120)}")
        verify()
        while deletable:
            x = deletable.pop(0)
            img, dig, _ = done[x]
            dc = C_or_A().req("DELETE", f"/v2/c-docker/{img}/manifests/{dig}")[0]
            del_codes[dc] = del_codes.get(dc, 0) + 1
            if dc == 202:
                done[x] = None
        if r % G == G - 1:
            last_turn_end[k] = time.monotonic()
        r += 1
    took = time.monotonic() - t0
    t = gs["thread"]
    if t:
        t.join()
    verify(ready_only=False)
    runs = list(gs["runs"])
    gc_total = [sum(d_gc_counts(m)[i] for _, m, _ in runs) for i in range(3)]
    secs = sorted(x for _, _, x in runs) or [0]
    if r < ROUNDS:
        note(f"(j) {r} rounds of {ROUNDS} within the {BUDGET:.0f} s budget")
    check("(j) docker GC racing pushes: every upload 201, every manifest PUT 201 (after re-uploads)",
          not upload_bad and put_codes == {201: r},
          f"{r} rounds in {took:.1f} s, {len(runs)} docker-gc runs beside them, {candidates} turns re-pushed an "
          f"unnamed shared layer past the grace; {retried} PUTs answered MANIFEST_BLOB_UNKNOWN and were retried",
          f"{len(upload_bad)} not: {upload_bad[:3]}; PUTs {put_codes}")
    gcs = sorted(set(str(s) for s, _, _ in runs))
    check("(j) docker-gc on A beside them: 204 or 409 every time; C's deletes by digest 202",
          set(gcs) <= {"204", "409"} and set(del_codes) <= {202},
          f"runs {gcs} in {secs[len(secs) // 2] * 1000:.0f} ms (median), {secs[-1] * 1000:.0f} ms (longest); "
          f"{sum(del_codes.values())} deletes",
          f"GC statuses {gcs}, deletes {del_codes}")
    check("(j) every manifest answered 201 has every blob it names readable through A and C (sha256) "
          "once the runs beside its PUT are over", not lost, f"{r} manifests, 3 blobs each",
          f"{len(lost)} do not: {lost[:3]}")
    # The end: after the grace, the collector again; every tagged manifest keeps its blobs, and
    # what only deleted manifests named is gone.
    time.sleep(GRACE + 0.3)
    gst = A.api("POST", "tasks/docker-gc/run")[0]
    gmsg = task_message("docker-gc")
    gc_total = [a + b for a, b in zip(gc_total, d_gc_counts(gmsg))]
    tagged = {x: v for x, v in done.items() if v}
    bad_tags = []
    for x, (img, dig, blobs) in tagged.items():
        st, _, h = C_or_A().req("HEAD", f"/v2/c-docker/{img}/manifests/r{x}", headers={"Accept": OCI_MANIFEST})
        if st != 200 or h.get("Docker-Content-Digest") != dig:
            bad_tags.append(f"r{x}: manifest {st} {h.get('Docker-Content-Digest') if st == 200 else ''}")
    bad_tags += [m for m in pool.map(lambda xb: d_blob_bad(A, xb[0], xb[1]),
                                     [(v[0], b) for v in tagged.values() for b in v[2]]) if m]
    check("(j) after the grace, docker-gc again: every tagged manifest still has all its blobs",
          gst == 204 and not bad_tags, f"{len(tagged)} tagged manifests; {gmsg}",
          f"GC {gst} {gmsg!r}; {len(bad_tags)} missing: {bad_tags[:4]}")
    deleted = [x for x in range(r) if x in done and done[x] is None]
    # The config and own layer of every deleted manifest: collected (404 through B).
    stay = [m for m in pool.map(lambda xd: d_blob_bad_404(B, xd[1]) and f"r{xd[0]} {xd[1][:12]}",
                                [(x, d) for x in deleted for d in own[x]]) if m]
    check("(j) what only deleted manifests named is collected (their configs and own layers 404)",
          not stay, f"{len(deleted)} manifests deleted through C; docker-gc deleted {gc_total[1]} blobs "
          f"({gc_total[2]} bytes; {gc_total[1] - 2 * len(deleted)} of them shared layers between turns) "
          f"and {gc_total[0]} manifests of c-docker in {len(runs) + 1} runs",
          f"{len(stay)} still answer, e.g. {stay[:4]}")


# ---- (h) kill -9 of a node during uploads --------------------------------------------------------

def kill_during_uploads(pool):
    stop = threading.Event()
    recs, lock = [], threading.Lock()
    b_errors, b_reads = [], [0, 0]
    killed = threading.Event()
    seq = iter(range(1 << 30))

    def uploader(n, k):
        while not stop.is_set():
            i = next(seq)
            if i % 4 == 3:
                name = f"kill-{n.name.lower()}{k}-{i}"
                path = f"/repository/c-yum/Packages/{name}-1.0-1.noarch.rpm"
                data = make_rpm(name, os.urandom(rng.randrange(1000, 200000)))
            else:
                path = f"/repository/c-kill/{n.name}{k}/f{i}.bin"
                data = os.urandom(rng.randrange(1000, 1 << 20))
            after = killed.is_set()
            st = n.req("PUT", path, data, pace=rng.uniform(0, 0.3), timeout=20)[0]
            with lock:
                recs.append({"node": n.name, "path": path, "sha": sha(data), "st": st, "after_kill": after})
            if n is B and after and st != 201:
                b_errors.append(f"{path}: {st}")
            if n is A and st is None:
                time.sleep(0.05)

    def reader():
        while not stop.is_set():
            st = B.req("GET", "/repository/c-raw/a/first.bin", timeout=10)[0]
            b_reads[0 if st == 200 else 1] += 1
            time.sleep(0.02)
    ts = [threading.Thread(target=uploader, args=(n, k)) for n in (A, B) for k in range(3)]
    ts.append(threading.Thread(target=reader))
    for t in ts:
        t.start()
    time.sleep(0.8)
    A.kill9()
    killed.set()
    time.sleep(2.0)
    stop.set()
    for t in ts:
        t.join()
    acked_a = sum(1 for r in recs if r["node"] == "A" and r["st"] == 201)
    after_b = [r for r in recs if r["node"] == "B" and r["after_kill"]]
    check("(h) kill -9 of A during uploads to A and B: B keeps taking uploads and serving",
          not b_errors and b_reads[1] == 0 and after_b,
          f"{len(after_b)} uploads to B after the kill, {b_reads[0]} reads",
          f"{len(b_errors)} uploads to B after the kill failed ({b_errors[:3]}), {b_reads[1]} reads through B failed, "
          f"{len(after_b)} attempted")
    lost = []
    for r in recs:
        if r["st"] == 201:
            st, body, _ = B.req("GET", r["path"])
            if not (st == 200 and sha(body) == r["sha"]):
                lost.append(f"{r['node']} {r['path']}: {st}")
    check("(h) every acknowledged upload (A before the kill, B) reads back through B", not lost,
          f"{acked_a} through A, {sum(1 for r in recs if r['node'] == 'B' and r['st'] == 201)} through B",
          f"{len(lost)} do not: {lost[:3]}")
    badl = []
    for repo in ("c-kill", "c-yum"):
        items, err = list_assets(B, repo)
        if err:
            badl.append(err)
        else:
            badl += read_listed(B, items, pool)
    check("(h) every asset listed through B reads back whole (nothing half-visible)", not badl, "",
          f"{len(badl)} do not, e.g. {badl[:3]}")
    # RPMs acknowledged by B after the kill must reach B's repodata: nothing the dead node held
    # (a lease, a lock) may stop the rebuild.
    want = {r["path"].rsplit("/", 1)[1].rsplit("-1.0-1", 1)[0] for r in recs if r["st"] == 201 and "c-yum" in r["path"]}
    t0 = time.monotonic()
    got = set()
    while time.monotonic() - t0 < 15:
        got = primary_names(B, "/repository/c-yum") or set()
        if want <= got:
            break
        time.sleep(0.3)
    check("(h) RPMs acknowledged around the kill reach B's repodata", want <= got,
          f"{len(want)} in {time.monotonic() - t0:.1f} s", f"{len(want - got)} of {len(want)} missing after 15 s")
    t = A.start()
    st = A.req("GET", "/repository/c-raw/a/first.bin")[0]
    check("(h) A restarted serves again", st == 200, f"ready in {t * 1000:.0f} ms", f"GET {st}")


def main():
    global UPSTREAM_URL
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    UPSTREAM_URL = f"http://127.0.0.1:{srv.server_address[1]}"
    pool = cf.ThreadPoolExecutor(16)
    t = A.start()
    ts = at_once([n.start for n in nodes[1:]])
    note(f"{NODES} nodes on one PostgreSQL database, S3 bucket {S3['bucket']['name']} prefix {PREFIX}: "
         f"A ready in {t * 1000:.0f} ms, others {', '.join(f'{x * 1000:.0f} ms' for x in ts)}")
    sections = [("setup (a)", lambda: setup(srv.server_address[1])),
                ("(c)", lambda: same_content(pool)), ("(b)", lambda: races(pool)),
                ("(d)", lambda: (maven_races(pool), maven_group_fresh(), pypi_races(pool))),
                ("(e)", lambda: rpm_uploads(pool)),
                ("(f)", task_once), ("(g)", lambda: (changes(), throttle_shared())),
                ("(i)", lambda: (single_flight(), docker_single_flight())),
                ("(j)", lambda: docker_gc_races(pool)),
                ("clients", lambda: (client_maven(), client_pypi(), client_docker())),
                ("(h)", lambda: kill_during_uploads(pool))]
    rpm_names = []
    for name, fn in sections:
        t0 = time.monotonic()
        try:
            r = fn()
            if name == "(e)":
                rpm_names = r or []
                client_dnf(rpm_names)
        except SystemExit:
            raise
        except Exception as e:  # a broken check must not hide the others
            import traceback
            traceback.print_exc()
            bad(f"{name} raised", repr(e))
        note(f"-- {name}: {time.monotonic() - t0:.1f} s")
    for n in nodes:
        n.stop()
    dead = [n.name for n in nodes if n.proc.returncode not in (0, -15)]
    if dead:
        bad("nodes stop cleanly", f"exit codes {[(n.name, n.proc.returncode) for n in nodes]}")
    print(f"\ncluster e2e: {len(passed)} passed, {len(failed)} failed, {time.monotonic() - T_START:.0f} s")
    for f in failed:
        print(f"  failed: {f}")
    return 1 if failed else 0


UPSTREAM_URL = ""
try:
    rc = main()
except BaseException:
    for n in nodes:
        n.stop()
    raise
sys.exit(rc)
PY

rc=0
CL_WORK=$W CL_BIN=$W/arca CL_ROOT=$ROOT CL_PG_URL=$PG_URL CL_S3_DIR=$S3_DIR CL_S3_JSON=$S3_JSON \
  CL_VENV=${PY_VENV:-$CACHE/pyvenv} CL_NODES=${CLUSTER_NODES:-3} python3 "$W/cluster.py" || rc=$?
if [ "$rc" != 0 ]; then
  for n in A B C; do
    [ -f "$W/node-$n.log" ] && { echo "-- last lines of node $n's log:"; grep -v ' INFO ' "$W/node-$n.log" | tail -8; }
  done
fi
exit "$rc"
