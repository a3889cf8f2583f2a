"""Turn the output tensors of the ``integrator_<name>`` and ``segmentator`` ensembles into payloads.

Pure functions over ``{tensor name: numpy array}`` mappings, so they are tested without a server.
Ensembles served with ``max_batch_size > 0`` return every output with a leading batch axis of 1;
:func:`unbatch` removes it, so both configurations decode the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.client.errors import ServerError
from loadcheck.payloads import (
    NOT_FLAGGED,
    Detections,
    InspectionResult,
    LoadFeatures,
    PayloadError,
    ReviewFlag,
    SegmentationMasks,
    ServedProvenance,
    StageTimings,
    TruckResult,
    Verdict,
)

logger = logging.getLogger(__name__)

#: Outputs requested from ``integrator_<name>``.
INTEGRATOR_OUTPUTS: tuple[str, ...] = (
    tn.SCORE_RESULT,
    tn.PROBABILITY,
    tn.THRESHOLD,
    tn.FEATURES,
    tn.FEATURE_NAMES,
    tn.FEATURE_SPEC_VERSION,
    tn.BOXES_XYXY,
    tn.CLASS_IDS,
    tn.SCORES,
    tn.TRUCKS_JSON,
    tn.REVIEW_JSON,
    tn.PROVENANCE_JSON,
)
#: Outputs a server that predates them does not declare: the transport asks for them only where
#: the model declares them, and a result without them is "not flagged", provenance unknown.
OPTIONAL_OUTPUTS: frozenset[str] = frozenset({tn.REVIEW_JSON, tn.PROVENANCE_JSON})
#: Outputs of ``segmentator``; ``integrator_<name>`` returns its masks too, on request.
SEGMENTATOR_OUTPUTS: tuple[str, ...] = (
    tn.BOXES_XYXY,
    tn.CLASS_IDS,
    tn.SCORES,
    tn.MASKS,
    tn.MASK_IOU,
)
MASK_OUTPUTS: tuple[str, ...] = (tn.MASKS, tn.MASK_IOU)
#: Rank of each output without a batch axis (``SCORE_RESULT`` is ``[1]``, ``MASKS`` ``[N, H, W]``).
OUTPUT_RANKS: dict[str, int] = {
    tn.SCORE_RESULT: 1,
    tn.PROBABILITY: 1,
    tn.THRESHOLD: 1,
    tn.FEATURES: 1,
    tn.FEATURE_NAMES: 1,
    tn.FEATURE_SPEC_VERSION: 1,
    tn.BOXES_XYXY: 2,
    tn.CLASS_IDS: 1,
    tn.SCORES: 1,
    tn.TRUCKS_JSON: 1,
    tn.REVIEW_JSON: 1,
    tn.PROVENANCE_JSON: 1,
    tn.MASKS: 3,
    tn.MASK_IOU: 1,
}
# A probability computed in float32 may land a hair outside [0, 1].
_PROBABILITY_SLACK = 1e-5


def unbatch(name: str, array: np.ndarray) -> np.ndarray:
    """Drop a leading batch axis of size 1 when ``array`` has one more axis than ``name`` has."""
    rank = OUTPUT_RANKS.get(name)
    if rank is not None and array.ndim == rank + 1 and array.shape[0] == 1:
        return array[0]
    return array


def _get(outputs: Mapping[str, np.ndarray | None], name: str, model: str) -> np.ndarray:
    array = outputs.get(name)
    if array is None:
        raise ServerError(f"the response of {model!r} lacks the output {name!r}")
    return unbatch(name, np.asarray(array))


def _text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _scalar(array: np.ndarray, name: str, model: str) -> Any:
    flat = array.reshape(-1)
    if flat.size != 1:
        raise ServerError(f"{model!r}: output {name!r} should hold one value, got {array.shape}")
    return flat[0]


def _unit_interval(value: float, name: str) -> float:
    if -_PROBABILITY_SLACK <= value <= 1.0 + _PROBABILITY_SLACK:
        return min(max(value, 0.0), 1.0)
    raise ServerError(f"{name}: expected a value in [0, 1], got {value}")


def decode_trucks(text: str) -> tuple[TruckResult, ...]:
    """Parse ``TRUCKS_JSON``: a JSON list of ``{"bed_xyxy": [4 floats], "score_result": str,
    "probability": float}``, most prominent truck first (an empty string means none)."""
    if not text.strip():
        return ()
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError(f"expected a JSON list, got {type(items).__name__}")
        trucks = []
        for item in items:
            bed = tuple(float(v) for v in item["bed_xyxy"])
            if len(bed) != 4:
                raise ValueError(f"bed_xyxy: expected 4 numbers, got {len(bed)}")
            trucks.append(
                TruckResult(
                    bed_xyxy=(bed[0], bed[1], bed[2], bed[3]),
                    score_result=Verdict(item["score_result"]),
                    probability=_unit_interval(float(item["probability"]), "truck probability"),
                )
            )
    except (ValueError, TypeError, KeyError) as exc:
        raise ServerError(f"{tn.TRUCKS_JSON}: cannot decode per-truck results: {exc}") from exc
    return tuple(trucks)


def _json_output(outputs: Mapping[str, np.ndarray | None], name: str) -> Any:
    """The JSON value of the one-string output ``name``, or ``None`` when it is absent."""
    raw = outputs.get(name)
    if raw is None or np.asarray(raw).size == 0:
        return None
    text = _text(np.asarray(raw).reshape(-1)[0])
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ServerError(f"{name}: not JSON ({exc})") from exc


def decode_review(outputs: Mapping[str, np.ndarray | None]) -> ReviewFlag:
    """The review flag of ``REVIEW_JSON`` (``{"needs_review": bool, "reasons": [{"code",
    "message"}]}``); not flagged when the server sent none (a server that predates it)."""
    data = _json_output(outputs, tn.REVIEW_JSON)
    if data is None:
        return NOT_FLAGGED
    if not isinstance(data, dict):
        raise ServerError(f"{tn.REVIEW_JSON}: expected a JSON object, got {data!r}")
    try:
        return ReviewFlag.from_dict(data)
    except PayloadError as exc:
        raise ServerError(f"{tn.REVIEW_JSON}: {exc}") from exc


def decode_provenance(outputs: Mapping[str, np.ndarray | None]) -> ServedProvenance | None:
    """The provenance of ``PROVENANCE_JSON``; ``None`` when the server sent none."""
    data = _json_output(outputs, tn.PROVENANCE_JSON)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ServerError(f"{tn.PROVENANCE_JSON}: expected a JSON object, got {data!r}")
    try:
        return ServedProvenance.from_dict(data)
    except PayloadError as exc:
        raise ServerError(f"{tn.PROVENANCE_JSON}: {exc}") from exc


def decode_detections(outputs: Mapping[str, np.ndarray | None], model: str) -> Detections:
    """Detections from ``BOXES_XYXY`` float32 ``[N, 4]``, ``SCORES`` and ``CLASS_IDS`` ``[N]``."""
    boxes = _get(outputs, tn.BOXES_XYXY, model).astype(np.float32, copy=False).reshape(-1, 4)
    scores = _get(outputs, tn.SCORES, model).reshape(-1)
    class_ids = _get(outputs, tn.CLASS_IDS, model).reshape(-1)
    try:
        return Detections(boxes, np.clip(scores, 0.0, 1.0), class_ids)
    except PayloadError as exc:
        raise ServerError(f"{model!r}: malformed detections: {exc}") from exc


def decode_masks(outputs: Mapping[str, np.ndarray | None], model: str) -> SegmentationMasks:
    """Masks from ``MASKS`` uint8 ``[N, H, W]`` (0/1) and ``MASK_IOU`` float32 ``[N]``."""
    masks = _get(outputs, tn.MASKS, model)
    iou = _get(outputs, tn.MASK_IOU, model).reshape(-1)
    try:
        return SegmentationMasks(masks, iou)
    except PayloadError as exc:
        raise ServerError(f"{model!r}: malformed masks: {exc}") from exc


def decode_features(outputs: Mapping[str, np.ndarray | None], model: str) -> LoadFeatures | None:
    """The feature vector (``FEATURES``, ``FEATURE_NAMES``, ``FEATURE_SPEC_VERSION``), or None
    when the server sent no features (F = 0)."""
    values = _get(outputs, tn.FEATURES, model).reshape(-1)
    names = tuple(_text(n) for n in _get(outputs, tn.FEATURE_NAMES, model).reshape(-1))
    if values.size == 0 and not names:
        return None
    version = _text(_scalar(_get(outputs, tn.FEATURE_SPEC_VERSION, model), "spec", model))
    try:
        return LoadFeatures(names, values, version)
    except PayloadError as exc:
        raise ServerError(f"{model!r}: malformed features: {exc}") from exc


def decode_inspection(
    outputs: Mapping[str, np.ndarray | None],
    *,
    model: str,
    timings: StageTimings | None = None,
) -> InspectionResult:
    """Build an :class:`InspectionResult` from the outputs of ``integrator_<name>``.

    When the outputs hold ``MASKS`` and ``MASK_IOU`` (asked for with the verdict), the result
    carries them; mask ``i`` belongs to detection ``i``. ``REVIEW_JSON`` and ``PROVENANCE_JSON``
    are optional (:data:`OPTIONAL_OUTPUTS`).

    Raises:
        ServerError: an output is missing or does not have the documented shape/value.
    """
    verdict_text = _text(_scalar(_get(outputs, tn.SCORE_RESULT, model), tn.SCORE_RESULT, model))
    try:
        verdict = Verdict(verdict_text)
    except ValueError:
        raise ServerError(
            f"{model!r}: unknown verdict {verdict_text!r}; expected one of "
            f"{[v.value for v in Verdict]}"
        ) from None
    probability = _unit_interval(
        float(_scalar(_get(outputs, tn.PROBABILITY, model), tn.PROBABILITY, model)), tn.PROBABILITY
    )
    threshold = _unit_interval(
        float(_scalar(_get(outputs, tn.THRESHOLD, model), tn.THRESHOLD, model)), tn.THRESHOLD
    )
    # The scorer has fixed output shapes: without a loaded truck it sends zeros under the names.
    features = None if verdict is Verdict.NO_MINE_DETECTED else decode_features(outputs, model)
    trucks_raw = outputs.get(tn.TRUCKS_JSON)
    trucks: tuple[TruckResult, ...] = ()
    if trucks_raw is not None and np.asarray(trucks_raw).size:
        trucks = decode_trucks(_text(np.asarray(trucks_raw).reshape(-1)[0]))
    detections = decode_detections(outputs, model)
    masks = None
    if outputs.get(tn.MASKS) is not None:
        masks = decode_masks(outputs, model)
        if len(masks) != len(detections):
            raise ServerError(
                f"{model!r} returned {len(masks)} masks for {len(detections)} detections; "
                "expected one mask per detection"
            )
    return InspectionResult(
        score_result=verdict,
        probability=probability,
        threshold=threshold,
        features=features,
        detections=detections,
        timings=timings if timings is not None else StageTimings(),
        masks=masks,
        trucks=trucks,
        review=decode_review(outputs),
        provenance=decode_provenance(outputs),
    )
