#!/usr/bin/env bash
# `make test`: the whole suite on a developer's machine as CI runs it (.ci/run).
#
# PostgreSQL: PRASAN_TEST_POSTGRES_URL already set (CI, or your own server) is used as it is. Otherwise,
# when the server binaries are installed, a throwaway server is started with scripts/ci_postgres.sh and
# stopped afterwards; when they are not, the PostgreSQL tests skip and this says how to install them.
# Prometheus' promtool and prometheus are looked for the same way. The run ends with a line naming what
# was skipped and why (tests/conftest.py). Arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON_BIN:-.venv/bin/python}"
PORT="${PRASAN_PG_PORT:-54329}"
STATE_FILE="${TMPDIR:-/tmp}/prasan-ci-postgres-${PORT}.dir"  # written by scripts/ci_postgres.sh
started_here=0

say() { echo "make test: $*" >&2; }

have_postgres() {
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { command -v initdb && command -v pg_ctl; } >/dev/null 2>&1
}

if [[ -n "${PRASAN_TEST_POSTGRES_URL:-}" ]]; then
    say "PostgreSQL tests use PRASAN_TEST_POSTGRES_URL as set"
elif have_postgres; then
    # Stop afterwards only a server this run started: one already running on the port (another run's,
    # or CI's) is reused and left alone.
    [[ -f "$STATE_FILE" ]] && existed=1 || existed=0
    if exports="$(bash scripts/ci_postgres.sh)"; then
        eval "$exports"
        export PRASAN_TEST_POSTGRES_URL
        [[ $existed == 0 && -f "$STATE_FILE" ]] && started_here=1
    else
        say "could not start a throwaway PostgreSQL (see above); its tests will be skipped"
    fi
else
    say "PostgreSQL server binaries not found: the PostgreSQL tests will be skipped."
    say "  To run them: sudo apt-get install postgresql (Debian/Ubuntu), or set PRASAN_TEST_POSTGRES_URL."
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    say "promtool/prometheus not found: the Prometheus tests will be skipped."
    say "  To run them: sudo apt-get install prometheus (Debian/Ubuntu)."
fi

if [[ ! -x "${PRASAN_CHROMIUM:-/usr/bin/chromium}" ]]; then
    say "chromium not found: the citizens' pages browser tests will be skipped."
    say "  To run them: sudo apt-get install chromium fonts-thai-tlwg (Debian/Ubuntu)."
fi

stop_ours() { if [[ $started_here == 1 ]]; then bash scripts/ci_postgres.sh stop; fi; }
trap stop_ours EXIT  # also when the run is interrupted

"$PYTHON" -m pytest "$@"
