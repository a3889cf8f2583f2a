"""The asyncio inspection client: one image (:meth:`AsyncInspectionClient.inspect`) or a stream
of many (:meth:`AsyncInspectionClient.inspect_many`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from loadcheck import tensor_names as tn
from loadcheck.client.decode import INTEGRATOR_OUTPUTS, MASK_OUTPUTS, decode_inspection
from loadcheck.client.errors import InspectionError, ModelNotFoundError, TlsError
from loadcheck.client.images import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageInput,
    ImageSource,
    SourceReader,
    check_image_bytes,
    collect_sources,
    image_bytes,
)
from loadcheck.client.retry import RetryPolicy
from loadcheck.client.transport import Protocol_, Transport, TritonTransport
from loadcheck.payloads import InspectionResult, PayloadError, StageTimings

logger = logging.getLogger(__name__)

#: Anything :meth:`AsyncInspectionClient.inspect_many` takes: a file, folder or zip path, or a
#: sequence of them (or of :class:`ImageSource`).
BatchInput = str | os.PathLike | Iterable[str | os.PathLike | ImageSource]


@dataclass(frozen=True)
class BatchItem:
    """One outcome of :meth:`AsyncInspectionClient.inspect_many`.

    Attributes:
        index: position of the image in the expanded input (0-based); items arrive out of order.
        source: the image (file, or zip member).
        result: the inspection result, or None when the image failed.
        error: why it failed (one line), or None.
        error_type: the error class name (``InvalidImageError``, ``TransientError``, ...).
        elapsed_ms: wall time for this image, including retries.
    """

    index: int
    source: ImageSource
    result: InspectionResult | None
    error: str | None = None
    error_type: str | None = None
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result is not None


def check_integrator_name(integrator: str) -> str:
    """Return ``integrator`` when it is a usable name (letters, digits, ``_``, ``-``, ``.``)."""
    if not integrator or not all(c.isalnum() or c in "_-." for c in integrator):
        raise ValueError(
            f"integrator: expected a name of letters, digits, '_', '-' or '.', got {integrator!r}"
        )
    return integrator


def progress_bar(*, enabled: bool = True, console: Console | None = None) -> Progress:
    """The rich progress bar used for batches (on stderr)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
    )


