"""``preprocess``: encoded image bytes -> detector input, original RGB image, letterbox."""

from __future__ import annotations

from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.serving.backends.common import RequestError, get_bytes, parse_args, respond_each
from loadcheck.serving.images import ImageDecodeError, decode_image, letterbox, to_float_nchw


class TritonPythonModel:
    """Inputs: ``IMAGE`` BYTES [1]. Outputs: ``images`` uint8 [1, h, w, 3] (letterboxed),
    ``original_rgb`` uint8 [H, W, 3], ``letterbox`` float32 [3]."""

    def initialize(self, args: dict[str, Any]) -> None:
        _, params = parse_args(args)
        self.size_hw = (int(params["detector_height"]), int(params["detector_width"]))
        self.max_pixels = int(params["max_pixels"])
        self.pad_value = int(params.get("detector_pad", "114"))
        self.float_input = params.get("detector_input") == "float32_nchw_rgb_unit"

    def _handle(self, request: Any) -> dict[str, np.ndarray]:
        data = get_bytes(request, tn.IMAGE_BYTES)
        try:
            rgb = decode_image(data, max_pixels=self.max_pixels)
        except ImageDecodeError as exc:
            raise RequestError(f"input {tn.IMAGE_BYTES!r}: {exc}") from None
        boxed, transform = letterbox(rgb, self.size_hw, self.pad_value)
        return {
            tn.DETECTOR_INPUT: to_float_nchw(boxed) if self.float_input else boxed[None],
            tn.ORIGINAL_RGB: rgb,
            tn.LETTERBOX: transform.to_array(),
        }

    def execute(self, requests: list[Any]) -> list[Any]:
        return respond_each(requests, self._handle, tn.PREPROCESS_MODEL)
