#!/usr/bin/env bash
# Crash suite: rounds of SIGKILL of the arca binary during concurrent uploads of every format
# (raw PUT, maven jar+pom PUT, pypi twine-style multipart POST, docker monolithic blob uploads +
# manifest PUT, yum rpm PUT), on SQLite and on PostgreSQL. After each crash, with the server
# stopped, the database is checked (SQLite: PRAGMA integrity_check; both: every asset row has
# its blob row and every blob's refcount equals the assets naming it); after the restart every
# acknowledged upload (of this and every earlier round) reads back byte-identical, every asset
# the REST API lists reads back whole with its listed size and sha256, and an upload that was not
# acknowledged is either absent or complete and correct (an overwrite: the old or the new
# content). At the end the blob GC task runs through the REST API after the grace period and
# every file under the blob store's sha256/ must be referenced by an asset, tmp/ empty
# (ARCA_GC_GRACE is 1 s; ARCA_ORPHAN_GRACE an hour during the rounds, then a few seconds).
#
# Usage: scripts/crash.sh [--rounds N] [--backend sqlite|postgres|both] [--uploads N] [--seed S]
#   default: 3 rounds per backend (the CI form); a long run: --rounds 20
# Needs ARCA_BIN (default $CARGO_TARGET_DIR/debug/arca), python3 (stdlib only) and, for
# PostgreSQL, psql plus either ARCA_TEST_DATABASE_URL (a server to create a throw-away database
# on; scripts/test.sh sets it) or a local PostgreSQL installation to start one from (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pg.sh
ROUNDS=3; BACKEND=both; UPLOADS=20; SEED=${CRASH_SEED:-$RANDOM$RANDOM}
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --uploads) UPLOADS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
case "$BACKEND" in sqlite|postgres|both) ;; *) echo "--backend sqlite|postgres|both" >&2; exit 2 ;; esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
ARCA_BIN=${ARCA_BIN:-$CARGO_TARGET_DIR/debug/arca}
[ -x "$ARCA_BIN" ] || { echo "no arca binary at $ARCA_BIN (cargo build --bin arca, or set ARCA_BIN)" >&2; exit 2; }
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"

W=$(mktemp -d /tmp/arca-crash.XXXXXX)
# The binary under test, copied: other builds may replace the original during the run.
cp "$ARCA_BIN" "$W/arca"
cleanup() {
  pg_cleanup
  rm -rf "$W"
}
trap cleanup EXIT

PG_URL=""
if [ "$BACKEND" != sqlite ]; then
  command -v psql >/dev/null || { echo "psql is needed for the PostgreSQL rounds" >&2; exit 2; }
  pg_fresh_database "$W" arca_crash
fi

cat >"$W/crash.py" <<'PY'
"""The crash rounds of one backend; see scripts/crash.sh."""
import base64, concurrent.futures as cf, gzip, hashlib, http.client, io, json, os, random, re
import signal, sqlite3, struct, subprocess, sys, threading, time, urllib.parse, zipfile

BIN, WORK, BACKEND, ROUNDS, UPLOADS, SEED, PG_URL = sys.argv[1:8]
ROUNDS, UPLOADS, SEED = int(ROUNDS), int(UPLOADS), int(SEED)
rng = random.Random(SEED)
PW = "crash-admin-pass-1"
AUTH = "Basic " + base64.b64encode(f"admin:{PW}".encode()).decode()
DATA = os.path.join(WORK, "data")
BLOBS = os.path.join(DATA, "blobs")
LOG = open(os.path.join(WORK, "arca.log"), "ab")
GRACE = 1
REPOS = ["crash-raw", "crash-maven", "crash-pypi", "crash-docker", "crash-yum"]
failures = []


