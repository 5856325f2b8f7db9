#!/usr/bin/env bash
# README command 2: set everything up, then run the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
. "$root/.venv/xmodal_env.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
