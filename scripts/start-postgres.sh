#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests (ctest fixture `postgres`, see
# tests/store/CMakeLists.txt):
#
#   start-postgres.sh DIR PORT    initdb a fresh cluster in DIR/data (whatever was in DIR is
#                                 removed), listen on 127.0.0.1:PORT only (unix socket in DIR),
#                                 trust authentication, superuser `postgres`, database `kaas`
#   start-postgres.sh --stop DIR  stop it and remove DIR/data (DIR/postgres.log stays)
#   start-postgres.sh --kill DIR  stop it as a crash would (pg_ctl -m immediate), data kept
#   start-postgres.sh --restart DIR  start a server stopped by --kill again, same port
#
# Independent of Debian's own `main` cluster (pg_ctlcluster, port 5432): it runs the binaries
# directly. PostgreSQL refuses to run as root, so as root the server runs as user `postgres`.
# Durability is switched off (fsync, synchronous_commit): the data is thrown away anyway —
# unless POSTGRES_DURABLE=1 (tests that crash the server and expect commits to survive).
set -euo pipefail

BIN=${POSTGRES_BIN:-/usr/lib/postgresql/15/bin}

usage() {
  echo "usage: $0 DIR PORT | $0 --stop|--kill|--restart DIR" >&2
  exit 2
}

# Runs a PostgreSQL program as the owner of the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop_server() {
  local dir=$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  fi
}

if [ "${1:-}" = "--stop" ]; then
  [ $# -eq 2 ] || usage
  dir=$(realpath -m "$2")
  stop_server "$dir"
  rm -rf "$dir/data"
  exit 0
fi

if [ "${1:-}" = "--kill" ]; then
  [ $# -eq 2 ] || usage
  dir=$(realpath -m "$2")
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null
  exit 0
fi

if [ "${1:-}" = "--restart" ]; then
  [ $# -eq 2 ] || usage
  dir=$(realpath -m "$2")
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null
  exit 0
fi

[ $# -eq 2 ] || usage
dir=$(realpath -m "$1")
port=$2

if [ ! -x "$BIN/initdb" ]; then
  echo "start-postgres: $BIN/initdb not found; install the postgresql package" \
    "(scripts/install-deps.sh)" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  echo "start-postgres: running as root needs the user postgres (the postgresql package" \
    "creates it)" >&2
  exit 1
fi

# A server left running by an interrupted test run.
stop_server "$dir" || true
rm -rf "$dir"
mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; fi

as_owner "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
  --no-sync >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2
  exit 1
}
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
# Replica tests run three or four kaasd (up to 32 sessions each) next to other tests.
max_connections = 500
EOF
# POSTGRES_DURABLE=1 keeps the defaults: a test that crashes the server (--kill) needs every
# acknowledged commit to survive it, as on a production server.
if [ "${POSTGRES_DURABLE:-0}" != 1 ]; then
  cat >>"$dir/data/postgresql.conf" <<EOF
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

if ! as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null; then
  echo "start-postgres: the server did not start (port $port taken?); its log:" >&2
  tail -n 20 "$dir/postgres.log" >&2 || true
  exit 1
fi
for _ in $(seq 1 100); do
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  sleep 0.1
done
"$BIN/pg_isready" -h 127.0.0.1 -p "$port" >/dev/null || {
  echo "start-postgres: no answer on 127.0.0.1:$port" >&2
  exit 1
}
"$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres kaas
echo "start-postgres: postgresql://postgres@127.0.0.1:$port/kaas (data in $dir/data)"
