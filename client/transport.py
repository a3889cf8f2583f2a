"""Asynchronous Triton transports (HTTP/REST through aiohttp, gRPC through grpc.aio).

A transport sends one encoded image to one model and returns the named output tensors; it maps
every failure to the client's error classes (:mod:`loadcheck.client.errors`). It knows nothing of
verdicts or retries. ``tritonclient`` is imported lazily so that ``import loadcheck.client`` stays
light.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from loadcheck import tensor_names as tn
from loadcheck.client.errors import (
    InspectionError,
    InspectionTimeoutError,
    ModelNotFoundError,
    RejectedInputError,
    ServerError,
    TlsError,
    TransientError,
    first_line,
)
from loadcheck.client.tls import TlsSettings, resolve_url
from loadcheck.deploy_constants import API_KEY_HEADER

logger = logging.getLogger(__name__)

Protocol_ = Literal["http", "grpc"]
T = TypeVar("T")


_HTTP_TRANSIENT = {"408", "429", "502", "503", "504"}
_GRPC_TRANSIENT = {
    "StatusCode.UNAVAILABLE",
    "StatusCode.RESOURCE_EXHAUSTED",
    "StatusCode.ABORTED",
}
_GRPC_TIMEOUT = {"StatusCode.DEADLINE_EXCEEDED"}
_GRPC_REJECTED = {"StatusCode.INVALID_ARGUMENT", "StatusCode.OUT_OF_RANGE"}
_DENIED = {"401", "403", "StatusCode.PERMISSION_DENIED", "StatusCode.UNAUTHENTICATED"}


class Transport(Protocol):
    """What the client needs from a connection to Triton (implemented by :class:`TritonTransport`
    and by fakes in tests)."""

    url: str

    async def infer(
        self, model: str, image: bytes, outputs: Sequence[str], *, request_id: str | None = None
    ) -> Mapping[str, np.ndarray | None]:
        """Run ``model`` on the encoded ``image``; returns the requested outputs by name.
        ``request_id`` is sent as the inference request's id (Triton's logs, traces and answer
        carry it). A transport that takes optional inputs (:class:`TritonTransport`) also
        accepts ``inputs=`` (name -> array, e.g. ``ROI_POLYGON``); the client passes it only when
        there is one to send."""
        ...

    async def server_ready(self) -> bool: ...

    async def model_ready(self, model: str) -> bool: ...

    async def models(self) -> list[str]:
        """Names of the models the server has loaded (needs ``api_key`` if restricted)."""
        ...

    async def close(self) -> None: ...


def classify_error(
    exc: BaseException,
    *,
    url: str,
    model: str | None = None,
    tls: TlsSettings | None = None,
) -> InspectionError:
    """Map a tritonclient / aiohttp / asyncio exception to the client's error classes.

    A failed TLS handshake (over HTTP or gRPC) is a :class:`TlsError` that names ``url``, what
    failed and what to change; ``tls`` (the settings used) adds what the client trusted.
    """
    from tritonclient.utils import InferenceServerException

    where = f"model {model!r} at {url}" if model else url
    if isinstance(exc, InspectionError):
        return exc
    tls_error = _tls_failure(exc, url=url, tls=tls)
    if tls_error is not None:
        return tls_error
    if isinstance(exc, InferenceServerException):
        status = str(exc.status() or "")
        message = first_line(str(exc.message() or exc))
        if status in ("404", "StatusCode.NOT_FOUND") or "unknown model" in message:
            return ModelNotFoundError(f"{where}: not loaded ({message})")
        if status in _DENIED:
            return ServerError(f"{where}: access denied, check the API key ({message})")
        if status in _HTTP_TRANSIENT or status in _GRPC_TRANSIENT:
            return TransientError(f"{where}: unavailable ({message}){_closed_hint(message, tls)}")
        if status in _GRPC_TIMEOUT or "Deadline Exceeded" in message:
            return InspectionTimeoutError(f"{where}: timed out ({message})")
        if status.startswith("4") or status in _GRPC_REJECTED:
            return RejectedInputError(message)
        return ServerError(f"{where}: server error [{status or 'no status'}] {message}")
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return InspectionTimeoutError(f"{where}: no answer within the timeout")
    if isinstance(exc, ConnectionError | OSError):
        return TransientError(f"cannot connect to {url}: {exc}{_closed_hint(str(exc), tls)}")
    try:
        import aiohttp

        if isinstance(exc, aiohttp.ClientConnectionError):
            return TransientError(f"cannot connect to {url}: {exc}{_closed_hint(str(exc), tls)}")
        if isinstance(exc, aiohttp.ClientError):
            return ServerError(f"{where}: HTTP client error: {exc}")
    except ImportError:  # pragma: no cover - aiohttp is part of the client extra
        pass
    return ServerError(f"{where}: unexpected {type(exc).__name__}: {exc}")


def _tls_failure(exc: BaseException, *, url: str, tls: TlsSettings | None) -> TlsError | None:
    """A :class:`TlsError` when ``exc`` is a failed TLS handshake (aiohttp's SSL errors, Python's
    :class:`ssl.SSLError`, or gRPC's ``Tls handshake failed``), else None."""
    from tritonclient.utils import InferenceServerException

    reason: str | None = None
    if isinstance(exc, InferenceServerException):
        message = str(exc.message() or "")
        lowered = message.lower()
        at = lowered.find("handshake failed")
        if at >= 0:
            reason = message[at:].removesuffix(": OK")
    elif _ssl_cause(exc) is not None:
        reason = str(_ssl_cause(exc))
    else:
        try:
            import aiohttp
        except ImportError:  # pragma: no cover - aiohttp is part of the client extra
            return None
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            reason = str(exc.certificate_error)
        elif isinstance(exc, aiohttp.ClientSSLError):
            reason = str(getattr(exc, "os_error", exc))
    if reason is None:
        return None
    lowered = reason.lower()
    if "wrong_version_number" in lowered or "wrong version number" in lowered:
        hint = "the server does not speak TLS on this port (a plain http:// or grpc:// endpoint?)"
    elif "hostname mismatch" in lowered or "ip address mismatch" in lowered:
        hint = "the server's certificate does not name the host of the URL"
    elif "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        trusted = tls.describe() if tls is not None else "TLS"
        hint = (
            f"the server's certificate is not signed by a CA the client trusts ({trusted}); "
            "give the CA that signed it with --ca-file (LOADCHECK_CA_FILE)"
        )
    elif "certificate_required" in lowered or "certificate required" in lowered:
        hint = "the server requires a client certificate: give --cert-file and --key-file"
    else:
        hint = "check the TLS settings (--ca-file, --cert-file, --key-file)"
    return TlsError(f"TLS handshake with {url} failed: {hint} [{reason}]")


def _ssl_cause(exc: BaseException) -> BaseException | None:
    """The :class:`ssl.SSLError` that ``exc`` is or wraps (aiohttp wraps an alert the server sends
    after the handshake, such as TLS 1.3's "certificate required", in a ClientOSError)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        if "[SSL: " in str(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _closed_hint(message: str, tls: TlsSettings | None) -> str:
    """A hint for a TLS connection that the server closed: with TLS 1.3 a server that requires a
    client certificate closes the connection after the handshake, which the client only sees as
    a disconnect."""
    if tls is None or not tls.enabled or tls.mutual:
        return ""
    lowered = message.lower()
    if "disconnected" in lowered or "socket closed" in lowered or "connection reset" in lowered:
        return (
            "; the server closed the TLS connection: if it requires a client certificate, "
            "give --cert-file and --key-file"
        )
    return ""


class TritonTransport:
    """One connection to a Triton server over HTTP or gRPC (asyncio), with or without TLS.

    Args:
        url: ``host:port``; ``http://`` / ``grpc://`` prefixes are accepted and dropped,
            ``https://`` (or ``grpcs://``) asks for TLS (:mod:`loadcheck.client.tls`).
        protocol: ``"http"`` (port 8000 by default on Triton) or ``"grpc"`` (8001).
        timeout_s: limit of every call (connect + send + inference + receive), in seconds.
        api_key: sent as :data:`API_KEY_HEADER` on every call when given.
        ca_file: PEM bundle of the CAs that may sign the server's certificate (default: the
            system's trust store); turns TLS on for a bare ``host:port``.
        cert_file / key_file: the client's certificate and private key (mutual TLS), PEM.

    Raises:
        ValueError: a bad URL, protocol or timeout; :class:`~loadcheck.client.tls.TlsConfigError`
            (a ValueError) for a missing or unusable TLS file, naming it.
    """

    def __init__(
        self,
        url: str,
        *,
        protocol: Protocol_ = "http",
        timeout_s: float = 30.0,
        api_key: str | None = None,
        ca_file: str | os.PathLike | None = None,
        cert_file: str | os.PathLike | None = None,
        key_file: str | os.PathLike | None = None,
    ) -> None:
        if protocol not in ("http", "grpc"):
            raise ValueError(f"protocol: expected 'http' or 'grpc', got {protocol!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout: expected a positive number of seconds, got {timeout_s}")
        self.address, self.tls = resolve_url(
            url, ca_file=ca_file, cert_file=cert_file, key_file=key_file
        )
        #: What messages name: ``host:port``, or ``https://host:port`` (``grpcs://``) with TLS.
        self.url = (
            f"{'https' if protocol == 'http' else 'grpcs'}://{self.address}"
            if self.tls.enabled
            else self.address
        )
        self.protocol = protocol
        self.timeout_s = float(timeout_s)
        self.headers: dict[str, str] = {API_KEY_HEADER: api_key} if api_key else {}
        self._client: Any = None
        self._input_shapes: dict[str, list[int]] = {}
        self._output_names: dict[str, frozenset[str]] = {}
        self._input_names: dict[str, frozenset[str]] = {}

    def _get_client(self) -> Any:
        if self._client is None:
            if self.protocol == "http":
                import tritonclient.http.aio as httpclient

                self._client = httpclient.InferenceServerClient(
                    self.address, conn_timeout=self.timeout_s, **self.tls.http_options()
                )
            else:
                import tritonclient.grpc.aio as grpcclient

                self._client = grpcclient.InferenceServerClient(
                    self.address, **self.tls.grpc_options()
                )
        return self._client

    async def _call(self, make: Callable[[], Awaitable[T]], model: str | None = None) -> T:
        try:
            return await asyncio.wait_for(make(), timeout=self.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise classify_error(exc, url=self.url, model=model, tls=self.tls) from exc

    def _grpc_kwargs(self) -> dict[str, Any]:
        return {"client_timeout": self.timeout_s} if self.protocol == "grpc" else {}

    async def _image_shape(self, model: str) -> list[int]:
        """``[1]`` for a model served with ``max_batch_size: 0``, ``[1, 1]`` for a batching one
        (read once per model from its metadata, with the outputs it declares)."""
        shape = self._input_shapes.get(model)
        if shape is None:
            client = self._get_client()
            kwargs: dict[str, Any] = {"headers": self.headers or None}
            if self.protocol == "grpc":
                kwargs["as_json"] = True
            meta = await self._call(lambda: client.get_model_metadata(model, **kwargs), model)
            inputs = {i["name"]: i for i in meta.get("inputs", [])}
            if tn.IMAGE_BYTES not in inputs:
                raise ServerError(
                    f"model {model!r} has no input {tn.IMAGE_BYTES!r} (inputs: {sorted(inputs)})"
                )
            dims = [int(d) for d in inputs[tn.IMAGE_BYTES].get("shape", [1])]
            shape = [1, 1] if len(dims) == 2 else [1]
            self._input_shapes[model] = shape
            self._output_names[model] = frozenset(str(o["name"]) for o in meta.get("outputs", []))
            self._input_names[model] = frozenset(inputs)
        return shape

    def _asked(self, model: str, outputs: Sequence[str]) -> list[str]:
        """``outputs`` less the optional ones (:data:`~loadcheck.client.decode.OPTIONAL_OUTPUTS`)
        that ``model`` does not declare (a server that predates them)."""
        from loadcheck.client.decode import OPTIONAL_OUTPUTS

        declared = self._output_names.get(model, frozenset())
        return [n for n in outputs if n not in OPTIONAL_OUTPUTS or n in declared]

    async def infer(
        self,
        model: str,
        image: bytes,
        outputs: Sequence[str],
        *,
        request_id: str | None = None,
        inputs: Mapping[str, np.ndarray] | None = None,
    ) -> Mapping[str, np.ndarray | None]:
        """See :meth:`Transport.infer`; ``inputs``: optional float32 inputs the model declares
        (``ROI_POLYGON``), sent beside the photo.

        Raises:
            ServerError: ``inputs`` names one that ``model`` does not declare (a repository
                built before it existed), among the client's usual errors.
        """
        shape = await self._image_shape(model)
        client = self._get_client()
        if self.protocol == "http":
            import tritonclient.http as mod
        else:
            import tritonclient.grpc as mod
        tensor = mod.InferInput(tn.IMAGE_BYTES, shape, "BYTES")
        tensor.set_data_from_numpy(np.array([image], dtype=np.object_).reshape(shape))
        tensors = [tensor]
        for name, value in (inputs or {}).items():
            if name not in self._input_names.get(model, frozenset()):
                raise ServerError(
                    f"model {model!r} at {self.url} takes no input {name!r} (a repository built "
                    "before it existed): rebuild and redeploy the repository"
                )
            array = np.ascontiguousarray(value, np.float32)
            if len(shape) == 2:  # a batching model: one request of batch 1
                array = array[None]
            extra = mod.InferInput(name, list(array.shape), "FP32")
            extra.set_data_from_numpy(array)
            tensors.append(extra)
        outputs = self._asked(model, outputs)
        requested = [mod.InferRequestedOutput(name) for name in outputs]
        result = await self._call(
            lambda: client.infer(
                model,
                tensors,
                outputs=requested,
                request_id=request_id or "",
                headers=self.headers or None,
                **self._grpc_kwargs(),
            ),
            model,
        )
        return {name: result.as_numpy(name) for name in outputs}

    async def server_ready(self) -> bool:
        client = self._get_client()
        try:
            return bool(
                await self._call(
                    lambda: client.is_server_ready(
                        headers=self.headers or None, **self._grpc_kwargs()
                    )
                )
            )
        except TransientError:
            return False

    async def model_ready(self, model: str) -> bool:
        client = self._get_client()
        return bool(
            await self._call(
                lambda: client.is_model_ready(
                    model, headers=self.headers or None, **self._grpc_kwargs()
                ),
                model,
            )
        )

    async def models(self) -> list[str]:
        client = self._get_client()
        kwargs: dict[str, Any] = {"headers": self.headers or None, **self._grpc_kwargs()}
        if self.protocol == "grpc":
            kwargs["as_json"] = True
        index = await self._call(lambda: client.get_model_repository_index(**kwargs))
        entries = index.get("models", []) if isinstance(index, dict) else index
        return sorted(e["name"] for e in entries if e.get("state") == "READY")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.close()
            except Exception as exc:  # closing must never mask the caller's own error
                logger.debug("closing the Triton client failed: %s", exc)


def normalize_url(url: str) -> str:
    """``host:port`` from ``url`` (drops ``http(s)://``, ``grpc(s)://`` and a trailing slash)."""
    return resolve_url(url)[0]
