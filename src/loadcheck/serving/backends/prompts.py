"""``prompts``: raw YOLOv6 output -> detections in original pixels, SAM input and SAM boxes."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.serving.backends.common import get_input, parse_args, respond_each
from loadcheck.serving.images import Letterbox
from loadcheck.serving.prompts import (
    DetectorSettings,
    SamFrame,
    decode_yolo,
    decoder_prompts,
    parse_class_map,
    remap_classes,
    sam_input,
    sam_region,
    select_prompts,
)


class TritonPythonModel:
    """Inputs: ``raw_detections`` float32 [1, N, 5+C], ``letterbox`` float32 [3],
    ``original_rgb`` uint8 [H, W, 3]. Outputs: ``BOXES_XYXY`` [K, 4], ``CLASS_IDS`` [K],
    ``SCORES`` [K], ``image`` uint8 [1, S, S, 3], ``boxes_xyxy`` float32 [K, 4],
    ``point_coords`` float32 [K, 1, 2], ``point_labels`` float32 [K, 1] (SAM frame),
    ``sam_region_xywh`` float32 [4], ``image_wh`` int32 [2]."""

    def initialize(self, args: dict[str, Any]) -> None:
        _, params = parse_args(args)
        self.settings = DetectorSettings(
            float(params["conf_thres"]), float(params["iou_thres"]), int(params["max_det"])
        )
        self.side = int(params["sam_img_size"])
        self.frame = SamFrame(params["sam_frame"])
        self.class_map = parse_class_map(params["class_map"])
        r, g, b = (int(v) for v in params.get("sam_pad_rgb", "0,0,0").split(","))
        self.sam_pad = (r, g, b)

    def _handle(self, request: Any) -> dict[str, np.ndarray]:
        raw = get_input(request, tn.DETECTOR_RAW_OUTPUT, np.float32)
        transform = Letterbox.from_array(get_input(request, tn.LETTERBOX, np.float32))
        rgb = get_input(request, tn.ORIGINAL_RGB, np.uint8, ndim=3)
        image_wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        detections = decode_yolo(raw, transform, image_wh, self.settings)
        prompts = select_prompts(remap_classes(detections, self.class_map))
        region = sam_region(prompts, image_wh, self.frame)
        return {
            tn.BOXES_XYXY: prompts.xyxy,
            tn.CLASS_IDS: prompts.class_id,
            tn.SCORES: prompts.confidence,
            tn.SAM_ENCODER_INPUT: sam_input(rgb, region, self.side, self.sam_pad)[None],
            **decoder_prompts(prompts, region, self.side),
            tn.SAM_REGION_XYWH: region.to_array(),
            tn.IMAGE_WH: np.array(image_wh, np.int32),
        }

    def execute(self, requests: list[Any]) -> list[Any]:
        return respond_each(requests, self._handle, tn.PROMPTS_MODEL)