class AsyncInspectionClient:
    """Inspect truck photos on a loadcheck Triton server (asyncio).

    Args:
        url: Triton ``host:port`` (HTTP 8000, gRPC 8001 by default on Triton).
        protocol: ``"http"`` or ``"grpc"``.
        timeout: limit of every network call, in seconds.
        api_key: key for Triton's restricted APIs (repository index); inference needs none.
        ca_file: PEM bundle of the CAs that may sign the server's certificate (TLS; default: the
            system's trust store). ``https://`` (or ``grpcs://``) URLs use TLS; a CA file or a
            client certificate turns it on for a bare ``host:port``.
        cert_file / key_file: the client's certificate and private key for mutual TLS (PEM).
        retry: the retry policy for transient failures (default: 4 tries, 0.25 s doubling).
        transport: a ready transport (tests); overrides url/protocol/timeout/api_key/TLS.
        max_image_bytes: largest encoded image sent.
        max_image_pixels: largest image sent, in pixels as its header declares (the server's
            default limit: larger images are refused before anything is sent).

    Use as ``async with AsyncInspectionClient(...) as client:`` or call :meth:`close`.
    """

    def __init__(
        self,
        url: str = "localhost:8000",
        protocol: Protocol_ = "http",
        timeout: float = 30.0,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        ca_file: str | os.PathLike | None = None,
        cert_file: str | os.PathLike | None = None,
        key_file: str | os.PathLike | None = None,
    ) -> None:
        self.transport: Transport = transport or TritonTransport(
            url,
            protocol=protocol,
            timeout_s=timeout,
            api_key=api_key,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )
        self.retry = retry or RetryPolicy()
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels

    @property
    def url(self) -> str:
        return self.transport.url

    async def _infer_timed(
        self,
        model: str,
        data: bytes,
        outputs: tuple[str, ...],
        timings: dict[str, float],
        key: str,
        request_id: str | None = None,
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> Mapping[str, np.ndarray | None]:
        # Only a given id / input is passed: transports written before them keep working.
        extra: dict[str, Any] = {"request_id": request_id} if request_id else {}
        if inputs:
            extra["inputs"] = inputs

        async def attempt() -> Mapping[str, np.ndarray | None]:
            start = time.perf_counter()
            out = await self.transport.infer(model, data, outputs, **extra)
            timings[key] = (time.perf_counter() - start) * 1000.0
            return out

        out, waited_s = await self.retry.run(attempt, what=f"{model} at {self.url}")
        if waited_s:
            timings[f"{key}_retry_wait"] = waited_s * 1000.0
        return out

    async def inspect(
        self,
        image: ImageInput,
        integrator: str,
        *,
        masks: bool = False,
        request_id: str | None = None,
        roi: Sequence[Sequence[float]] | None = None,
    ) -> InspectionResult:
        """Inspect one photo with ``integrator``.

        Args:
            image: a path, encoded file bytes (JPEG/PNG/BMP/WebP), or an RGB uint8 ``[H, W, 3]``
                array (sent as PNG).
            integrator: the deployed integrator's name (model ``integrator_<name>``).
            masks: also return the masks of every detection (``MASKS``, ``MASK_IOU``), in the
                same request.
            request_id: the inference request's id on Triton (its logs and traces carry it;
                the gateway passes its own request id); ``None``: none.
            roi: a camera's region of interest, polygon points ``[[x, y], ...]`` in the photo's
                pixels (:mod:`loadcheck.features.roi`): only trucks whose bed lies mostly inside
                it are judged. Sent (``ROI_POLYGON``) only when given; ``None``: the whole photo.

        Timings (ms, in ``result.timings``): ``client_prepare`` (read/encode/check, in a worker
        thread so that other requests go on meanwhile),
        ``round_trip`` (the successful request), ``*_retry_wait``,
        ``decode``.

        Raises:
            InvalidImageError: the bytes are not an image, or one over ``max_image_pixels``
                (nothing is sent).
            RejectedInputError: the server refused the image.
            ModelNotFoundError: the integrator is not deployed.
            TransientError: the server stayed unreachable after the retries.
            ServerError: the server failed or its answer does not decode.
        """
        model = tn.integrator_model_name(check_integrator_name(integrator))
        inputs = None
        if roi is not None:
            from loadcheck.features.roi import roi_tensor

            inputs = {tn.ROI_POLYGON: roi_tensor(roi)}  # RoiError (a ValueError): nothing sent
        timings: dict[str, float] = {}
        start = time.perf_counter()
        data = await asyncio.to_thread(self._checked_bytes, image)
        timings["client_prepare"] = (time.perf_counter() - start) * 1000.0
        outputs = await self._infer_timed(
            model,
            data,
            (*INTEGRATOR_OUTPUTS, *MASK_OUTPUTS) if masks else INTEGRATOR_OUTPUTS,
            timings,
            "round_trip",
            request_id,
            inputs,
        )
        start = time.perf_counter()
        result = decode_inspection(outputs, model=model)
        timings["decode"] = (time.perf_counter() - start) * 1000.0
        return InspectionResult(
            score_result=result.score_result,
            probability=result.probability,
            threshold=result.threshold,
            features=result.features,
            detections=result.detections,
            timings=StageTimings(timings),
            masks=result.masks,
            trucks=result.trucks,
            review=result.review,
            provenance=result.provenance,
        )

    def _checked_bytes(self, image: ImageInput) -> bytes:
        data = image_bytes(image)
        check_image_bytes(data, max_bytes=self.max_image_bytes, max_pixels=self.max_image_pixels)
        return data

    async def inspect_many(
        self,
        sources: BatchInput,
        integrator: str,
        *,
        concurrency: int = 4,
        masks: bool = False,
        progress: bool = True,
        console: Console | None = None,
    ) -> AsyncGenerator[BatchItem, None]:
        """Inspect many photos, yielding each :class:`BatchItem` as soon as it is done.

        ``sources`` are files, folders (searched recursively) and zip archives. At most
        ``concurrency`` requests are in flight. A failed image yields an item with ``error``
        set and the batch goes on; only an undeployed integrator (:class:`ModelNotFoundError`)
        or a failed TLS handshake (:class:`TlsError`) stops it. Shows a progress bar on stderr
        unless ``progress=False``.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency: expected >= 1, got {concurrency}")
        check_integrator_name(integrator)
        items = _expand(sources)
        todo: asyncio.Queue[tuple[int, ImageSource]] = asyncio.Queue()
        for pair in enumerate(items):
            todo.put_nowait(pair)
        done: asyncio.Queue[BatchItem | BaseException] = asyncio.Queue()
        reader = SourceReader(max_bytes=self.max_image_bytes)

        async def worker() -> None:
            while True:
                try:
                    index, source = todo.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                try:
                    data = reader.read(source)
                    result = await self.inspect(data, integrator, masks=masks)
                    item = BatchItem(index, source, result)
                except (ModelNotFoundError, TlsError) as exc:
                    done.put_nowait(exc)
                    return
                except (InspectionError, PayloadError) as exc:
                    item = BatchItem(index, source, None, str(exc), type(exc).__name__)
                except Exception as exc:  # one bad image must not stop the batch
                    logger.debug("unexpected error on %s", source.label, exc_info=True)
                    item = BatchItem(index, source, None, f"{exc}", type(exc).__name__)
                elapsed = (time.perf_counter() - start) * 1000.0
                done.put_nowait(
                    BatchItem(
                        item.index, item.source, item.result, item.error, item.error_type, elapsed
                    )
                )

        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(items)))]
        failed = 0
        try:
            with progress_bar(enabled=progress, console=console) as bar:
                task = bar.add_task("inspecting", total=len(items), failed=0)
                for _ in range(len(items)):
                    got = await done.get()
                    if isinstance(got, BaseException):
                        raise got
                    failed += 0 if got.ok else 1
                    bar.update(task, advance=1, failed=failed)
                    yield got
        finally:
            for w in workers:
                w.cancel()
            for w in workers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await w
            reader.close()

    async def ready(self) -> bool:
        """True when the server answers and reports itself ready."""
        return await self.transport.server_ready()

    async def integrators(self) -> list[str]:
        """Names of the deployed (loaded) integrators; needs ``api_key`` when the repository
        API is restricted."""
        prefix = tn.INTEGRATOR_PREFIX
        return [m[len(prefix) :] for m in await self.transport.models() if m.startswith(prefix)]

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> AsyncInspectionClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _expand(sources: BatchInput) -> list[ImageSource]:
    if isinstance(sources, str | os.PathLike):
        return collect_sources([sources])
    out: list[ImageSource] = []
    for entry in sources:
        out.extend([entry] if isinstance(entry, ImageSource) else collect_sources([entry]))
    return out
