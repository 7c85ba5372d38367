#!/usr/bin/env bash
# Every benchmark row of issue 18 in one run, then ONE table: workload | reference | Arca | ratio |
# target | result | peak RSS, in markdown, plus bench/results.json (and bench/results.md, the table).
# Parts, in order, each beside its reference in the same run:
#   load    bench/load.sh    raw GETs (2 KiB, 1 MiB; Basic, token, anonymous; 64 and 200 connections)
#                            vs nginx (sendfile), GET /service/rest/v1/status (the ceiling), PUTs,
#                            the login flood rows
#   docker  bench/docker.sh  512 MiB blob push / pull vs the CNCF registry 2.8 (Debian's
#                            docker-registry, started by the script; skopeo and curl)
#   run     bench/run.sh     maven 1 MiB jar vs nginx, PyPI simple page vs devpi-server, start time
#   yum     bench/yum.sh     repodata of 2,000 RPMs vs createrepo_c
#   search  bench/search.sh  keyword search at 1M assets (run when present, skipped with a note if not)
#   import  bench/import.sh  arca import nexus between two Arcas (2,000 files of 64 KiB, 8 of 32 MiB)
#                            vs curl GET | curl PUT with the same parallelism
# ratio: > 1 means Arca does better than the reference (rates: Arca / reference; times: reference /
# Arca). Peak RSS: the Arca process's (VmHWM, and VmRSS polled every 100 ms by bench/load.sh).
#
# Usage: bench/all.sh [seconds per row, default 30] [--smoke] [--strict]
#   seconds: each wrk row of bench/load.sh and bench/run.sh (docker and yum take their sizes and
#            3 repetitions; search.sh gets the same number)
#   --smoke: every part in its smallest form (CI keeps the scripts from rotting; about a minute with
#            a debug binary). Writes bench/results-smoke.json, so the last full run's results stay.
#   --strict: exit 1 also when a target is missed (never on --smoke)
#   ARCA_BIN: the binary (default: cargo build --release, then the release binary). It is copied to
#            BENCH_BIN_DIR (default ~/.cache/bench-arca) first: other builds may replace the original
#            meanwhile, and /tmp may be mounted noexec.
# Exit status: 1 when a part failed to RUN (a script error, a server that died, wrk that failed);
# a missed target only prints FAIL in the table (unless --strict). A part that cannot run here
# (exit 77: docker-registry/skopeo or rpmbuild/createrepo_c not installable; bench/search.sh absent)
# is skipped with a note.
#
# Sub-scripts: each takes [number] [--smoke] and ARCA_BIN; with BENCH_JSON=<file> it writes
# {"rows": [{"workload", "reference", "reference_value", "arca_value", "unit", "ratio",
#   "target_ratio" | "target" (text), "pass" (true/false/null), "peak_rss_mib"}], "notes": [...]}
# (bench/load.sh writes its own document, converted here); exit 77 means "cannot run here".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=30; SMOKE=0; STRICT=0
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    --strict) STRICT=1 ;;
    ''|*[!0-9]*) echo "usage: bench/all.sh [seconds per row] [--smoke] [--strict]" >&2; exit 2 ;;
    *) SECS=$a ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
if [ -z "${ARCA_BIN:-}" ]; then
  cargo build --release --quiet --bin arca
  ARCA_BIN="$CARGO_TARGET_DIR/release/arca"
fi
ORIG_BIN=$ARCA_BIN
BIN_DIR=${BENCH_BIN_DIR:-$HOME/.cache/bench-arca}; mkdir -p "$BIN_DIR"
BIN=$(mktemp "$BIN_DIR/arca-all.XXXXXX"); cp "$ARCA_BIN" "$BIN"; chmod 755 "$BIN"
W=$(mktemp -d /tmp/arca-bench-all.XXXXXX)
trap 'rm -rf "$W" "$BIN"' EXIT
export ARCA_BIN=$BIN BENCH_BIN_DIR=$BIN_DIR
# load, run and search take the seconds per row; docker and yum their default repetitions.
if [ $SMOKE = 1 ]; then ARGS=(--smoke); RARGS=(--smoke); else ARGS=("$SECS"); RARGS=(); fi
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# The checkout's commit at the start (the binary may be older: ARCA_BIN is taken as it is).
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)

