"""The scorer's choice of truck and its outputs, on synthetic scenes' true masks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, Detections, SegmentationMasks, Verdict
from loadcheck.pipeline.scorer import score_segmentation


@dataclass
class _FixedModel:
    """Probability = the first feature (fullness), so the expected verdicts are known."""

    threshold: float = 0.5

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x, np.float32)[:, 0], 0, 1)


def _truck(h: int, w: int, bed: tuple[int, int, int, int], fill: float):
    x0, y0, x1, y1 = bed
    bed_mask = np.zeros((h, w), bool)
    bed_mask[y0:y1, x0:x1] = True
    load_mask = np.zeros((h, w), bool)
    top = int(y1 - (y1 - y0) * fill)
    load_mask[top:y1, x0:x1] = True
    return bed_mask, load_mask


def _inputs(trucks, h=120, w=200):
    boxes, classes, masks = [], [], []
    for bed, fill in trucks:
        bed_mask, load_mask = _truck(h, w, bed, fill)
        boxes += [bed, (bed[0], int(bed[3] - (bed[3] - bed[1]) * fill), bed[2], bed[3])]
        classes += [BED_CLASS_ID, LOAD_CLASS_ID]
        masks += [bed_mask, load_mask]
    n = len(boxes)
    return (
        Detections(np.array(boxes, np.float32), np.full(n, 0.9), np.array(classes)),
        SegmentationMasks(np.array(masks), np.full(n, 0.9)),
    )


def test_no_detection_means_no_mine_detected():
    scored = score_segmentation(
        Detections.empty(), SegmentationMasks.empty((20, 10)), _FixedModel()
    )
    assert scored.score_result is Verdict.NO_MINE_DETECTED and scored.trucks == ()
    tensors = scored.to_tensors(("a", "b"), "v1")
    assert tensors[tn.SCORE_RESULT][0] == b"No Mine Detected"
    assert tensors[tn.FEATURES].shape == (2,)


def test_the_verdict_is_for_the_largest_loaded_bed_and_every_truck_is_returned():
    detections, masks = _inputs([((10, 60, 60, 100), 0.9), ((80, 20, 190, 100), 0.1)])
    scored = score_segmentation(detections, masks, _FixedModel())
    assert len(scored.trucks) == 2
    assert scored.trucks[0].bed_xyxy[0] == 80  # the larger bed first
    assert scored.score_result == scored.trucks[0].score_result
    assert scored.probability == scored.trucks[0].probability
    assert scored.features is not None and scored.features.spec_version
