"""The served segmentator as a mask source: fitting and prediction get their masks from Triton.

:class:`ServedSegmentator` (a :class:`~loadcheck.integrators.mask_sources.MaskSource`) sends
each image to the ``segmentator`` ensemble through the client library's transport
(:class:`loadcheck.client.transport.TritonTransport`, with its retry policy and error classes),
decodes ``BOXES_XYXY`` / ``CLASS_IDS`` / ``SCORES`` / ``MASKS`` / ``MASK_IOU`` into
:class:`Detections` + :class:`SegmentationMasks`, and pairs beds with loads
(:func:`loadcheck.features.trucks.group_trucks`). So an integrator is fitted on exactly the masks
the deployed pipeline computes.

Its ``config_key`` (part of the feature-cache key) is :func:`segmentator_config_key`: a hash of the
repository's build settings (``loadcheck_repository.json``) and of the served network files, so
re-building the repository with other thresholds or other models invalidates cached features.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.imageio import sha256_bytes, sha256_file
from loadcheck.integrators.errors import IntegratorError
from loadcheck.payloads import Detections, SegmentationMasks, TruckMasks
from loadcheck.serving.storage import ModelRepository, open_repository

if TYPE_CHECKING:
    from loadcheck.client.retry import RetryPolicy
    from loadcheck.client.transport import Transport

LOG = logging.getLogger(__name__)
NETWORK_MODELS = (tn.DETECTOR_MODEL, tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL)


def segmentator_fingerprint(repository: Path | str) -> dict[str, object]:
    """What identifies the served segmentator: build settings and served network files.

    Returns ``{"settings": <loadcheck_repository.json "settings">, "networks": {model:
    {file: sha256}}}``. The export folder's path is left out on purpose (moving it changes
    nothing served).

    Raises:
        IntegratorError: the repository has no ``loadcheck_repository.json`` (not built by
            ``loadcheck repository build``) or the file is not what the builder writes.
    """
    from loadcheck.serving.repository import RepositoryError, read_manifest

    repo = open_repository(repository)
    try:
        settings = read_manifest(repo).raw_settings
    except RepositoryError as exc:
        raise IntegratorError(
            f"{exc}; the served segmentator's masks need the model repository the server runs, "
            "passed with --repository"
        ) from exc
    networks: dict[str, dict[str, str]] = {}
    for model in NETWORK_MODELS:
        served = _served_version(repo, model)
        keys = [
            k
            for k in repo.list_keys(model)
            if k.count("/") == 2 and k.split("/")[1] == served and not k.endswith("/model.py")
        ]
        networks[model] = {k.split("/", 1)[1]: _sha256_of(repo, k) for k in keys}
    return {"settings": settings, "networks": networks}


def _served_version(repository: ModelRepository, model: str) -> str | None:
    """The version folder ``model``'s config serves: the one it names (a rebuild on object
    storage), else the highest."""
    from loadcheck.serving.config import parse_config

    text = repository.read_text(f"{model}/config.pbtxt")
    if text is not None:
        named = parse_config(text).get("version_policy", {}).get("specific", {}).get("versions")
        if named:
            return str(named[-1])
    versions = sorted(
        {int(k.split("/")[1]) for k in repository.list_keys(model) if k.split("/")[1].isdigit()}
    )
    return str(versions[-1]) if versions else None


def _sha256_of(repository: ModelRepository, key: str) -> str:
    """sha256 of a repository file (streamed from disk for a local repository)."""
    if repository.local_folder is not None:
        return sha256_file(repository.local_folder / key)
    return sha256_bytes(repository.read_bytes(key) or b"")


def segmentator_config_key(repository: Path | str) -> str:
    """``"segmentator:<32 hex>"``: sha256 of :func:`segmentator_fingerprint` as canonical JSON."""
    text = json.dumps(segmentator_fingerprint(repository), sort_keys=True, separators=(",", ":"))
    return f"segmentator:{sha256_bytes(text.encode())[:32]}"


def decode_segmentation(
    outputs: Mapping[str, np.ndarray | None],
) -> tuple[Detections, SegmentationMasks]:
    """Detections and masks from the ``segmentator`` outputs (``{tensor name: array}``).

    Raises:
        IntegratorError: an output is missing or malformed, or masks and detections disagree.
    """
    from loadcheck.client.decode import decode_detections, decode_masks
    from loadcheck.client.errors import ServerError

    try:
        detections = decode_detections(outputs, tn.SEGMENTATOR_ENSEMBLE)
        masks = decode_masks(outputs, tn.SEGMENTATOR_ENSEMBLE)
    except ServerError as exc:
        raise IntegratorError(f"the segmentator's answer does not decode: {exc}") from exc
    if len(masks) != len(detections):
        raise IntegratorError(
            f"the segmentator returned {len(masks)} masks for {len(detections)} detections; "
            "expected one mask per detection"
        )
    return detections, masks


class ServedSegmentator:
    """Segment images with the ``segmentator`` ensemble of a running Triton server.

    Args:
        url: Triton ``host:port`` (HTTP, or gRPC with ``protocol="grpc"``).
        repository: the model repository the server runs, for :attr:`config_key`.
        config_key: the key itself (instead of ``repository``), e.g. from another machine.
        protocol: ``"http"`` or ``"grpc"``.
        timeout_s: limit of one request, in seconds.
        transport: a ready :class:`loadcheck.client.transport.Transport` (tests).
        retry: the client's retry policy (default: 4 tries with backoff on transient errors).

    Use as a context manager, or call :meth:`close`. :meth:`segment` blocks; it must not be
    called from inside a running event loop.
    """

    def __init__(
        self,
        url: str,
        *,
        repository: Path | str | None = None,
        config_key: str | None = None,
        protocol: str = "http",
        timeout_s: float = 120.0,
        api_key: str | None = None,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        from loadcheck.client.retry import RetryPolicy
        from loadcheck.client.transport import TritonTransport

        if config_key is None:
            if repository is None:
                raise IntegratorError(
                    "the served segmentator needs the model repository the server runs (or an "
                    "explicit config key) to key the feature cache"
                )
            config_key = segmentator_config_key(repository)
        self.config_key: str = config_key
        if protocol not in ("http", "grpc"):
            raise IntegratorError(f"protocol: expected 'http' or 'grpc', got {protocol!r}")
        self._transport: Transport = transport or TritonTransport(
            url,
            protocol="grpc" if protocol == "grpc" else "http",
            timeout_s=timeout_s,
            api_key=api_key,
        )
        self._retry = retry or RetryPolicy()
        self._runner = asyncio.Runner()
        self.url = self._transport.url

    async def _segment_async(self, image_bytes: bytes) -> tuple[Detections, SegmentationMasks]:
        from loadcheck.client.decode import SEGMENTATOR_OUTPUTS
        from loadcheck.client.errors import InspectionError

        async def attempt() -> Mapping[str, np.ndarray | None]:
            return await self._transport.infer(
                tn.SEGMENTATOR_ENSEMBLE, image_bytes, SEGMENTATOR_OUTPUTS
            )

        try:
            outputs, _ = await self._retry.run(
                attempt, what=f"{tn.SEGMENTATOR_ENSEMBLE} at {self.url}"
            )
        except InspectionError as exc:
            raise IntegratorError(f"the segmentator at {self.url} failed: {exc}") from exc
        return decode_segmentation(outputs)

    def segment_raw(self, image_bytes: bytes) -> tuple[Detections, SegmentationMasks]:
        """Detections and masks of one encoded image (original-image pixels)."""
        return self._runner.run(self._segment_async(image_bytes))

    def segment(self, image_bytes: bytes) -> list[TruckMasks]:
        """Per-truck masks of one encoded image, most prominent first (:class:`MaskSource`)."""
        from loadcheck.features.trucks import group_trucks

        detections, masks = self.segment_raw(image_bytes)
        return group_trucks(detections, masks)

    def close(self) -> None:
        try:
            self._runner.run(self._transport.close())
        finally:
            self._runner.close()

    def __enter__(self) -> ServedSegmentator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
