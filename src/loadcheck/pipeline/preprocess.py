"""``preprocess``: encoded image bytes -> the detector's input, the decoded photo, the letterbox.

Decoding is :func:`loadcheck.imageio.decode_image` (magic bytes, header-checked pixel limit,
EXIF, RGB); the photo is then letterboxed into the detector's square input as YOLOv6 does
(aspect kept, centred, grey padding) and laid out as the exported detector expects
(:class:`~loadcheck.pipeline.cards.InputContract`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.imageio import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image
from loadcheck.pipeline.cards import InputContract
from loadcheck.pipeline.params import StepSettings
from loadcheck.pipeline.step import Arrays, Step, StepInputError
from loadcheck.pipeline.tensors import TensorSpec, spec

LETTERBOX_PAD_VALUE = 114  # YOLOv6's grey padding


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the detector input.

    ``detector_xy = original_xy * scale + (pad_x, pad_y)``; units are pixels.
    """

    scale: float
    pad_x: float
    pad_y: float

    def to_array(self) -> np.ndarray:
        """float32 ``[3]``: scale, pad_x, pad_y."""
        return np.array([self.scale, self.pad_x, self.pad_y], np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray) -> Letterbox:
        flat = np.asarray(values, np.float32).reshape(-1)
        if flat.shape != (3,) or not np.all(np.isfinite(flat)) or flat[0] <= 0:
            raise ValueError(f"letterbox: expected float32 [3] (scale>0, pad_x, pad_y), got {flat}")
        return cls(float(flat[0]), float(flat[1]), float(flat[2]))


def letterbox(
    rgb: np.ndarray, size_hw: tuple[int, int], pad_value: int = LETTERBOX_PAD_VALUE
) -> tuple[np.ndarray, Letterbox]:
    """Fit uint8 ``[H, W, 3]`` into ``size_hw`` keeping the aspect ratio, centred, grey padding.

    Returns the uint8 ``[h, w, 3]`` detector input and the :class:`Letterbox` transform.
    """
    h0, w0 = rgb.shape[:2]
    out_h, out_w = size_hw
    scale = min(out_h / h0, out_w / w0)
    new_w, new_h = max(1, round(w0 * scale)), max(1, round(h0 * scale))
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (out_w - new_w) // 2, (out_h - new_h) // 2
    out = np.full((out_h, out_w, 3), pad_value, np.uint8)
    out[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return out, Letterbox(scale, float(pad_x), float(pad_y))


def to_float_nchw(boxed: np.ndarray) -> np.ndarray:
    """uint8 ``[h, w, 3]`` -> float32 ``[1, 3, h, w]`` in [0, 1] (YOLOv6's own ONNX contract)."""
    return np.ascontiguousarray(boxed.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)


DETECTOR_INPUT_CONTRACTS = (InputContract.UINT8_NHWC_RGB, InputContract.FLOAT32_NCHW_RGB_UNIT)


@dataclass(frozen=True)
class PreprocessSettings(StepSettings):
    """Attributes:
    detector_height / detector_width: the detector's input size in pixels.
    detector_pad: the letterbox's grey level (the detector card's ``pad_rgb``).
    detector_input: the detector's input layout (its card's ``input_contract``).
    max_pixels: decoded photos above this many pixels are refused.
    """

    detector_height: int = 640
    detector_width: int = 640
    detector_pad: int = LETTERBOX_PAD_VALUE
    detector_input: InputContract = InputContract.UINT8_NHWC_RGB
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.detector_height < 1 or self.detector_width < 1:
            raise ValueError(
                f"detector size: expected positive pixels, got "
                f"{self.detector_width}x{self.detector_height}"
            )
        if not 0 <= self.detector_pad <= 255:
            raise ValueError(f"detector_pad: expected a grey level 0..255, got {self.detector_pad}")
        if self.detector_input not in DETECTOR_INPUT_CONTRACTS:
            raise ValueError(
                f"detector_input: expected one of {[c.value for c in DETECTOR_INPUT_CONTRACTS]}, "
                f"got {self.detector_input.value!r}"
            )
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels: expected >= 1, got {self.max_pixels}")

    @property
    def size_hw(self) -> tuple[int, int]:
        return self.detector_height, self.detector_width

    @property
    def float_input(self) -> bool:
        return self.detector_input is InputContract.FLOAT32_NCHW_RGB_UNIT


class PreprocessStep(Step):
    """Inputs: ``IMAGE`` BYTES [1]. Outputs: ``images`` (uint8 [1, h, w, 3] or float32
    [1, 3, h, w]), ``original_rgb`` uint8 [H, W, 3], ``letterbox`` float32 [3]."""

    kind = "preprocess"
    settings_type = PreprocessSettings
    settings: PreprocessSettings

    def __init__(self, name: str = tn.PREPROCESS_MODEL, settings: StepSettings | None = None):
        super().__init__(name, settings or PreprocessSettings())

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return (spec(tn.IMAGE_BYTES, "bytes", 1),)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        h, w = self.settings.size_hw
        detector = (
            spec(tn.DETECTOR_INPUT, "float32", 1, 3, h, w)
            if self.settings.float_input
            else spec(tn.DETECTOR_INPUT, "uint8", 1, h, w, 3)
        )
        return (
            detector,
            spec(tn.ORIGINAL_RGB, "uint8", -1, -1, 3),
            spec(tn.LETTERBOX, "float32", 3),
        )

    def decode(self, data: bytes) -> np.ndarray:
        """The photo as uint8 RGB ``[H, W, 3]``; :class:`StepInputError` when it is not one."""
        try:
            return decode_image(data, max_pixels=self.settings.max_pixels)
        except ImageDecodeError as exc:
            raise StepInputError(f"input {tn.IMAGE_BYTES!r}: {exc}") from None

    def from_rgb(self, rgb: np.ndarray) -> Arrays:
        """The step's outputs for an already decoded photo (uint8 RGB ``[H, W, 3]``)."""
        boxed, transform = letterbox(rgb, self.settings.size_hw, self.settings.detector_pad)
        return {
            tn.DETECTOR_INPUT: to_float_nchw(boxed) if self.settings.float_input else boxed[None],
            tn.ORIGINAL_RGB: rgb,
            tn.LETTERBOX: transform.to_array(),
        }

    def compute(self, feeds: Mapping[str, np.ndarray]) -> Arrays:
        value = feeds[tn.IMAGE_BYTES].reshape(-1)[0]
        data = value.encode() if isinstance(value, str) else bytes(value)
        return self.from_rgb(self.decode(data))
