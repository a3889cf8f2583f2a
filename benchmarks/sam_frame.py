"""Whole-frame SAM at 1024 px versus SAM on the detected trucks' crop at 512 px.

Exports the tiny models twice (SAM encoder at 1024 and at 512, same detector), builds one
repository per variant (``--sam-frame whole`` / ``crop``) and times its segmentator in-process,
per step (``loadcheck.pipeline.runner.PipelineRunner.from_repository``: the steps and ONNX files
the served models run):

    python benchmarks/sam_frame.py --synthetic 6 --size 960x540

Random weights: latency is meaningful, mask quality is not (measure it with trained models:
``benchmarks/eval_demo_models.py --frame both``). Prints one JSON line per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadcheck.evaluation import arguments

VARIANTS = (("whole", 1024), ("crop", 512))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--synthetic", type=arguments.positive_int, default=6, help="scenes (seed 5)")
    p.add_argument("--size", type=arguments.size_wh, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument("--rounds", type=arguments.positive_int, default=2, help="passes over them")
    p.add_argument(
        "--max-det", type=arguments.positive_int, default=4, help="detections kept per image"
    )
    return p


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    args = build_parser().parse_args(argv)
    from loadcheck.evaluation.timing import step_medians
    from loadcheck.export.tiny import export_tiny_models
    from loadcheck.pipeline.prompts import DetectorSettings, SamFrame
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.serving.repository import RepositorySettings, build_repository
    from loadcheck.synth import render_scene

    images = [render_scene(5, i, args.size).encode_jpeg() for i in range(args.synthetic)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for frame, side in VARIANTS:
            models = Path(tmp) / f"models_{side}"
            export_tiny_models(models, sam_img_size=side)
            repo = Path(tmp) / f"repo_{frame}_{side}"
            settings = RepositorySettings(
                sam_frame=SamFrame(frame), detector=DetectorSettings(0.3, 0.45, args.max_det)
            )
            build_repository(models, repo, settings)
            timings = step_medians(PipelineRunner.from_repository(repo), images, args.rounds)
            result = {"variant": f"{frame}@{side}", "image_wh": list(args.size), **timings}
            print(json.dumps(result), flush=True)
            results.append(result)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
