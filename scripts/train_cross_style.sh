#!/usr/bin/env bash
# Leave-one-style-out folds: for each scene style, train the detector and SAM on every OTHER
# style, export them, then measure the held-out style with benchmarks/cross_style.py.
# Recorded recipe, not run in CI (each fold trains two networks: see scripts/train_demo_models.sh
# for their times on 2 CPU cores; a CUDA GPU is used automatically when present).
#
#   bash scripts/train_cross_style.sh                 # every style of 'loadcheck synth --style all'
#   STYLES="quarry night" bash scripts/train_cross_style.sh   # only these folds
#   QUICK=1 bash scripts/train_cross_style.sh         # smoke run: same commands, tiny sizes
#   OUT=dir bash scripts/train_cross_style.sh         # default runs/cross_style
#   FROM=build/demo_classic STYLES="night" bash scripts/train_cross_style.sh
#       # cheaper folds (what docs/quality.md measured in session 10): both networks continued from
#       # CLASSIC-ONLY checkpoints (FROM/detector/detector.pt, FROM/sam/sam.pth: the classic
#       # stage of scripts/train_demo_models.sh, OUT/classic, or the demo checkpoints shipped
#       # before session 10: git show 3e23655:models/demo/sam/sam.pth > ...) on 750 scenes of the
#       # other styles, 8 epochs / 300 steps at one thread each, side by side. Never FROM the
#       # shipped models/demo (trained on every style), and not for the classic fold.
#
# Writes OUT/<style>/{data,detector,sam_256,sam,onnx} per fold and OUT/cross_style.json. The
# training recipe is the demo models' (scripts/train_demo_models.sh) with photometric/style
# augmentation on (the 'loadcheck train' default). Training scenes use seed 0; the benchmark fits
# its integrators on seed 1 and tests on seed 2.
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"

OUT="${OUT:-runs/cross_style}"
ALL_STYLES="classic quarry night dust"
STYLES="${STYLES:-$ALL_STYLES}"
SEED=0
if [ "${QUICK:-0}" = "1" ]; then
  COUNT=12 SIZE=320x180 EPOCHS=1 STEPS=4 FT_STEPS=2 DET_BATCH=4 SEG_BATCH=2 BENCH="--quick"
else
  COUNT=1200 SIZE=960x540 EPOCHS=40 STEPS=2000 FT_STEPS=1200 DET_BATCH=16 SEG_BATCH=4 BENCH=""
fi

for HELD in $STYLES; do
  TRAIN=""
  for S in $ALL_STYLES; do
    [ "$S" = "$HELD" ] || TRAIN="${TRAIN:+$TRAIN,}$S"
  done
  FOLD="$OUT/$HELD"
  echo "fold $HELD: training on $TRAIN"
  if [ -n "${FROM:-}" ]; then
    if [ "$HELD" = classic ]; then
      echo "FROM: the classic fold cannot start from classic-trained checkpoints" >&2
      exit 2
    fi
    [ "${QUICK:-0}" = "1" ] && FT_COUNT=12 FT_EPOCHS=1 FT_SAM=2 || FT_COUNT=750 FT_EPOCHS=8 FT_SAM=300
    loadcheck synth --count "$FT_COUNT" --seed "$SEED" --size "$SIZE" --style "$TRAIN" \
      --out "$FOLD/data" --no-progress
    OMP_NUM_THREADS=1 loadcheck train detector --data "$FOLD/data" --out "$FOLD/detector" \
      --config yolov6n --width 0.125 --depth 0.33 --img-size 320 \
      --weights "$FROM/detector/detector.pt" --epochs "$FT_EPOCHS" --batch-size "$DET_BATCH" \
      --optimizer adamw --lr 0.001 --seed "$SEED" --no-progress &
    DETECTOR_JOB=$!
    OMP_NUM_THREADS=1 loadcheck train sam --data "$FOLD/data" --out "$FOLD/sam" \
      --init "$FROM/sam/sam.pth" --model-type vit_tiny --img-size 512 --steps "$FT_SAM" \
      --batch-size "$SEG_BATCH" --max-boxes 8 --frame crop --loss bce --edge-weight 10 \
      --load-top-noise 0.25 --load-top-noise-std 0.18 --lr 2e-4 --fp16-checkpoint \
      --seed "$SEED" --no-progress
    wait "$DETECTOR_JOB"
    loadcheck export yolov6 --checkpoint "$FOLD/detector/detector.pt" --img-size 320 \
      --out "$FOLD/onnx"
    loadcheck export sam --checkpoint "$FOLD/sam/sam.pth" --model-type vit_tiny \
      --int8-encoder --int8-decoder --out "$FOLD/onnx"
    continue
  fi
  # 1. Training scenes of the other styles (scene i in style i mod n).
  loadcheck synth --count "$COUNT" --seed "$SEED" --size "$SIZE" --style "$TRAIN" \
    --out "$FOLD/data" --no-progress
  # 2. Detector, as the demo's.
  loadcheck train detector --data "$FOLD/data" --out "$FOLD/detector" \
    --config yolov6n --width 0.125 --depth 0.33 --img-size 320 \
    --epochs "$EPOCHS" --batch-size "$DET_BATCH" --optimizer adamw --seed "$SEED" --no-progress
  # 3. SAM at 256 px from scratch, then continued at 512 px on serving's crop framing.
  loadcheck train sam --data "$FOLD/data" --out "$FOLD/sam_256" \
    --model-type vit_tiny --img-size 256 --steps "$STEPS" --batch-size "$SEG_BATCH" \
    --max-boxes 8 --frame both --loss bce --edge-weight 10 --load-top-noise 0.25 \
    --load-top-noise-std 0.18 --fp16-checkpoint --seed "$SEED" --no-progress
  loadcheck train sam --data "$FOLD/data" --out "$FOLD/sam" \
    --init "$FOLD/sam_256/sam.pth" --model-type vit_tiny --img-size 512 \
    --steps "$FT_STEPS" --batch-size "$SEG_BATCH" --max-boxes 8 --frame crop --loss bce \
    --edge-weight 10 --load-top-noise 0.25 --load-top-noise-std 0.18 --lr 2e-4 \
    --fp16-checkpoint --seed "$SEED" --no-progress
  # 4. Export (ONNX + cards): the folder benchmarks/cross_style.py --folds-dir reads.
  loadcheck export yolov6 --checkpoint "$FOLD/detector/detector.pt" --img-size 320 \
    --out "$FOLD/onnx"
  loadcheck export sam --checkpoint "$FOLD/sam/sam.pth" --model-type vit_tiny --out "$FOLD/onnx"
done

# 5. The cross-style table: each held-out style served through its fold's networks.
python benchmarks/cross_style.py --folds-dir "$OUT" --styles "$(echo "$STYLES" | tr ' ' ',')" \
  $BENCH --json "$OUT/cross_style.json" --no-progress
