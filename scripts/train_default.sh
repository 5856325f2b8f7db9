#!/usr/bin/env bash
# Regenerates the shipped bundle models/default from scratch with the project's own commands:
# record simulated bags, train late fusion (= stage 1), UMI, the vanilla transformer and the
# oracle, evaluate all of them on unseen episodes for every sensor subset, export UMI.
#
# The robot split of the paper (Table 1), with the six sensors of config/sensors.yaml: split A
# records {camera, depth, wrist_imu} (what the arm sees and how it moves), split B {tactile,
# force, finger_joints} (what the hand feels), disjoint episodes; the test episodes (unseen
# seeds) record every sensor. The oracle trains on the same episodes as A and B with every
# sensor recorded.
#
# Usage: scripts/train_default.sh [DATA_DIR]   (default: data/, git-ignored)
# Bags already recorded are kept (delete them to re-record); runs are retrained.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. .venv/xmodal_env.sh
data=$(realpath -m "${1:-$root/data}")
export XMODAL_CACHE="$data/cache"
bags="$data/bags" runs="$data/runs"
x="$root/.venv/bin/xmodal"
mkdir -p "$bags" "$runs"
step() { echo "== $(date +%T) $*" >&2; }

record() {  # record NAME ARGS...: a sim bag, unless it is there already
  [ -e "$bags/$1" ] || { step "record $1"; "$x" sim record --out "$bags/$1" "${@:2}"; }
}
record train_a  --episodes 80 --seed 0    --sensors camera,depth,wrist_imu --resolution 128x96
record train_b  --episodes 80 --seed 1000 --sensors tactile,force,finger_joints
record full_a   --episodes 80 --seed 0    --resolution 128x96
record full_b   --episodes 80 --seed 1000 --resolution 128x96
record test     --episodes 40 --seed 5000 --resolution 128x96
record test_640 --episodes 8  --seed 6000
record test_640_at_128 --episodes 8 --seed 6000 --resolution 128x96   # same episodes, low res

train() {  # train NAME METHOD ARGS...
  step "train $1"
  rm -rf "${runs:?}/$1"
  "$x" train fusion --config config/train_fusion.yaml --out "$runs/$1" --method "$2" "${@:3}"
}
train late    late    --bags "$bags/train_a" "$bags/train_b"
train umi     umi     --bags "$bags/train_a" "$bags/train_b" --pretrained "$runs/late"
train vanilla vanilla --bags "$bags/train_a" "$bags/train_b" --pretrained "$runs/late"
train oracle  oracle  --bags "$bags/full_a" "$bags/full_b"

step "evaluate"
"$x" eval --model "$runs/late" "$runs/vanilla" "$runs/umi" "$runs/oracle" \
  --bags "$bags/test" --out "$data/eval"
# Full-resolution camera/depth (640x480, as config/sensors.yaml) vs. the same episodes at 128x96.
"$x" eval --model "$runs/umi" --bags "$bags/test_640" --out "$data/eval_640"
"$x" eval --model "$runs/umi" --bags "$bags/test_640_at_128" --out "$data/eval_640_at_128"

step "export"
"$x" export --model "$runs/umi" --out models/default --bags "$bags/test"
step "done: models/default; tables in $data/eval*/results.md"
