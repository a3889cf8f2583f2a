from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

import numpy as np
import pytest
from client_fakes import FakeTransport, jpeg_bytes

from loadcheck import tensor_names as tn
from loadcheck.client import (
    AsyncInspectionClient,
    BatchItem,
    InspectionClient,
    InvalidImageError,
    ModelNotFoundError,
    RejectedInputError,
    RetryPolicy,
    TransientError,
)
from loadcheck.payloads import Verdict

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.001, jitter=0)


def make_client(transport: FakeTransport) -> AsyncInspectionClient:
    return AsyncInspectionClient(transport=transport, retry=FAST_RETRY)


def test_inspect_sends_the_file_bytes_to_the_integrator_ensemble() -> None:
    transport = FakeTransport()
    data = jpeg_bytes(220)
    result = asyncio.run(make_client(transport).inspect(data, "site_a"))
    assert result.score_result is Verdict.QUALIFIED
    [(model, sent, outputs)] = transport.calls
    assert model == "integrator_site_a"
    assert sent == data
    assert tn.SCORE_RESULT in outputs and tn.MASKS not in outputs
    assert {"client_prepare", "round_trip", "decode"} <= set(result.timings.stages_ms)


def test_inspect_accepts_a_path_and_an_rgb_array(tmp_path: Path) -> None:
    path = tmp_path / "dark.jpg"
    path.write_bytes(jpeg_bytes(20))
    client = make_client(FakeTransport())
    assert asyncio.run(client.inspect(path, "site_a")).score_result is Verdict.UNQUALIFIED
    rgb = np.full((30, 40, 3), 250, np.uint8)
    assert asyncio.run(client.inspect(rgb, "site_a")).score_result is Verdict.QUALIFIED


def test_an_invalid_image_is_refused_before_anything_is_sent() -> None:
    transport = FakeTransport()
    with pytest.raises(InvalidImageError):
        asyncio.run(make_client(transport).inspect(b"GIF89a....", "site_a"))
    assert transport.calls == []


def test_masks_on_request_come_with_the_verdict_in_one_request() -> None:
    transport = FakeTransport()
    result = asyncio.run(make_client(transport).inspect(jpeg_bytes(), "site_a", masks=True))
    assert [c[0] for c in transport.calls] == ["integrator_site_a"]
    assert {tn.MASKS, tn.MASK_IOU} <= set(transport.calls[0][2])
    assert result.masks is not None and result.masks.mask_hw.shape == (2, 60, 80)


def test_masks_are_not_sent_unless_asked_for() -> None:
    transport = FakeTransport()
    result = asyncio.run(make_client(transport).inspect(jpeg_bytes(), "site_a"))
    assert tn.MASKS not in transport.calls[0][2] and result.masks is None


def test_transient_failures_are_retried_and_the_wait_is_timed() -> None:
    transport = FakeTransport(errors=[TransientError("503"), TransientError("503")])
    result = asyncio.run(make_client(transport).inspect(jpeg_bytes(), "site_a"))
    assert len(transport.calls) == 3
    assert result.timings.stages_ms["round_trip_retry_wait"] > 0


def test_a_rejected_image_is_not_retried() -> None:
    transport = FakeTransport(errors=[RejectedInputError("bad image")])
    with pytest.raises(RejectedInputError):
        asyncio.run(make_client(transport).inspect(jpeg_bytes(), "site_a"))
    assert len(transport.calls) == 1


@pytest.mark.parametrize("name", ["", "a/b", "x y", "../etc"])
def test_integrator_names_that_cannot_be_models_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="integrator"):
        asyncio.run(make_client(FakeTransport()).inspect(jpeg_bytes(), name))


def batch_dir(tmp_path: Path, n: int = 6) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    for i in range(n):
        (folder / f"img{i}.jpg").write_bytes(jpeg_bytes(40 * i % 256))  # uint8 under numpy 2
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return folder


def collect(
    client: AsyncInspectionClient, sources: object, concurrency: int = 3
) -> list[BatchItem]:
    async def go() -> list[BatchItem]:
        return [
            item
            async for item in client.inspect_many(
                sources,
                "site_a",
                concurrency=concurrency,
                progress=False,  # type: ignore[arg-type]
            )
        ]

    return asyncio.run(go())


def test_inspect_many_reports_every_image_with_its_index_and_keeps_going(tmp_path: Path) -> None:
    folder = batch_dir(tmp_path)
    items = collect(make_client(FakeTransport(delay_s=0.005)), folder)
    assert sorted(i.index for i in items) == list(range(7))
    by_name = {i.source.path.name: i for i in items}
    assert not by_name["corrupt.jpg"].ok
    assert by_name["corrupt.jpg"].error_type == "InvalidImageError"
    assert "corrupt or truncated JPEG" in (by_name["corrupt.jpg"].error or "")
    assert by_name["img5.jpg"].result is not None
    assert by_name["img5.jpg"].result.score_result is Verdict.QUALIFIED
    assert all(i.elapsed_ms >= 0 for i in items)


def test_inspect_many_never_has_more_requests_in_flight_than_asked(tmp_path: Path) -> None:
    transport = FakeTransport(delay_s=0.01)
    collect(make_client(transport), batch_dir(tmp_path, 10), concurrency=3)
    assert transport.max_in_flight == 3


def test_inspect_many_reads_zip_archives_with_corrupt_members(tmp_path: Path) -> None:
    archive = tmp_path / "plant.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.jpg", jpeg_bytes(200))
        z.writestr("b.jpg", b"not a jpeg at all")
        z.writestr("c.png", b"\x89PNG\r\n\x1a\n truncated")
    items = sorted(collect(make_client(FakeTransport()), archive), key=lambda i: i.index)
    assert [i.ok for i in items] == [True, False, False]
    assert items[1].source.member == "b.jpg"


def test_a_server_that_stays_down_fails_each_item_after_its_retries(tmp_path: Path) -> None:
    transport = FakeTransport(errors=[TransientError("refused")] * 100)
    items = collect(make_client(transport), batch_dir(tmp_path, 2), concurrency=1)
    failed = [i for i in items if not i.ok]
    assert {i.error_type for i in failed} == {"TransientError", "InvalidImageError"}
    assert len(transport.calls) == 2 * FAST_RETRY.max_attempts


def test_an_undeployed_integrator_stops_the_batch(tmp_path: Path) -> None:
    client = AsyncInspectionClient(transport=FakeTransport(deployed=()), retry=FAST_RETRY)
    with pytest.raises(ModelNotFoundError):
        collect(client, batch_dir(tmp_path, 3))


def test_the_blocking_client_gives_the_same_answers(tmp_path: Path) -> None:
    transport = FakeTransport()
    with InspectionClient(transport=transport, retry=FAST_RETRY) as client:
        assert client.inspect(jpeg_bytes(230), "site_a").score_result is Verdict.QUALIFIED
        items = list(client.inspect_many(batch_dir(tmp_path, 4), "site_a", progress=False))
        assert sorted(i.index for i in items) == list(range(5))
        assert client.ready()
        assert client.integrators() == ["site_a"]
    assert transport.closed


def test_the_blocking_batch_can_be_abandoned_early(tmp_path: Path) -> None:
    with InspectionClient(transport=FakeTransport(delay_s=0.01), retry=FAST_RETRY) as client:
        stream = client.inspect_many(batch_dir(tmp_path, 8), "site_a", progress=False)
        first = next(stream)
        stream.close()
        assert first.index in range(9)
        assert client.inspect(jpeg_bytes(30), "site_a").score_result is Verdict.UNQUALIFIED
