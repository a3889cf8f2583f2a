"""The loadcheck client: inspect truck photos on a loadcheck Triton server.

Needs only the ``client`` extra (numpy, OpenCV, tritonclient, aiohttp, rich, typer)::

    from loadcheck.client import InspectionClient

    with InspectionClient("triton-host:8000") as client:
        result = client.inspect("truck.jpg", integrator="north_pit")
        print(result.score_result.value, result.probability)

Names are imported on first use, so ``loadcheck --help`` does not pay for OpenCV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadcheck.client.async_client import AsyncInspectionClient, BatchItem
    from loadcheck.client.errors import (
        InspectionError,
        InspectionTimeoutError,
        InvalidImageError,
        ModelNotFoundError,
        RejectedInputError,
        ServerError,
        TlsError,
        TransientError,
    )
    from loadcheck.client.images import ImageSource, collect_sources
    from loadcheck.client.overlay import render_overlay
    from loadcheck.client.retry import RetryPolicy
    from loadcheck.client.sync_client import InspectionClient
    from loadcheck.client.tls import TlsConfigError

_EXPORTS: dict[str, str] = {
    "AsyncInspectionClient": "async_client",
    "BatchItem": "async_client",
    "ImageSource": "images",
    "InspectionClient": "sync_client",
    "InspectionError": "errors",
    "InspectionTimeoutError": "errors",
    "InvalidImageError": "errors",
    "ModelNotFoundError": "errors",
    "RejectedInputError": "errors",
    "RetryPolicy": "retry",
    "ServerError": "errors",
    "TlsConfigError": "tls",
    "TlsError": "errors",
    "TransientError": "errors",
    "collect_sources": "images",
    "render_overlay": "overlay",
}

__all__ = [
    "AsyncInspectionClient",
    "BatchItem",
    "ImageSource",
    "InspectionClient",
    "InspectionError",
    "InspectionTimeoutError",
    "InvalidImageError",
    "ModelNotFoundError",
    "RejectedInputError",
    "RetryPolicy",
    "ServerError",
    "TlsConfigError",
    "TlsError",
    "TransientError",
    "collect_sources",
    "render_overlay",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'loadcheck.client' has no attribute {name!r}")
    return getattr(importlib.import_module(f"loadcheck.client.{module}"), name)
