#!/usr/bin/env bash
# Rolling upgrade (issue 15): the previous release beside this one on one PostgreSQL database.
# The previous release is the commit before the newest change under migrations/ (UPGRADE_FROM
# overrides it): exported with `git archive`, built with its own target directory
# (UPGRADE_TARGET_DIR, default ~/.cache/arca-prev-target; the binary is kept there per commit, so
# only the first run for a commit builds). Then, with one shared file blob store directory:
#  1. node A on the previous binary on a fresh database: a raw and a maven2 hosted repository,
#     uploads through A;
#  2. node B on this binary on the same database (it applies the newer migrations) while A keeps
#     taking uploads; then, A still old: uploads through A and B succeed, every file reads back
#     through both with its sha256, deletes through A free what they should (a blob another asset
#     still names stays), a user created through B logs in through A, B's status/check healthy;
#  3. A replaced: SIGTERM, started again on this binary with the same data directory: it starts,
#     and everything uploaded so far reads back through both nodes;
#  4. what an old binary restarted after the upgrade does (expected: refuses to start because of
#     the migration it does not know): printed as a note, since the procedure (README, "Rolling
#     upgrades") is to replace old nodes, never restart them old.
# Prints ok/FAIL lines and a summary; exits non-zero on any FAIL.
#
# Needs git (with the previous release's commit), cargo, ARCA_BIN (default
# $CARGO_TARGET_DIR/debug/arca), python3, psql and PostgreSQL: either ARCA_TEST_DATABASE_URL (a
# server to create a throw-away database on; scripts/test.sh sets it) or a local installation to
# start one from (as root). UPGRADE_KEEP=1 keeps the work directory (node logs) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pg.sh
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
ARCA_BIN=${ARCA_BIN:-$CARGO_TARGET_DIR/debug/arca}
[ -x "$ARCA_BIN" ] || { echo "no arca binary at $ARCA_BIN (cargo build --bin arca, or set ARCA_BIN)" >&2; exit 2; }
command -v psql >/dev/null || { echo "psql is needed" >&2; exit 2; }
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

# The previous release: the commit before the newest schema change.
if [ -n "${UPGRADE_FROM:-}" ]; then
  PREV=$UPGRADE_FROM
else
  LAST_SCHEMA=$(git log -1 --format=%H -- migrations/) && [ -n "$LAST_SCHEMA" ] \
    || { echo "no commit touching migrations/ in this checkout's history (set UPGRADE_FROM)" >&2; exit 2; }
  if ! PREV=$(git rev-parse --verify --quiet "$LAST_SCHEMA^"); then
    # A shallow clone has no previous release to build: say so loudly, but a missing history
    # is no failure of the code under test.
    echo "SKIP rolling upgrade: the parent of $LAST_SCHEMA is not in this checkout (a shallow clone?); fetch more history or set UPGRADE_FROM" >&2
    exit 0
  fi
fi
PREV=$(git rev-parse --verify "$PREV^{commit}") || { echo "no commit $PREV" >&2; exit 2; }
PREV_SHORT=$(git rev-parse --short "$PREV")
PREV_TARGET=${UPGRADE_TARGET_DIR:-$HOME/.cache/arca-prev-target}

