#!/bin/sh
# Throwaway PostgreSQL for the test suite: start|stop. Debian's `postgresql` package; initdb under
# a temporary directory, listening only on 127.0.0.1 at a non-default port, trust auth (tests only).
# Env: PGDATA (default /tmp/panel-pg), PGPORT (default 54329), DB (default panel_test)
set -eu
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
PGDATA=${PGDATA:-/tmp/panel-pg}; PGPORT=${PGPORT:-54329}; DB=${DB:-panel_test}
if [ "$(id -u)" = 0 ]; then AS="runuser -u postgres --"; else AS=""; fi  # postgres refuses to run as root
case "${1:-}" in
start)
  rm -rf "$PGDATA"; mkdir -m 700 -p "$PGDATA"
  if [ -n "$AS" ]; then chown postgres:postgres "$PGDATA"; fi
  $AS "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  $AS "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGDATA -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
    || { cat "$PGDATA/server.log" >&2; exit 1; }
  $AS "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres "$DB"
  echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/$DB" ;;
stop)
  $AS "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDATA" ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
