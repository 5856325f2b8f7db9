#!/usr/bin/env bash
# GPU check (under 8 minutes on one GPU): a few hundred AMP training steps per stage, export with
# the fp32 parity check, TensorRT engines if `tensorrt` imports, ONNX Runtime CUDA / TensorRT EP
# parity (fp16 limit 1e-2) where those providers exist, batch-1 timings. Prints what it skipped.
#
# Needs data/gpu_check/samples.npz from scripts/gpu_check_prepare.sh (run that here first).
# Works from a plain checkout: python3 with torch, onnx, onnxscript, onnxruntime, numpy, PyYAML,
# tqdm; no ROS, MuJoCo or rosbags. Extra arguments go to `gpu_check.py run` (--steps, --device).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=python3
[ -x "$root/.venv/bin/python" ] && py="$root/.venv/bin/python"
# The training package is installed as `xmodal_training` (setup.py maps training/ to it); without
# an install, a link gives it that name.
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
ln -s "$root/training" "$shim/xmodal_training"
export PYTHONPATH="$shim:$root${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
exec timeout 470 "$py" "$root/scripts/gpu_check.py" run "$@"
