"""Verdict accuracy and rim error of a SAM training checkpoint, prompted with the true boxes.

    python benchmarks/segmenter_verdicts.py CHECKPOINT [--model-type vit_tiny] [--img-size 512]
        [--fit-seed 1 --fit-count 200] [--test-seed 2 --test-count 300] [--json OUT]

For comparing segmenter training recipes without the detector and without an ONNX export: the
checkpoint runs in PyTorch (CUDA when present) as the exported encoder / decoder graphs compute
it, behind serving's own prompt functions
(``serving.prompts``: ``select_prompts``, the crop ``sam_region``, ``sam_input``,
``decoder_prompts`` with the load points; ``serving.masks.upsample_masks``), prompted with each
scene's **true** boxes, so a difference between two checkpoints is SAM's alone. Per checkpoint:

* verdict accuracy of an integrator with loadcheck's defaults fitted on the fitting scenes' served
  masks and tested on the test scenes (as ``benchmarks/verdict_oracles.py`` scores its ``served``
  row), with its 95 % Wilson interval;
* the **rim error**: for the scored truck of each loaded test scene, the mean distance between
  the rim line the features fit to the served bed mask and the one they fit to the true bed mask
  (``features.profile.bed_geometry``), in bed heights — the load heights, pits and balance are
  all measured from that line (docs/quality.md);
* the mean bed and load mask IoU of those trucks.

``benchmarks/segmenter_sweep.sh`` trains recipe variants and runs this on each.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_demo_models import (
    REPO,
    _positive,
    load_scene,
    synth_fingerprint,
    true_prompts,
    write_json,
)
from verdict_oracles import ScoredVersion, accuracy_of, score_versions, true_masks_of

from loadcheck.payloads import Detections, TruckMasks

SIZE = (960, 540)


def rim_error(served_bed: np.ndarray, true_bed: np.ndarray) -> float | None:
    """Mean |served rim line - true rim line| over the served bed's columns, in true bed
    heights (the lines of ``features.profile.bed_geometry``); ``None`` without a bed."""
    from loadcheck.features.profile import bed_geometry

    served, truth = bed_geometry(served_bed), bed_geometry(true_bed)
    if served is None or truth is None:
        return None
    cols = np.arange(served.x1, served.x2 + 1, dtype=np.float64)
    fit_s = np.polyfit(np.arange(served.x1, served.x2 + 1), served.y1 + served.rim, 1)
    fit_t = np.polyfit(np.arange(truth.x1, truth.x2 + 1), truth.y1 + truth.rim, 1)
    gap = np.abs(np.polyval(fit_s, cols) - np.polyval(fit_t, cols))
    return float(gap.mean() / truth.height)


class TorchSam:
    """A SAM checkpoint as the served graphs compute it (``export.sam_onnx``'s encoder and decoder
    modules, which the ``python-torch`` runtime serves too) behind serving's crop framing."""

    def __init__(self, checkpoint: Path, model_type: str, img_size: int) -> None:
        import torch

        from loadcheck.export.sam_models import PIXEL_MEAN, load_sam
        from loadcheck.export.sam_onnx import make_decoder_module, make_encoder_module

        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        sam, _ = load_sam(checkpoint, model_type, img_size)
        self.side = int(sam.image_encoder.img_size)
        self.encoder = make_encoder_module(sam).to(self.device)
        self.decoder = make_decoder_module(sam).to(self.device)
        r, g, b = (round(v) for v in PIXEL_MEAN)  # the pad colour the exporter's card sets
        self.pad_rgb = (r, g, b)

    def trucks(self, rgb: np.ndarray, prompts: Detections) -> list[TruckMasks]:
        import torch

        from loadcheck import tensor_names as tn
        from loadcheck.features.trucks import group_trucks
        from loadcheck.payloads import SegmentationMasks
        from loadcheck.serving.masks import MaskRefinement, upsample_masks
        from loadcheck.serving.prompts import SamFrame, decoder_prompts, sam_input, sam_region

        if not len(prompts):
            return []
        wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        region = sam_region(prompts, wh, SamFrame.CROP)
        image = sam_input(rgb, region, self.side, self.pad_rgb)[None]
        feeds = decoder_prompts(prompts, region, self.side)
        order = (tn.SAM_DECODER_BOXES, tn.SAM_DECODER_POINT_COORDS, tn.SAM_DECODER_POINT_LABELS)
        with torch.no_grad():
            embedding = self.encoder(torch.from_numpy(image).to(self.device))
            low, iou = self.decoder(
                embedding, *(torch.from_numpy(feeds[k]).to(self.device) for k in order)
            )
        masks = upsample_masks(
            low.float().cpu().numpy(), region, wh, self.side, rgb=rgb, refine=MaskRefinement()
        )
        scores = np.clip(iou.float().cpu().numpy().reshape(-1), 0.0, 1.0)
        return group_trucks(prompts, SegmentationMasks(masks, scores))


