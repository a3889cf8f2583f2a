#!/usr/bin/env bash
# The recorded commands that train loadcheck's demo detector and segmenter on synthetic scenes.
#
#   bash scripts/train_demo_models.sh            # full run (see the times below)
#   QUICK=1 bash scripts/train_demo_models.sh    # smoke run: same commands, tiny sizes (~1 min)
#   OUT=dir DATA=dir bash scripts/train_demo_models.sh
#
# Measured for the committed models on 2 shared CPU cores (PyTorch 2.14.1 CPU, one thread per
# job, detector and segmenter run at the same time next to other work; a CUDA GPU is used
# automatically when present and is much faster):
#   synth  400 scenes at 960x540                                  ~6 s
#   detector  YOLOv6-n, width 0.125, depth 0.33, 320 px, batch 16,
#             60 epochs x 23 steps = 1,380 steps                  1,608 s
#   segmenter vit_tiny SAM, 256 px, batch 4 photos x <= 8 boxes,
#             2,000 steps                                         1,077 s
#   decoder fine-tuning at 512 px, 1,500 steps                    486 s
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
  COUNT=12 SIZE=320x180 EPOCHS=2 STEPS=6 FT_STEPS=4 DET_BATCH=4 SEG_BATCH=2
else
  COUNT=400 SIZE=960x540 EPOCHS=60 STEPS=2000 FT_STEPS=1500 DET_BATCH=16 SEG_BATCH=4
fi

# 1. Training scenes (seed 0). Held-out evaluation uses another seed (see benchmarks/).
loadcheck synth --count "$COUNT" --seed "$SEED" --size "$SIZE" --out "$DATA"

# 2. Detector: the yolov6 package's own model and loss, from random weights.
loadcheck train detector --data "$DATA" --out "$OUT/detector" \
  --config yolov6n --width 0.125 --depth 0.33 --img-size 320 \
  --epochs "$EPOCHS" --batch-size "$DET_BATCH" --optimizer adamw --seed "$SEED"

# 3. Segmenter: SAM's architecture at the vit_tiny configuration, box prompts, from random weights.
loadcheck train segmenter --data "$DATA" --out "$OUT/segmenter_256" \
  --model-type vit_tiny --img-size 256 --steps "$STEPS" --batch-size "$SEG_BATCH" \
  --max-boxes 8 --frame both --loss bce --fp16-checkpoint --seed "$SEED"

# 3b. Serve SAM at 512 px: resize its position tables and fine-tune the mask decoder there
#     (encoder frozen, embeddings cached). Mask logits at S/4 = 128 px instead of 64 px.
loadcheck train segmenter --data "$DATA" --out "$OUT/segmenter" \
  --from-sam "$OUT/segmenter_256/segmenter.pth" --model-type vit_tiny --img-size 512 \
  --steps "$FT_STEPS" --batch-size "$SEG_BATCH" --max-boxes 8 --frame crop --loss bce \
  --fp16-checkpoint --seed "$SEED"

# 4. Export through the normal commands (ONNX + model cards).
loadcheck export yolov6 --checkpoint "$OUT/detector/detector.pt" --img-size 320 \
  --out "$OUT/onnx"
loadcheck export sam --checkpoint "$OUT/segmenter/segmenter.pth" --model-type vit_tiny \
  --out "$OUT/onnx"
echo "demo models: $OUT/detector/detector.pt, $OUT/segmenter/segmenter.pth, ONNX in $OUT/onnx"
