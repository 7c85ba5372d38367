#!/usr/bin/env bash
# `arca import nexus` speed (issue 20): one Arca copied into another on this machine, beside a
# reference in the same run: the plainest copy over the same HTTP paths, `curl GET | curl PUT`
# per file with the same parallelism (4), no checksum checks, no listing, no progress record.
#   - small files: N raw files of 64 KiB (assets/s)
#   - large files: 8 raw files of 32 MiB (MB/s)
# ratio: importer / reference (> 1: the importer is faster). Both ends run the same binary on
# SQLite, in this run's own directories.
# Usage: [ARCA_BIN=~/.cache/arca-target/release/arca] bench/import.sh [N, default 2000] [--smoke]
#   --smoke: 40 small files, 2 large ones of 4 MiB
#   BENCH_JSON: also write the figures there as JSON (bench/all.sh reads it)
set -euo pipefail
cd "$(dirname "$0")/.."
N=2000; BIG_N=8; BIG_MB=32
for a in "$@"; do
  case "$a" in
    --smoke) N=40; BIG_N=2; BIG_MB=4 ;;
    ''|*[!0-9]*) echo "usage: bench/import.sh [files] [--smoke]" >&2; exit 2 ;;
    *) N=$a ;;
  esac
done
ARCA_BIN=${ARCA_BIN:-$HOME/.cache/arca-target/release/arca}
[ -x "$ARCA_BIN" ] || { echo "no arca binary at $ARCA_BIN" >&2; exit 2; }
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
W=$(mktemp -d /tmp/arca-bench-import.XXXXXX)
BIN_DIR=${BENCH_BIN_DIR:-$HOME/.cache/bench-arca}; mkdir -p "$BIN_DIR"
BIN=$(mktemp "$BIN_DIR/arca-import.XXXXXX"); cp "$ARCA_BIN" "$BIN"; chmod 755 "$BIN"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; rm -rf "$W" "$BIN"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }

start() { # name port password
  mkdir -p "$W/$1"
  (cd "$W/$1" && exec env ARCA_LISTEN="127.0.0.1:$2" ARCA_ADMIN_PASSWORD="$3" ARCA_LOG=warn "$BIN" >"$W/$1.log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$2/service/rest/v1/status" >/dev/null && return 0; sleep 0.02; done
  echo "$1 did not start"; tail -20 "$W/$1.log"; exit 1
}
SP=$(port); TP=$(port)
SRC="http://127.0.0.1:$SP"; DST="http://127.0.0.1:$TP"
start source "$SP" source-pass-1
start target "$TP" target-pass-2
echo source-pass-1 >"$W/source.pw"; echo target-pass-2 >"$W/target.pw"
raw() { # base password name
  curl -sf -u "admin:$2" -H 'Content-Type: application/json' -X POST "$1/service/rest/v1/repositories/raw/hosted" \
    -d "{\"name\":\"$3\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":false,\"writePolicy\":\"ALLOW\"}}" >/dev/null
}
raw "$SRC" source-pass-1 small; raw "$SRC" source-pass-1 large
raw "$DST" target-pass-2 ref-small; raw "$DST" target-pass-2 ref-large

# Seeding: distinct random files, uploaded 8 at a time.
mkdir -p "$W/files"
head -c $((N * 65536)) /dev/urandom | split -b 65536 -a 6 - "$W/files/s-"
for i in $(seq 1 "$BIG_N"); do head -c $((BIG_MB * 1048576)) /dev/urandom >"$W/files/l-$i"; done
( cd "$W/files" && ls s-* | xargs -P8 -I{} curl -sf -u admin:source-pass-1 -T {} "$SRC/repository/small/d/{}" -o /dev/null )
( cd "$W/files" && ls l-* | xargs -P8 -I{} curl -sf -u admin:source-pass-1 -T {} "$SRC/repository/large/d/{}" -o /dev/null )
rm -rf "$W/files"
SMALL_BYTES=$((N * 65536)); LARGE_BYTES=$((BIG_N * BIG_MB * 1048576))

importer() { # repository → seconds
  local t0 t1
  t0=$(now)
  "$BIN" import nexus --url "$SRC" --password-file "$W/source.pw" --target-url "$DST" \
    --target-password-file "$W/target.pw" --only repositories,content --repositories "$1" \
    --jobs 4 --report "$W/$1.json" --users-password-file "$W/users.txt" >"$W/$1.out" 2>&1 \
    || { echo "the import of $1 failed:"; tail -20 "$W/$1.out"; exit 1; }
  t1=$(now)
  python3 -c "import json,sys; r=json.load(open('$W/$1.json')); sys.exit(0 if r['repositories']['$1']['copied'] > 0 and not r['repositories']['$1']['failed'] else 1)" \
    || { echo "the import of $1 copied nothing or failed"; cat "$W/$1.out"; exit 1; }
  python3 -c "print(($t1 - $t0) / 1e9)"
}
reference() { # source repository, target repository → seconds
  local t0 t1
  # The paths, listed before the clock starts (the importer lists as it goes: its listing counts).
  python3 - "$SRC" "$1" >"$W/$1.paths" <<'PY'
import base64, json, sys, urllib.request
base, repo = sys.argv[1:]
auth = "Basic " + base64.b64encode(b"admin:source-pass-1").decode()
tok = None
while True:
    q = f"{base}/service/rest/v1/assets?repository={repo}" + (f"&continuationToken={tok}" if tok else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(q, headers={"Authorization": auth})))
    for a in page["items"]:
        print(a["path"].lstrip("/"))
    tok = page.get("continuationToken")
    if not tok:
        break
PY
  t0=$(now)
  xargs -P4 -I{} sh -c "curl -sf -u admin:source-pass-1 '$SRC/repository/$1/{}' | curl -sf -u admin:target-pass-2 -T - '$DST/repository/$2/{}' -o /dev/null" <"$W/$1.paths"
  t1=$(now)
  python3 -c "print(($t1 - $t0) / 1e9)"
}

