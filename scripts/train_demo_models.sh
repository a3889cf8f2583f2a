#!/usr/bin/env bash
# The recorded commands that train loadcheck's demo detector and segmenter on synthetic scenes.
#
#   bash scripts/train_demo_models.sh            # full run (see the times below)
#   QUICK=1 bash scripts/train_demo_models.sh    # smoke run: same commands, tiny sizes (~1 min)
#   OUT=dir DATA=dir bash scripts/train_demo_models.sh
#
# Expected run time of the full run on 2 CPU cores (PyTorch 2.14.1 CPU, the machine otherwise
# idle; a CUDA GPU is used automatically when present and is much faster):
#   synth  400 scenes at 960x540                                  ~15 s
#   detector  YOLOv6-n, width 0.125, depth 0.33, 320 px, batch 16,
#             60 epochs x 23 steps = 1,380 steps at ~0.5 s/step   ~12 min
#   segmenter vit_tiny SAM, 256 px, batch 4 photos x <= 8 boxes,
#             2,000 steps at ~0.5 s/step                          ~17 min
#   export    both, through 'loadcheck export'                    ~10 s
# Each model trains in under 30 minutes. Seeds are fixed: the same command gives the same
# training data and the same batch order (bit-exact weights only on the same hardware/threads).
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"

OUT="${OUT:-models/demo}"
DATA="${DATA:-build/demo_train}"
SEED=0
if [ "${QUICK:-0}" = "1" ]; then
  COUNT=12 SIZE=320x180 EPOCHS=2 STEPS=6 DET_BATCH=4 SEG_BATCH=2
else
  COUNT=400 SIZE=960x540 EPOCHS=60 STEPS=2000 DET_BATCH=16 SEG_BATCH=4
fi

# 1. Training scenes (seed 0). Held-out evaluation uses another seed (see benchmarks/).
loadcheck synth --count "$COUNT" --seed "$SEED" --size "$SIZE" --out "$DATA"

# 2. Detector: the yolov6 package's own model and loss, from random weights.
loadcheck train detector --data "$DATA" --out "$OUT/detector" \
  --config yolov6n --width 0.125 --depth 0.33 --img-size 320 \
  --epochs "$EPOCHS" --batch-size "$DET_BATCH" --optimizer adamw --seed "$SEED"

# 3. Segmenter: SAM's architecture at the vit_tiny configuration, box prompts, from random weights.
loadcheck train segmenter --data "$DATA" --out "$OUT/segmenter" \
  --model-type vit_tiny --img-size 256 --steps "$STEPS" --batch-size "$SEG_BATCH" \
  --max-boxes 8 --frame both --loss bce --fp16-checkpoint --seed "$SEED"

# 4. Export through the normal commands (ONNX + model cards).
loadcheck export yolov6 --checkpoint "$OUT/detector/detector.pt" --img-size 320 \
  --out "$OUT/onnx"
loadcheck export sam --checkpoint "$OUT/segmenter/segmenter.pth" --model-type vit_tiny \
  --out "$OUT/onnx"
echo "demo models: $OUT/detector/detector.pt, $OUT/segmenter/segmenter.pth, ONNX in $OUT/onnx"