# part NAME SCRIPT ARGS...: runs one sub-script, its output on the console and in $W/NAME.log;
# records its exit status and time in $W/parts.
: >"$W/parts"
part() {
  local name=$1 script=$2; shift 2
  local t0 rc=0
  echo
  echo "=== $name: $script${*:+ $*} ($(date -u +%H:%M:%S) UTC)"
  if [ ! -f "$ROOT/$script" ]; then
    echo "SKIP: $script is not there"
    printf '%s\t%s\t%s\t%s\n' "$name" 77 0 "$script is not there" >>"$W/parts"
    return 0
  fi
  t0=$(date +%s)
  # Sourced, not run: bash then reads the whole script before running it, so an edit of it meanwhile
  # (bash reads a script as it goes) cannot break a long run. $0 is still the script's path.
  BENCH_JSON="$W/$name.json" bash -c '. "$0" "$@"' "$ROOT/$script" "$@" </dev/null 2>&1 | tee "$W/$name.log" || rc=${PIPESTATUS[0]}
  local note=""
  if [ "$rc" = 77 ]; then note=$(grep -m1 '^SKIP' "$W/$name.log" || echo "cannot run here"); fi
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then note="exit $rc: $({ grep -v '^\s*$' "$W/$name.log" || true; } | tail -1 | cut -c1-200)"; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$note" >>"$W/parts"
  echo "=== $name: exit $rc in $(( $(date +%s) - t0 )) s"
}

echo "Arca benchmarks: $([ $SMOKE = 1 ] && echo "smoke run" || echo "$SECS s a row"), $(nproc) cores, binary $ORIG_BIN"
if [ $SMOKE = 1 ]; then
  # Figures do not count on a smoke run: bench/run.sh, which mostly waits for devpi-server to start
  # (it derives its secret with argon2 for some 15 s), runs beside the others, its output after them.
  # Parts that install packages take /var/lock/arca-apt.lock around apt-get (flock), which refuses
  # to run beside another apt-get on a fresh machine.
  part run bench/run.sh "${ARGS[@]}" >"$W/run.console" 2>&1 &
  RUNPID=$!
fi
part load bench/load.sh "${ARGS[@]}"
part docker bench/docker.sh "${RARGS[@]}"
if [ $SMOKE = 1 ]; then
  wait "$RUNPID" || true
  cat "$W/run.console"
else
  part run bench/run.sh "${ARGS[@]}"
fi
part yum bench/yum.sh "${RARGS[@]}"
part search bench/search.sh "${ARGS[@]}"
part import bench/import.sh "${RARGS[@]}"

OUT=$ROOT/bench/results.json; MD=$ROOT/bench/results.md
[ $SMOKE = 1 ] && { OUT=$ROOT/bench/results-smoke.json; MD=$ROOT/bench/results-smoke.md; }
python3 - "$W" "$OUT" "$MD" "$SMOKE" "$STRICT" "$SECS" "$ORIG_BIN" "$(( $(date +%s) - T0 ))" \
  "$REV" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import datetime, json, os, platform, sys
w, out, md, smoke, strict, secs, binary, total_s, rev, load0, load1 = sys.argv[1:]
smoke = smoke == "1"

def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("req/s", "RPMs/s"):
        return f"{v:,.0f} {unit}"
    if unit == "MB/s":
        return f"{v:,.0f} MB/s"
    if unit == "ms":
        return f"{v:,.0f} ms" if v >= 10 else f"{v:.1f} ms"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    return f"{v:g} {unit}"

