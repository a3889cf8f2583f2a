"""The blocking inspection client: :class:`AsyncInspectionClient` driven by a private event loop.

One implementation serves both styles, so the HTTP/gRPC handling, retries and timeouts are the
same. Not for use inside a running event loop (use :class:`AsyncInspectionClient` there).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

from rich.console import Console

from loadcheck.client.async_client import AsyncInspectionClient, BatchInput, BatchItem
from loadcheck.client.images import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS, ImageInput
from loadcheck.client.retry import RetryPolicy
from loadcheck.client.transport import Protocol_, Transport
from loadcheck.payloads import InspectionResult

T = TypeVar("T")


class InspectionClient:
    """Inspect truck photos on a loadcheck Triton server (blocking calls).

    Same arguments as :class:`AsyncInspectionClient`::

        with InspectionClient("triton:8000") as client:
            result = client.inspect("truck.jpg", integrator="north_pit")
            print(result.score_result, result.probability)

        # TLS (mutual, with the site's own CA):
        InspectionClient("https://triton.site:8443", ca_file="ca.pem",
                         cert_file="client.pem", key_file="client.key")
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
        # The client first: a bad URL or TLS file raises before a loop exists to leak.
        self._client = AsyncInspectionClient(
            url,
            protocol,
            timeout,
            api_key,
            retry=retry,
            transport=transport,
            max_image_bytes=max_image_bytes,
            max_image_pixels=max_image_pixels,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )
        self._runner = asyncio.Runner()

    @property
    def url(self) -> str:
        return self._client.url

    def inspect(
        self,
        image: ImageInput,
        integrator: str,
        *,
        masks: bool = False,
        roi: Sequence[Sequence[float]] | None = None,
    ) -> InspectionResult:
        """Inspect one photo (``roi``: a camera's region of interest, sent only when given);
        see :meth:`AsyncInspectionClient.inspect`."""
        return self._runner.run(self._client.inspect(image, integrator, masks=masks, roi=roi))

    def inspect_many(
        self,
        sources: BatchInput,
        integrator: str,
        *,
        concurrency: int = 4,
        masks: bool = False,
        progress: bool = True,
        console: Console | None = None,
    ) -> Iterator[BatchItem]:
        """Yield a :class:`BatchItem` per image as each finishes; see
        :meth:`AsyncInspectionClient.inspect_many`. Requests progress while the caller waits
        for the next item."""
        stream: AsyncGenerator[BatchItem, None] = self._client.inspect_many(
            sources,
            integrator,
            concurrency=concurrency,
            masks=masks,
            progress=progress,
            console=console,
        )

        async def next_item() -> BatchItem:
            return await stream.__anext__()

        try:
            while True:
                try:
                    yield self._runner.run(next_item())
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(stream.aclose())

    def ready(self) -> bool:
        """True when the server answers and reports itself ready."""
        return self._runner.run(self._client.ready())

    def integrators(self) -> list[str]:
        """Names of the deployed integrators (see :meth:`AsyncInspectionClient.integrators`)."""
        return self._runner.run(self._client.integrators())

    def close(self) -> None:
        try:
            self._runner.run(self._client.close())
        finally:
            self._runner.close()

    def __enter__(self) -> InspectionClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
