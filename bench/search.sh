#!/usr/bin/env bash
# Keyword search benchmark (issue 18: `q=` over 1,000,000 assets, rare term, p99 <= 50 ms).
#   1. starts Arca once on an empty data directory (it creates the database by its migrations),
#      creates the maven2 hosted repositories `bench-a` .. `bench-d` through the REST API and
#      deploys one jar and pom there, whose rows are the template of every bulk row; stops it;
#   2. bulk-inserts the assets (2 a component: jar and pom, each with its own blob row, counted),
#      Maven-shaped group/name/version, with python3's sqlite3 in one transaction; 3 components
#      named with the rare term (`zebracorn`), in three repositories. Migration 0007 (the search
#      index) is taken out before and left pending, so the next start applies it to every row:
#      that start is timed (the migration's time on the existing rows), and a second start without
#      migration is the baseline;
#   3. measures sequential requests (one keep-alive connection, Basic auth) to
#      GET /service/rest/v1/search?q=<rare> and /service/rest/v1/search/assets?q=<rare> (p50, p99,
#      max), the first page of a common term (`core`: every page full), and a rare two-character
#      term (below the trigram index: it scans, shown for what it costs).
# The result of each rare query is checked (3 components, 6 assets).
# Prints a table; writes bench/search-results.json (not committed; not on --smoke) and, when
# BENCH_JSON is set, rows in bench/all.sh's format there.
#
# Usage: bench/search.sh [N] [--smoke] [--assets N] [--requests N] [--keep DIR] [--pg]
#   N: accepted for bench/all.sh (its seconds per row) and ignored: the run is sized by assets
#   --smoke: 20,000 assets and 40 requests (CI; well under 30 s with a release binary)
#   --assets N: assets to create (default 1,000,000)
#   --requests N: sequential requests per rare-term row (default 200)
#   --keep DIR: the SQLite data directory in DIR/sqlite, kept at the end; when it is already
#         there, it is measured again as it is (no seeding, no bulk insert, no migration figure)
#   --pg: also the same on PostgreSQL (ARCA_TEST_DATABASE_URL, e.g.
#         postgres://postgres@127.0.0.1:55432/postgres: a database arca_bench_search_<pid> is
#         created on that server and dropped at the end; needs psql)
#   ARCA_BIN: the binary (default: cargo build --release, then the release binary); copied to
#   BENCH_BIN_DIR (default ~/.cache/bench-arca) first, as other builds may replace it meanwhile
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ASSETS=1000000; REQUESTS=200; SMOKE=0; PG=0; KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; ASSETS=20000; REQUESTS=40 ;;
    --assets) ASSETS=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --pg) PG=1 ;;
    --keep) KEEP=$2; shift ;;
    ''|*[!0-9]*) echo "usage: bench/search.sh [N] [--smoke] [--assets N] [--requests N] [--keep DIR] [--pg]" >&2; exit 2 ;;
    *) ;;
  esac
  shift
done
if [ $PG = 1 ] && [ -z "${ARCA_TEST_DATABASE_URL:-}" ]; then
  echo "--pg needs ARCA_TEST_DATABASE_URL (postgres://user@host:port/db)" >&2; exit 2
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
for p in curl python3; do
  command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
done
if [ -z "${ARCA_BIN:-}" ]; then
  cargo build --release --quiet --bin arca
  ARCA_BIN="$CARGO_TARGET_DIR/release/arca"
