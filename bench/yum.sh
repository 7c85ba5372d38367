#!/usr/bin/env bash
# Yum repodata generation for 2,000 small noarch RPMs: Arca (ARCA_BIN, yum hosted repository) vs
# createrepo_c on the same RPMs, same disk, same run, printing ms and the Arca/createrepo_c ratio.
#   - full: createrepo_c DIR (reads every RPM) vs an Arca rebuild of 2,000 packages (from the package
#     metadata in its database; triggered by DELETE + PUT of one RPM; `ms=` of its log line)
#   - one-package incremental: createrepo_c --update after adding the 2,001st RPM vs Arca wall clock
#     from the start of its upload until GET repomd.xml returns repodata listing 2,001 packages
#     (includes the upload and the 300 ms debounce; the publish's own `ms=` is printed too)
#   - upload rate of the 2,000 RPMs into Arca (one curl, 8 transfers in parallel)
# The RPMs come from one rpmbuild run of a spec with 2,001 subpackages, cached under
# ~/.cache/arca-tools/bench-rpms-2000/<spec hash>. Checks once that both primary.xml list the same packages.
# Usage: [ARCA_BIN=~/.cache/arca-target/release/arca] bench/yum.sh [repetitions, default 3] [--smoke]
#   --smoke: 50 packages, one repetition
#   BENCH_JSON: also write the figures there as JSON (bench/all.sh reads it)
# Exits 77 (skipped) when rpmbuild or createrepo_c is missing and cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3; N=2000
for a in "$@"; do
  case "$a" in
    --smoke) REPS=1; N=50 ;;
    ''|*[!0-9]*) echo "usage: bench/yum.sh [repetitions] [--smoke]" >&2; exit 2 ;;
    *) REPS=$a ;;
  esac
done
ARCA_BIN=${ARCA_BIN:-$HOME/.cache/arca-target/release/arca}
for b in rpmbuild createrepo_c curl python3; do
  command -v "$b" >/dev/null || { flock /var/lock/arca-apt.lock apt-get update -qq && DEBIAN_FRONTEND=noninteractive flock /var/lock/arca-apt.lock apt-get install -y -qq \
    --no-install-recommends rpm createrepo-c curl python3 >/dev/null || true; break; }
done
for b in rpmbuild createrepo_c; do
  command -v "$b" >/dev/null || { echo "SKIP: $b is not installed and could not be installed (apt-get install rpm createrepo-c)"; exit 77; }
