#!/usr/bin/env python3
"""Makes an Arca data directory whose SQLite database holds about N assets, for page timings.

Usage: scripts/gen-assets.py --data DIR --assets N [--seed S] [--bin ARCA] [--password PW]
                             [--audit-events K] [--no-verify]

1. Starts the arca binary once on the empty DIR (it creates and migrates the schema and the
   `default` blob store), creates the repositories through the REST API (maven-releases,
   maven-public (group), pypi-hosted, raw-files, docker-hosted, yum-hosted), stops it.
2. Bulk-inserts components, assets and blobs with sqlite3 in one transaction, rows in the shape
   Arca writes them (crates/*/src: component namespace/name/version and attributes, asset paths,
   content types, checksums, attributes as compact sorted-key JSON, one `blobs` row per distinct
   digest with its reference count). Shares of the assets: Maven 55 %, PyPI 20 %, raw 15 %,
   docker 7 %, yum 3 %, uploads of the formats interleaved in time over three years.
   Checksums are fake but well-formed (derived from the seed and a blob number); some blobs are
   shared (re-released identical jars, copied raw files, docker manifests by tag and by digest).
   Blob files are not written: downloads of generated assets fail, page views never read blobs.
   The secondary indexes of components/assets are dropped during the load and recreated from the
   schema's own SQL; no ANALYZE (Arca never runs it, so neither do we).
3. Starts arca on DIR again and times a few REST queries (unless --no-verify).

Writes DIR/gen-assets.json (parameters, counts, admin password) last: a directory without it is
an interrupted run. Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from array import array

SHARES = [("maven", 0.55), ("pypi", 0.20), ("raw", 0.15), ("docker", 0.07), ("yum", 0.03)]
REPOS = {
    "maven": "maven-releases",
    "pypi": "pypi-hosted",
    "raw": "raw-files",
    "docker": "docker-hosted",
    "yum": "yum-hosted",
}
STORE = "default"
YEAR_MS = 365 * 24 * 3600 * 1000
BATCH = 20000


def default_bin():
    env = os.environ.get("ARCA_BIN")
    if env:
        return env
    home = os.path.expanduser("~/.cache/arca-target")
    for p in (f"{home}/release/arca", f"{home}/debug/arca"):
        if os.access(p, os.X_OK):
            return p
    return "arca"


# ------------------------------------------------------------------ the server


class Server:
    """arca on DATA_DIR, loopback, a free port; stopped by its own PID."""

    def __init__(self, binary, data, password, log):
        self.binary, self.data, self.password, self.log = binary, data, password, log
        self.proc = None

    def start(self, timeout=120):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("ARCA_"):
                del env[k]
        env.update(
            ARCA_LISTEN=f"127.0.0.1:{port}",
            ARCA_DATA_DIR=os.path.abspath(self.data),
            ARCA_ADMIN_PASSWORD=self.password,
            ARCA_LOG="warn",
        )
        # cwd = the data dir, so no ./arca.toml of the caller is picked up.
        self.proc = subprocess.Popen(
            [self.binary], cwd=self.data, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"arca exited with {self.proc.returncode} at start; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/service/rest/v1/status", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise SystemExit("arca did not become ready")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def request(self, method, path, body=None):
        auth = base64.b64encode(f"admin:{self.password}".encode()).decode()
        data = None if body is None else json.dumps(body).encode()
        rq = urllib.request.Request(self.url + path, data=data, method=method)
        rq.add_header("Authorization", "Basic " + auth)
        if data is not None:
            rq.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(rq, timeout=120) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def create_repositories(srv):
    st = {"blobStoreName": STORE, "strictContentTypeValidation": True, "writePolicy": "ALLOW_ONCE"}
    bodies = [
        ("maven/hosted", {"name": "maven-releases", "online": True, "storage": st,
                          "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}}),
        ("pypi/hosted", {"name": "pypi-hosted", "online": True, "storage": st}),
        ("raw/hosted", {"name": "raw-files", "online": True, "storage": st}),
        ("docker/hosted", {"name": "docker-hosted", "online": True, "storage": dict(st, writePolicy="ALLOW"),
                           "docker": {"v1Enabled": False, "forceBasicAuth": True}}),
        ("yum/hosted", {"name": "yum-hosted", "online": True, "storage": dict(st, writePolicy="ALLOW"),
                        "yum": {"repodataDepth": 0, "deployPolicy": "STRICT"}}),
        ("maven/group", {"name": "maven-public", "online": True,
                         "storage": {"blobStoreName": STORE, "strictContentTypeValidation": True},
                         "group": {"memberNames": ["maven-releases"]}}),
    ]
    for kind, body in bodies:
        code, out = srv.request("POST", f"/service/rest/v1/repositories/{kind}", body)
        if code not in (200, 201, 204):
            raise SystemExit(f"creating {body['name']}: HTTP {code} {out[:300]!r}")


# ------------------------------------------------------------------ rows


def js(v):
    """serde_json's compact text of a value whose maps are BTreeMaps (sorted keys)."""
    return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class Loader:
    """Buffers component and asset rows, counts blob references, flushes in batches."""

    def __init__(self, con, seed, rnd, t0, t1, events):
        self.con, self.seed, self.rnd = con, seed, rnd
        self.t1 = t1
        self.now = t0
        self.gap = (t1 - t0) / max(events, 1)
        self.comps, self.assets = [], []
        self.next_comp = self.next_asset = 1
        self.bsize, self.bref, self.btime = array("q"), array("q"), array("q")
        self.per_repo = {}  # repo id -> [components, assets]
        self.n_comps = self.n_assets = 0

    def tick(self):
        self.now = min(self.t1, self.now + int(self.rnd.expovariate(1 / self.gap)) + 1)
        return self.now

    def blob(self, size):
        self.bsize.append(max(1, int(size)))
        self.bref.append(0)
        self.btime.append(self.now)
        return len(self.bsize) - 1

    def cks(self, b):
        k = b"arca-gen:%d:%d" % (self.seed, b)
        return (hashlib.sha256(k).hexdigest(), hashlib.sha1(k).hexdigest(),
                hashlib.md5(k).hexdigest(), hashlib.sha512(k).hexdigest())

    def sha256(self, b):
        return hashlib.sha256(b"arca-gen:%d:%d" % (self.seed, b)).hexdigest()

    def component(self, repo, ns, name, version, attrs="{}"):
        cid = self.next_comp
        self.next_comp += 1
        self.comps.append((cid, repo, ns, name, version, attrs, self.now))
        self.per_repo.setdefault(repo, [0, 0])[0] += 1
        self.n_comps += 1
        return cid

    def asset(self, repo, comp, path, b, ctype, attrs="{}", all_checksums=True,
              created=None, uploader="admin", ip="10.1.2.3"):
        """Records an asset on blob `b` (one reference). Returns its id."""
        self.bref[b] += 1
        s256, s1, m5, s512 = self.cks(b)
        if not all_checksums:  # docker blobs: sha256 only
            s1 = m5 = s512 = ""
        now = self.now
        downloaded = None
        if self.rnd.random() < 0.4:
            downloaded = now + int(self.rnd.random() * (self.t1 - now))
        aid = self.next_asset
        self.next_asset += 1
        self.assets.append((aid, repo, comp, path, STORE, s256, self.bsize[b], ctype, s256, s1, m5, s512,
                            now if created is None else created, now, now, downloaded, uploader, ip, attrs))
        self.per_repo.setdefault(repo, [0, 0])[1] += 1
        self.n_assets += 1
        if len(self.assets) >= BATCH:
            self.flush()
        return aid

    def flush(self):
        if self.comps:
            self.con.executemany(
                "INSERT INTO components (id, repository_id, namespace, name, version, attributes, created_ms) "
                "VALUES (?,?,?,?,?,?,?)", self.comps)
            self.comps = []
        if self.assets:
            self.con.executemany(
                "INSERT INTO assets (id, repository_id, component_id, path, blob_store, blob_digest, size, "
                "content_type, sha256, sha1, md5, sha512, created_ms, last_modified_ms, last_verified_ms, "
                "last_downloaded_ms, uploader, uploader_ip, attributes) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", self.assets)
            self.assets = []

    def blob_rows(self):
        for b in range(len(self.bsize)):
            if self.bref[b] > 0:
                yield (self.sha256(b), STORE, self.bsize[b], self.bref[b], self.btime[b], None)