fi
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
W=$(mktemp -d /tmp/arca-search.XXXXXX)
# Other builds may replace the original meanwhile; /tmp may be mounted noexec.
BIN_DIR=${BENCH_BIN_DIR:-$HOME/.cache/bench-arca}; mkdir -p "$BIN_DIR"
BIN=$(mktemp "$BIN_DIR/arca-search.XXXXXX"); cp "$ARCA_BIN" "$BIN"; chmod 755 "$BIN"
APID=""; PGDB=""
stop_arca() {
  if [ -n "$APID" ]; then kill "$APID" 2>/dev/null || true; wait "$APID" 2>/dev/null || true; APID=""; fi
}
cleanup() {
  stop_arca
  if [ -n "$PGDB" ]; then psql -q "$ARCA_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true; fi
  [ -n "${KEEP_W:-}" ] && return; rm -rf "$W" "$BIN"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"; PW=search-pass-1

# start_arca DATA_DIR [DATABASE_URL]: sets START_MS, the milliseconds until /status answers.
start_arca() {
  local t0; t0=$(date +%s%N)
  (cd "$W" && exec env ARCA_DATA_DIR="$1" ${2:+ARCA_DATABASE_URL="$2"} ARCA_LISTEN="127.0.0.1:$PORT" \
    ARCA_ADMIN_PASSWORD=$PW ARCA_LOG=warn "$BIN" >>"$W/arca.log" 2>&1) &
  APID=$!
  for _ in $(seq 1 12000); do
    if curl -sf "$URL/service/rest/v1/status" >/dev/null 2>&1; then
      START_MS=$(( ($(date +%s%N) - t0) / 1000000 )); return 0
    fi
    kill -0 "$APID" 2>/dev/null || { echo "arca exited at start:" >&2; tail -20 "$W/arca.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "arca not ready" >&2; exit 1
}

# seed DATA_DIR [DATABASE_URL]: repositories and the template component through the REST API.
seed() {
  start_arca "$@"
  for r in bench-a bench-b bench-c bench-d; do
    curl -sf -u "admin:$PW" -H 'content-type: application/json' -X POST \
      "$URL/service/rest/v1/repositories/maven/hosted" \
      -d "{\"name\":\"$r\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":false,\"writePolicy\":\"ALLOW\"},\"maven\":{\"versionPolicy\":\"RELEASE\",\"layoutPolicy\":\"STRICT\"}}" >/dev/null
  done
  printf 'PK\003\004template' >"$W/t.jar"
  printf '<project><modelVersion>4.0.0</modelVersion><groupId>org.template</groupId><artifactId>template</artifactId><version>1.0</version></project>' >"$W/t.pom"
  curl -sf -u "admin:$PW" -T "$W/t.jar" "$URL/repository/bench-a/org/template/template/1.0/template-1.0.jar" >/dev/null
  curl -sf -u "admin:$PW" -T "$W/t.pom" "$URL/repository/bench-a/org/template/template/1.0/template-1.0.pom" >/dev/null
  stop_arca
}

# The bulk rows, on either database: the template's rows copied with new names, paths and digests.
cat >"$W/gen.py" <<'PY'
import hashlib, sys

WORDS = ["core", "util", "client", "server", "api", "impl", "common", "test", "plugin", "parent",
         "lib", "spring", "commons", "io", "http", "json", "xml", "log", "data", "web"]
RARE = "zebracorn"

def components(n_assets, repos):
    """(repository_id, group, name, version) for n_assets / 2 components; 3 carry the rare term."""
    n = n_assets // 2
    rare_at = {n // 4: 0, n // 2: 1, (3 * n) // 4: 2}
    for i in range(n):
        repo = repos[i % len(repos)]
        if i in rare_at:
            k = rare_at[i]
            yield repos[k % len(repos)], f"org.{RARE}.tools", f"{RARE}-maven-plugin", f"1.{k}.0"
            continue
        w = WORDS
        group = f"org.{w[i % 20]}{i % 997}.{w[(i // 20) % 20]}"
        name = f"{w[(i * 7) % 20]}-{w[(i * 3 + 1) % 20]}-{i % 5003}"
        version = f"{i % 7}.{(i // 7) % 13}.{i}"
        yield repo, group, name, version

def digests(path):
    b = path.encode()
    return (hashlib.sha256(b).hexdigest(), hashlib.sha1(b).hexdigest(),
            hashlib.md5(b).hexdigest(), hashlib.sha512(b).hexdigest())
PY

cat >"$W/bulk_sqlite.py" <<'PY'
import json, sqlite3, sys, time
sys.path.insert(0, sys.argv[1])
from gen import components, digests
db_path, n_assets = sys.argv[2], int(sys.argv[3])
t0 = time.time()
db = sqlite3.connect(db_path, isolation_level=None)
db.row_factory = sqlite3.Row
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=OFF")
db.execute("PRAGMA cache_size=-200000")
repos = [r["id"] for r in db.execute("SELECT id FROM repositories WHERE name LIKE 'bench-%' ORDER BY name")]
comp = dict(db.execute("SELECT * FROM components").fetchone())
assets = [dict(r) for r in db.execute("SELECT * FROM assets WHERE component_id = ? ORDER BY path", (comp["id"],))]
tmpl = {comp["namespace"]: "g", comp["name"]: "n", comp["version"]: "v"}
def attrs(text, new):
    """The template's attributes with its group, name and version replaced by the new ones."""
    def sub(x):
        if isinstance(x, dict):
            return {k: sub(v) for k, v in x.items()}
        if isinstance(x, list):
            return [sub(v) for v in x]
        return new[tmpl[x]] if isinstance(x, str) and x in tmpl else x
    return json.dumps(sub(json.loads(text)), separators=(",", ":"))
blob = dict(db.execute("SELECT * FROM blobs WHERE digest = ?", (assets[0]["blob_digest"],)).fetchone())
db.execute("BEGIN")
# Migration 0007 left pending: the next start builds the index over every row (timed), and
# the rows go in without the triggers' work.
for stmt in ["DROP TRIGGER IF EXISTS components_fts_insert", "DROP TRIGGER IF EXISTS components_fts_delete",
             "DROP TRIGGER IF EXISTS components_fts_update", "DROP TABLE IF EXISTS components_fts"]:
    db.execute(stmt)
db.execute("DELETE FROM _sqlx_migrations WHERE version = 7")
ccols = [c for c in comp if c != "id"]
acols = [c for c in assets[0] if c not in ("id",)]
bcols = list(blob)
cins = f"INSERT INTO components (id, {', '.join(ccols)}) VALUES (?, {', '.join('?' * len(ccols))})"
ains = f"INSERT INTO assets ({', '.join(acols)}) VALUES ({', '.join('?' * len(acols))})"
bins = f"INSERT INTO blobs ({', '.join(bcols)}) VALUES ({', '.join('?' * len(bcols))})"
next_id = db.execute("SELECT max(id) FROM components").fetchone()[0] + 1
crow, arow, brow = [], [], []
def flush():
    db.executemany(cins, crow); db.executemany(bins, brow); db.executemany(ains, arow)
    crow.clear(); arow.clear(); brow.clear()
for repo, group, name, version in components(n_assets, repos):
    cid = next_id; next_id += 1
    new = {"g": group, "n": name, "v": version}
    c = dict(comp, repository_id=repo, namespace=group, name=name, version=version,
             attributes=attrs(comp["attributes"], new))
    crow.append([cid] + [c[k] for k in ccols])
    gpath = group.replace(".", "/")
    for a in assets:
        ext = a["path"].rsplit(".", 1)[1]  # jar, pom
        path = f"{gpath}/{name}/{version}/{name}-{version}.{ext}"
        sha256, sha1, md5, sha512 = digests(f"{repo}/{path}")
        digest = blob["digest"].split(":")[0] + ":" + sha256 if ":" in blob["digest"] else sha256
        b = dict(blob, digest=digest, refcount=1)
        brow.append([b[k] for k in bcols])
        r = dict(a, repository_id=repo, component_id=cid, path=path, blob_digest=digest,
                 sha256=sha256, sha1=sha1, md5=md5, sha512=sha512, attributes=attrs(a["attributes"], new))
        arow.append([r[k] for k in acols])
    if len(crow) >= 20000:
        flush()
flush()
db.execute("COMMIT")
n_c = db.execute("SELECT count(*) FROM components").fetchone()[0]
n_a = db.execute("SELECT count(*) FROM assets").fetchone()[0]
print(f"{n_a} assets, {n_c} components in {time.time() - t0:.1f} s")
PY

# measure NAME PATH REQUESTS EXPECT_ITEMS: sequential GETs on one keep-alive connection; prints
# one JSON line {name, path, n, p50_ms, p99_ms, max_ms, items}.
cat >"$W/measure.py" <<'PY'
import base64, http.client, json, sys, time
port, pw, name, path, n, expect = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
auth = "Basic " + base64.b64encode(f"admin:{pw}".encode()).decode()
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
times, items = [], None
for i in range(n + 1):
    t = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": auth})
    r = conn.getresponse()
    body = r.read()
    dt = (time.perf_counter() - t) * 1000
    if r.status != 200:
        sys.exit(f"{path}: HTTP {r.status}: {body[:200]!r}")
    items = len(json.loads(body)["items"])
    if i > 0:  # the first one warms the connection and the caches
        times.append(dt)
if expect != "-" and items != int(expect):
    sys.exit(f"{path}: {items} items, expected {expect}")
times.sort()
pct = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
print(json.dumps({"name": name, "path": path, "n": n, "p50_ms": round(pct(50), 2),
                  "p99_ms": round(pct(99), 2), "max_ms": round(times[-1], 2), "items": items}))
PY

# run_backend LABEL DATA_DIR [DATABASE_URL]: seed, bulk, migrate (timed), measure.
run_backend() {
  local label=$1 data=$2 db=${3:-}
  : >"$W/$label.rows"
  local bulk_s=-1 mig_ms=-1 base_ms
  if [ -z "$db" ] && [ -f "$data/arca.db" ]; then
    ASSETS=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM assets").fetchone()[0] - 3)' "$data/arca.db")
    echo "$label: measuring the $ASSETS assets already in $data"
  else
    seed "$data" $db
    local t0; t0=$(date +%s)
    if [ -z "$db" ]; then
      python3 "$W/bulk_sqlite.py" "$W" "$data/arca.db" "$ASSETS"
    else
      bulk_pg "$db"
    fi
    bulk_s=$(( $(date +%s) - t0 ))
    start_arca "$data" $db; mig_ms=$START_MS
    stop_arca
  fi
  start_arca "$data" $db; base_ms=$START_MS
  echo "$label: bulk insert ${bulk_s} s; start with migration 0007 ${mig_ms} ms, start without ${base_ms} ms"
  local n=$REQUESTS
  {
    python3 "$W/measure.py" "$PORT" "$PW" "search, rare term" "/service/rest/v1/search?q=zebracorn" "$n" 3
    python3 "$W/measure.py" "$PORT" "$PW" "search/assets, rare term" "/service/rest/v1/search/assets?q=zebracorn" "$n" 6
    python3 "$W/measure.py" "$PORT" "$PW" "search, common term (core), first page" "/service/rest/v1/search?q=core" $(( n / 4 > 5 ? n / 4 : 5 )) 50
    python3 "$W/measure.py" "$PORT" "$PW" "search/assets, common term (core), first page" "/service/rest/v1/search/assets?q=core" $(( n / 4 > 5 ? n / 4 : 5 )) 100
    python3 "$W/measure.py" "$PORT" "$PW" "search, rare 2-character term (no index: scans)" "/service/rest/v1/search?q=zq" 5 0
  } >>"$W/$label.rows"
  local hwm; hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$APID/status")
  stop_arca
  python3 - "$W/$label.rows" "$label" "$ASSETS" "$bulk_s" "$mig_ms" "$base_ms" "$hwm" >>"$W/results.jsonl" <<'PY'
import json, sys
rows, label, assets, bulk_s, mig_ms, base_ms, hwm = sys.argv[1:]
print(json.dumps({"backend": label, "assets": int(assets), "bulk_insert_s": int(bulk_s),
                  "start_with_migration_ms": int(mig_ms), "start_without_migration_ms": int(base_ms),
                  "migration_ms": int(mig_ms) - int(base_ms) if int(mig_ms) >= 0 else None, "peak_rss_kb": int(hwm),
                  "rows": [json.loads(l) for l in open(rows)]}))
PY
}

# PostgreSQL: the same rows by SQL on the server (generate_series), then the same measures.
bulk_pg() {
  local db=$1
  python3 - "$W" "$ASSETS" >"$W/bulk.sql" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from gen import components, digests, WORDS, RARE
n_assets = int(sys.argv[2])
print("""BEGIN;
DROP INDEX IF EXISTS components_namespace_trgm, components_name_trgm, components_version_trgm;
DELETE FROM _sqlx_migrations WHERE version = 7;
CREATE TEMP TABLE c_new (repository_id BIGINT, namespace TEXT, name TEXT, version TEXT);
COPY c_new FROM STDIN;""")
for repo, g, n, v in components(n_assets, [0, 1, 2, 3]):
    print(f"{repo}\t{g}\t{n}\t{v}")
print(r"""\.
CREATE TEMP TABLE r AS SELECT row_number() OVER (ORDER BY name) - 1 AS k, id FROM repositories WHERE name LIKE 'bench-%';
CREATE TEMP TABLE t AS SELECT * FROM components LIMIT 1;
CREATE TEMP TABLE ta AS SELECT * FROM assets WHERE component_id = (SELECT id FROM t);
-- The template's group, name and version in its attributes become the new ones.
CREATE FUNCTION pg_temp.attrs(a TEXT, g TEXT, n TEXT, v TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $f$
  SELECT replace(replace(replace(a, '"' || t.namespace || '"', '"' || g || '"'), '"' || t.name || '"', '"' || n || '"'),
                 '"' || t.version || '"', '"' || v || '"') FROM t $f$;
INSERT INTO components (repository_id, namespace, name, version, attributes, created_ms)
  SELECT r.id, c.namespace, c.name, c.version, pg_temp.attrs(t.attributes, c.namespace, c.name, c.version), t.created_ms
  FROM c_new c JOIN r ON r.k = c.repository_id, t;
CREATE TEMP TABLE nb AS
  SELECT c.id AS component_id, c.repository_id, ta.blob_store, ta.size, ta.content_type, ta.created_ms,
    pg_temp.attrs(ta.attributes, c.namespace, c.name, c.version) AS attributes,
    replace(c.namespace, '.', '/') || '/' || c.name || '/' || c.version || '/' || c.name || '-' || c.version || '.'
      || substring(ta.path from '[^.]+$') AS path
  FROM components c CROSS JOIN ta WHERE c.id > (SELECT id FROM t);
ALTER TABLE nb ADD COLUMN h TEXT;
UPDATE nb SET h = encode(sha256(convert_to(repository_id || '/' || path, 'UTF8')), 'hex');
INSERT INTO blobs (digest, store, size, refcount, created_ms) SELECT h, blob_store, size, 1, created_ms FROM nb;
INSERT INTO assets (repository_id, component_id, path, blob_store, blob_digest, size, content_type, sha256, sha1, md5, sha512,
    created_ms, last_modified_ms, last_verified_ms, attributes)
  SELECT repository_id, component_id, path, blob_store, h, size, content_type, h,
    left(encode(sha224(convert_to(path, 'UTF8')), 'hex'), 40), md5(path),
    encode(sha512(convert_to(path, 'UTF8')), 'hex'), created_ms, created_ms, created_ms, attributes
  FROM nb;
COMMIT;
ANALYZE;""")
PY
  psql -q -v ON_ERROR_STOP=1 "$db" -f "$W/bulk.sql" >/dev/null
}

SQLITE_DIR=$W/sqlite
if [ -n "$KEEP" ]; then SQLITE_DIR=$KEEP/sqlite; fi
mkdir -p "$SQLITE_DIR"
run_backend sqlite "$SQLITE_DIR"
if [ $PG = 1 ]; then
  PGDB=arca_bench_search_$$
  psql -q -v ON_ERROR_STOP=1 "$ARCA_TEST_DATABASE_URL" -c "CREATE DATABASE $PGDB" >/dev/null
  PGURL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ARCA_TEST_DATABASE_URL" "$PGDB")
  mkdir -p "$W/pg"
  run_backend postgresql "$W/pg" "$PGURL"
fi

python3 - "$W/results.jsonl" "$ROOT/bench/search-results.json" "$SMOKE" "${BENCH_JSON:-}" <<'PY'
import datetime, json, os, sys
src, out, smoke, bench_json = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
runs = [json.loads(l) for l in open(src)]
doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
       "cores": os.cpu_count(), "smoke": smoke, "runs": runs}
rows, notes = [], []
print()
print("| database | workload | p50 | p99 | max | items | target |")
print("|---|---|---|---|---|---|---|")
for run in runs:
    b = run["backend"]
    for r in run["rows"]:
        rare = r["name"].endswith("rare term")
        target = "p99 ≤ 50 ms" if rare else ""
        ok = r["p99_ms"] <= 50 if rare else None
        print(f"| {b} | {r['name']} ({r['n']} requests) | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
              f"{r['max_ms']:.1f} ms | {r['items']} | {target}{' PASS' if ok else ' FAIL' if ok is False else ''} |")
        rows.append({"workload": f"keyword search over {run['assets']:,} assets ({b}): {r['name']}, p99",
                     "reference": None, "reference_value": None, "arca_value": r["p99_ms"], "unit": "ms",
                     "ratio": None, "target": "p99 ≤ 50 ms" if rare else None, "pass": ok,
                     "peak_rss_mib": run["peak_rss_kb"] / 1024, "p50_ms": r["p50_ms"]})
    if run["migration_ms"] is None:
        notes.append(f"{b}: {run['assets']:,} assets measured again as they were; start {run['start_without_migration_ms']} ms; "
                     f"peak RSS {run['peak_rss_kb'] / 1024:.1f} MiB")
        continue
    notes.append(f"{b}: {run['assets']:,} assets bulk-inserted in {run['bulk_insert_s']} s; start with migration "
                 f"{run['start_with_migration_ms']} ms, without {run['start_without_migration_ms']} ms; "
                 f"peak RSS {run['peak_rss_kb'] / 1024:.1f} MiB")
    print(f"| {b} | migration 0007 on {run['assets']:,} assets (start with it minus start without) | "
          f"{run['migration_ms']:,} ms | | | | |")
    rows.append({"workload": f"search index migration on {run['assets']:,} existing assets ({b})",
                 "reference": None, "reference_value": None, "arca_value": run["migration_ms"], "unit": "ms",
                 "ratio": None, "target": None, "pass": None, "peak_rss_mib": None})
load = os.getloadavg()
doc["load_average"] = [round(x, 2) for x in load]
notes.append(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores "
             "(other work on the machine shows in p99)")
for n in notes:
    print(n)
if not smoke:
    json.dump(doc, open(out, "w"), indent=2)
    print(f"wrote {out}")
if bench_json:
    json.dump({"rows": rows, "notes": notes}, open(bench_json, "w"), indent=2)
PY
