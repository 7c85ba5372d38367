# PostgreSQL for a test run, sourced by scripts and benchmarks: a fresh database on the server
# ARCA_TEST_DATABASE_URL names, or else on a throw-away server started from a local installation
# (as root; its data directory is WORK/pg, its socket in WORK).
#   pg_fresh_database WORK NAME_PREFIX [MAX_CONNECTIONS, default 200]
#     sets PG_ADMIN (the server's admin URL), PG_DB (the new database) and PG_URL (its URL)
#   pg_cleanup: drops PG_DB and stops the server pg_fresh_database started; call it from the
#     EXIT trap, before WORK is removed
PG_ADMIN=""; PG_DB=""; PG_URL=""; PG_OWN_DIR=""; PG_BIN=""

pg_fresh_database() {
  local work=$1 prefix=$2 maxconn=${3:-200} port
  if [ -n "${ARCA_TEST_DATABASE_URL:-}" ]; then
    PG_ADMIN=$ARCA_TEST_DATABASE_URL
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$PG_BIN" ] || { echo "no PostgreSQL: set ARCA_TEST_DATABASE_URL or install postgresql" >&2; exit 2; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$work/pg" && chown postgres "$work" "$work/pg"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$work/pg" -U postgres --auth=trust -E UTF8 >/dev/null
    PG_OWN_DIR=$work/pg  # before the start: pg_cleanup also stops a server that failed half-way
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c max_connections=$maxconn -c fsync=off" start >/dev/null
    PG_ADMIN="postgres://postgres@127.0.0.1:$port/postgres"
  fi
  PG_DB="${prefix}_$$_$RANDOM"
  psql "$PG_ADMIN" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
  PG_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$PG_ADMIN" "$PG_DB")
}

pg_cleanup() {
  if [ -n "$PG_DB" ] && [ -n "$PG_ADMIN" ]; then
    psql "$PG_ADMIN" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -n "$PG_OWN_DIR" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_OWN_DIR" -m immediate stop >/dev/null 2>&1 || true
  fi
}