def lognorm(rnd, median, sigma, lo=1, hi=None):
    v = rnd.lognormvariate(0, sigma) * median
    v = max(lo, v)
    return int(min(hi, v) if hi else v)


def semver(i):
    """1.0.0, 1.0.1 … 1.0.4, 1.1.0 … : index 13 is 1.2.3."""
    return f"{1 + i // 25}.{(i // 5) % 5}.{i % 5}"


WORDS = ("fast json yaml http async data cloud core util test log auth cache stream graph "
         "image text time grpc sql orm cli config crypto parse render queue event task net "
         "file path geo math plot audio video mail web api kit lib tool").split()


# ------------------------------------------------------------------ formats
# Each is a generator that records one upload (a component and its assets) per step; the
# scheduler steps them in random order, so ids and times interleave the formats as in life.


def maven(L, repo, rnd):
    g = 0
    open_artifacts = []  # (gpath, artifact, first ms, last blob size basis, versions) to close
    try:
        while True:
            group = f"com.example.platform.svc{g}" if g % 8 == 7 else f"org.acme.g{g}"
            gpath = group.replace(".", "/")
            arts = rnd.sample(range(200), rnd.randint(5, 35))
            nvers = {a: max(1, min(60, int(rnd.expovariate(1 / 11)) + 1)) for a in arts}
            if g == 123:  # the example of the issue: org/acme/g123/artifact-45/1.2.3/artifact-45-1.2.3.jar
                if 45 not in nvers:
                    nvers[45] = nvers.pop(arts[0])
                nvers[45] = max(nvers[45], 20)
            state = {a: {"first": None, "jar": None, "n": 0} for a in nvers}
            open_artifacts = [(gpath, group, a, state[a]) for a in nvers]
            for rnd_i in range(max(nvers.values())):
                for a, n in nvers.items():
                    if rnd_i >= n:
                        continue
                    art = f"artifact-{a}"
                    v = semver(rnd_i)
                    s = state[a]
                    L.tick()
                    if s["first"] is None:
                        s["first"] = L.now
                    s["n"] += 1
                    cattrs = f'{{"artifactId":"{art}","baseVersion":"{v}","groupId":"{group}"}}'
                    cid = L.component(repo, group, art, v, cattrs)
                    base = f"{gpath}/{art}/{v}/{art}-{v}"

                    def coords(ext, cls=None):
                        c = "null" if cls is None else f'"{cls}"'
                        return (f'{{"maven2":{{"artifactId":"{art}","baseVersion":"{v}","classifier":{c},'
                                f'"extension":"{ext}","groupId":"{group}","version":"{v}"}}}}')

                    # An unchanged re-release now and then: the same jar bytes again.
                    if s["jar"] is not None and rnd.random() < 0.03:
                        jar = s["jar"]
                    else:
                        jar = L.blob(lognorm(rnd, 60_000, 1.6, 800, 80_000_000))
                    s["jar"] = jar
                    L.asset(repo, cid, base + ".jar", jar, "application/java-archive", coords("jar"))
                    L.asset(repo, cid, base + ".pom", L.blob(lognorm(rnd, 2500, 0.5, 400)),
                            "application/xml", coords("pom"))
                    if rnd.random() < 0.3:
                        L.asset(repo, cid, base + "-sources.jar", L.blob(lognorm(rnd, 40_000, 1.4, 500)),
                                "application/java-archive", coords("jar", "sources"))
                    if s["n"] == n:  # the artifact's maven-metadata.xml, rewritten on each deploy
                        L.asset(repo, None, f"{gpath}/{art}/maven-metadata.xml",
                                L.blob(330 + 38 * n), "application/xml", '{"generated":true}',
                                created=s["first"], uploader=None, ip=None)
                        s["first"] = "done"
                    yield
            g += 1
    finally:  # stopped mid-group: metadata for the artifacts that have versions
        for gpath, group, a, s in open_artifacts:
            if s["first"] not in (None, "done"):
                L.asset(repo, None, f"{gpath}/artifact-{a}/maven-metadata.xml", L.blob(330 + 38 * s["n"]),
                        "application/xml", '{"generated":true}', created=s["first"], uploader=None, ip=None)


