#!/usr/bin/env python3
"""Crash suite (issue 14): rounds of SIGKILL during concurrent uploads of every format, on SQLite
and PostgreSQL. After each restart every acknowledged upload reads back byte-identical and every
listed asset reads back whole; at the end the database passes its integrity check and, after
the grace period, the blob GC leaves exactly the referenced blobs on disk and no temp files.

Usage: scripts/crash.py BIN [--rounds N] [--backend sqlite|postgres|both]
PostgreSQL needs ARCA_TEST_DATABASE_URL (a server where databases may be created).
"""
import argparse
import base64
import hashlib
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RPMS = [os.path.join(ROOT, "crates/server/tests/fixtures/yum", f)
        for f in ("arca-hello-1.0-1.noarch.rpm", "arca-lib-2.1-3.noarch.rpm")]
PW = "crash-pass-1"
AUTH = "Basic " + base64.b64encode(f"admin:{PW}".encode()).decode()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Arca:
    def __init__(self, bin_, work, db_url):
        self.bin, self.work, self.db_url = bin_, work, db_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        env = dict(os.environ, ARCA_LISTEN=f"127.0.0.1:{self.port}", ARCA_ADMIN_PASSWORD=PW,
                   ARCA_LOG="warn", ARCA_DATA_DIR=os.path.join(self.work, "data"),
                   ARCA_GC_GRACE="1", ARCA_ORPHAN_GRACE="2")
        if self.db_url:
            env["ARCA_DATABASE_URL"] = self.db_url
        log = open(os.path.join(self.work, "arca.log"), "a")
        self.proc = subprocess.Popen([self.bin], env=env, stdout=log, stderr=log, cwd=self.work)
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"arca exited at start; see {self.work}/arca.log")
            try:
                if self.call("/service/rest/v1/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("arca did not become ready")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)

    def call(self, path, method="GET", data=None, headers=None, timeout=30):
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=dict(headers or {}, Authorization=AUTH))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)


