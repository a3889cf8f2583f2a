"""``masks``: SAM low-resolution logits -> binary masks at the original resolution, refined
with the photo's edges (:class:`~loadcheck.serving.masks.MaskRefinement`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.serving.backends.common import RequestError, get_input, parse_args, respond_each
from loadcheck.serving.masks import MaskRefinement, upsample_masks
from loadcheck.serving.prompts import SamRegion


class TritonPythonModel:
    """Inputs: ``low_res_masks`` float32 [K, 1, S/4, S/4], ``iou_predictions`` float32 [K, 1],
    ``sam_region_xywh`` float32 [4], ``image_wh`` int32 [2], ``CLASS_IDS`` int32 [K] (the real
    box count; a dummy prompt of an empty image is dropped), ``original_rgb`` uint8 [H, W, 3]
    (the guide of the refinement; parameters ``mask_refine_radius`` / ``mask_refine_eps``).
    Outputs: ``MASKS`` uint8 [K, H, W], ``MASK_IOU`` float32 [K]."""

    def initialize(self, args: dict[str, Any]) -> None:
        _, params = parse_args(args)
        self.side = int(params["sam_img_size"])
        self.refine = MaskRefinement.from_params(params)

    def _handle(self, request: Any) -> dict[str, np.ndarray]:
        logits = get_input(request, tn.SAM_LOW_RES_MASKS, np.float32)
        iou = get_input(request, tn.SAM_IOU_PREDICTIONS, np.float32).reshape(-1)
        region = SamRegion.from_array(get_input(request, tn.SAM_REGION_XYWH, np.float32))
        w, h = (int(v) for v in get_input(request, tn.IMAGE_WH, np.int32).reshape(-1)[:2])
        count = len(get_input(request, tn.CLASS_IDS, np.int32, ndim=1))
        if count > len(logits):
            raise RequestError(f"{count} detections but only {len(logits)} SAM masks")
        logits, iou = logits[:count], iou[:count]  # drop the dummy prompt of an empty image
        rgb = get_input(request, tn.ORIGINAL_RGB, np.uint8, ndim=3) if self.refine.enabled else None
        masks = upsample_masks(logits, region, (w, h), self.side, rgb=rgb, refine=self.refine)
        return {tn.MASKS: masks, tn.MASK_IOU: np.clip(iou, 0.0, 1.0).astype(np.float32)}

    def execute(self, requests: list[Any]) -> list[Any]:
        return respond_each(requests, self._handle, tn.MASKS_MODEL)
