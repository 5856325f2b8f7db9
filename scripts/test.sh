#!/usr/bin/env bash
# README command 2: set everything up, then run the whole test suite
# (XMODAL_ROS_DISTRO=jazzy, the default, in .venv/; =kilted in .venv-kilted/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/venv.sh"
"$root/scripts/setup.sh"
. "$venv/xmodal_env.sh"
cd "$root"
exec "$venv/bin/python" -m pytest "$@"