def fail(msg):
    failures.append(msg)
    print(f"  FAIL {msg}", flush=True)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self):
        self.proc = None
        self.port = None

    def start(self, extra=None):
        self.port = free_port()
        env = dict(os.environ, ARCA_DATA_DIR=DATA, ARCA_LISTEN=f"127.0.0.1:{self.port}",
                   ARCA_ADMIN_PASSWORD=PW, ARCA_GC_GRACE=str(GRACE), ARCA_ORPHAN_GRACE="3600",
                   ARCA_LOG="warn")
        env.update(extra or {})
        if PG_URL:
            env["ARCA_DATABASE_URL"] = PG_URL
        t0 = time.monotonic()
        LOG.write(f"=== start on port {self.port}\n".encode()); LOG.flush()
        self.proc = subprocess.Popen([BIN], cwd=WORK, env=env, stdout=LOG, stderr=LOG)
        while time.monotonic() - t0 < 60:
            if self.proc.poll() is not None:
                raise SystemExit(f"arca exited with {self.proc.returncode} at start; see its log")
            try:
                if request("GET", "/service/rest/v1/status", timeout=2)[0] == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(0.02)
        raise SystemExit("arca not ready after 60 s")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


srv = Server()


def request(method, path, body=None, headers=None, timeout=60, pace=0.0, sink=None):
    """One HTTP request to arca; the body sent in 32 KiB pieces spread over `pace` seconds.
    Returns (status, body bytes or (size, sha256) when sink='hash', headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        h = {"Authorization": AUTH}
        h.update(headers or {})
        conn.putrequest(method, path, skip_accept_encoding=True)
        if body is not None:
            h["Content-Length"] = str(len(body))
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            step = 32768
            pieces = max(1, (len(body) + step - 1) // step)
            for i in range(pieces):
                conn.send(body[i * step:(i + 1) * step])
                if pace:
                    time.sleep(pace / pieces)
        r = conn.getresponse()
        if sink == "hash":
            d, n = hashlib.sha256(), 0
            while True:
                b = r.read(1 << 16)
                if not b:
                    break
                d.update(b)
                n += len(b)
            return r.status, (n, d.hexdigest()), r.headers
        return r.status, r.read(), r.headers
    finally:
        conn.close()


def api(method, path, obj=None):
    body = json.dumps(obj).encode() if obj is not None else None
    return request(method, "/service/rest/v1/" + path, body, {"Content-Type": "application/json"})


def sha(b):
    return hashlib.sha256(b).hexdigest()


def rand_bytes(hi, lo=1024):
    # Log-uniform sizes: mostly small, some large enough to be mid-stream at the kill.
    n = int(round(2 ** rng.uniform(__import__("math").log2(lo), __import__("math").log2(hi))))
    return os.urandom(n)


# ---- content of each format ------------------------------------------------------------------

def make_rpm(name, payload):
    """An RPM: lead, signature header and main header as rpm writes them, then `payload` (Arca
    reads the header only)."""
    def header(entries):  # entries: (tag, type, count, data bytes, align)
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
        (100, ARR, 1, s("C"), 1),
        (1000, STR, 1, s(name), 1),
        (1001, STR, 1, s("1.0"), 1),
        (1002, STR, 1, s("1"), 1),
        (1004, I18N, 1, s(f"crash test package {name}"), 1),
        (1005, I18N, 1, s("Random payload written by scripts/crash.sh."), 1),
        (1006, I32, 1, struct.pack(">I", int(time.time())), 4),
        (1007, STR, 1, s("localhost"), 1),
        (1009, I32, 1, struct.pack(">I", len(payload)), 4),
        (1014, STR, 1, s("MIT"), 1),
        (1016, I18N, 1, s("Unspecified"), 1),
        (1021, STR, 1, s("linux"), 1),
        (1022, STR, 1, s("noarch"), 1),
        (1044, STR, 1, s(f"{name}-1.0-1.src.rpm"), 1),
        (1124, STR, 1, s("cpio"), 1),
        (1125, STR, 1, s("gzip"), 1),
        (1126, STR, 1, s("9"), 1),
    ])
    sig = header([(1000, I32, 1, struct.pack(">I", len(main) + len(payload)), 4),
                  (1007, I32, 1, struct.pack(">I", len(payload)), 4)])
    sig += b"\0" * (-len(sig) % 8)
    lead = b"\xed\xab\xee\xdb\x03\x00" + struct.pack(">HH", 0, 1) + name.encode()[:65].ljust(66, b"\0") \
        + struct.pack(">HH", 1, 5) + b"\0" * 16
    return lead + sig + main + payload


def make_wheel(dist, version, payload):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        di = f"{dist}-{version}.dist-info"
        z.writestr(f"{dist}/__init__.py", "")
        z.writestr(f"{dist}/data.bin", payload)
        z.writestr(f"{di}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        z.writestr(f"{di}/WHEEL", "Wheel-Version: 1.0\nGenerator: crash.sh\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{di}/RECORD", "")
    return buf.getvalue()


def multipart(fields, fname, content):
    b = "----crash" + os.urandom(12).hex()
    out = io.BytesIO()
    for k, v in fields:
        out.write(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    out.write(f'--{b}\r\nContent-Disposition: form-data; name="content"; filename="{fname}"\r\n'
              f"Content-Type: application/octet-stream\r\n\r\n".encode())
    out.write(content)
    out.write(f"\r\n--{b}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={b}"


# ---- uploads -------------------------------------------------------------------------------------
# A record: one request that writes something readable at `get` (with `accept`), `sha` what it
# sent; `acked` when answered 2xx; `old` the content the path held before (overwrites).

FIRST_ACK = threading.Event()


def rec(kind, get, data, status, old=None, accept=None):
    if status is not None and 200 <= status < 300:
        FIRST_ACK.set()
    return {"kind": kind, "get": get, "sha": sha(data), "size": len(data),
            "acked": status is not None and 200 <= status < 300, "status": status, "t": time.monotonic(),
            "old": old, "accept": accept}


def send(recs, kind, get, data, method, path, body=None, headers=None, pace=0.0, old=None, accept=None):
    """Sends one request and records it; False when it got no 2xx (the job stops there)."""
    try:
        st = request(method, path, data if body is None else body, headers, timeout=30, pace=pace)[0]
    except OSError:
        st = None
    recs.append(rec(kind, get, data, st, old, accept))
    return recs[-1]["acked"]


def job_raw(r, i, pace, hi, state):
    recs = []
    path, old = f"/repository/crash-raw/r{r}/file-{i}.bin", None
    with TAKEN_LOCK:
        earlier = [k for k in state if k.startswith("/repository/crash-raw/") and k not in TAKEN]
        if earlier and rng.random() < 0.3:
            path = rng.choice(earlier)  # an overwrite: the old or the new content afterwards
            old = state[path]["sha"]
            TAKEN.add(path)
    data = rand_bytes(hi)
    send(recs, "raw", path, data, "PUT", path, pace=pace, old=old)
    return recs


def job_maven(r, i, pace, hi, state):
    recs = []
    a = f"crash-r{r}-{i}"
    base = f"/repository/crash-maven/org/crash/{a}/1.0/{a}-1.0"
    jar = rand_bytes(hi)
    pom = (f'<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">'
           f"<modelVersion>4.0.0</modelVersion><groupId>org.crash</groupId><artifactId>{a}</artifactId>"
           f"<version>1.0</version><!-- {os.urandom(16).hex()} --></project>\n").encode()
    if send(recs, "maven", base + ".jar", jar, "PUT", base + ".jar", pace=pace):
        send(recs, "maven", base + ".pom", pom, "PUT", base + ".pom")
    return recs


def job_pypi(r, i, pace, hi, state):
    recs = []
    dist = f"crash_r{r}_{i}"
    payload = rand_bytes(hi)
    if rng.random() < 0.5:
        fname, ftype, pyv = f"{dist}-1.0-py3-none-any.whl", "bdist_wheel", "py3"
        content = make_wheel(dist, "1.0", payload)
    else:
        fname, ftype, pyv = f"{dist}-1.0.tar.gz", "sdist", "source"
        content = gzip.compress(payload, 1)
    body, ctype = multipart([(":action", "file_upload"), ("protocol_version", "1"),
                             ("metadata_version", "2.1"), ("name", dist.replace("_", "-")),
                             ("version", "1.0"), ("filetype", ftype), ("pyversion", pyv),
                             ("sha256_digest", sha(content))], fname, content)
    norm = dist.replace("_", "-")
    send(recs, "pypi", f"/repository/crash-pypi/packages/{norm}/1.0/{fname}", content,
         "POST", "/repository/crash-pypi/", body=body, headers={"Content-Type": ctype}, pace=pace)
    return recs


def job_docker(r, i, pace, hi, state):
    recs = []
    img = f"/v2/crash-docker/crash/img-r{r}-{i}"
    layer = rand_bytes(hi)
    config = json.dumps({"architecture": "amd64", "os": "linux", "crash": os.urandom(8).hex(),
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(layer)]}}).encode()
    for blob, p in ((config, 0), (layer, pace)):
        d = "sha256:" + sha(blob)
        if not send(recs, "docker", f"{img}/blobs/{d}", blob, "POST", f"{img}/blobs/uploads/?digest={d}",
                    headers={"Content-Type": "application/octet-stream"}, pace=p):
            return recs
    mt = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": mt,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + sha(layer), "size": len(layer)}]}).encode()
    send(recs, "docker", f"{img}/manifests/v1", manifest, "PUT", f"{img}/manifests/v1",
         headers={"Content-Type": mt}, accept=mt)
    return recs


def job_yum(r, i, pace, hi, state):
    recs = []
    name = f"crash-r{r}-{i}"
    data = make_rpm(name, rand_bytes(hi))
    path = f"/repository/crash-yum/Packages/{name}-1.0-1.noarch.rpm"
    send(recs, "yum", path, data, "PUT", path, pace=pace)
    return recs


TAKEN, TAKEN_LOCK = set(), threading.Lock()  # raw paths being overwritten this round
JOBS = [job_raw, job_maven, job_pypi, job_docker, job_yum]


def create_repos():
    st = {"blobStoreName": "default", "strictContentTypeValidation": True}
    specs = [
        ("raw/hosted", {"name": "crash-raw", "online": True, "storage": dict(st, writePolicy="ALLOW")}),
        ("maven/hosted", {"name": "crash-maven", "online": True, "storage": dict(st, writePolicy="ALLOW_ONCE"),
                          "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}),
        ("pypi/hosted", {"name": "crash-pypi", "online": True, "storage": dict(st, writePolicy="ALLOW_ONCE")}),
        ("docker/hosted", {"name": "crash-docker", "online": True, "storage": dict(st, writePolicy="ALLOW"),
                           "docker": {"v1Enabled": False, "forceBasicAuth": True}}),
        ("yum/hosted", {"name": "crash-yum", "online": True, "storage": dict(st, writePolicy="ALLOW"),
                        "yum": {"repodataDepth": 0, "deployPolicy": "STRICT"}}),
    ]
    for kind, body in specs:
        code, out, _ = api("POST", "repositories/" + kind, body)
        if code != 201:
            raise SystemExit(f"creating {body['name']}: {code} {out[:300]!r}")


# ---- checks --------------------------------------------------------------------------------------

def db_check():
    """With the server stopped: integrity (SQLite) and asset/blob consistency (both)."""
    queries = {
        "asset rows without their blob row":
            "SELECT count(*) FROM assets a LEFT JOIN blobs b ON b.store = a.blob_store "
            "AND b.digest = a.blob_digest WHERE b.digest IS NULL",
        "blob rows whose refcount is not the number of assets naming them":
            "SELECT count(*) FROM blobs b WHERE b.refcount <> (SELECT count(*) FROM assets a "
            "WHERE a.blob_store = b.store AND a.blob_digest = b.digest)",
        "assets of a missing repository":
            "SELECT count(*) FROM assets a LEFT JOIN repositories r ON r.id = a.repository_id WHERE r.id IS NULL",
        "assets of a missing component":
            "SELECT count(*) FROM assets a LEFT JOIN components c ON c.id = a.component_id "
            "WHERE a.component_id IS NOT NULL AND c.id IS NULL",
    }
    if PG_URL:
        for what, q in queries.items():
            out = subprocess.run(["psql", PG_URL, "-qAtc", q], capture_output=True, text=True)
            if out.returncode != 0:
                fail(f"PostgreSQL query failed: {out.stderr.strip()}")
            elif out.stdout.strip() != "0":
                fail(f"database: {out.stdout.strip()} {what}")
        return
    db = sqlite3.connect(os.path.join(DATA, "arca.db"))
    try:
        res = [r[0] for r in db.execute("PRAGMA integrity_check")]
        if res != ["ok"]:
            fail(f"SQLite integrity_check: {res[:5]}")
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            fail(f"SQLite foreign_key_check: {fk[:5]}")
        for what, q in queries.items():
            n = db.execute(q).fetchone()[0]
            if n:
                fail(f"database: {n} {what}")
    finally:
        db.close()


def db_referenced(q="SELECT DISTINCT blob_digest FROM assets"):
    """With the server stopped: the digests the assets name (or `q` selects), from the database."""
    if PG_URL:
        out = subprocess.run(["psql", PG_URL, "-qAtc", q], capture_output=True, text=True, check=True)
        return set(out.stdout.split())
    db = sqlite3.connect(os.path.join(DATA, "arca.db"))
    try:
        return {r[0] for r in db.execute(q)}
    finally:
        db.close()


def read_back(get, accept=None):
    """(status, size, sha256) of a GET; status None on a connection error."""
    try:
        st, (n, h), _ = request("GET", get, headers={"Accept": accept} if accept else None, sink="hash")
        return st, n, h
    except OSError:
        return None, 0, None


def list_assets(repo):
    items, token = [], None
    while True:
        q = f"assets?repository={repo}" + (f"&continuationToken={urllib.parse.quote(token)}" if token else "")
        code, out, _ = api("GET", q)
        if code != 200:
            fail(f"listing {repo}: {code} {out[:200]!r}")
            return items
        page = json.loads(out)
        items += page["items"]
        token = page.get("continuationToken")
        if not token:
            return items


def check_listed(pool):
    """Every listed asset reads back whole, with its listed size and sha256; returns the count of
    those that do not (half-visible) and the set of referenced sha256s."""
    def one(a):
        get = f"/repository/{a['repository']}/{a['path']}"
        for attempt in range(4):
            st, n, h = read_back(get)
            if st == 200 and n == a["fileSize"] and h == a["checksum"]["sha256"]:
                return None
            # Generated content (maven-metadata.xml, yum repodata) may have been replaced since
            # the listing: read the asset's row again.
            time.sleep(0.3)
            code, out, _ = api("GET", "assets/" + urllib.parse.quote(a["id"]))
            if code == 404:
                return None
            if code == 200:
                a = json.loads(out)
        return f"{get}: listed {a['fileSize']} bytes sha256 {a['checksum']['sha256'][:12]}, read {st} {n} bytes {str(h)[:12]}"
    listed = [a for repo in REPOS for a in list_assets(repo)]
    bad = [m for m in pool.map(one, listed) if m]
    for m in bad[:10]:
        fail("half-visible asset: " + m)
    return len(bad), len(listed), {a["checksum"]["sha256"] for a in listed}


def blob_files():
    out = set()
    for dp, _, fs in os.walk(os.path.join(BLOBS, "sha256")):
        out.update(f for f in fs if re.fullmatch(r"[0-9a-f]{64}", f))
    return out


def tmp_files():
    t = os.path.join(BLOBS, "tmp")
    return os.listdir(t) if os.path.isdir(t) else []


def gc_run():
    code, out, _ = api("GET", "tasks")
    tasks = json.loads(out)["items"] if code == 200 else []
    gc = [t for t in tasks if t["type"] == "blobstore.compact"]
    if not gc:
        fail(f"no blobstore.compact task in GET /tasks ({code})")
        return None
    code, out, _ = api("POST", f"tasks/{gc[0]['id']}/run")
    if code != 204:
        fail(f"running the blob GC: {code} {out[:200]!r}")
    code, out, _ = api("GET", f"tasks/{gc[0]['id']}")
    return json.loads(out).get("message") if code == 200 else None


# ---- the rounds ----------------------------------------------------------------------------------

def main():
    t_start = time.monotonic()
    os.makedirs(DATA, mode=0o700, exist_ok=True)
    pool = cf.ThreadPoolExecutor(8)
    state = {}     # get path -> {"sha", "accept"}: what must read back, from every earlier round
    acked = verified = lost = half = 0
    restarts = []
    srv.start()
    create_repos()
    for r in range(1, ROUNDS + 1):
        # N uploads in the background, spread over the first ~0.8 s, and a SIGKILL among them.
        results = [None] * UPLOADS
        TAKEN.clear()
        FIRST_ACK.clear()
        def run(i):
            time.sleep(rng.uniform(0, 0.2))
            results[i] = JOBS[i % len(JOBS)](r, i, rng.uniform(0, 0.8), 1536 * 1024, state)
        def loop(k):
            # Small uploads back to back until one fails: some complete around the kill, in the
            # window between the blob file's placing and the row's commit.
            out, j = [], 0
            while True:
                got = JOBS[k % len(JOBS)](r, f"{k}x{j}", 0, 16 * 1024, state)
                out += got
                j += 1
                if not all(x["acked"] for x in got):
                    break
            results.append(out)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(UPLOADS)]
        threads += [threading.Thread(target=loop, args=(k,)) for k in range(len(JOBS))]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        # The kill: 50-500 ms after the first upload was acknowledged (a cold server spends its
        # first moments verifying the password), so it lands among uploads in every stage.
        FIRST_ACK.wait(5)
        time.sleep(rng.uniform(0.05, 0.5))
        srv.kill9()
        kill_at = time.monotonic() - t0
        for t in threads:
            t.join(60)
        recs = [x for res in results if res for x in res]
        db_check()
        orphans = len(blob_files() - db_referenced())
        restarts.append(srv.start())
        # Acknowledged uploads of this round, then everything known from earlier rounds.
        n_acked = sum(x["acked"] for x in recs)
        first = min([x["t"] - t0 for x in recs if x["acked"]], default=None)
        for x in recs:
            st, n, h = read_back(x["get"], x["accept"])
            if x["acked"]:
                acked += 1
                if st == 200 and h == x["sha"] and n == x["size"]:
                    verified += 1
                    state[x["get"]] = {"sha": x["sha"], "accept": x["accept"]}
                else:
                    lost += 1
                    fail(f"round {r}: acknowledged {x['kind']} upload {x['get']} reads back {st} {n} bytes, sha256 {str(h)[:12]} (sent {x['size']} bytes {x['sha'][:12]})")
            else:
                ok = [x["sha"]] + ([x["old"]] if x["old"] else [])
                if st == 404 and not x["old"]:
                    continue
                if st == 200 and h in ok:
                    state[x["get"]] = {"sha": h, "accept": x["accept"]}
                    continue
                half += 1
                fail(f"round {r}: unacknowledged {x['kind']} upload {x['get']} reads back {st} {n} bytes sha256 {str(h)[:12]} (neither absent nor the old or new content)")
        this_round = {x["get"] for x in recs}
        def keep(kv):
            k, v = kv
            st, n, h = read_back(k, v["accept"])
            return None if st == 200 and h == v["sha"] else f"{k}: {st} sha256 {str(h)[:12]}, expected {v['sha'][:12]}"
        gone = [m for m in pool.map(keep, [kv for kv in state.items() if kv[0] not in this_round]) if m]
        for m in gone[:10]:
            fail(f"round {r}: earlier upload no longer reads back: {m}")
        lost += len(gone)
        h_listed, n_listed, _ = check_listed(pool)
        half += h_listed
        print(f"  round {r}: killed at {kill_at * 1000:.0f} ms, {len(recs)} requests, {n_acked} acknowledged "
              f"(first at {'-' if first is None else f'{first * 1000:.0f} ms'}), "
              f"{orphans} orphan blob files in all, restart {restarts[-1] * 1000:.0f} ms, {n_listed} assets listed and read back", flush=True)
    # Orphans: blob files no asset names. During the rounds the orphan grace is an hour, so they
    # pile up; now the server restarts with a grace just longer than the age of the newest
    # orphan: the sweep at start frees the older ones and must leave the newer, then the blob GC
    # task, run through the REST API once the grace has passed, must free the rest.
    read_back("/repository/crash-yum/repodata/repomd.xml")  # the yum publisher settles first
    time.sleep(0.5)
    srv.stop()
    db_check()
    now = time.time()
    orphans = blob_files() - db_referenced()
    db_rows = db_referenced("SELECT digest FROM blobs")
    before = len(orphans)
    ages = [now - os.stat(os.path.join(BLOBS, "sha256", o[:2], o[2:4], o)).st_mtime for o in orphans]
    grace = int(min(ages, default=0)) + 4
    srv.start({"ARCA_ORPHAN_GRACE": str(grace)})
    read_back("/repository/crash-yum/repodata/repomd.xml")
    # Only files with no blob row are the sweep's: a row with refcount 0 (a kill between an
    # upload's record and its asset) is the blob GC's, whose grace here is 1 s.
    young = {o for o, a in zip(orphans, ages) if a + 2 < grace and o not in db_rows}
    # Until the newest orphan is older than the grace.
    time.sleep(max(0.0, now + grace - min(ages, default=0) + 1.5 - time.time()))
    _, _, referenced = check_listed(pool)
    files = blob_files()
    pending = len(files - referenced)
    at_start = before - pending
    if young - files:
        fail(f"the sweep at start freed {len(young - files)} orphans younger than the grace ({grace} s)")
    missing = referenced - files
    if missing:
        fail(f"{len(missing)} referenced blobs have no file, e.g. {sorted(missing)[:3]}")
    msg = gc_run()
    _, _, referenced = check_listed(pool)
    files = blob_files()
    after = len(files - referenced)
    tmp = tmp_files()
    srv.stop()
    db_check()
    if files != db_referenced():
        fail("the blob files differ from the digests the database's assets name")
    if after:
        fail(f"{after} orphan blob files left after the blob GC (task said: {msg})")
    if tmp:
        fail(f"{len(tmp)} files left in blobs/tmp after the blob GC")
    if files != referenced:
        fail(f"blob files {len(files)} vs referenced blobs {len(referenced)}")
    print(f"  orphans: {before} after the rounds, {at_start} freed by the sweep at start (older than "
          f"{grace} s), {pending} left for the task, {after} after it; task said: {msg}")
    print(f"{BACKEND}: {ROUNDS} rounds, {acked} uploads acknowledged, {verified} verified, lost {lost} "
          f"(must be 0), half-visible {half} (must be 0), orphans before/after GC {before}/{after}, "
          f"blob files {len(files)} = referenced {len(referenced)}, tmp files {len(tmp)}, "
          f"{time.monotonic() - t_start:.0f} s" + ("" if not failures else f" -- {len(failures)} FAILURES"),
          flush=True)
    return 1 if failures else 0


try:
    rc = main()
except BaseException:
    srv.stop() if srv.proc and srv.proc.poll() is None else None
    raise
sys.exit(rc)
PY

rc=0
backends=(sqlite postgres); [ "$BACKEND" = both ] || backends=("$BACKEND")
summary=()
for b in "${backends[@]}"; do
  echo "== crash rounds on $b (seed $SEED)"
  mkdir -p "$W/$b"
  url=""; [ "$b" = postgres ] && url=$PG_URL
  if python3 "$W/crash.py" "$W/arca" "$W/$b" "$b" "$ROUNDS" "$UPLOADS" "$SEED" "$url" | tee "$W/$b.out"; then :; else
    rc=1
    echo "-- last lines of arca's log ($b):"; tail -20 "$W/$b/arca.log" 2>/dev/null || true
  fi
  summary+=("$(grep -E "^$b: " "$W/$b.out" || echo "$b: did not finish")")
done
echo
printf '%s\n' "${summary[@]}"
[ "$rc" = 0 ] && echo "crash suite: passed" || echo "crash suite: FAILED (seed $SEED)"
exit "$rc"
