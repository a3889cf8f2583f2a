"""``prompts``: raw YOLOv6 output -> detections in original pixels, SAM input and SAM boxes."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.serving.backends.common import get_input, parse_args, respond_each
from loadcheck.serving.images import Letterbox
from loadcheck.serving.prompts import PromptSettings, run_prompts


class TritonPythonModel:
    """Inputs: ``raw_detections`` float32 [1, N, 5+C], ``letterbox`` float32 [3],
    ``original_rgb`` uint8 [H, W, 3]. Outputs: ``BOXES_XYXY`` [K, 4], ``CLASS_IDS`` [K],
    ``SCORES`` [K], ``image`` uint8 [1, S, S, 3], ``boxes_xyxy`` float32 [K, 4],
    ``point_coords`` float32 [K, 1, 2], ``point_labels`` float32 [K, 1] (SAM frame),
    ``sam_region_xywh`` float32 [4], ``image_wh`` int32 [2]."""

    def initialize(self, args: dict[str, Any]) -> None:
        _, params = parse_args(args)
        self.settings = PromptSettings.from_params(params)

    def _handle(self, request: Any) -> dict[str, np.ndarray]:
        rgb = get_input(request, tn.ORIGINAL_RGB, np.uint8, ndim=3)
        step = run_prompts(
            get_input(request, tn.DETECTOR_RAW_OUTPUT, np.float32),
            Letterbox.from_array(get_input(request, tn.LETTERBOX, np.float32)),
            rgb,
            self.settings,
        )
        return {
            tn.BOXES_XYXY: step.prompts.xyxy,
            tn.CLASS_IDS: step.prompts.class_id,
            tn.SCORES: step.prompts.confidence,
            tn.SAM_ENCODER_INPUT: step.sam_image,
            **step.decoder_feeds,
            tn.SAM_REGION_XYWH: step.region.to_array(),
            tn.IMAGE_WH: np.array((rgb.shape[1], rgb.shape[0]), np.int32),
        }

    def execute(self, requests: list[Any]) -> list[Any]:
        return respond_each(requests, self._handle, tn.PROMPTS_MODEL)
