#!/usr/bin/env bash
# The test command (README, second command). On a fresh Debian machine, from the project root:
#   bash scripts/test.sh            # the whole suite, SQLite and PostgreSQL, on every core
#   bash scripts/test.sh -x -k auth # any pytest arguments
# It creates .venv if missing, installs the project with its test extras, installs Debian's
# chromium, poppler-utils and the Noto fonts only when they are missing
# (scripts/debian-packages.sh), starts PostgreSQL if it is not running, then runs pytest.
# "No tests collected" (pytest exit 5) counts as a failure.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# Install (again) when the venv is new or pyproject.toml changed since the last install.
stamp=.venv/.panel-tracker-test-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ ! -x .venv/bin/panel-tracker ]; then
    .venv/bin/python -m pip install --quiet -e '.[test]'
    touch "$stamp"
fi

bash scripts/debian-packages.sh --tests

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! pg_isready -q -h 127.0.0.1; then
    if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null 2>&1; then
        version="$(ls /etc/postgresql | sort -V | tail -n 1)"
        echo "Starting PostgreSQL ${version}"
        as_root pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 && break
            sleep 1
        done
    fi
    if ! pg_isready -q -h 127.0.0.1; then
        echo "PostgreSQL is not reachable on 127.0.0.1:5432; its tests will be skipped (or fail with CI=true)." >&2
    fi
fi

# Redis backs the background-job tests (RQ). This machine kind starts it; start it if it is not.
if command -v redis-cli >/dev/null 2>&1 && ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    if command -v redis-server >/dev/null 2>&1; then
        echo "Starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
        sleep 1
    fi
fi

# The whole suite (no arguments, as .ci/run calls it) runs on every core with pytest-xdist:
# each worker makes its own SQLite and PostgreSQL databases, so the tests split freely.
# Any arguments are pytest's as given (add -n auto to a partial run to split it too).
args=("$@")
if [ "$#" -eq 0 ]; then
    args=(-n auto)
fi
status=0
.venv/bin/python -m pytest "${args[@]}" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit "$status"
