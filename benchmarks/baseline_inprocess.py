"""Baseline: the replaced system's way, everything in one Python process.

PyTorch SAM predictor (segment-anything's ``SamPredictor``) + PyTorch YOLOv6 + load-geometry
features + XGBoost, image after image, on the same checkpoints and images the served pipeline uses:

    python benchmarks/baseline_inprocess.py --export-dir EXPORT --repository model_repository \
        --integrator site_a --synthetic 8

``EXPORT/checkpoints/`` holds the checkpoints ``export_tiny_models`` wrote (or pass
``--sam-checkpoint`` / ``--detector-checkpoint``). Detector thresholds are read from the
repository so both pipelines keep the same boxes. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--export-dir", type=Path, required=True)
    parser.add_argument("--repository", type=Path, required=True)
    parser.add_argument("--integrator", required=True)
    parser.add_argument("--sam-checkpoint", type=Path)
    parser.add_argument("--detector-checkpoint", type=Path)
    parser.add_argument("--synthetic", type=int, default=8)
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from segment_anything import SamPredictor

    from loadcheck.export.card import ModelCard
    from loadcheck.export.sam_models import load_sam
    from loadcheck.export.yolov6_models import load_yolov6_checkpoint
    from loadcheck.payloads import Detections, SegmentationMasks
    from loadcheck.scoring.model import ScoreModel
    from loadcheck.serving.images import decode_image, letterbox
    from loadcheck.serving.pipeline import InProcessSegmentator
    from loadcheck.serving.prompts import decode_yolo, remap_classes, select_prompts
    from loadcheck.serving.scoring import score_segmentation
    from loadcheck.synth import render_scene

    torch.set_num_threads(args.threads)
    ckpts = args.export_dir / "checkpoints"
    sam_ckpt = args.sam_checkpoint or next(ckpts.glob("sam_*.pth"))
    det_ckpt = args.detector_checkpoint or next(ckpts.glob("yolov6*.pt"))
    encoder_card = ModelCard.for_model(args.export_dir / "sam_encoder.onnx")
    sam, _ = load_sam(sam_ckpt, None, encoder_card.image_size)
    predictor = SamPredictor(sam)
    detector = load_yolov6_checkpoint(det_ckpt)
    reference = InProcessSegmentator(args.repository)  # only for its settings
    scorer = ScoreModel.load(
        max(
            (args.repository / f"scorer_{args.integrator}").glob("[0-9]*"),
            key=lambda p: int(p.name),
        )
    )
    w, h = (int(v) for v in args.size.lower().split("x"))
    images = [render_scene(11, i, size_wh=(w, h)).encode_jpeg() for i in range(args.synthetic)]

    def one(data: bytes) -> str:
        rgb = decode_image(data)
        boxed, transform = letterbox(rgb, reference.size_hw, reference.pad)
        with torch.inference_mode():
            x = torch.from_numpy(boxed).permute(2, 0, 1)[None].float() / 255.0
            raw = detector(x)
            raw = raw[0] if isinstance(raw, (list, tuple)) else raw
        image_wh = (rgb.shape[1], rgb.shape[0])
        found = decode_yolo(raw.numpy(), transform, image_wh, reference.prompt_settings.detector)
        prompts = select_prompts(remap_classes(found, reference.prompt_settings.class_map))
        predictor.set_image(rgb)
        if len(prompts):
            boxes = predictor.transform.apply_boxes_torch(
                torch.from_numpy(prompts.xyxy), rgb.shape[:2]
            )
            with torch.inference_mode():
                masks, iou, _ = predictor.predict_torch(
                    None, None, boxes=boxes, multimask_output=False
                )
            mask_hw, iou_k = masks[:, 0].numpy(), iou[:, 0].numpy()
        else:
            mask_hw, iou_k = np.zeros((0, h, w), bool), np.zeros(0, np.float32)
        result = score_segmentation(
            Detections(prompts.xyxy, prompts.confidence, prompts.class_id),
            SegmentationMasks(mask_hw, np.clip(iou_k, 0, 1)),
            scorer,
        )
        return result.score_result.value

    one(images[0])  # warm-up
    latencies = []
    start = time.perf_counter()
    for _ in range(args.rounds):
        for data in images:
            t0 = time.perf_counter()
            one(data)
            latencies.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    q = np.percentile(latencies, [50, 90, 99])
    print(
        json.dumps(
            {
                "pipeline": "baseline: PyTorch SamPredictor + YOLOv6 + features + XGBoost",
                "sam_img_size": encoder_card.image_size,
                "images": len(latencies),
                "torch_threads": args.threads,
                "throughput_img_s": round(len(latencies) / wall, 3),
                "p50_s": round(float(q[0]), 4),
                "p90_s": round(float(q[1]), 4),
                "p99_s": round(float(q[2]), 4),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
