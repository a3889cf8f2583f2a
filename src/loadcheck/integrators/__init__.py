"""Integrators: named, deployable scoring setups (settings, fitting data, fitted versions).

Names are imported lazily (PEP 562) so that ``loadcheck --help`` does not load OpenCV.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "IngestError": "errors",
    "IntegratorError": "errors",
    "NotFoundError": "errors",
    "validate_name": "errors",
    "MaskFolder": "mask_sources",
    "MaskSource": "mask_sources",
    "ServedSegmentator": "served",
    "segmentator_config_key": "served",
    "served_version": "serving",
    "IntegratorConfig": "store",
    "IntegratorStore": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loadcheck.integrators' has no attribute {name!r}")
    return getattr(importlib.import_module(f"loadcheck.integrators.{module}"), name)
