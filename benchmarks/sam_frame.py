"""Whole-frame SAM at 1024 px versus SAM on the detected trucks' crop at 512 px.

Exports the tiny models twice (SAM encoder at 1024 and at 512, same detector), builds one
repository per variant (``--sam-frame whole`` / ``crop``) and times the segmentator pipeline
in-process (the same functions and ONNX files the served models run), per stage:

    python benchmarks/sam_frame.py --synthetic 6 --size 960x540

Random weights: latency is meaningful, mask quality is not (measure it with trained models:
mask IoU against the synthetic scenes' true masks). Prints one JSON line per variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=6)
    parser.add_argument("--size", default="960x540")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-det", type=int, default=4)
    args = parser.parse_args()

    from loadcheck.export.tiny import export_tiny_models
    from loadcheck.serving.pipeline import InProcessSegmentator
    from loadcheck.serving.prompts import DetectorSettings, SamFrame
    from loadcheck.serving.repository import RepositorySettings, build_repository
    from loadcheck.synth import render_scene

    w, h = (int(v) for v in args.size.lower().split("x"))
    images = [render_scene(5, i, size_wh=(w, h)).encode_jpeg() for i in range(args.synthetic)]
    variants = [("whole", 1024), ("crop", 512)]
    with tempfile.TemporaryDirectory() as tmp:
        for frame, side in variants:
            models = Path(tmp) / f"models_{side}"
            export_tiny_models(models, sam_img_size=side)
            repo = Path(tmp) / f"repo_{frame}_{side}"
            settings = RepositorySettings(
                sam_frame=SamFrame(frame), detector=DetectorSettings(0.3, 0.45, args.max_det)
            )
            build_repository(models, repo, settings)
            seg = InProcessSegmentator(repo)
            seg.segment(images[0])  # warm-up
            stages: dict[str, list[float]] = {}
            totals = []
            for _ in range(args.rounds):
                for data in images:
                    result = seg.segment(data)
                    for name, ms in result.timings_ms.items():
                        stages.setdefault(name, []).append(ms)
                    totals.append(sum(result.timings_ms.values()))
            print(
                json.dumps(
                    {
                        "variant": f"{frame}@{side}",
                        "images": len(totals),
                        "image_wh": [w, h],
                        "median_total_ms": round(statistics.median(totals), 1),
                        "median_stage_ms": {
                            k: round(statistics.median(v), 1) for k, v in stages.items()
                        },
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
