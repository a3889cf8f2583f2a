"""Reading the upload as it arrives (``loadcheck.gateway.upload``), against a fake ASGI receive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from loadcheck.gateway.limits import body_deadline_s
from loadcheck.gateway.upload import (
    BodyLimits,
    BodyTooLargeError,
    BodyTooSlowError,
    ClientGoneError,
    MalformedUploadError,
    read_image_field,
)

CONTENT_TYPE = "multipart/form-data; boundary=XyZ"
LIMITS = BodyLimits(max_bytes=1 << 20, timeout_s=10.0, min_rate_bytes_s=0.0)


def part(name: str, data: bytes, filename: str | None = "t.jpg") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--XyZ--\r\n"


def chunked(body: bytes, size: int, pause_s: float = 0.0) -> Any:
    """An ASGI receive that sends ``body`` in chunks of ``size`` bytes, ``pause_s`` apart."""
    chunks = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    sent = 0

    async def receive() -> Mapping[str, Any]:
        nonlocal sent
        if sent >= len(chunks):
            return {"type": "http.disconnect"}
        if pause_s and sent:
            await anyio.sleep(pause_s)
        sent += 1
        return {"type": "http.request", "body": chunks[sent - 1], "more_body": sent < len(chunks)}

    return receive


def read(body: bytes, limits: BodyLimits = LIMITS, size: int = 7, pause_s: float = 0.0) -> bytes:
    async def go() -> bytes:
        return await read_image_field(chunked(body, size, pause_s), CONTENT_TYPE, limits)

    return anyio.run(go)


def test_the_image_comes_back_as_bytes_whatever_the_chunking_and_other_fields() -> None:
    image = bytes(range(256)) * 40 + b"\r\n--XyZa, not a boundary\r\n--Xy"
    body = form(part("plant", b"north", filename=None), part("image", image), part("x", b"y"))
    for size in (1, 3, 64, len(body)):
        data = read(body, size=size)
        assert type(data) is bytes
        assert data == image


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (form(part("picture", b"abc")), "missing form field 'image'"),
        (form(part("image", b"abc", filename=None)), "must be a file upload, not a text value"),
        (form(part("image", b"a"), part("image", b"b")), "more than one file field 'image'"),
        (part("image", b"abc"), "ends before its closing boundary"),
        (b"no boundary anywhere", "malformed multipart/form-data body"),
        (form(*[part(f"f{i}", b"", filename=None) for i in range(40)]), "more than 32 parts"),
    ],
    ids=["no image field", "text field", "two images", "cut body", "garbage", "too many parts"],
)
def test_forms_without_exactly_one_whole_image_file_are_refused_with_the_reason(
    body: bytes, reason: str
) -> None:
    with pytest.raises(MalformedUploadError, match=reason):
        read(body)


def test_a_content_type_other_than_multipart_is_refused_before_reading() -> None:
    async def go() -> bytes:
        return await read_image_field(chunked(b"x", 1), "image/jpeg", LIMITS)

    with pytest.raises(MalformedUploadError, match="expected a multipart/form-data body"):
        anyio.run(go)


def test_a_body_over_the_limit_is_413_even_when_it_is_garbage() -> None:
    limits = BodyLimits(max_bytes=1000, timeout_s=10.0, min_rate_bytes_s=0.0)
    with pytest.raises(BodyTooLargeError, match="limit of 1000 bytes"):
        read(b"garbage " * 200, limits)


def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    async def go() -> bytes:
        return await read_image_field(
            chunked(b"", 1), CONTENT_TYPE, LIMITS, declared_length=LIMITS.max_bytes + 1
        )

    with pytest.raises(BodyTooLargeError):
        anyio.run(go)


def test_a_body_slower_than_the_minimum_rate_is_408_after_the_grace() -> None:
    limits = BodyLimits(max_bytes=1 << 20, timeout_s=30.0, min_rate_bytes_s=100.0, rate_grace_s=0.2)
    body = form(part("image", b"x" * 200))
    with pytest.raises(BodyTooSlowError, match=r"at 100 bytes/s or faster after the first 0\.2 s"):
        read(body, limits, size=4, pause_s=0.2)  # 20 bytes/s
    assert read(body, limits, size=64, pause_s=0.05) == b"x" * 200  # over 1000 bytes/s


def test_a_client_that_leaves_mid_body_is_reported() -> None:
    async def receive() -> Mapping[str, Any]:
        return {"type": "http.disconnect"}

    async def go() -> bytes:
        return await read_image_field(receive, CONTENT_TYPE, LIMITS)

    with pytest.raises(ClientGoneError):
        anyio.run(go)


@pytest.mark.parametrize(
    ("received", "rate", "expected_s"),
    [(0, 1000.0, 5.0), (10_000, 1000.0, 15.0), (10**9, 1000.0, 60.0), (0, 0.0, 60.0)],
)
def test_the_body_deadline_grows_with_the_bytes_received_up_to_the_timeout(
    received: int, rate: float, expected_s: float
) -> None:
    assert body_deadline_s(received, 60.0, rate) == pytest.approx(expected_s)