echo "arca import: $N files of 64 KiB, $BIG_N of $BIG_MB MiB, --jobs 4; reference: curl GET | curl PUT, 4 at a time"
IS=$(importer small); RS=$(reference small ref-small)
IL=$(importer large); RL=$(reference large ref-large)
HWM_KB=$(awk '/VmHWM/ {print $2}' "/proc/${PIDS[1]}/status" 2>/dev/null || echo 0)
python3 - "$N" "$BIG_N" "$BIG_MB" "$SMALL_BYTES" "$LARGE_BYTES" "$IS" "$RS" "$IL" "$RL" "$HWM_KB" "${BENCH_JSON:-}" <<'PY'
import json, sys
n, big_n, big_mb, sb, lb, i_s, r_s, i_l, r_l, hwm, out = sys.argv[1:]
n, big_n, sb, lb = int(n), int(big_n), int(sb), int(lb)
i_s, r_s, i_l, r_l = map(float, (i_s, r_s, i_l, r_l))
rows = [
    {"workload": f"arca import: {n} raw files of 64 KiB", "reference": "curl GET | curl PUT, 4 at a time",
     "reference_value": round(n / r_s, 1), "arca_value": round(n / i_s, 1), "unit": "assets/s"},
    {"workload": f"arca import: {big_n} raw files of {big_mb} MiB", "reference": "curl GET | curl PUT, 4 at a time",
     "reference_value": round(lb / 1e6 / r_l, 1), "arca_value": round(lb / 1e6 / i_l, 1), "unit": "MB/s"},
]
for r in rows:
    r.update(ratio=round(r["arca_value"] / r["reference_value"], 2), target_ratio=None, pass_=None,
             peak_rss_mib=round(int(hwm) / 1024, 1))
    r["pass"] = r.pop("pass_")
    print(f"{r['workload']}: {r['arca_value']:,} {r['unit']} (reference {r['reference_value']:,}): ratio {r['ratio']}")
print(f"small: importer {i_s:.2f} s ({sb / 1e6 / i_s:.1f} MB/s), reference {r_s:.2f} s; large: importer {i_l:.2f} s, reference {r_l:.2f} s")
if out:
    json.dump({"rows": rows, "notes": ["import: the target Arca's peak RSS is in the rows"]}, open(out, "w"))
PY
