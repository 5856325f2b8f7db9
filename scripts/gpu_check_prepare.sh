#!/usr/bin/env bash
# Prepares what scripts/gpu_check.sh needs on a GPU machine without MuJoCo or rosbags: small sim
# bags recorded here (split A camera+depth+wrist_imu, split B tactile+force+finger_joints,
# held-out episodes with every sensor), decoded into data/gpu_check/samples.npz (about 10 MB).
# Only data/gpu_check travels (device tool: carry=["data/gpu_check"]); the bags stay in
# data/gpu_check_work.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. .venv/xmodal_env.sh
work=data/gpu_check_work
export XMODAL_CACHE="$root/$work/cache"
mkdir -p "$work"
rec() { [ -e "$work/$1" ] || .venv/bin/xmodal sim record --out "$work/$1" "${@:2}"; }
rec a    --episodes 16 --seed 0    --sensors camera,depth,wrist_imu --resolution 128x96
rec b    --episodes 16 --seed 1000 --sensors tactile,force,finger_joints
rec test --episodes 8  --seed 5000 --resolution 128x96
.venv/bin/python scripts/gpu_check.py prepare --train "$work/a" "$work/b" --test "$work/test"
