"""The segmentator pipeline in one process, from the same pure functions and ONNX files.

Used to check that the served ensemble gives the same answer as the code run in-process, and
as the no-Triton baseline of the benchmarks. It reads the settings the repository was built with
(``loadcheck_repository.json``) and the ONNX files inside the repository.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import Detections, SegmentationMasks
from loadcheck.serving.images import decode_image, letterbox
from loadcheck.serving.masks import MaskRefinement, upsample_masks
from loadcheck.serving.onnx_session import OnnxNetwork
from loadcheck.serving.prompts import PromptSettings, run_prompts
from loadcheck.serving.repository import MANIFEST


@dataclass(frozen=True)
class Segmentation:
    """What the ``segmentator`` ensemble returns, plus per-stage timings in milliseconds."""

    detections: Detections
    masks: SegmentationMasks
    timings_ms: dict[str, float] = field(default_factory=dict)


def _params(repository: Path, model: str) -> dict[str, str]:
    from loadcheck.serving.config import parse_config, read_parameters

    text = (repository / model / "config.pbtxt").read_text(encoding="utf-8")
    return read_parameters(parse_config(text))


class InProcessSegmentator:
    """``segmentator`` without Triton: ``segment(image_bytes) -> Segmentation``."""

    def __init__(self, repository: Path, *, threads: int = 0) -> None:
        repository = Path(repository)
        if not (repository / MANIFEST).is_file():
            raise FileNotFoundError(f"{repository}: no {MANIFEST}; build the repository first")
        pre = _params(repository, tn.PREPROCESS_MODEL)
        self.size_hw = (int(pre["detector_height"]), int(pre["detector_width"]))
        self.pad = int(pre["detector_pad"])
        self.max_pixels = int(pre["max_pixels"])
        self.prompt_settings = PromptSettings.from_params(_params(repository, tn.PROMPTS_MODEL))
        self.refine = MaskRefinement.from_params(_params(repository, tn.MASKS_MODEL))
        self.detector = OnnxNetwork(
            repository / tn.DETECTOR_MODEL / "1" / "model.onnx", threads=threads
        )
        self.encoder = OnnxNetwork(
            repository / tn.SAM_ENCODER_MODEL / "1" / "model.onnx", threads=threads
        )
        self.decoder = OnnxNetwork(
            repository / tn.SAM_DECODER_MODEL / "1" / "model.onnx", threads=threads
        )

    def segment(self, data: bytes) -> Segmentation:
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        rgb = decode_image(data, max_pixels=self.max_pixels)
        boxed, transform = letterbox(rgb, self.size_hw, self.pad)
        t1 = time.perf_counter()
        raw = self.detector.run({tn.DETECTOR_INPUT: boxed[None]})[tn.DETECTOR_RAW_OUTPUT]
        t2 = time.perf_counter()
        image_wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        step = run_prompts(raw, transform, rgb, self.prompt_settings)
        prompts, side = step.prompts, self.prompt_settings.side
        t3 = time.perf_counter()
        embeddings = self.encoder.run({tn.SAM_ENCODER_INPUT: step.sam_image})[tn.SAM_EMBEDDINGS]
        t4 = time.perf_counter()
        if len(prompts):
            out = self.decoder.run({tn.SAM_DECODER_EMBEDDINGS: embeddings, **step.decoder_feeds})
            low, iou = out[tn.SAM_LOW_RES_MASKS], out[tn.SAM_IOU_PREDICTIONS].reshape(-1)
        else:
            low = np.zeros((0, 1, side // 4, side // 4), np.float32)
            iou = np.zeros(0, np.float32)
        t5 = time.perf_counter()
        masks = upsample_masks(low, step.region, image_wh, side, rgb=rgb, refine=self.refine)
        t6 = time.perf_counter()
        times = {
            tn.PREPROCESS_MODEL: (t1 - t0) * 1e3,
            tn.DETECTOR_MODEL: (t2 - t1) * 1e3,
            tn.PROMPTS_MODEL: (t3 - t2) * 1e3,
            tn.SAM_ENCODER_MODEL: (t4 - t3) * 1e3,
            tn.SAM_DECODER_MODEL: (t5 - t4) * 1e3,
            tn.MASKS_MODEL: (t6 - t5) * 1e3,
        }
        return Segmentation(prompts, SegmentationMasks(masks, np.clip(iou, 0.0, 1.0)), times)


def repository_settings(repository: Path) -> dict[str, object]:
    """The settings ``loadcheck repository build`` recorded in the repository."""
    data = json.loads((Path(repository) / MANIFEST).read_text(encoding="utf-8"))
    return dict(data["settings"])
