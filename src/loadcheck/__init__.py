"""loadcheck: truck-load quality inspection for mines, served on NVIDIA Triton Inference Server."""

from loadcheck.payloads import (
    Detections,
    InspectionResult,
    LoadFeatures,
    SegmentationMasks,
    StageTimings,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "Detections",
    "InspectionResult",
    "LoadFeatures",
    "SegmentationMasks",
    "StageTimings",
    "Verdict",
    "__version__",
]
