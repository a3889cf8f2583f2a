"""Moved to :mod:`loadcheck.evaluation.metrics`; this name stays only until
``tests/unit/demo/test_demo_shipped_models.py`` imports ``box_iou`` from there."""

from loadcheck.evaluation.metrics import box_iou

__all__ = ["box_iou"]