parts, notes, rows = [], [], []
ORDER = ["load", "docker", "run", "yum", "search", "import"]
for line in sorted(open(os.path.join(w, "parts")), key=lambda l: ORDER.index(l.split("\t")[0])):
    name, rc, secs_taken, note = line.rstrip("\n").split("\t")
    rc = int(rc)
    status = "ok" if rc == 0 else "skipped" if rc == 77 else "failed"
    parts.append({"part": name, "status": status, "exit": rc, "seconds": int(secs_taken), "note": note or None})
    if status != "ok":
        notes.append(f"{name}: {'SKIPPED' if status == 'skipped' else 'FAILED TO RUN'}: {note}")
    path = os.path.join(w, name + ".json")
    doc = None
    if os.path.exists(path):
        try:
            doc = json.load(open(path))
        except ValueError:
            notes.append(f"{name}: its JSON could not be read")
    if doc is None:
        if status == "ok":
            notes.append(f"{name}: ran, but wrote no JSON rows (see its output above)")
        continue
    notes += [f"{name}: {n}" for n in doc.get("notes", [])]
    if name != "load":
        for r in doc.get("rows", []):
            r = dict(r, part=name)
            t = r.get("target")
            if not t and r.get("target_ratio") is not None:
                t = f"ratio ≥ {r['target_ratio']:g}"
            r["target"] = t
            rows.append(r)
        continue
    # bench/load.sh's rows: the nginx rows are the reference of the Arca GET rows of the same file
    # and connections.
    nginx = {}
    for r in doc["rows"]:
        if r["kind"] == "nginx" and r.get("wrk"):
            nginx[(r["file"], r["connections"])] = r["rps"]
    label = {"2KiB": "GET cached 2 KiB raw file", "1MiB": "GET cached 1 MiB raw file"}
    for r in doc["rows"]:
        if r["kind"] == "nginx":
            continue
        name_ = r["name"]
        for f, l in label.items():
            name_ = name_.replace("GET " + f.replace("KiB", " KiB").replace("MiB", " MiB"), l)
        k = r.get("wrk") or {}
        errs = (k.get("status", 0) + k.get("connect", 0) + k.get("read", 0) + k.get("write", 0) + k.get("timeout", 0)) if k else None
        ref = nginx.get((r.get("file"), r["connections"])) if r["kind"] == "honest" else None
        targets = r.get("targets", {})
        ratio_t = next((float(n.split(">=")[1]) for n in targets if n.startswith("ratio >=")), None)
        tt = []
        if ratio_t is not None:
            tt.append(f"ratio ≥ {ratio_t:g}")
        if r["kind"] == "ceiling":
            tt.append("the ceiling to approach")
        tt += [n.replace(">=", "≥").replace("<=", "≤") for n in targets if not n.startswith("ratio >=")]
        rows.append({
            "part": "load", "workload": f"{name_}, c={r['connections']}",
            "reference": "nginx (sendfile)" if ref else None, "reference_value": ref,
            "arca_value": r.get("rps"), "unit": "req/s", "ratio": r.get("ratio") if ref else None,
            "target": "; ".join(tt), "target_ratio": ratio_t,
            "pass": all(targets.values()) if targets else None,
            "failed": [n.replace(">=", "≥").replace("<=", "≤") for n, ok in targets.items() if not ok],
            "peak_rss_mib": r["peak_rss_kb"] / 1024 if r.get("peak_rss_kb") else None,
            "errors": errs, "p99_ms": k.get("p99_us", 0) / 1000 if k else None,
            "kind": r["kind"], "connections": r["connections"],
        })
        if "flood" in r:
            f = r["flood"]
            rows.append({"part": "load", "workload": "  the flood beside it: wrong password from 127.0.0.2, c=200",
                         "reference": None, "reference_value": None, "arca_value": f["rps"], "unit": "req/s",
                         "ratio": None, "target": "no wrong password let in",
                         "pass": not any(s.startswith("2") for s in f["status"]), "peak_rss_mib": None, "kind": "flood-attacker"})

