#!/usr/bin/env bash
# Load benchmark (not a timed test): Basic-auth, token and anonymous GETs of a 2 KiB and a 1 MiB
# file at 64 and 200 connections, uploads, and a wrong-password flood beside honest traffic;
# prints req/s, errors, p50/p99 and Arca's peak RSS per row against the targets, and writes
# bench/load-results.json. Usage: bench/load.sh [seconds per row, default 60] | --smoke
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
dpkg -s wrk >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
if [ "${1:-}" = "--smoke" ]; then
  # CI: the debug binary the suite already built, two seconds a row; targets reported only.
  exec python3 bench/load.py "${ARCA_BIN:-$CARGO_TARGET_DIR/debug/arca}" --smoke
fi
cargo build --release --quiet --bin arca
exec python3 bench/load.py "$CARGO_TARGET_DIR/release/arca" --duration "${1:-60}" --json bench/load-results.json
