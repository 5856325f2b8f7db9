#!/usr/bin/env bash
# Regenerates the shipped bundle models/default from scratch with the project's own commands:
# record simulated bags, train late fusion (= stage 1), UMI, the vanilla transformer, the oracle
# and the oracle with sensor-subset dropout for several training seeds, evaluate them on
# validation episodes (where choices are made) and once on test episodes (the final table), the
# oracles and UMI also on their training episodes (train vs. held-out accuracy), export UMI.
#
# The robot split of the paper (Table 1), with the six sensors of config/sensors.yaml: split A
# records {camera, depth, wrist_imu} (what the arm sees and how it moves), split B {tactile,
# force, finger_joints} (what the hand feels), disjoint episodes; validation and test episodes
# (seeds of their own) record every sensor. The oracles train on the same episodes as A and B
# with every sensor recorded.
#
# Usage: scripts/train_default.sh [--dry-run | --check-splits] [DATA_DIR]   (default: data/)
#   --dry-run       print the commands instead of running them (nothing is recorded or trained)
#   --check-splits  only check the seed ranges below, then exit
#   SEEDS="0 1 2"   training seeds (model initialisation and sample order; the episodes are the
#                   same for every training seed); the first one is exported
# Bags already recorded are kept (delete them to re-record); runs are retrained.
set -euo pipefail

# Every bag, in one place. Episode i of a bag is simulated from seed FIRST+i and holds object class
# (FIRST+i) % 8 (training/sim/record.py), so a multiple of 8 episodes is balanced over the classes.
# SAME: the bag whose episodes this one records again (other sensors or resolution), or -; only
# such a pair may share seeds, and then exactly. check_splits fails on any other overlap.
#  name            first  episodes  same      role
SPLITS='
   train_a             0        80  -         training, split A: camera, depth, wrist_imu
   train_b          1000        80  -         training, split B: tactile, force, finger_joints
   full_a              0        80  train_a   training, oracles: the episodes of A, every sensor
   full_b           1000        80  train_b   training, oracles: the episodes of B, every sensor
   val              3000        40  -         validation: every choice (augmentation, epochs, p)
   test             5000        80  -         test: touched once, by the final table
   test_640         6000         8  -         test: UMI with 640x480 camera and depth images
   test_640_at_128  6000         8  test_640  test: the same episodes at 128x96
'
N_CLASSES=8          # training/sim/record.py CLASSES
MIN_TEST_EPISODES=80

fail() { echo "train_default.sh: $*" >&2; exit 1; }

split() {  # split NAME: prints "FIRST EPISODES" of that bag
  local line
  line=$(awk -v n="$1" '$1 == n { print $2, $3 }' <<<"$SPLITS")
  [ -n "$line" ] || fail "no bag $1 in SPLITS"
  echo "$line"
}

check_splits() {  # fails, naming both bags, unless only SAME pairs share seeds (and all of them)
  awk -v classes="$N_CLASSES" -v min_test="$MIN_TEST_EPISODES" '
    NF == 0 { next }
    NF < 5 || $2 !~ /^[0-9]+$/ || $3 !~ /^[1-9][0-9]*$/ {
      print "SPLITS: bad line: " $0; bad = 1; next }
    { name[++n] = $1; first[n] = $2; count[n] = $3; same[n] = $4 }
    END {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
        if (name[i] == name[j]) { print "SPLITS: " name[i] " twice"; bad = 1; continue }
        overlap = first[i] < first[j] + count[j] && first[j] < first[i] + count[i]
        paired = same[i] == name[j] || same[j] == name[i]
        if (overlap && !(paired && first[i] == first[j] && count[i] == count[j])) {
          printf "SPLITS: %s (seeds %d-%d) and %s (seeds %d-%d) overlap\n", name[i], first[i],
                 first[i] + count[i] - 1, name[j], first[j], first[j] + count[j] - 1; bad = 1 }
        if (paired && !(first[i] == first[j] && count[i] == count[j])) {
          printf "SPLITS: %s and %s are the same episodes, but their seeds differ\n",
                 name[i], name[j]; bad = 1 }
      }
      for (i = 1; i <= n; i++) if (name[i] == "test") {
        test = 1
        if (count[i] % classes || count[i] < min_test) {
          printf "SPLITS: test has %d episodes; it needs a multiple of %d (balanced over the " \
                 "classes), at least %d\n", count[i], classes, min_test; bad = 1 }
      }
      if (!test) { print "SPLITS: no test bag"; bad = 1 }
      exit bad
    }' <<<"$SPLITS" >&2 || fail "fix the seed ranges at the top of $0"
}

dry=0
case "${1:-}" in
  --check-splits) check_splits; echo "seed ranges ok" >&2; exit 0 ;;
  --dry-run) dry=1; shift ;;
esac
check_splits
seeds=${SEEDS:-0 1 2}
for s in $seeds; do [[ $s =~ ^[0-9]+$ ]] || fail "SEEDS: '$s' is not a non-negative integer"; done
read -r first_seed _ <<<"$seeds"
[ -n "${first_seed:-}" ] || fail 'SEEDS is empty; give at least one training seed, e.g. SEEDS="0"'

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
data=$(realpath -m "${1:-$root/data}")
export XMODAL_CACHE="$data/cache"
bags="$data/bags" runs="$data/runs"
x="$root/.venv/bin/xmodal"
if ((dry)); then
  x=xmodal
  run() { printf '%q ' "$@" | sed 's/ $//'; echo; }