# The issue's "peak RSS over that run": the load rows' Arca (GETs, PUTs, the status ceiling, the
# flood's baseline; the flood row has its own 120 MiB). The other parts' peaks (a 2,000-package
# repodata build, 1M assets) are shown beside them, without that target.
peaks = [r["peak_rss_mib"] for r in rows if r["part"] == "load" and r.get("peak_rss_mib") and r.get("kind") not in ("flood", "flood-attacker")]
if peaks:
    p = max(peaks)
    rows.append({"part": "all", "workload": "peak RSS over the load rows (GET, PUT, status; honest)", "reference": None,
                 "reference_value": None, "arca_value": p, "unit": "MiB", "ratio": None, "target": "≤ 80 MiB",
                 "pass": p <= 80, "peak_rss_mib": p})
others = [r["peak_rss_mib"] for r in rows if r["part"] not in ("load", "all") and r.get("peak_rss_mib")]
if others:
    p = max(others + peaks)
    rows.append({"part": "all", "workload": "peak RSS over every part (docker, maven/PyPI, yum, search too)", "reference": None,
                 "reference_value": None, "arca_value": p, "unit": "MiB", "ratio": None, "target": None,
                 "pass": None, "peak_rss_mib": p})

def cpu():
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "?"
mem_gib = next((int(l.split()[1]) / 1048576 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
machine = f"{os.cpu_count()} cores ({cpu()}), {mem_gib:.0f} GiB, Linux {platform.release()}"

lines = [f"checkout {rev}, {now}, {machine}; {'smoke run' if smoke else f'{secs} s a row'}; binary {binary}", "",
         "| workload | reference | Arca | ratio | target | result | peak RSS |", "|---|---|---|---|---|---|---|"]
for r in rows:
    ref = f"{r['reference']} {fmt(r['reference_value'], r['unit'])}" if r.get("reference") else "—"
    a = fmt(r.get("arca_value"), r["unit"])
    if r.get("errors"):
        a += f" ({r['errors']} errors)"
    ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "—"
    res = "—" if r.get("pass") is None else "PASS" if r["pass"] else "FAIL" + (f" ({', '.join(r['failed'])})" if r.get("failed") else "")
    rss = f"{r['peak_rss_mib']:.1f} MiB" if r.get("peak_rss_mib") else "—"
    lines.append(f"| {r['workload']} | {ref} | {a} | {ratio} | {r.get('target') or '—'} | {res} | {rss} |")
judged = [r for r in rows if r.get("pass") is not None]
passed = sum(1 for r in judged if r["pass"])
lines.append("")
lines.append(f"targets: {passed} of {len(judged)} rows pass" + (" (smoke run: figures meaningless, targets not enforced)" if smoke else ""))
lines.append("parts: " + ", ".join(f"{p['part']} {p['status']} ({p['seconds']} s)" for p in parts) + f"; total {total_s} s")
lines.append(f"load average at the start {load0}, at the end {load1} ({os.cpu_count()} cores; other work on the machine lowers the figures)")
lines += [f"note: {n}" for n in notes]
text = "\n".join(lines)
print("\n" + text)
open(md, "w").write(text + "\n")
json.dump({"date": now, "machine": machine, "load_average": {"start": load0, "end": load1}, "commit": rev, "binary": binary, "smoke": smoke,
           "seconds_per_row": int(secs), "total_seconds": int(total_s), "parts": parts, "notes": notes,
           "targets_passed": passed, "targets": len(judged), "rows": rows}, open(out, "w"), indent=1)
print(f"results: {out} (table: {md})")
failed = [p["part"] for p in parts if p["status"] == "failed"]
if failed:
    print(f"FAILED TO RUN: {', '.join(failed)}")
    sys.exit(1)
sys.exit(1 if strict == "1" and not smoke and passed < len(judged) else 0)
PY
