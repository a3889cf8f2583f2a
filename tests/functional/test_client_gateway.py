"""The client, ``loadcheck inspect`` and the gateway against a real Triton (the ``triton`` fixture).

The tiny models have random weights, so verdicts are arbitrary; the tests check that every path
gives the same, well-formed answer, not which answer it is.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from loadcheck.client import InspectionClient, InvalidImageError, ModelNotFoundError
from loadcheck.gateway.tokens import TokenStore, legacy_path
from loadcheck.payloads import VERDICTS
from loadcheck.workspace import Workspace

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]

CORRUPT_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF truncated"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, scene_jpegs: list[bytes]) -> tuple[Path, Path]:
    """A folder and a zip, each with the scenes and two corrupt files."""
    root = tmp_path_factory.mktemp("batch")
    folder = root / "photos"
    folder.mkdir()
    for i, data in enumerate(scene_jpegs):
        (folder / f"scene{i}.jpg").write_bytes(data)
    (folder / "corrupt.jpg").write_bytes(CORRUPT_JPEG)
    (folder / "text.png").write_bytes(b"not a png")
    archive = root / "photos.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i, data in enumerate(scene_jpegs):
            z.writestr(f"zipped/scene{i}.jpg", data)
        z.writestr("zipped/corrupt.jpg", CORRUPT_JPEG)
        z.writestr("zipped/empty.jpg", b"")
    return folder, archive


def test_http_and_grpc_clients_agree(triton: Any, scene_jpegs: list[bytes]) -> None:
    with (
        InspectionClient(triton.http_url, "http", timeout=60) as http,
        InspectionClient(triton.grpc_url, "grpc", timeout=60) as grpc,
    ):
        for data in scene_jpegs:
            a = http.inspect(data, triton.integrator)
            b = grpc.inspect(data, triton.integrator)
            assert a.score_result.value in VERDICTS
            assert a.score_result is b.score_result
            assert a.probability == pytest.approx(b.probability, abs=1e-6)
            assert a.threshold == pytest.approx(b.threshold)
            np.testing.assert_allclose(a.detections.xyxy, b.detections.xyxy, atol=1e-3)
            assert (a.features is None) == (b.features is None)
            if a.features is not None and b.features is not None:
                assert a.features.names == b.features.names
                np.testing.assert_allclose(a.features.values, b.features.values, atol=1e-5)
            assert a.timings.stages_ms["round_trip"] > 0


def test_masks_on_request_cover_the_whole_image(triton: Any, scene_jpegs: list[bytes]) -> None:
    with InspectionClient(triton.http_url, timeout=60) as client:
        result = client.inspect(scene_jpegs[0], triton.integrator, masks=True)
    assert result.masks is not None
    assert result.masks.resolution_wh == (480, 270)
    assert len(result.masks) == len(result.detections)


def test_unknown_integrator_and_corrupt_image_fail_clearly(triton: Any) -> None:
    with InspectionClient(triton.http_url, timeout=60) as client:
        with pytest.raises(ModelNotFoundError, match="integrator_nobody"):
            client.inspect(np.zeros((32, 32, 3), np.uint8), "nobody")
        with pytest.raises(InvalidImageError):
            client.inspect(CORRUPT_JPEG, triton.integrator)
        assert client.ready()


def test_deployed_integrators_are_listed_with_the_api_key(triton: Any) -> None:
    with InspectionClient(triton.http_url, api_key=triton.api_key) as client:
        assert triton.integrator in client.integrators()


def test_inspect_many_over_a_folder_and_a_zip_reports_corrupt_files_and_goes_on(
    triton: Any,
    batch: tuple[Path, Path],
    scene_jpegs: list[bytes],
) -> None:
    folder, archive = batch
    with InspectionClient(triton.grpc_url, "grpc", timeout=60) as client:
        items = list(
            client.inspect_many([folder, archive], triton.integrator, concurrency=3, progress=False)
        )
    n = len(scene_jpegs)
    assert sorted(i.index for i in items) == list(range(2 * n + 4))
    failed = sorted(i.source.label.rsplit("/", 1)[-1] for i in items if not i.ok)
    assert failed == ["corrupt.jpg", "corrupt.jpg", "empty.jpg", "text.png"]
    assert sum(i.ok for i in items) == 2 * n


def run_inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from loadcheck.cli import main; main()", "inspect", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_formats_and_exit_codes(triton: Any, batch: tuple[Path, Path], tmp_path: Path) -> None:
    folder, archive = batch
    common = ["-i", triton.integrator, "--no-progress"]
    http = [*common, "--url", triton.http_url]
    good = [str(p) for p in sorted(folder.glob("scene*.jpg"))]
    table = run_inspect(*good, *http)
    assert table.returncode == 0, table.stderr
    assert f"{len(good)} images:" in table.stderr and "0 failed" in table.stderr
    as_json = run_inspect(str(folder), str(archive), *http, "--format", "json")
    assert as_json.returncode == 1
    records = json.loads(as_json.stdout)
    assert sum(not r["ok"] for r in records) == 4
    assert as_json.stderr.count("FAILED") == 4
    out_csv = tmp_path / "r.csv"
    as_csv = run_inspect(
        str(archive),
        *common,
        "--grpc",
        "--url",
        triton.grpc_url,
        "-f",
        "csv",
        "-o",
        str(out_csv),
        "--overlays",
        str(tmp_path / "ov"),
    )
    assert as_csv.returncode == 1
    assert out_csv.read_text().splitlines()[0].startswith("index,source,status,score_result")
    assert len(list((tmp_path / "ov").glob("*.png"))) == len(good)
    unknown = run_inspect(str(folder), "-i", "nobody", "--url", triton.http_url, "--no-progress")
    assert unknown.returncode == 2 and "not deployed" in unknown.stderr


@pytest.fixture(scope="module")
def gateway(
    triton: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, TokenStore]]:
    """``loadcheck gateway`` as a subprocess in front of the fixture's Triton (64 KiB limit)."""
    home = tmp_path_factory.mktemp("gateway_home")
    store = TokenStore(Workspace(home))
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from loadcheck.cli import main; main()",
        "gateway",
        "--triton",
        triton.http_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--home",
        str(home),
        "--max-body-mb",
        "0.0625",
        "--retry-after",
        "3",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gateway did not start: {proc.stdout.read() if proc.stdout else ''}"
                )
            time.sleep(0.3)
        yield base, store
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def upload(url: str, data: bytes, field: str = "image") -> httpx.Response:
    return httpx.post(url, files={field: ("truck.jpg", data, "image/jpeg")}, timeout=120)