def pypi(L, repo, rnd):
    used = set()
    i = 0
    while True:
        w1, w2 = rnd.choice(WORDS), rnd.choice(WORDS)
        name = f"{w1}-{w2}" if w1 != w2 else w1
        if name in used:
            name = f"{name}-{i}"
        used.add(name)
        i += 1
        under = name.replace("-", "_")
        summary = f"{w1.capitalize()} tools for {w2}"
        rp = rnd.choice(['">=3.8"', '">=3.9"', "null", '">=3.10"'])
        attrs = f'{{"pypi":{{"requires_python":{rp},"summary":"{summary}","yanked":null}}}}'
        binary = rnd.random() < 0.2
        for k in range(max(1, min(80, int(rnd.expovariate(1 / 10)) + 1))):
            L.tick()
            v = f"{k // 10}.{k % 10}.{rnd.randint(0, 3)}" if k % 7 == 3 else f"{k // 10}.{k % 10}.0"
            cid = L.component(repo, "", name, v)
            base = f"packages/{name}/{v}"
            wheels = ([f"{under}-{v}-cp{py}-cp{py}-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
                       for py in (310, 311, 312)] if binary else [f"{under}-{v}-py3-none-any.whl"])
            for w in wheels:
                L.asset(repo, cid, f"{base}/{w}", L.blob(lognorm(rnd, 90_000, 1.3, 2000)),
                        "application/zip", attrs)
                # PEP 658 metadata, extracted from the wheel (no component, default attributes).
                L.asset(repo, None, f"{base}/{w}.metadata", L.blob(lognorm(rnd, 2500, 0.6, 300)),
                        "text/plain; charset=utf-8", "null", uploader=None, ip=None)
            L.asset(repo, cid, f"{base}/{under}-{v}.tar.gz", L.blob(lognorm(rnd, 60_000, 1.2, 1000)),
                    "application/x-gzip", attrs)
            yield


