#!/usr/bin/env bash
# Site adaptation learning curve: a fold's networks (trained without one style) fine-tuned on N
# labelled photos of that style, for each N, then served on the style's held-out scenes.
# Recorded recipe, not run in CI.
#
#   FOLD=runs/cross_style/night STYLE=night bash scripts/train_site_curve.sh
#   COUNTS="10 50" FOLD=... STYLE=... bash scripts/train_site_curve.sh
#   QUICK=1 FOLD=... STYLE=... bash scripts/train_site_curve.sh   # smoke run, tiny sizes
#
# FOLD is a folder of scripts/train_cross_style.sh: FOLD/detector/detector.pt, FOLD/sam/sam.pth,
# FOLD/onnx. The site's photos are 'loadcheck synth --style STYLE' scenes of seed 7 (the
# benchmark fits on seed 1 and tests on seed 2): YOLO boxes + masks, as a labelling tool writes
# them. Each N gets the same number of optimiser steps, so a point differs only in its photos.
# Writes FOLD/site_<N>/{data,detector,sam,onnx} and FOLD/site_curve_<N>[_own].json (N = 0: FOLD
# itself; _own: the integrator fitted on STYLE's scenes instead of the training styles').
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"

: "${FOLD:?FOLD=<fold folder of scripts/train_cross_style.sh>}"
: "${STYLE:?STYLE=<the style the fold held out>}"
COUNTS="${COUNTS:-10 25 50 100}"
TRAIN_STYLES="${TRAIN_STYLES:-$(echo classic quarry night dust | tr ' ' '\n' | grep -vx "$STYLE" | paste -sd,)}"
if [ "${QUICK:-0}" = "1" ]; then
  SIZE=320x180 DET_STEPS=2 SAM_STEPS=2 BENCH="--quick"
else
  SIZE=960x540 DET_STEPS=120 SAM_STEPS=150 BENCH="--fit-count 200 --test-count 100"
fi

MODELS="--fold $STYLE=$FOLD/onnx"
for N in $COUNTS; do
  SITE="$FOLD/site_$N"
  loadcheck synth --count "$N" --seed 7 --size "$SIZE" --style "$STYLE" --out "$SITE/data" \
    --no-progress
  # The detector: a fixed number of steps at batch 8 (a 10-photo site has 9 training photos).
  TRAIN_PHOTOS=$(( N * 9 / 10 > 0 ? N * 9 / 10 : 1 ))
  STEPS_PER_EPOCH=$(( (TRAIN_PHOTOS + 7) / 8 ))
  EPOCHS=$(( (DET_STEPS + STEPS_PER_EPOCH - 1) / STEPS_PER_EPOCH ))
  loadcheck train detector --data "$SITE/data" --out "$SITE/detector" \
    --config yolov6n --width 0.125 --depth 0.33 --img-size 320 \
    --weights "$FOLD/detector/detector.pt" --epochs "$EPOCHS" --batch-size 8 \
    --optimizer adamw --lr 0.0005 --seed 0 --no-progress
  loadcheck train sam --data "$SITE/data" --out "$SITE/sam" \
    --init "$FOLD/sam/sam.pth" --model-type vit_tiny --img-size 512 \
    --steps "$SAM_STEPS" --batch-size 4 --max-boxes 8 --frame crop --loss bce \
    --edge-weight 10 --load-top-noise 0.25 --load-top-noise-std 0.18 --lr 1e-4 \
    --fp16-checkpoint --seed 0 --no-progress
  loadcheck export yolov6 --checkpoint "$SITE/detector/detector.pt" --img-size 320 \
    --out "$SITE/onnx"
  loadcheck export sam --checkpoint "$SITE/sam/sam.pth" --model-type vit_tiny \
    --int8-encoder --int8-decoder --out "$SITE/onnx"
done

# Each point served on the style's held-out scenes, the integrator fitted on the training styles.
for N in 0 $COUNTS; do
  DIR="$FOLD/onnx"; [ "$N" = 0 ] || DIR="$FOLD/site_$N/onnx"
  python benchmarks/cross_style.py --models "$DIR" --train-styles "$TRAIN_STYLES" \
    --styles "$STYLE" $BENCH --json "$FOLD/site_curve_$N.json" --no-progress
  # ... and with the integrator fitted on the site's own style (what a site does anyway).
  python benchmarks/cross_style.py --models "$DIR" --train-styles "$STYLE" \
    --styles "$STYLE" $BENCH --json "$FOLD/site_curve_${N}_own.json" --no-progress
done

python - "$FOLD" $COUNTS <<'PY'
import json, sys
from pathlib import Path

fold = Path(sys.argv[1])
print("labelled photos  accuracy (fit: training styles / own style)  bed IoU  load IoU")
for n in ["0", *sys.argv[2:]]:
    f = json.loads((fold / f"site_curve_{n}.json").read_text())["folds"][0]
    own = json.loads((fold / f"site_curve_{n}_own.json").read_text())["folds"][0]
    iou = f["mask_iou"]
    print(f"{n:>15}  {f['accuracy']['accuracy']:.3f} / {own['accuracy']['accuracy']:.3f}"
          f"{'':>28}{iou['bed']['mean']:7.3f}  {iou['load']['mean']:8.3f}")
PY
