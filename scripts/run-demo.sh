#!/usr/bin/env bash
# The first README command: a demo Panel Tracker on http://127.0.0.1:5000, with an embedded
# SQLite database under instance/ and a demo panel with a login per role (printed below).
#   bash scripts/run-demo.sh
set -euo pipefail

cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e .
bash scripts/debian-packages.sh   # the Noto fonts letters print with, when missing

.venv/bin/panel-tracker db upgrade
.venv/bin/panel-tracker demo
echo "Open http://127.0.0.1:5000 and log in with one of the accounts above (Ctrl-C stops the server)."
exec .venv/bin/panel-tracker run --host 127.0.0.1 --port 5000
