#!/usr/bin/env bash
# README command 1: set everything up, then run the main job on the embedded default (simulated robot).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/venv.sh"
"$root/scripts/setup.sh"
exec "$venv/bin/xmodal" demo "$@"