else
  . .venv/xmodal_env.sh
  mkdir -p "$bags" "$runs"
  run() { "$@"; }
fi
step() { echo "== $(date +%T) $*" >&2; }

record() {  # record NAME ARGS...: the sim bag NAME with its SPLITS seeds, unless it is there
  local first n
  read -r first n <<<"$(split "$1")"
  if [ -e "$bags/$1" ] && ! ((dry)); then
    grep -qE "xmodal.source: xmodal_training.sim seed=$first episodes=$n\$" \
      "$bags/$1/metadata.yaml" 2>/dev/null ||
      fail "$bags/$1: not recorded from seed $first with $n episodes, as SPLITS says; delete it"
    return
  fi
  step "record $1"
  run "$x" sim record --out "$bags/$1" --episodes "$n" --seed "$first" "${@:2}"
}
record train_a  --sensors camera,depth,wrist_imu --resolution 128x96
record train_b  --sensors tactile,force,finger_joints
record full_a   --resolution 128x96
record full_b   --resolution 128x96
record val      --resolution 128x96
record test     --resolution 128x96
record test_640
record test_640_at_128 --resolution 128x96   # same episodes as test_640, low resolution

train() {  # train NAME METHOD SEED ARGS...
  step "train $1"
  ((dry)) || rm -rf "${runs:?}/$1"
  run "$x" train fusion --config config/train_fusion.yaml --out "$runs/$1" --method "$2" \
    --seed "$3" "${@:4}"
}
for s in $seeds; do
  split_ab=(--bags "$bags/train_a" "$bags/train_b")
  full_ab=(--bags "$bags/full_a" "$bags/full_b")
  train "late_s$s"    late    "$s" "${split_ab[@]}"
  train "umi_s$s"     umi     "$s" "${split_ab[@]}" --pretrained "$runs/late_s$s"
  train "vanilla_s$s" vanilla "$s" "${split_ab[@]}" --pretrained "$runs/late_s$s"
  train "oracle_s$s"  oracle  "$s" "${full_ab[@]}"
  # The oracle's stage 1 (same bags, same seed): the two oracles differ only in the dropout.
  train "oracle_dropout_s$s" oracle_dropout "$s" "${full_ab[@]}" \
    --pretrained "$runs/oracle_s$s/stage1"
done

# The one choice made on results, made on validation episodes: the camera/depth shift
# augmentation (data.shift_px). Late fusion trained without it, against late fusion with it.
noshift="$data/train_fusion_noshift.yaml"
((dry)) || sed 's/^  shift_px: .*/  shift_px: {}/' config/train_fusion.yaml >"$noshift"
((dry)) || grep -q '^  shift_px: {}$' "$noshift" || fail "$noshift: could not set shift_px: {}"
step "train late_noshift_s$first_seed (the augmentation choice)"
((dry)) || rm -rf "${runs:?}/late_noshift_s$first_seed"
run "$x" train fusion --config "$noshift" --out "$runs/late_noshift_s$first_seed" --method late \
  --seed "$first_seed" --bags "$bags/train_a" "$bags/train_b"
run "$x" eval --model "$runs/late_s$first_seed" "$runs/late_noshift_s$first_seed" \
  --bags "$bags/val" --sample-hz 5 --out "$data/eval_val_shift"

runs_of() {  # runs_of METHOD...: sets `models` to those methods' runs, every seed
  models=()
  local m s
  for m; do for s in $seeds; do models+=("$runs/${m}_s$s"); done; done
}
# Evaluation rates: training samples at 25 Hz; neighbouring samples of an episode are nearly the
# same evidence and every interval is over episodes, so the tables sample 12.5 Hz (test) and 5 Hz
# (validation, training episodes) to keep 15 models x 63 subsets within a couple of CPU hours.
step "evaluate on validation episodes"
runs_of late vanilla umi oracle oracle_dropout
run "$x" eval --model "${models[@]}" --bags "$bags/val" --sample-hz 5 --out "$data/eval_val"
step "evaluate on training episodes"
# Accuracy on the episodes the models trained on, to set against the held-out figures (does the
# oracle memorise?). For UMI only split A's sensors on full_a and B's on full_b were its inputs.
runs_of umi oracle oracle_dropout
run "$x" eval --model "${models[@]}" --bags "$bags/full_a" "$bags/full_b" --sample-hz 5 \
  --out "$data/eval_train"
step "evaluate on test episodes (the final table)"
runs_of late vanilla umi oracle oracle_dropout
run "$x" eval --model "${models[@]}" --bags "$bags/test" --sample-hz 12.5 --out "$data/eval"
# Full-resolution camera/depth (640x480, as config/sensors.yaml) vs. the same episodes at 128x96.
runs_of umi
run "$x" eval --model "${models[@]}" --bags "$bags/test_640" --out "$data/eval_640"
run "$x" eval --model "${models[@]}" --bags "$bags/test_640_at_128" --out "$data/eval_640_at_128"

step "export"
# Parity of the exported graphs is checked on validation episodes: the test bags stay untouched
# by anything but the final tables.
run "$x" export --model "$runs/umi_s$first_seed" --out models/default --bags "$bags/val"
step "done: models/default; tables in $data/eval*/results.md"