def create_repos(a):
    st = {"blobStoreName": "default", "strictContentTypeValidation": True, "writePolicy": "ALLOW"}
    bodies = {
        "raw/hosted": {"name": "raw", "online": True, "storage": st},
        "maven/hosted": {"name": "mvn", "online": True, "storage": st,
                         "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}},
        "pypi/hosted": {"name": "py", "online": True, "storage": st},
        "docker/hosted": {"name": "dk", "online": True, "storage": st,
                          "docker": {"v1Enabled": False, "forceBasicAuth": True}},
        "yum/hosted": {"name": "yum", "online": True, "storage": st,
                       "yum": {"repodataDepth": 0, "deployPolicy": "PERMISSIVE"}},
    }
    for kind, body in bodies.items():
        code, msg, _ = a.call(f"/service/rest/v1/repositories/{kind}", "POST",
                              json.dumps(body).encode(), {"Content-Type": "application/json"})
        if code != 201:
            raise SystemExit(f"creating {kind}: {code} {msg[:300]!r}")


def multipart(fields, file_field, file_name, content):
    bnd = "crash-" + os.urandom(8).hex()
    out = b""
    for k, v in fields:
        out += f'--{bnd}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{bnd}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
    out += f"--{bnd}--\r\n".encode()
    return f"multipart/form-data; boundary={bnd}", out


def uploads(rnd, n):
    """Upload jobs: (name, function(arca) -> list of (path, bytes) acknowledged)."""
    jobs = []
    for i in range(n):
        tag = f"r{rnd}i{i}"
        kind = i % 5
        size = random.choice([1024, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024])
        data = os.urandom(size)
        if kind == 0:
            def job(a, tag=tag, data=data):
                p = f"/repository/raw/crash/{tag}.bin"
                return [(p, data)] if a.call(p, "PUT", data)[0] == 201 else []
        elif kind == 1:
            def job(a, tag=tag, data=data):
                base = f"/repository/mvn/org/crash/a{tag}/1.0/a{tag}-1.0"
                pom = (f"<project><modelVersion>4.0.0</modelVersion><groupId>org.crash</groupId>"
                       f"<artifactId>a{tag}</artifactId><version>1.0</version></project>").encode()
                done = []
                for path, body in ((base + ".jar", data), (base + ".pom", pom)):
                    if a.call(path, "PUT", body)[0] != 201:
                        break
                    done.append((path, body))
                return done
        elif kind == 2:
            def job(a, tag=tag, data=data):
                name = f"crash{tag}"
                fname = f"{name}-1.0.tar.gz"
                ctype, body = multipart([(":action", "file_upload"), ("name", name), ("version", "1.0"),
                                         ("filetype", "sdist"), ("sha256_digest", sha256(data))],
                                        "content", fname, data)
                code = a.call("/repository/py/", "POST", body, {"Content-Type": ctype})[0]
                return [(f"/repository/py/packages/{name}/1.0/{fname}", data)] if code == 200 else []
        elif kind == 3:
            def job(a, tag=tag, data=data):
                img = f"/v2/dk/img{tag}"
                config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
                done = []
                for blob in (data, config):
                    d = "sha256:" + sha256(blob)
                    code = a.call(f"{img}/blobs/uploads/?digest={d}", "POST", blob,
                                  {"Content-Type": "application/octet-stream"})[0]
                    if code != 201:
                        return []
                    done.append((f"{img}/blobs/{d}", blob))
                manifest = json.dumps({
                    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": "sha256:" + sha256(config), "size": len(config)},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                "digest": "sha256:" + sha256(data), "size": len(data)}]}).encode()
                code = a.call(f"{img}/manifests/v1", "PUT", manifest,
                              {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})[0]
                if code != 201:
                    return done
                return done + [(f"{img}/manifests/v1", manifest)]
        else:
            rpm = RPMS[i % 2]
            with open(rpm, "rb") as f:
                data = f.read()

            def job(a, tag=tag, data=data, rpm=rpm):
                p = f"/repository/yum/{tag}/{os.path.basename(rpm)}"
                return [(p, data)] if a.call(p, "PUT", data)[0] in (200, 201) else []
        jobs.append(job)
    return jobs


def run_jobs(a, jobs, acked, lock):
    def worker(job):
        try:
            done = job(a)
        except Exception:  # the server died under it
            return
        with lock:
            acked.extend(done)
    threads = [threading.Thread(target=worker, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    return threads


def list_assets(a, repo):
    out, token = [], None
    while True:
        q = f"/service/rest/v1/assets?repository={repo}" + (f"&continuationToken={token}" if token else "")
        code, body, _ = a.call(q)
        assert code == 200, (q, code, body[:200])
        page = json.loads(body)
        out += page["items"]
        token = page.get("continuationToken")
        if not token:
            return out


def verify(a, acked, label):
    """Every acknowledged upload reads back byte-identical; every listed asset reads back whole."""
    bad = []
    for path, data in acked:
        code, body, _ = a.call(path, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        if code != 200 or body != data:
            bad.append(f"{label}: acknowledged {path} reads back {code}, {len(body)} of {len(data)} bytes")
    half = []
    for repo in ("raw", "mvn", "py", "dk", "yum"):
        for asset in list_assets(a, repo):
            url = asset["downloadUrl"]
            path = url[url.index("/repository/"):] if "/repository/" in url else None
            if path is None:
                continue
            code, body, _ = a.call(path)
            want = asset.get("checksum", {}).get("sha256")
            if code != 200 or (want and sha256(body) != want):
                half.append(f"{label}: listed {path} reads {code}, sha256 {sha256(body)[:12]} != {str(want)[:12]}")
    return bad, half


def blob_files(data_dir):
    found = set()
    root = os.path.join(data_dir, "blobs", "sha256")
    for d, _, files in os.walk(root):
        found.update(f for f in files if len(f) == 64)
    tmp = os.path.join(data_dir, "blobs", "tmp")
    temps = [f for f in os.listdir(tmp)] if os.path.isdir(tmp) else []
    return found, temps


def referenced(a, backend, data_dir, db_url):
    q = "SELECT digest FROM blobs WHERE store = 'default'"
    if backend == "sqlite":
        con = sqlite3.connect(os.path.join(data_dir, "arca.db"))
        rows = {r[0] for r in con.execute(q)}
        con.close()
    else:
        out = subprocess.run(["psql", db_url, "-Atc", q], capture_output=True, text=True, check=True).stdout
        rows = set(out.split())
    return {r.split(":", 1)[-1] for r in rows}


def integrity(backend, data_dir, db_url):
    if backend == "sqlite":
        con = sqlite3.connect(os.path.join(data_dir, "arca.db"))
        res = con.execute("PRAGMA integrity_check").fetchone()[0]
        dangling = con.execute("SELECT COUNT(*) FROM assets a LEFT JOIN blobs b ON "
                               "b.store = a.blob_store AND b.digest = a.blob_digest WHERE b.digest IS NULL").fetchone()[0]
        con.close()
        return res == "ok" and dangling == 0, f"integrity_check {res}, assets without blob row {dangling}"
    q = ("SELECT COUNT(*) FROM assets a LEFT JOIN blobs b ON b.store = a.blob_store AND "
         "b.digest = a.blob_digest WHERE b.digest IS NULL")
    out = subprocess.run(["psql", db_url, "-Atc", q], capture_output=True, text=True, check=True).stdout.strip()
    return out == "0", f"assets without blob row {out}"


def run_gc(a):
    code, body, _ = a.call("/service/rest/v1/tasks")
    tasks = json.loads(body)["items"]
    gc = next(t for t in tasks if t.get("type") == "blobstore.gc" or t.get("name") == "blob-gc")
    code, body, _ = a.call(f"/service/rest/v1/tasks/{gc['id']}/run", "POST")
    assert code in (200, 204), (code, body)
    for _ in range(200):
        code, body, _ = a.call(f"/service/rest/v1/tasks/{gc['id']}")
        t = json.loads(body)
        if t.get("currentState") == "WAITING" and t.get("lastRunResult"):
            return t.get("lastRunResult")
        time.sleep(0.1)
    return "unknown"


def backend_run(bin_, backend, rounds, per_round):
    work = tempfile.mkdtemp(prefix=f"arca-crash-{backend}.")
    db_url, dbname, pg = None, None, os.environ.get("ARCA_TEST_DATABASE_URL")
    if backend == "postgres":
        if not pg:
            raise SystemExit("ARCA_TEST_DATABASE_URL is not set: no PostgreSQL for the crash suite")
        dbname = "arca_crash_" + os.urandom(4).hex()
        subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {dbname}"], check=True)
        db_url = pg.rsplit("/", 1)[0] + "/" + dbname
    a = Arca(bin_, work, db_url)
    data_dir = os.path.join(work, "data")
    failures, acked_all, totals = [], [], {"acked": 0}
    try:
        a.start()
        create_repos(a)
        for rnd in range(rounds):
            acked, lock = [], threading.Lock()
            threads = run_jobs(a, uploads(rnd, per_round), acked, lock)
            time.sleep(random.uniform(0.05, 1.5))
            a.kill()
            for t in threads:
                t.join(60)
            with lock:
                acked_all.extend(acked)
                totals["acked"] += len(acked)
            a.start()
            bad, half = verify(a, acked_all, f"round {rnd + 1}")
            failures += bad + half
            totals.setdefault("lost", 0)
            totals["lost"] += len(bad)
            totals.setdefault("half", 0)
            totals["half"] += len(half)
        a.stop()
        ok, why = integrity(backend, data_dir, db_url)
        if not ok:
            failures.append(f"database: {why}")
        # Orphans: files the crashes left with no row, freed after the grace period.
        files, temps = blob_files(data_dir)
        refs = referenced(a, backend, data_dir, db_url)
        orphans_before = len(files - refs)
        temps_before = len(temps)
        time.sleep(2.5)
        a.start()
        result = run_gc(a)
        files, temps = blob_files(data_dir)
        refs = referenced(a, backend, data_dir, db_url)
        orphans_after = len(files - refs)
        missing = len(refs - files)
        bad, half = verify(a, acked_all, "after GC")
        failures += bad + half
        a.stop()
        if orphans_after or temps:
            failures.append(f"after GC: {orphans_after} orphan blob files, {len(temps)} temp files ({result})")
        if missing:
            failures.append(f"after GC: {missing} blob rows without their file")
        print(f"{backend}: {rounds} rounds, {totals['acked']} uploads acknowledged, "
              f"{totals['acked'] - totals.get('lost', 0)} verified, lost {totals.get('lost', 0)}, "
              f"half-visible {totals.get('half', 0)}, orphan blobs {orphans_before} -> {orphans_after}, "
              f"temp files {temps_before} -> {len(temps)}; {why}", flush=True)
    finally:
        if a.proc and a.proc.poll() is None:
            a.proc.kill()
            a.proc.wait()
        if dbname:
            subprocess.run(["psql", pg, "-qc", f"DROP DATABASE IF EXISTS {dbname}"])
        if not failures:
            subprocess.run(["rm", "-rf", work])
    for f in failures:
        print("FAIL", f)
    if failures:
        print(f"(left {work} for inspection)")
    return not failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=20)
    ap.add_argument("--backend", default="both", choices=["sqlite", "postgres", "both"])
    a = ap.parse_args()
    backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
    ok = all([backend_run(a.bin, b, a.rounds, a.per_round) for b in backends])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
