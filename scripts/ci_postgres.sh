#!/usr/bin/env bash
# Start a throwaway PostgreSQL for the integration tests and print the line that points them at it:
#
#     eval "$(scripts/ci_postgres.sh)"          # start (or reuse) and export PRASAN_TEST_POSTGRES_URL
#     scripts/ci_postgres.sh stop               # stop it and delete its data
#
# Installs the Debian `postgresql` package when no server binaries are found (needs root). The
# cluster lives in a temporary directory, listens on 127.0.0.1 only, trusts local connections and
# runs with fsync off: it is for tests and holds nothing worth keeping. Only the export line goes
# to stdout, so the script can be eval'ed; progress goes to stderr.
set -euo pipefail

PORT="${PRASAN_PG_PORT:-54329}"
DB="prasan_test"
STATE_FILE="${TMPDIR:-/tmp}/prasan-ci-postgres-${PORT}.dir"
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/${DB}"

log() { echo "ci_postgres: $*" >&2; }

find_bindir() {
    # Newest installed major version; /usr/local/bin may only hold symlinks into one of these.
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
        return
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
    fi
}

# Runs a server binary as the postgres user when we are root (the server refuses to run as root).
as_pg() {
    if [[ "$(id -u)" == "0" ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

BINDIR="$(find_bindir)"
if [[ "${1:-start}" == "stop" ]]; then
    if [[ -f "$STATE_FILE" ]]; then
        DIR="$(cat "$STATE_FILE")"
        as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
        rm -rf "$DIR" "$STATE_FILE"
        log "stopped and removed $DIR"
    else
        log "nothing to stop on port $PORT"
    fi
    exit 0
fi

if [[ -z "$BINDIR" ]]; then
    if [[ "$(id -u)" != "0" ]]; then
        log "no PostgreSQL server binaries found and not root: install the 'postgresql' package"
        exit 1
    fi
    log "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || { log "postgresql installed but initdb/pg_ctl not found"; exit 1; }
fi

if "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    log "already running on 127.0.0.1:$PORT"
else
    if [[ "$(id -u)" == "0" ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/prasan-pg.XXXXXX")"
    chmod 755 "$DIR"
    if [[ "$(id -u)" == "0" ]]; then chown postgres: "$DIR"; fi
    log "creating a cluster in $DIR with $BINDIR"
    as_pg "$BINDIR/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
        --no-sync >&2 >/dev/null
    as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2
    echo "$DIR" >"$STATE_FILE"
fi

for _ in $(seq 1 60); do
    "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break
    sleep 0.5
done
"$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" || { log "server did not become ready"; exit 1; }

if ! "$BINDIR/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
        | grep -q 1; then
    "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    log "created database $DB"
fi

echo "export PRASAN_TEST_POSTGRES_URL=$URL"
