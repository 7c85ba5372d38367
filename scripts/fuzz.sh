#!/usr/bin/env bash
# The property-based fuzz harnesses (proptest, stable Rust), long: PROPTEST_CASES cases per
# property (20000 unless set). `cargo test` runs the same harnesses short (256 cases) in CI.
# Prints the cases each harness ran and the total; exits non-zero on the first failing
# property, with proptest's shrunk input (keep it as a regression test beside the parser).
#   scripts/fuzz.sh                    # long run
#   PROPTEST_CASES=1000 scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
export PROPTEST_CASES="${PROPTEST_CASES:-20000}"
export RUST_BACKTRACE=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Harness, then the cargo test arguments that select it.
harnesses=(
  "core (CSEL, Range, paths, names, digests)|-p arca-core --test fuzz"
  "maven (paths, maven-metadata.xml, versions)|-p arca-maven --lib fuzz::"
  "pypi (file names, simple index, multipart, METADATA)|-p arca-pypi --lib fuzz::"
  "docker (references, digests, manifests, Content-Range)|-p arca-docker --lib fuzz::"
  "yum (RPM headers, rpm-md)|-p arca-yum --test fuzz"
  "rest (JSON bodies)|-p arca-web --lib api::fuzz::"
)

echo "fuzzing with PROPTEST_CASES=$PROPTEST_CASES per property"
total=0
for h in "${harnesses[@]}"; do
  label=${h%%|*}
  read -r -a args <<<"${h#*|}"
  start=$(date +%s)
  if ! cargo test -q "${args[@]}" -- --nocapture --test-threads=2 >"$out" 2>&1; then
    echo "FAILED: $label"
    grep -E -A6 "minimal failing input|Test failed" "$out" | head -30 || tail -40 "$out"
    exit 1
  fi
  n=$(grep -oE 'fuzz [a-z0-9_]+: [0-9]+ cases' "$out" | awk '{s += $3} END {print s + 0}')
  props=$(grep -cE 'fuzz [a-z0-9_]+: [0-9]+ cases' "$out" || true)
  printf '%-58s %3d properties %9d cases %5ds\n' "$label" "$props" "$n" $(($(date +%s) - start))
  total=$((total + n))
done
echo "total: $total cases"
