"""Fakes for the client's unit tests: a transport answering like the loadcheck ensembles."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence

import cv2
import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.client.errors import InspectionError, ModelNotFoundError

FEATURE_NAMES = ("fullness", "roughness_pits", "volume_above_rim")


def jpeg_bytes(value: int = 128, size_hw: tuple[int, int] = (60, 80)) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((*size_hw, 3), value, np.uint8))
    assert ok
    return buf.tobytes()


def integrator_outputs(
    verdict: str = "Qualified",
    probability: float = 0.8,
    threshold: float = 0.5,
    *,
    batched: bool = False,
    n_boxes: int = 2,
    size_hw: tuple[int, int] = (60, 80),
) -> dict[str, np.ndarray]:
    """Outputs shaped as ``integrator_<name>`` returns them, masks of a ``size_hw`` photo
    included (``batched`` adds the batch axis)."""
    boxes = np.array([[4, 6, 70, 50], [10, 12, 60, 40]], np.float32)[:n_boxes]
    trucks = [{"bed_xyxy": [4, 6, 70, 50], "score_result": verdict, "probability": probability}]
    out = {
        tn.SCORE_RESULT: np.array([verdict.encode()], np.object_),
        tn.PROBABILITY: np.array([probability], np.float32),
        tn.THRESHOLD: np.array([threshold], np.float32),
        tn.FEATURES: np.array([probability, 0.1, 0.3], np.float32),
        tn.FEATURE_NAMES: np.array([n.encode() for n in FEATURE_NAMES], np.object_),
        tn.FEATURE_SPEC_VERSION: np.array([b"1.0"], np.object_),
        tn.BOXES_XYXY: boxes,
        tn.CLASS_IDS: np.array([0, 1], np.int32)[:n_boxes],
        tn.SCORES: np.array([0.9, 0.7], np.float32)[:n_boxes],
        tn.TRUCKS_JSON: np.array([json.dumps(trucks).encode()], np.object_),
        tn.MASKS: segmentator_outputs(size_hw)[tn.MASKS][:n_boxes],
        tn.MASK_IOU: np.array([0.95, 0.9], np.float32)[:n_boxes],
    }
    if batched:
        out = {k: v[np.newaxis] for k, v in out.items()}
    return out


def segmentator_outputs(size_hw: tuple[int, int] = (60, 80)) -> dict[str, np.ndarray]:
    h, w = size_hw
    masks = np.zeros((2, h, w), np.uint8)
    masks[0, 6:50, 4:70] = 1
    masks[1, 12:40, 10:60] = 1
    return {
        tn.BOXES_XYXY: np.array([[4, 6, 70, 50], [10, 12, 60, 40]], np.float32),
        tn.CLASS_IDS: np.array([0, 1], np.int32),
        tn.SCORES: np.array([0.9, 0.7], np.float32),
        tn.MASKS: masks,
        tn.MASK_IOU: np.array([0.95, 0.9], np.float32),
    }


Responder = Callable[[str, bytes], Mapping[str, np.ndarray]]


def default_responder(model: str, image: bytes) -> Mapping[str, np.ndarray]:
    """Qualified for bright images, Unqualified for dark ones (decodes the image)."""
    rgb = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if model == tn.SEGMENTATOR_ENSEMBLE:
        return segmentator_outputs(rgb.shape[:2])
    p = float(rgb.mean()) / 255.0
    return integrator_outputs("Qualified" if p >= 0.5 else "Unqualified", p, size_hw=rgb.shape[:2])


class FakeTransport:
    """A :class:`loadcheck.client.transport.Transport` that answers from Python.

    ``errors`` are raised, one per call, before answering; ``deployed`` lists the integrator
    names whose ensembles exist (others raise :class:`ModelNotFoundError`).
    """

    url = "fake:8000"

    def __init__(
        self,
        responder: Responder = default_responder,
        *,
        errors: Sequence[InspectionError] = (),
        deployed: Sequence[str] = ("site_a",),
        delay_s: float = 0.0,
        ready: bool = True,
    ) -> None:
        self.responder = responder
        self.errors = list(errors)
        self.deployed = set(deployed)
        self.delay_s = delay_s
        self.is_ready = ready
        self.calls: list[tuple[str, bytes, tuple[str, ...]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closed = False

    async def infer(
        self, model: str, image: bytes, outputs: Sequence[str]
    ) -> Mapping[str, np.ndarray | None]:
        self.calls.append((model, image, tuple(outputs)))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.errors:
                raise self.errors.pop(0)
            if (
                model != tn.SEGMENTATOR_ENSEMBLE
                and model.removeprefix(tn.INTEGRATOR_PREFIX) not in self.deployed
            ):
                raise ModelNotFoundError(f"model {model!r} at {self.url}: not loaded")
            answer = self.responder(model, image)
            return {name: answer.get(name) for name in outputs}
        finally:
            self.in_flight -= 1

    async def server_ready(self) -> bool:
        return self.is_ready

    async def model_ready(self, model: str) -> bool:
        return model.removeprefix(tn.INTEGRATOR_PREFIX) in self.deployed

    async def models(self) -> list[str]:
        return [*sorted(f"{tn.INTEGRATOR_PREFIX}{d}" for d in self.deployed), "segmentator"]

    async def close(self) -> None:
        self.closed = True
