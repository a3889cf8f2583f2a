#!/usr/bin/env bash
# SAM recipe sweep: variants of the demo SAM's 512 px stage, trained in parallel from the
# same 256 px checkpoint, each scored by benchmarks/sam_verdicts.py (true-box prompts).
#
#   INIT=models/demo/sam_256/sam.pth bash benchmarks/sam_sweep.sh
#   VARIANTS="base edge10" STEPS=1200 OUT=runs/sweep bash benchmarks/sam_sweep.sh
#
# Meant for a GPU host (a CUDA device is used automatically): on the 2-core development VM one
# variant takes ~18 min, and parallel PyTorch jobs there starve each other. Eight variants side by
# side on one H200 (16 cores) took 6.5 min for 1,200 steps each (data loading bound). INIT is the
# 256 px stage of scripts/train_demo_models.sh (its sam_256 output); DATA its scenes.
# Results: one JSON line per variant in $OUT/results.jsonl (docs/quality.md has a run's table).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PATH="$PWD/.venv/bin:$PATH"
DATA="${DATA:-build/demo_train}"
INIT="${INIT:-models/demo/sam_256/sam.pth}"
OUT="${OUT:-runs/sam_sweep}"
STEPS="${STEPS:-1200}"
VARIANTS="${VARIANTS:-base seed1 edge4 edge10 focal lr5e-4}"
if [ ! -f "$INIT" ]; then
  echo "INIT=$INIT: no 256 px checkpoint; run scripts/train_demo_models.sh (or point INIT at one)" >&2
  exit 2
fi
if [ ! -d "$DATA/images" ]; then
  loadcheck synth --count 800 --seed 0 --size 960x540 --out "$DATA" --no-progress || exit 1
fi
mkdir -p "$OUT"

# The demo's 512 px stage without --edge-weight; each variant changes one thing.
args_of() {
  case "$1" in
    base) echo "--seed 0" ;;
    seed1) echo "--seed 1" ;;
    steps2x) echo "--seed 0 --steps $((2 * STEPS))" ;;
    edge4) echo "--seed 0 --edge-weight 4" ;;
    edge10) echo "--seed 0 --edge-weight 10" ;;
    edge20) echo "--seed 0 --edge-weight 20" ;;
    focal) echo "--seed 0 --loss focal" ;;
    lr5e-4) echo "--seed 0 --lr 5e-4" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}

run_variant() {
  local name=$1 extra
  extra=$(args_of "$name") || return 1
  # shellcheck disable=SC2086  # $extra holds several options
  OMP_NUM_THREADS=2 loadcheck train sam --data "$DATA" --out "$OUT/$name" --init "$INIT" \
    --model-type vit_tiny --img-size 512 --steps "$STEPS" --batch-size 4 --max-boxes 8 \
    --frame crop --loss bce --lr 2e-4 --fp16-checkpoint --no-progress --log-every 300 \
    --save-every 100000 $extra > "$OUT/$name.log" 2>&1 || { echo "$name: training failed" >&2; return 1; }
  OMP_NUM_THREADS=2 python benchmarks/sam_verdicts.py "$OUT/$name/sam.pth" \
    --json "$OUT/$name.json" >> "$OUT/$name.log" 2>&1 || { echo "$name: scoring failed" >&2; return 1; }
  python - "$OUT" "$name" >> "$OUT/results.jsonl" <<'PY'
import json, sys
out, name = sys.argv[1], sys.argv[2]
row = {"variant": name, **json.load(open(f"{out}/{name}.json", encoding="utf-8"))}
row["train_s"] = json.load(open(f"{out}/{name}/training_log.json", encoding="utf-8"))["elapsed_s"]
print(json.dumps(row))
PY
  echo "$name done"
}

for name in $VARIANTS; do
  run_variant "$name" &
done
wait
cat "$OUT/results.jsonl"