done
W=$(mktemp -d /tmp/arca-bench-yum.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

# The RPMs: one spec, N+1 subpackages (each owns one small file and requires the previous one).
{
  printf '%s\n' 'Name: bench-pkg' 'Version: 1.0' 'Release: 1' 'Summary: Arca Yum benchmark' 'License: MIT' \
    'BuildArch: noarch' '%description' 'Arca Yum benchmark packages.' '%install'
  echo "for i in \$(seq 1 $((N + 1))); do d=%{buildroot}/usr/share/bench-pkg-\$i; mkdir -p \$d; echo \"bench \$i\" >\$d/README; done"
  for i in $(seq 1 $((N + 1))); do
    printf '%%package -n bench-pkg-%d\nSummary: Benchmark package %d\n' "$i" "$i"
    [ "$i" -gt 1 ] && printf 'Requires: bench-pkg-%d\n' $((i - 1))
    printf '%%description -n bench-pkg-%d\nBenchmark package %d.\n%%files -n bench-pkg-%d\n/usr/share/bench-pkg-%d\n' "$i" "$i" "$i" "$i"
  done
} >"$W/bench.spec"
CACHE=${ARCA_TOOL_CACHE:-$HOME/.cache/arca-tools}/bench-rpms-$N
RPMS=$CACHE/$(sha256sum <"$W/bench.spec" | cut -c1-16)
EXTRA=bench-pkg-$((N + 1))-1.0-1.noarch.rpm
if [ ! -e "$RPMS/.done" ]; then
  echo "building $((N + 1)) RPMs (one rpmbuild run, cached in $RPMS)" >&2
  # __os_install_post (brp scripts) would take most of the time and changes nothing here.
  rpmbuild -bb --quiet --define "_topdir $W/top" --define '__os_install_post %{nil}' "$W/bench.spec" >/dev/null
  rm -rf "$CACHE"; mkdir -p "$RPMS"; mv "$W"/top/RPMS/noarch/*.rpm "$RPMS/"; touch "$RPMS/.done"; rm -rf "$W/top"
fi
(cd "$RPMS" && ls -- *.rpm | grep -vx "$EXTRA") >"$W/list"
[ "$(wc -l <"$W/list")" = $N ] && [ -e "$RPMS/$EXTRA" ]

# Prints the package count of a repository (DIR or URL), then its packages, sorted; with a second
# argument, reads repomd.xml from that file.
cat >"$W/pkgs.py" <<'EOF'
import base64, gzip, os, sys, urllib.request, xml.etree.ElementTree as ET
base = sys.argv[1]
def get(rel):
    if not base.startswith("http"): return open(os.path.join(base, rel), "rb").read()
    rq = urllib.request.Request(f"{base}/{rel}", headers={"Authorization": "Basic " + base64.b64encode(os.environ["AUTH"].encode()).decode()})
    return urllib.request.urlopen(rq).read()
R, C = "{http://linux.duke.edu/metadata/repo}", "{http://linux.duke.edu/metadata/common}"
repomd = ET.fromstring(open(sys.argv[2], "rb").read() if len(sys.argv) > 2 else get("repodata/repomd.xml"))
href = next(d.find(R + "location").get("href") for d in repomd.findall(R + "data") if d.get("type") == "primary")
primary = ET.fromstring(gzip.decompress(get(href)))
out = []
for p in primary.findall(C + "package"):
    v = p.find(C + "version")
    out.append(f'{p.findtext(C + "name")} {v.get("epoch")}:{v.get("ver")}-{v.get("rel")}.{p.findtext(C + "arch")} {p.findtext(C + "checksum")} {p.find(C + "location").get("href")}')
print(primary.get("packages")); print("\n".join(sorted(out)))
EOF

# createrepo_c, default (XML + sqlite) and --no-database (XML only, as Arca), on a copy of the RPMs.
CR=$W/cr; mkdir "$CR"; (cd "$RPMS" && xargs cp -t "$CR" <"$W/list")
declare -A CF CU
for v in default --no-database; do
  opts=(--workers 2); [ "$v" = default ] || opts+=("$v")
  for i in $(seq 1 "$REPS"); do
    rm -rf "$CR/repodata" "$CR/$EXTRA"
    t0=$(now); createrepo_c "${opts[@]}" "$CR" >/dev/null; t1=$(now)
    CF[$v]="${CF[$v]:-} $(( (t1 - t0) / 1000000 ))"
  done
  for i in $(seq 1 "$REPS"); do
    rm -f "$CR/$EXTRA"; createrepo_c "${opts[@]}" "$CR" >/dev/null; cp "$RPMS/$EXTRA" "$CR/"
    t0=$(now); createrepo_c --update "${opts[@]}" "$CR" >/dev/null; t1=$(now)
    CU[$v]="${CU[$v]:-} $(( (t1 - t0) / 1000000 ))"
  done
done
[ "$(python3 "$W/pkgs.py" "$CR" | sed -n 1p)" = $((N + 1)) ]

# Arca, its repodata worker logging at info.
PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=bench-pass-1; export AUTH="admin:$PW"
REPO=$URL/repository/yum-hosted
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW ARCA_LOG=warn,arca_yum=info NO_COLOR=1 \
  "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PIDS+=($!); APID=$!
for _ in $(seq 1 2000); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break
  kill -0 "$APID" 2>/dev/null || { echo "arca exited at start:" >&2; tail -20 "$W/arca.log" >&2; exit 1; }
  sleep 0.005
done
curl -sf -o /dev/null -u "$AUTH" -H 'content-type: application/json' "$URL/service/rest/v1/repositories/yum/hosted" \
  -d '{"name":"yum-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"},"yum":{"repodataDepth":0,"deployPolicy":"STRICT"}}' \
  || { echo "$ARCA_BIN: could not create a yum hosted repository (a build without Yum support?)" >&2; exit 1; }
# Log lines since line $1 of a publish of $2 packages: their ms, last one.
published_ms() { tail -n +$(($1 + 1)) "$W/arca.log" | grep -o "packages=$2 ms=[0-9]*" | tail -1 | cut -d= -f3; }
repomd() { curl -sf -u "$AUTH" -o "$W/repomd.xml" "$REPO/repodata/repomd.xml"; }

while read -r f; do printf 'upload-file = "%s"\nurl = "%s"\noutput = "/dev/null"\n' "$RPMS/$f" "$REPO/$f"; done <"$W/list" >"$W/upload.cfg"
t0=$(now)
curl -s -Z --parallel-max 8 -u "$AUTH" -w '%{http_code}\n' -K "$W/upload.cfg" >"$W/codes"
t1=$(now)
[ "$(grep -cx 201 "$W/codes")" = $N ] || { echo "uploads failed: $(sort "$W/codes" | uniq -c)" >&2; exit 1; }
UPLOAD_RATE=$(python3 -c "print(f'{$N/(($t1-$t0)/1e9):.0f}')")
repomd
BULK_MS=$(published_ms 0 $N)

# Full rebuilds: DELETE and PUT one RPM back (within the debounce: one rebuild of N packages).
AF=""
ONE=$(sed -n "$((N / 2))p" "$W/list")
for i in $(seq 1 "$REPS"); do
  n0=$(wc -l <"$W/arca.log")
  curl -sf -u "$AUTH" -X DELETE "$REPO/$ONE"
  curl -sf -u "$AUTH" -T "$RPMS/$ONE" "$REPO/$ONE"
  repomd
  AF="$AF $(published_ms "$n0" $N)"
done

# One-package incremental: upload the (N+1)th RPM, GET repomd.xml until its primary lists N+1.
AU=""; AUMS=""
for i in $(seq 1 "$REPS"); do
  curl -s -o /dev/null -u "$AUTH" -X DELETE "$REPO/$EXTRA"; repomd
  n0=$(wc -l <"$W/arca.log")
  t0=$(now)
  curl -sf -u "$AUTH" -T "$RPMS/$EXTRA" "$REPO/$EXTRA"
  repomd; t1=$(now)
  until [ "$(python3 "$W/pkgs.py" "$REPO" "$W/repomd.xml" | sed -n 1p)" = $((N + 1)) ]; do repomd; t1=$(now); done
  AU="$AU $(( (t1 - t0) / 1000000 ))"; AUMS="$AUMS $(published_ms "$n0" $((N + 1)))"
done

# Same packages (name, EVR, arch, checksum, location) in both primary.xml.
if diff <(python3 "$W/pkgs.py" "$REPO") <(python3 "$W/pkgs.py" "$CR") >"$W/diff"; then SAME=yes
else SAME="NO: $(wc -l <"$W/diff") diff lines"; head -5 "$W/diff" >&2; fi

echo
echo "| what (ms, median of $REPS) | Arca | createrepo_c | Arca/createrepo_c |"
echo "|---|---|---|---|"
a=$(median $AF)
for v in default --no-database; do
  c=$(median ${CF[$v]})
  echo "| full repodata, $N packages, createrepo_c $v | $a (rebuild from stored metadata) | $c | $(ratio "$a" "$c") |"
done
a=$(median $AU)
for v in default --no-database; do
  c=$(median ${CU[$v]})
  echo "| one-package incremental (+1 RPM), createrepo_c --update $v | $a (upload to fresh repomd.xml) | $c | $(ratio "$a" "$c") |"
done
echo "| same, Arca publish only (log ms=) | $(median $AUMS) | | |"
echo "| Arca first publish after the bulk upload (log ms=) | $BULK_MS | | |"
echo "| upload $N RPMs to Arca, curl 8 parallel (RPMs/s) | $UPLOAD_RATE | | |"
echo "Same package set in both primary.xml ($((N + 1)) packages: name, EVR, arch, sha256, location): $SAME"
echo "(Arca: $ARCA_BIN; createrepo_c $(createrepo_c --version | awk '{print $2; exit}') --workers 2; RPMs $(du -sh "$CR" | cut -f1) in $CR)"
HWM_KB=$(awk '/VmHWM/ {print $2}' /proc/$APID/status)
echo "(Arca peak RSS over the run: $(python3 -c "print(f'{$HWM_KB/1024:.1f}')") MiB)"
if [ -n "${BENCH_JSON:-}" ]; then
  python3 - "$BENCH_JSON" "$N" "$REPS" "$HWM_KB" "$SAME" "$(median $AF)" "$(median ${CF[--no-database]})" \
    "$(median $AU)" "$(median ${CU[--no-database]})" "$UPLOAD_RATE" <<'PY'
import json, sys
out, n, reps, hwm, same, af, cf, au, cu, rate = sys.argv[1:]
rss = int(hwm) / 1024
def row(workload, ref, rv, av, unit):
    rv, av = (float(rv) if rv else None), float(av)
    # Time rows: the ratio is reference time / Arca time, so > 1 means Arca is faster, as elsewhere.
    return {"workload": workload, "reference": ref, "reference_value": rv, "arca_value": av, "unit": unit,
            "ratio": (rv / av if unit == "ms" else av / rv) if rv and av else None, "target_ratio": None, "pass": None,
            "peak_rss_mib": rss}
rows = [row(f"yum repodata, full, {n} packages", "createrepo_c --no-database", cf, af, "ms"),
        row(f"yum repodata, +1 RPM to fresh repomd.xml ({n} packages)", "createrepo_c --update --no-database", cu, au, "ms"),
        row(f"yum upload {n} RPMs, curl 8 parallel", None, None, rate, "RPMs/s")]
json.dump({"packages": int(n), "repetitions": int(reps), "same_packages": same, "rows": rows}, open(out, "w"), indent=1)
PY
fi