def serve(
    sam: TorchSam, cache: Path, seed: int, count: int, measure: bool
) -> tuple[list[tuple[str, ScoredVersion]], dict[str, list[float]]]:
    """(label, served version) per scene, and rim error / IoUs of loaded scored trucks."""
    from loadcheck.features.trucks import scored_truck
    from loadcheck.metrics import mask_iou
    from loadcheck.serving.images import decode_image

    folder = cache / f"s{seed}_{SIZE[0]}x{SIZE[1]}_{synth_fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ScoredVersion]] = []
    figures: dict[str, list[float]] = {"rim_error": [], "bed_iou": [], "load_iou": []}
    for index in range(count):
        scene = load_scene(folder, seed, index, SIZE)
        rgb = decode_image(scene.jpeg)
        truck = scored_truck(sam.trucks(rgb, true_prompts(scene)))
        shape_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
        scored = score_versions({"served": truck}, shape_hw)["served"]
        rows.append((scene.label, scored))
        if not (measure and truck is not None and scored.loaded):
            continue
        truth = true_masks_of(scene, truck.bed_mask)
        error = rim_error(truck.bed_mask, truth[0]) if truth is not None else None
        if truth is not None and truth[1].any() and error is not None:
            figures["rim_error"].append(error)
            figures["bed_iou"].append(mask_iou(truck.bed_mask, truth[0]))
            figures["load_iou"].append(mask_iou(truck.load_mask, truth[1]))
    return rows, figures


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    start = time.perf_counter()
    sam = TorchSam(args.checkpoint, args.model_type, args.img_size)
    fit, _ = serve(sam, args.cache, args.fit_seed, args.fit_count, measure=False)
    test, figures = serve(sam, args.cache, args.test_seed, args.test_count, measure=True)
    return {
        "checkpoint": str(args.checkpoint),
        "fit": {"seed": args.fit_seed, "count": args.fit_count},
        "test": {"seed": args.test_seed, "count": args.test_count},
        "verdict": accuracy_of(fit, test),
        **{k: round(float(np.mean(v)), 4) if v else None for k, v in figures.items()},
        "n_loaded": len(figures["rim_error"]),
        "device": sam.device.type,
        "elapsed_s": round(time.perf_counter() - start, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_version()}",
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="segmenter.pth of `loadcheck train segmenter`")
    p.add_argument("--model-type", default="vit_tiny", help="SAM type of the checkpoint")
    p.add_argument("--img-size", type=_positive, default=512, help="SAM input side S")
    p.add_argument("--fit-seed", type=int, default=1, help="fitting scenes' seed")
    p.add_argument("--fit-count", type=_positive, default=200, help="fitting scenes")
    p.add_argument("--test-seed", type=int, default=2, help="test scenes' seed")
    p.add_argument("--test-count", type=_positive, default=300, help="test scenes")
    p.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    p.add_argument(
        "--cache", type=Path, default=REPO / "runs/eval_cache", help="rendered scenes cache"
    )
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        parser.error(f"checkpoint: {args.checkpoint} is not a file")
    if min(args.fit_seed, args.test_seed) < 0 or args.fit_seed == args.test_seed:
        parser.error("--fit-seed / --test-seed: expected two different integers >= 0")
    result = evaluate(args)
    verdict = result["verdict"]
    print(
        f"{args.checkpoint}: verdict accuracy {verdict['accuracy']:.3f} "
        f"(95 % {verdict['ci95'][0]:.3f}-{verdict['ci95'][1]:.3f}), rim error "
        f"{result['rim_error']} bed heights, mask IoU bed {result['bed_iou']} / load "
        f"{result['load_iou']} ({result['n_loaded']} loaded trucks, {result['device']}, "
        f"{result['elapsed_s']:.0f} s)"
    )
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
