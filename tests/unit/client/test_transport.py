from __future__ import annotations

import asyncio

import pytest
from tritonclient.utils import InferenceServerException

from loadcheck.client.errors import (
    InspectionTimeoutError,
    ModelNotFoundError,
    RejectedInputError,
    ServerError,
    TransientError,
)
from loadcheck.client.transport import (
    API_KEY_HEADER,
    TritonTransport,
    classify_error,
    normalize_url,
)


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("503", "server unavailable", TransientError),
        ("StatusCode.UNAVAILABLE", "failed to connect to all addresses", TransientError),
        ("400", "image: not a JPEG, PNG, BMP or WebP file", RejectedInputError),
        ("StatusCode.INVALID_ARGUMENT", "bad image", RejectedInputError),
        ("404", "Request for unknown model: 'integrator_x' is not found", ModelNotFoundError),
        ("StatusCode.NOT_FOUND", "Request for unknown model: 'x' is not found", ModelNotFoundError),
        ("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded", InspectionTimeoutError),
        ("500", "Failed to process the request(s)\n\nAt:\n  model.py(13): execute", ServerError),
        ("StatusCode.INTERNAL", "boom", ServerError),
        ("403", "This API is restricted", ServerError),
        ("StatusCode.PERMISSION_DENIED", "This API is restricted", ServerError),
    ],
)
def test_triton_errors_map_to_what_the_caller_should_do(
    status: str, message: str, expected: type[Exception]
) -> None:
    error = classify_error(InferenceServerException(message, status), url="h:1", model="m")
    assert type(error) is expected


def test_server_errors_keep_only_the_first_line_of_a_python_backend_trace() -> None:
    exc = InferenceServerException("ValueError: raised\n\nAt:\n  /models/x/model.py(13)", "500")
    error = classify_error(exc, url="h:1", model="m")
    assert "model.py" not in str(error)
    assert "ValueError: raised" in str(error)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ConnectionRefusedError(111, "Connection refused"), TransientError),
        (TimeoutError(), InspectionTimeoutError),
        (RuntimeError("odd"), ServerError),
    ],
)
def test_network_failures_are_transient_and_surprises_are_server_errors(
    exc: Exception, expected: type[Exception]
) -> None:
    assert type(classify_error(exc, url="h:1")) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("localhost:8000", "localhost:8000"),
        ("http://h:8000/", "h:8000"),
        ("grpc://h:8001", "h:8001"),
        ("https://h:8443", "h:8443"),
    ],
)
def test_urls_are_normalised_to_host_and_port(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", ["", "http://h:8000/v2/models", "ftp://h:21"])
def test_urls_with_a_path_or_another_scheme_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        normalize_url(url)


def test_unknown_protocol_and_non_positive_timeout_are_refused() -> None:
    with pytest.raises(ValueError, match="protocol"):
        TritonTransport("h:1", protocol="ftp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        TritonTransport("h:1", timeout_s=0)


def test_api_key_travels_in_the_header_the_server_restricts_with() -> None:
    # loadcheck serve restricts with deploy_constants.API_KEY_HEADER; the client sends the same.
    assert TritonTransport("h:1", api_key="k").headers == {API_KEY_HEADER: "k"}
    assert TritonTransport("h:1").headers == {}


def test_a_refused_connection_is_a_transient_error_over_both_protocols() -> None:
    async def attempt(protocol: str) -> None:
        transport = TritonTransport("127.0.0.1:9", protocol=protocol, timeout_s=5)  # type: ignore[arg-type]
        try:
            await transport.infer("integrator_x", b"img", ["SCORE_RESULT"])
        finally:
            await transport.close()

    for protocol in ("http", "grpc"):
        with pytest.raises(TransientError):
            asyncio.run(attempt(protocol))
