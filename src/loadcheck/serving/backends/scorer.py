"""``scorer_<integrator>``: segmentator outputs -> verdict, probability, features, per-truck JSON.

The score model is the integrator's artifact in this model's version folder
(``scorer_<name>/<version>/model.ubj`` + ``scorer.json``), loaded once per instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.payloads import Detections, SegmentationMasks
from loadcheck.serving.backends.common import get_input, parse_args, respond_each
from loadcheck.serving.scoring import score_segmentation


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        from loadcheck.features.spec import FEATURE_SPEC
        from loadcheck.scoring.model import ScoreModel

        config, _ = parse_args(args)
        self.name = str(config["name"])
        self.model = ScoreModel.load(Path(args["model_repository"]) / args["model_version"])
        self.feature_names = tuple(FEATURE_SPEC.names)
        self.spec_version = str(FEATURE_SPEC.version)

    def _handle(self, request: Any) -> dict[str, np.ndarray]:
        detections = Detections(
            get_input(request, tn.BOXES_XYXY, np.float32, ndim=2),
            get_input(request, tn.SCORES, np.float32, ndim=1),
            get_input(request, tn.CLASS_IDS, np.int32, ndim=1),
        )
        masks = SegmentationMasks(
            get_input(request, tn.MASKS, np.uint8, ndim=3),
            get_input(request, tn.MASK_IOU, np.float32, ndim=1),
        )
        scored = score_segmentation(detections, masks, self.model)
        return scored.to_tensors(self.feature_names, self.spec_version)

    def execute(self, requests: list[Any]) -> list[Any]:
        return respond_each(requests, self._handle, self.name)