RAW_KINDS = [
    ("tar.gz", "application/gzip"), ("zip", "application/zip"), ("txt", "text/plain"),
    ("json", "application/json"), ("html", "text/html"), ("bin", "application/octet-stream"),
    ("exe", "application/x-msdownload"), ("pdf", "application/pdf"),
]


def raw(L, repo, rnd):
    recent = []  # blobs a later file may be a copy of
    p = 0
    while True:
        kind = rnd.random()
        proj = f"project-{p}"
        p += 1
        for r in range(rnd.randint(1, 40)):
            L.tick()
            if kind < 0.6:
                v = f"{r // 10 + 1}.{r % 10}"
                files = [f"releases/{proj}/{v}/{proj}-{v}-{plat}.{ext}"
                         for plat, ext in rnd.sample([("linux-x86_64", "tar.gz"), ("linux-aarch64", "tar.gz"),
                                                      ("windows-x64", "zip"), ("macos-universal", "tar.gz")],
                                                     rnd.randint(1, 4))]
                if rnd.random() < 0.3:
                    files.append(f"releases/{proj}/{v}/SHA256SUMS.txt")
            elif kind < 0.8:
                t = L.now // 1000
                y, d = 2023 + (t // 31_536_000) % 4, (t // 86400) % 365
                files = [f"backups/{proj}/{y}/{d // 31 + 1:02d}/{d % 31 + 1:02d}/dump-{r}.bin"]
            else:
                files = [f"docs/{proj}/v{r}/{page}.html" for page in ("index", "api", "guide", "changelog")]
            for f in files:
                ctype = next((c for e, c in RAW_KINDS if f.endswith("." + e)), "application/octet-stream")
                if recent and rnd.random() < 0.05:
                    b = rnd.choice(recent)
                else:
                    b = L.blob(lognorm(rnd, 8000 if f.endswith(".html") else 200_000, 1.8, 10))
                    if len(recent) < 5000:
                        recent.append(b)
                    else:
                        recent[rnd.randrange(5000)] = b
                d = f.rsplit("/", 1)[0]
                cid = L.component(repo, "/" + d.lstrip("/"), f, "")
                L.asset(repo, cid, f, b, ctype, "{}")
            yield


def docker(L, repo, rnd):
    base_layers = [L.blob(lognorm(rnd, 30_000_000, 0.8, 2_000_000)) for _ in range(40)]
    in_repo = set()  # base layers that have their v2/-/blobs asset already

    def blob_asset(b):
        L.asset(repo, None, f"v2/-/blobs/sha256:{L.sha256(b)}", b, "application/octet-stream", "null",
                all_checksums=False)

    i = 0
    while True:
        image = f"team-{i % 40}/service-{i}"
        i += 1
        last = None
        bases = rnd.sample(base_layers, rnd.randint(1, 2))
        for t in range(max(1, min(150, int(rnd.expovariate(1 / 25)) + 1))):
            L.tick()
            for b in bases:
                if b not in in_repo:
                    in_repo.add(b)
                    blob_asset(b)
            for _ in range(rnd.randint(1, 3)):
                blob_asset(L.blob(lognorm(rnd, 8_000_000, 1.5, 200)))
            blob_asset(L.blob(lognorm(rnd, 6000, 0.4, 500)))  # config
            oci = rnd.random() < 0.5
            mt = ("application/vnd.oci.image.manifest.v1+json" if oci
                  else "application/vnd.docker.distribution.manifest.v2+json")
            m = L.blob(lognorm(rnd, 1100, 0.3, 400))
            digest = f"sha256:{L.sha256(m)}"
            attrs = js({"kind": "manifest", "mediaType": mt, "digest": digest, "subject": None,
                        "artifactType": None, "annotations": None, "index": False})
            tag = f"1.{t // 10}.{t % 10}"
            for ref in (digest, tag):  # one asset per digest and per tag, the same bytes
                cid = L.component(repo, "", image, ref)
                L.asset(repo, cid, f"v2/{image}/manifests/{ref}", m, mt, attrs)
            last = (m, mt, attrs)
            yield
        if last:  # `latest` follows the newest tag
            L.tick()
            cid = L.component(repo, "", image, "latest")
            L.asset(repo, cid, f"v2/{image}/manifests/latest", last[0], last[1], last[2])
            yield


def yum(L, repo, rnd, fp):
    """`fp` collects (count, max last_modified, sum of ids) of the RPMs for repomd.xml."""
    k = 0
    while True:
        w = rnd.choice(WORDS)
        name = f"{w}-{rnd.choice(WORDS)}-{k}"
        k += 1
        arch = "noarch" if rnd.random() < 0.4 else "x86_64"
        for r in range(max(1, min(40, int(rnd.expovariate(1 / 6)) + 1))):
            L.tick()
            ver, rel = f"{r // 5 + 1}.{r % 5}", f"{rnd.randint(1, 3)}.el9"
            files = [{"path": f"/usr/share/{name}"}] + [
                {"path": f"/usr/share/{name}/file-{j}.dat"} for j in range(rnd.randint(1, 8))]
            files[0]["kind"] = "dir"
            size = lognorm(rnd, 150_000, 1.5, 3000)
            pkg = {
                "name": name, "arch": arch, "epoch": 0, "version": ver, "release": rel,
                "summary": f"The {name} package", "description": f"{name}: a generated package.",
                "packager": "Arca bench", "url": f"https://example.com/{name}",
                "build_time": L.now // 1000, "installed_size": size * 3, "archive_size": size * 3 + 512,
                "license": "MIT", "vendor": "", "group": "Unspecified", "buildhost": "build.example.com",
                "sourcerpm": f"{name}-{ver}-{rel}.src.rpm", "header_start": 4504, "header_end": 4504 + 1800,
                "provides": [{"name": name, "flags": "EQ", "epoch": "0", "ver": ver, "rel": rel}]
                + ([{"name": f"{name}({arch})", "flags": "EQ", "epoch": "0", "ver": ver, "rel": rel}]
                   if arch != "noarch" else []),
                "requires": [{"name": "bash"}, {"name": "rpmlib(CompressedFileNames)", "flags": "LE",
                                                "epoch": "0", "ver": "3.0.4", "rel": "1", "pre": True}],
                "conflicts": [], "obsoletes": [], "recommends": [], "suggests": [], "supplements": [],
                "enhances": [], "files": files,
                "changelogs": [{"author": "Arca Bench <bench@example.com> - " + ver, "date": L.now // 1000,
                                "text": "- release"}],
            }
            evr = f"0:{ver}-{rel}"
            cid = L.component(repo, "", name, evr, js({"arch": arch}))
            aid = L.asset(repo, cid, f"Packages/{name[0]}/{name}-{ver}-{rel}.{arch}.rpm", L.blob(size),
                          "application/x-rpm", js({"yum": pkg}))
            fp[0] += 1
            fp[1] = max(fp[1], L.now)
            fp[2] += aid
            yield


def yum_repodata(L, repo, rnd, fp):
    """repodata/ as the publisher leaves it: three data files and repomd.xml (default attributes
    but `files` and the RPM fingerprint)."""
    if fp[0] == 0:
        return
    names = []
    for kind, per in (("primary", 700), ("filelists", 300), ("other", 150)):
        b = L.blob(fp[0] * per // 4)
        path = f"repodata/{L.sha256(b)}-{kind}.xml.gz"
        L.asset(repo, None, path, b, "application/x-gzip", "null", uploader=None, ip=None)
        names.append(path)
    L.asset(repo, None, "repodata/repomd.xml", L.blob(3100), "application/xml",
            js({"files": names, "fingerprint": fp}), uploader=None, ip=None)


# ------------------------------------------------------------------ load


def load(db_path, n_assets, seed, audit_events):
    rnd = random.Random(seed)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-1048576")  # 1 GiB
    con.execute("PRAGMA temp_store=MEMORY")
    repo_ids = dict(con.execute("SELECT name, id FROM repositories"))
    if con.execute("SELECT COUNT(*) FROM assets").fetchone()[0]:
        raise SystemExit("the database already has assets")
    # Secondary indexes: dropped for the load, recreated from their own SQL afterwards.
    indexes = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('components', 'assets')").fetchall()
    con.execute("BEGIN")
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')

    now = int(time.time() * 1000)
    t0 = now - 3 * YEAR_MS
    L = Loader(con, seed, rnd, t0, now - 60_000, n_assets / 2.4)
    fp = [0, 0, 0]
    gens = {
        "maven": maven(L, repo_ids[REPOS["maven"]], rnd),
        "pypi": pypi(L, repo_ids[REPOS["pypi"]], rnd),
        "raw": raw(L, repo_ids[REPOS["raw"]], rnd),
        "docker": docker(L, repo_ids[REPOS["docker"]], rnd),
        "yum": yum(L, repo_ids[REPOS["yum"]], rnd, fp),
    }
    budget = {f: max(1, int(n_assets * s)) for f, s in SHARES}
    weights = dict(SHARES)
    active = list(gens)
    while active:
        f = rnd.choices(active, [weights[a] for a in active])[0]
        rid = repo_ids[REPOS[f]]
        if L.per_repo.get(rid, [0, 0])[1] >= budget[f]:
            gens[f].close()
            active.remove(f)
            continue
        next(gens[f])
    L.tick()
    yum_repodata(L, repo_ids[REPOS["yum"]], rnd, fp)
    L.flush()
    con.executemany("INSERT INTO blobs (digest, store, size, refcount, created_ms, zero_since_ms) "
                    "VALUES (?,?,?,?,?,?)", L.blob_rows())
    n_blobs = con.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
    # Deletions through the REST API leave audit events (repository.asset / deleted).
    events = []
    for k in range(audit_events):
        ts = t0 + (now - t0) * (k + 1) // (audit_events + 1)
        events.append((ts, "admin", "10.1.2.3", "repository.asset", "deleted", "raw-files",
                       js({"path": f"tmp/scratch-{k}.bin"})))
    con.executemany("INSERT INTO audit_events (ts_ms, actor, remote_ip, domain, type, context, attributes) "
                    "VALUES (?,?,?,?,?,?,?)", events)
    t_idx = time.monotonic()
    for _, sql in indexes:
        con.execute(sql)
    con.execute("COMMIT")
    t_idx = time.monotonic() - t_idx
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    names = {v: k for k, v in repo_ids.items()}
    per_repo = {names[r]: {"components": c, "assets": a} for r, (c, a) in sorted(L.per_repo.items())}
    return {"components": L.n_comps, "assets": L.n_assets, "blobs": n_blobs,
            "audit_events": audit_events, "per_repository": per_repo, "index_seconds": round(t_idx, 1)}


# ------------------------------------------------------------------ verify


def timed(srv, path, n=5):
    srv.request("GET", path)  # warm-up
    ms, code, body = [], 0, b""
    for _ in range(n):
        t = time.perf_counter()
        code, body = srv.request("GET", path)
        ms.append((time.perf_counter() - t) * 1000)
    return statistics.median(ms), max(ms), code, body


def verify(srv):
    code, body = srv.request("GET", "/service/rest/v1/search/assets?repository=maven-releases&name=artifact-45")
    items = json.loads(body).get("items", []) if code == 200 else []
    sha1 = next((a["checksum"]["sha1"] for a in items if a.get("checksum", {}).get("sha1")), None)
    # org/acme/g14/artifact-45/1.0.0/artifact-45-1.0.0.jar -> group org.acme.g14, version 1.0.0
    parts = items[0]["path"].split("/") if items else []
    m2 = {"groupId": ".".join(parts[:-3]), "version": parts[-2]} if len(parts) > 4 else None
    checks = [
        "/service/rest/v1/search?repository=maven-releases&name=artifact-45",
        "/service/rest/v1/search?name=artifact-45",
        "/service/rest/v1/search?q=artifact-45",
        "/service/rest/v1/search/assets?repository=maven-releases&name=artifact-45",
        "/service/rest/v1/components?repository=maven-releases",
        "/service/rest/v1/components?repository=pypi-hosted",
        "/service/rest/v1/assets?repository=raw-files",
    ]
    if m2:
        checks.append(f"/service/rest/v1/search?repository=maven-releases&group={m2['groupId']}"
                      f"&name=artifact-45&version={m2['version']}")
    if sha1:
        checks.append(f"/service/rest/v1/search?sha1={sha1}")
    print("\n| request | median ms | max ms | status | items |")
    print("|---|---|---|---|---|")
    ok = True
    for path in checks:
        med, mx, code, body = timed(srv, path)
        try:
            n = len(json.loads(body).get("items", []))
        except ValueError:
            n = "-"
        ok &= code == 200 and n not in (0, "-")
        flag = " (over 100 ms)" if med > 100 else ""
        print(f"| `{path}` | {med:.1f}{flag} | {mx:.1f} | {code} | {n} |")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="data directory to create (must be empty or missing)")
    ap.add_argument("--assets", type=int, required=True, help="about this many assets")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=default_bin(), help="arca binary (default $ARCA_BIN, else ~/.cache/arca-target/{release,debug}/arca)")
    ap.add_argument("--password", default="admin-pass-123", help="admin password set on first start")
    ap.add_argument("--audit-events", type=int, default=None, help="audit events to add (default assets/100)")
    ap.add_argument("--no-verify", action="store_true", help="skip the timed REST queries at the end")
    a = ap.parse_args()
    if os.path.exists(a.data) and os.listdir(a.data):
        raise SystemExit(f"{a.data} exists and is not empty")
    os.makedirs(a.data, exist_ok=True)
    audit = a.assets // 100 if a.audit_events is None else a.audit_events
    t_all = time.monotonic()
    with open(os.path.join(a.data, "gen-assets.log"), "ab") as log:
        srv = Server(a.bin, a.data, a.password, log)
        try:
            ready = srv.start()
            print(f"schema: arca started in {ready:.2f} s on {srv.url}; creating repositories", flush=True)
            create_repositories(srv)
        finally:
            srv.stop()
        t = time.monotonic()
        db = os.path.join(a.data, "arca.db")
        stats = load(db, a.assets, a.seed, audit)
        load_s = time.monotonic() - t
        size = os.path.getsize(db)
        print(f"loaded {stats['assets']} assets, {stats['components']} components, {stats['blobs']} blobs, "
              f"{stats['audit_events']} audit events in {load_s:.1f} s "
              f"(of which index builds {stats['index_seconds']} s); arca.db {size / 2**20:.0f} MiB")
        for r, c in stats["per_repository"].items():
            print(f"  {r}: {c['assets']} assets, {c['components']} components")
        ok = True
        if not a.no_verify:
            srv = Server(a.bin, a.data, a.password, log)
            try:
                ready = srv.start()
                print(f"\narca started on the loaded database in {ready:.2f} s", flush=True)
                ok = verify(srv)
            finally:
                srv.stop()
    stats.update(seed=a.seed, requested_assets=a.assets, password=a.password, load_seconds=round(load_s, 1),
                 db_bytes=size, generated_at=int(time.time()))
    with open(os.path.join(a.data, "gen-assets.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(f"\ntotal {time.monotonic() - t_all:.1f} s; {a.data}/gen-assets.json written", flush=True)
    if not ok:
        print("some verification request failed or returned nothing", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