W=$(mktemp -d /tmp/arca-upgrade.XXXXXX)
cleanup() {
  pg_cleanup
  if [ -n "${UPGRADE_KEEP:-}" ]; then echo "kept $W (node logs node-*.log)"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# The binary under test, copied: other builds may replace the original during the run.
cp "$ARCA_BIN" "$W/arca-new"

# The previous release's binary: built once per commit, in a target directory of its own (the
# main build's debug/arca is never touched), kept as $PREV_TARGET/arca-<commit>.
mkdir -p "$PREV_TARGET"
if [ -x "$PREV_TARGET/arca-$PREV" ]; then
  echo "     previous release $PREV_SHORT (the commit before the newest schema change): cached binary $PREV_TARGET/arca-$PREV"
else
  echo "     previous release $PREV_SHORT: building it in $PREV_TARGET (a cold build takes 10-20 min on 2 cores)"
  mkdir -p "$W/prev"
  # -m: the files get the current time, not the commit's: cargo compares times, and the target
  # directory may hold a build of another commit made after this one's commit time.
  git archive "$PREV" | tar -x -m -C "$W/prev"
  t0=$(date +%s)
  (cd "$W/prev" && CARGO_TARGET_DIR="$PREV_TARGET" nice -n 10 cargo build --quiet --bin arca) \
    || { echo "building the previous release $PREV_SHORT failed" >&2; exit 1; }
  echo "     built $PREV_SHORT in $(( $(date +%s) - t0 )) s"
  cp "$PREV_TARGET/debug/arca" "$PREV_TARGET/arca-$PREV.tmp"
  mv "$PREV_TARGET/arca-$PREV.tmp" "$PREV_TARGET/arca-$PREV"
  rm -rf "$W/prev"
fi
cp "$PREV_TARGET/arca-$PREV" "$W/arca-prev"
# Migrations the previous release does not have (names, for the report).
NEWER=$(comm -13 <(git ls-tree --name-only "$PREV" migrations/postgres/ | xargs -rn1 basename | sort) \
                 <(ls migrations/postgres/ | sort) | tr '\n' ' ')

# PostgreSQL: a fresh database (scripts/lib/pg.sh).
pg_fresh_database "$W" arca_upgrade

cat >"$W/upgrade.py" <<'PY'
"""The rolling-upgrade checks; see scripts/e2e-upgrade.sh."""
import http.client, json, os, random, signal, subprocess, sys, threading, time, urllib.parse

WORK, OLD, NEW, PG_URL = os.environ["UP_WORK"], os.environ["UP_OLD"], os.environ["UP_NEW"], os.environ["UP_PG_URL"]
sys.path.insert(0, os.path.join(os.environ["UP_ROOT"], "scripts", "lib"))
from e2e_util import bad, basic, check, failed, free_port, note, ok, passed, sha, short  # noqa: E402
PREV, NEWER = os.environ["UP_PREV"], os.environ.get("UP_NEWER", "").split()
BLOBS = os.path.join(WORK, "shared-blobs")
PW = "upgrade-admin-pass-1"
GRACE = 1
AUTH = basic("admin", PW)
T_START = time.monotonic()


def psql(sql):
    r = subprocess.run(["psql", PG_URL, "-qAtc", sql], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else f"psql: {r.stderr.strip()}"


def schema_version():
    return psql("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")


class Node:
    def __init__(self, name):
        self.name, self.port, self.proc, self.bin = name, free_port(), None, None
        self.data = os.path.join(WORK, "node-" + name)
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        self.logpath = os.path.join(WORK, f"node-{name}.log")
        self.log = open(self.logpath, "ab")

    def label(self):
        return f"{self.name} ({'old' if self.bin == OLD else 'new'})"

    def spawn(self, binary):
        self.bin = binary
        env = dict(os.environ, ARCA_DATA_DIR=self.data, ARCA_LISTEN=f"127.0.0.1:{self.port}",
                   ARCA_ADMIN_PASSWORD=PW, ARCA_DATABASE_URL=PG_URL, ARCA_GC_GRACE=str(GRACE),
                   ARCA_BLOB_DIR=BLOBS, ARCA_LOG="info")
        self.log.write(f"=== start {os.path.basename(binary)} on port {self.port}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen([binary], cwd=self.data, env=env, stdout=self.log, stderr=self.log)

    def start(self, binary):
        """Starts the node and waits until it serves: seconds taken."""
        t0 = time.monotonic()
        self.spawn(binary)
        while time.monotonic() - t0 < 60:
            if self.proc.poll() is not None:
                raise SystemExit(f"node {self.label()} exited with {self.proc.returncode} at start: "
                                 f"{self.last_log()}")
            if self.req("GET", "/service/rest/v1/status", timeout=2)[0] == 200:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise SystemExit(f"node {self.label()} not ready after 60 s")

    def stop(self):
        """SIGTERM (by PID) and wait; the exit code."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def last_log(self, n=3):
        self.log.flush()
        lines = [l for l in open(self.logpath, encoding="utf-8", errors="replace").read().splitlines()
                 if l.strip() and not l.startswith("===")]
        errs = [l for l in lines if " INFO " not in l] or lines
        return " | ".join(short(l, 300) for l in errs[-n:])

    def req(self, method, path, body=None, headers=None, auth=AUTH, timeout=30):
        """(status, body, headers); status None on a connection error."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                h = {} if auth is None else {"Authorization": auth}
                h.update(headers or {})
                conn.request(method, path, body=body, headers=h)
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


A, B = Node("A"), Node("B")
# Everything uploaded and not deleted: path -> bytes.
files = {}


def put(node, path, data):
    st, out, _ = node.req("PUT", path, data)
    if st == 201:
        files[path] = data
    return st, out


def upload_batch(node, tag, n=6):
    """Raw files (one of them large) and a Maven artifact (jar and pom) through `node`."""
    errs = []
    for i in range(n):
        data = os.urandom(random.choice([100, 5000, 70000]) if i else 3 << 20)
        st, out = put(node, f"/repository/u-raw/{tag}/f{i}.bin", data)
        if st != 201:
            errs.append(f"raw f{i}: {st} {short(out)}")
    ver = f"1.{tag}"
    base = f"/repository/u-maven/org/example/upg/{ver}/upg-{ver}"
    pom = (f'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
           f"<groupId>org.example</groupId><artifactId>upg</artifactId><version>{ver}</version></project>").encode()
    for path, data in ((base + ".jar", b"PK\x03\x04" + os.urandom(20000)), (base + ".pom", pom)):
        st, out = put(node, path, data)
        if st != 201:
            errs.append(f"{path}: {st} {short(out)}")
    return errs


def unreadable(node, paths=None):
    """Files that do not read back through `node` with their sha256."""
    out = []
    for p in sorted(paths or files):
        st, body, _ = node.req("GET", p)
        if not (st == 200 and sha(body) == sha(files[p])):
            out.append(f"{p}: {st}" + (f" sha256 {sha(body)[:12]}" if st == 200 else ""))
    return out


def read_both(name, paths=None):
    n = len(paths or files)
    for node in (A, B):
        miss = unreadable(node, paths)
        check(f"{name}: every file reads back through {node.label()} with its sha256", not miss,
              f"{n} files", f"{len(miss)} of {n} do not: {miss[:3]}")


def blob_file(digest):
    return os.path.join(BLOBS, "sha256", digest[:2], digest[2:4], digest)


def run_gc(node):
    st, out, _ = node.api("GET", "tasks")
    # blobstore.gc before schedules came, Nexus's blobstore.compact since.
    ids = [t["id"] for t in json.loads(out)["items"]
           if t["type"] in ("blobstore.gc", "blobstore.compact")] if st == 200 else []
    if not ids:
        return f"no blob GC task listed through {node.name} ({st})"
    st, out, _ = node.api("POST", f"tasks/{ids[0]}/run")
    return None if st in (200, 204) else f"running the blob GC through {node.name}: {st} {short(out)}"


def phase1():
    t = A.start(OLD)
    note(f"node A on the previous release {PREV[:10]}: ready in {t * 1000:.0f} ms, schema version {schema_version()}")
    st_ = {"blobStoreName": "default", "strictContentTypeValidation": False}
    for kind, body in (
            ("raw/hosted", {"name": "u-raw", "online": True, "storage": dict(st_, writePolicy="ALLOW")}),
            ("maven/hosted", {"name": "u-maven", "online": True, "storage": dict(st_, writePolicy="ALLOW_ONCE"),
                              "maven": {"versionPolicy": "RELEASE", "layoutPolicy": "STRICT"}})):
        st, out, _ = A.api("POST", "repositories/" + kind, body)
        if st != 201:
            raise SystemExit(f"creating {body['name']} through A (old): {st} {short(out)}")
    errs = upload_batch(A, "a0")
    check("old A: a raw and a maven2 hosted repository, uploads through A", not errs,
          f"{len(files)} files", f"{errs[:3]}")


def phase2():
    # B on the new binary migrates the shared database while A (old) keeps taking uploads.
    stop, res = threading.Event(), []

    def during():
        i = 0
        while not stop.is_set():
            res.append(put(A, f"/repository/u-raw/during/f{i}.bin", os.urandom(2000))[0])
            i += 1
            time.sleep(0.01)
    th = threading.Thread(target=during)
    th.start()
    before = schema_version()
    try:
        t = B.start(NEW)
    finally:
        stop.set()
        th.join()
    after = schema_version()
    check("new B starts on the old schema and applies the newer migrations",
          after != before and not after.startswith("psql"),
          f"ready in {t * 1000:.0f} ms, schema version {before} -> {after} ({' '.join(NEWER) or '?'})",
          f"schema version {before} -> {after}")
    badst = [s for s in res if s != 201]
    check("old A takes uploads while B migrates the database", res and not badst,
          f"{len(res)} PUTs, all 201", f"{len(badst)} of {len(res)} not 201: {sorted(set(map(str, badst)))}")
    check("old A still serves beside the new schema", A.proc.poll() is None and
          A.req("GET", "/service/rest/v1/status")[0] == 200, "", f"A exited {A.proc.returncode}"
          if A.proc.poll() is not None else "status not 200")

    ea, eb = upload_batch(A, "a1"), upload_batch(B, "b1")
    check("uploads through old A and new B, A beside the new schema", not ea and not eb,
          f"{len(files)} files in all", f"through A: {ea[:2]}; through B: {eb[:2]}")
    # Overwrite through the old node a file the new node wrote, and the other way round.
    o1 = put(A, "/repository/u-raw/b1/f1.bin", os.urandom(3000))[0]
    o2 = put(B, "/repository/u-raw/a1/f1.bin", os.urandom(3000))[0]
    check("overwrites across the versions (A over B's file, B over A's)", o1 == 201 and o2 == 201, "",
          f"A: {o1}, B: {o2}")
    read_both("A old, B new")

    # Deletes through the old node: a blob still named by another asset stays, a unique one goes.
    shared = os.urandom(40000)
    s1, _ = put(B, "/repository/u-raw/del/shared-b.bin", shared)
    s2, _ = put(A, "/repository/u-raw/del/shared-a.bin", shared)
    uniq = os.urandom(50000)
    s3, _ = put(B, "/repository/u-raw/del/unique.bin", uniq)
    du = A.req("DELETE", "/repository/u-raw/del/unique.bin")[0]
    ds = A.req("DELETE", "/repository/u-raw/del/shared-a.bin")[0]
    for p in ("/repository/u-raw/del/unique.bin", "/repository/u-raw/del/shared-a.bin"):
        files.pop(p, None)
    gone = [n.req("GET", p)[0] for n in (B, A) for p in ("/repository/u-raw/del/unique.bin",
                                                          "/repository/u-raw/del/shared-a.bin")]
    check("deletes through old A: the files are gone through new B (and A)",
          (s1, s2, s3, du, ds) == (201, 201, 201, 204, 204) and gone == [404] * 4,
          "404 through both", f"uploads {s1} {s2} {s3}, deletes {du} {ds}, GETs after (B, B, A, A) {gone}")
    # The blob GC (its schedule, or a run through the tasks API on either node) frees the unique
    # blob after the grace, never the shared one.
    time.sleep(GRACE + 0.3)
    t0, err, ufile, sfile = time.monotonic(), None, blob_file(sha(uniq)), blob_file(sha(shared))
    if not os.path.exists(sfile):
        note(f"the shared blob file is not at {sfile}: the layout differs, blob files not checked")
    for node in (A, B):
        err = run_gc(node)
        while time.monotonic() - t0 < 10 and os.path.exists(ufile):
            time.sleep(0.1)
        if not os.path.exists(ufile) or err:
            break
    check("blob GC: the unique blob deleted through old A is freed",
          not err and not os.path.exists(ufile), f"in {time.monotonic() - t0:.1f} s",
          err or f"{ufile} still there after {time.monotonic() - t0:.1f} s")
    st, body, _ = B.req("GET", "/repository/u-raw/del/shared-b.bin")
    st2, body2, _ = A.req("GET", "/repository/u-raw/del/shared-b.bin")
    check("blob GC: the blob another asset still names stays (reads through both)",
          st == 200 and body == shared and st2 == 200 and body2 == shared and os.path.exists(sfile),
          "", f"B {st}, A {st2}, file {'present' if os.path.exists(sfile) else 'gone'}")

    # A user created through the new node logs in through the old one.
    user = {"userId": "up-user", "firstName": "U", "lastName": "P", "emailAddress": "up@example.org",
            "password": "upgrade-user-pass-7", "status": "active", "roles": ["nx-admin"]}
    st, out, _ = B.api("POST", "security/users", user)
    ga = A.req("GET", "/repository/u-raw/a0/f1.bin", auth=basic("up-user", "upgrade-user-pass-7"))[0]
    gu = A.api("GET", "status/check", auth=basic("up-user", "upgrade-user-pass-7"))[0]
    wrong = A.req("GET", "/repository/u-raw/a0/f1.bin", auth=basic("up-user", "not-the-password-1"))[0]
    check("a user created through new B logs in through old A", st in (200, 201) and ga == 200 and gu == 200
          and wrong == 401, "GET 200, wrong password 401",
          f"create {st} {short(out)}, GET through A {ga}, API {gu}, wrong password {wrong}")

    st, out, _ = B.api("GET", "status/check")
    try:
        checks = json.loads(out) if st == 200 else {}
    except ValueError:
        checks = {}
    sick = {k: v.get("message") for k, v in checks.items() if isinstance(v, dict) and not v.get("healthy")}
    check("new B: GET /service/rest/v1/status/check healthy", st == 200 and checks and not sick,
          f"{len(checks)} checks healthy", f"{st}: {sick or short(out)}")
    st = B.req("GET", "/service/rest/v1/status/writable")[0]
    check("new B: status/writable", st == 200, "200", f"{st}")


def phase3():
    rc = A.stop()
    check("old A stops on SIGTERM", rc in (0, -15), f"exit {rc}", f"exit {rc}: {A.last_log()}")
    try:
        t = A.start(NEW)
    except SystemExit as e:
        bad("A replaced: starts on the new binary with the same data directory", str(e))
        return
    ok("A replaced: starts on the new binary with the same data directory", f"ready in {t * 1000:.0f} ms")
    read_both("A replaced (both new)")
    ea, eb = upload_batch(A, "a2", 3), upload_batch(B, "b2", 3)
    check("uploads through both new nodes", not ea and not eb, "", f"A: {ea[:2]}; B: {eb[:2]}")
    st, body, _ = B.req("GET", "/repository/u-maven/org/example/upg/maven-metadata.xml")
    want = [f"<version>1.{t}</version>" for t in ("a0", "a1", "b1", "a2", "b2")]
    missing = [w for w in want if w.encode() not in body] if st == 200 else want
    check("maven-metadata.xml (through B) lists the versions deployed by old and new nodes",
          not missing, f"{len(want)} versions", f"{st}, missing {missing}")
    read_both("the end", [p for p in files if "/a2/" in p or "/b2/" in p])


def phase4():
    """An old binary started after the upgrade: expected to refuse (unknown migration)."""
    old = Node("old-again")
    old.spawn(OLD)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30 and old.proc.poll() is None:
        if old.req("GET", "/service/rest/v1/status", timeout=2)[0] == 200:
            break
        time.sleep(0.05)
    if old.proc.poll() is not None:
        note(f"note: the old binary restarted after the upgrade refuses to start (exit {old.proc.returncode}): "
             f"{old.last_log(1)}")
        note("      as documented: replace old nodes with new ones, never restart them old")
    else:
        st, _, _ = old.req("GET", "/repository/u-raw/a0/f1.bin")
        note(f"note: the old binary restarted after the upgrade started and serves (GET {st}); "
             "the README still says to replace old nodes, not restart them")
        old.stop()


def main():
    note(f"previous release {PREV[:10]}; migrations it does not have: {' '.join(NEWER) or 'none'}")
    if not NEWER:
        note("note: the previous release has the same migrations: this run checks no schema change")
    for name, fn in (("old A", phase1), ("A old, B new", phase2), ("A replaced", phase3),
                     ("old binary restarted", phase4)):
        t0 = time.monotonic()
        try:
            fn()
        except SystemExit as e:
            bad(f"{name}: stopped", str(e))
            break
        except Exception as e:  # a broken check must not hide the others
            import traceback
            traceback.print_exc()
            bad(f"{name} raised", repr(e))
        note(f"-- {name}: {time.monotonic() - t0:.1f} s")
    for n in (A, B):
        rc = n.stop()
        if rc not in (0, -15, None):
            bad(f"node {n.name} stops cleanly", f"exit {rc}: {n.last_log()}")
    print(f"\nupgrade e2e ({PREV[:10]} -> this build): {len(passed)} passed, {len(failed)} failed, "
          f"{time.monotonic() - T_START:.0f} s")
    for f in failed:
        print(f"  failed: {f}")
    return 1 if failed else 0


try:
    rc = main()
except BaseException:
    for n in (A, B):
        n.stop()
    raise
sys.exit(rc)
PY

rc=0
UP_ROOT=$ROOT UP_WORK=$W UP_OLD=$W/arca-prev UP_NEW=$W/arca-new UP_PG_URL=$PG_URL UP_PREV=$PREV UP_NEWER=$NEWER \
  python3 "$W/upgrade.py" || rc=$?
if [ "$rc" != 0 ]; then
  for n in A B; do
    [ -f "$W/node-$n.log" ] && { echo "-- last lines of node $n's log:"; grep -v ' INFO ' "$W/node-$n.log" | tail -8; }
  done
fi
exit "$rc"