def test_gateway_answers_a_form_upload_like_the_legacy_system(
    triton: Any,
    gateway: tuple[str, TokenStore],
    scene_jpegs: list[bytes],
) -> None:
    base, store = gateway
    token = store.rotate(triton.integrator).token
    small = min(scene_jpegs, key=len)
    assert len(small) < 64 * 1024
    response = upload(base + legacy_path(token), small)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["score_result"]
    with InspectionClient(triton.http_url, timeout=60) as client:
        expected = client.inspect(small, triton.integrator)
        assert body["score_result"] == expected.score_result.value
    detail = upload(base + legacy_path(token) + "?detail=1", small).json()
    assert {"score_result", "probability", "threshold", "features"} <= set(detail)
    assert detail["needs_review"] == expected.review.needs_review
    assert detail["review_reasons"] == [r.to_dict() for r in expected.review.reasons]
    assert expected.provenance is not None
    assert detail["provenance"] == expected.provenance.to_dict()
    assert detail["provenance"]["integrator"] == triton.integrator
    assert httpx.get(f"{base}/readyz").status_code == 200


def test_gateway_error_statuses(
    triton: Any, gateway: tuple[str, TokenStore], scene_jpegs: list[bytes]
) -> None:
    base, store = gateway
    url = base + legacy_path(store.rotate(triton.integrator).token)
    assert upload(url, scene_jpegs[0], field="file").status_code == 400
    assert upload(base + legacy_path("no-such-token"), scene_jpegs[0]).status_code == 404
    assert upload(url, b"\xff\xd8\xff" + bytes(100_000)).status_code == 413
    not_image = upload(url, b"hello, I am text")
    assert not_image.status_code == 422 and "not an image" in not_image.json()["error"]
    for response in (not_image, upload(url, CORRUPT_JPEG)):
        assert "Traceback" not in response.text


def test_gateway_token_rotation_end_to_end(
    triton: Any, gateway: tuple[str, TokenStore], scene_jpegs: list[bytes]
) -> None:
    base, store = gateway
    small = min(scene_jpegs, key=len)
    old = store.rotate(triton.integrator).token
    new = store.rotate(triton.integrator).token
    assert upload(base + legacy_path(old), small).status_code == 404
    assert upload(base + legacy_path(new), small).status_code == 200


def test_gateway_without_triton_answers_503_with_retry_after(
    tmp_path: Path, scene_jpegs: list[bytes]
) -> None:
    store = TokenStore(Workspace(tmp_path))
    token = store.issue("site_a").token
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from loadcheck.cli import main; main()",
        "gateway",
        "--triton",
        f"127.0.0.1:{free_port()}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--home",
        str(tmp_path),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.3)
        response = upload(base + legacy_path(token), scene_jpegs[0])
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 503 and "retry-after" in ready.headers
    finally:
        proc.terminate()
        proc.wait(timeout=20)
