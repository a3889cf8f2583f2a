from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from client_fakes import FakeTransport, jpeg_bytes
from typer.testing import CliRunner

from loadcheck import tensor_names as tn
from loadcheck.cli import app
from loadcheck.client import AsyncInspectionClient, RetryPolicy
from loadcheck.client import cli as inspect_cli
from loadcheck.client.transport import Protocol_


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> FakeTransport:
    fake = FakeTransport()
    built: list[tuple[str, str]] = []

    def make_client(
        url: str,
        protocol: Protocol_,
        timeout: float,
        api_key: str | None,
        tls_files: inspect_cli.TlsFiles = (None, None, None),
    ) -> AsyncInspectionClient:
        built.append((url, protocol))
        fake.tls_files = tls_files  # type: ignore[attr-defined]
        return AsyncInspectionClient(
            transport=fake, retry=RetryPolicy(max_attempts=2, initial_backoff_s=0)
        )

    monkeypatch.setattr(inspect_cli, "make_client", make_client)
    fake.built = built  # type: ignore[attr-defined]
    return fake


def images(tmp_path: Path, *, corrupt: bool = False) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "bright.jpg").write_bytes(jpeg_bytes(230))
    (folder / "dark.jpg").write_bytes(jpeg_bytes(20))
    if corrupt:
        (folder / "zz_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["inspect", *args, "--no-progress"])
    return result.exit_code, result.stdout, result.stderr


def test_all_images_inspected_exits_zero_with_a_summary_line(
    tmp_path: Path, transport: FakeTransport
) -> None:
    code, out, err = invoke(str(images(tmp_path)), "--integrator", "site_a")
    assert code == 0, err
    assert "Qualified" in out and "Unqualified" in out
    assert "2 images: 1 Qualified, 1 Unqualified, 0 No Mine Detected, 0 failed" in err
    assert "images/s" in err
    assert transport.built == [("localhost:8000", "http")]  # type: ignore[attr-defined]


def test_some_failures_exit_one_and_are_listed_with_their_reason(
    tmp_path: Path, transport: FakeTransport
) -> None:
    code, _, err = invoke(str(images(tmp_path, corrupt=True)), "-i", "site_a")
    assert code == 1
    assert "FAILED" in err and "zz_corrupt.jpg" in err and "corrupt or truncated JPEG" in err
    assert "1 failed" in err


def test_json_output_lists_every_image_in_input_order(
    tmp_path: Path, transport: FakeTransport
) -> None:
    code, out, _ = invoke(str(images(tmp_path, corrupt=True)), "-i", "site_a", "--format", "json")
    assert code == 1
    records = json.loads(out)
    assert [r["index"] for r in records] == [0, 1, 2]
    assert [r["ok"] for r in records] == [True, True, False]
    assert records[0]["score_result"] == "Qualified"
    assert set(records[0]["features"]) == {"fullness", "roughness_pits", "volume_above_rim"}
    assert records[2]["error_type"] == "InvalidImageError"


def test_csv_output_has_a_row_per_image_and_a_column_per_feature(
    tmp_path: Path, transport: FakeTransport
) -> None:
    out_file = tmp_path / "results.csv"
    code, out, _ = invoke(
        str(images(tmp_path)), "-i", "site_a", "-f", "csv", "--output", str(out_file)
    )
    assert code == 0
    assert out == ""
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert [r["score_result"] for r in rows] == ["Qualified", "Unqualified"]
    assert rows[0]["status"] == "ok" and float(rows[0]["fullness"]) > 0.5


def test_grpc_defaults_to_port_8001(tmp_path: Path, transport: FakeTransport) -> None:
    code, _, _ = invoke(str(images(tmp_path)), "-i", "site_a", "--grpc")
    assert code == 0
    assert transport.built == [("localhost:8001", "grpc")]  # type: ignore[attr-defined]


def test_overlays_are_written_per_image_with_masks_requested(
    tmp_path: Path, transport: FakeTransport
) -> None:
    archive = tmp_path / "plant.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a/truck.jpg", jpeg_bytes(200))
        z.writestr("b/truck.jpg", jpeg_bytes(30))
    code, _, err = invoke(str(archive), "-i", "site_a", "--overlays", str(tmp_path / "ov"))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "ov").iterdir()) == [
        "00000_truck.png",
        "00001_truck.png",
    ]
    assert all(call[0] == "integrator_site_a" for call in transport.calls)
    assert all(tn.MASKS in call[2] for call in transport.calls)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing_dir", "-i", "site_a"], "no such file or folder"),
        (["EMPTY", "-i", "site_a"], "no images"),
        (["IMGS", "-i", "other"], "is not deployed"),
        (["IMGS", "-i", "bad/name"], "integrator"),
        (["IMGS", "-i", "site_a", "--concurrency", "0"], ""),
        (["IMGS", "-i", "site_a", "--format", "xml"], ""),
        (["IMGS"], ""),
    ],
)
def test_usage_errors_exit_two(
    tmp_path: Path,
    transport: FakeTransport,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    images(tmp_path)
    (tmp_path / "EMPTY").mkdir()
    args = [str(tmp_path / "imgs") if a == "IMGS" else a for a in args]
    code, _, err = invoke(*args)
    assert code == 2
    assert message in err


def test_an_unreachable_server_exits_one_with_one_clear_message(
    tmp_path: Path, transport: FakeTransport
) -> None:
    transport.is_ready = False
    code, _, err = invoke(str(images(tmp_path)), "-i", "site_a")
    assert code == 1
    assert "no ready Triton server" in err
    assert transport.calls == []


def test_tls_options_and_their_variables_reach_the_client(
    tmp_path: Path, transport: FakeTransport
) -> None:
    folder = images(tmp_path)
    result = CliRunner().invoke(
        app,
        ["inspect", str(folder), "-i", "site_a", "--no-progress", "--ca-file", "ca.pem"],
        env={"LOADCHECK_CERT_FILE": "client.crt", "LOADCHECK_KEY_FILE": "client.key"},
    )
    assert result.exit_code == 0, result.stderr
    assert transport.tls_files == (  # type: ignore[attr-defined]
        Path("ca.pem"),
        Path("client.crt"),
        Path("client.key"),
    )


def test_a_missing_ca_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "site-ca.pem"
    code, _, err = invoke(
        str(images(tmp_path)), "-i", "site_a", "--url", "https://127.0.0.1:9", "--ca-file",
        str(missing),
    )  # fmt: skip
    assert code == 2
    assert f"--ca-file {missing}: no such file" in err


def test_https_without_the_servers_ca_exits_one_naming_the_url(tmp_path: Path) -> None:
    from tls_servers import Pki, https_server

    pki = Pki.create(tmp_path)
    folder = str(images(tmp_path))
    with https_server(pki) as address:
        code, _, err = invoke(folder, "-i", "site_a", "--url", f"https://{address}")
        assert code == 1
        assert f"error: TLS handshake with https://{address} failed" in err
        assert "--ca-file" in err
        # with the CA the handshake succeeds; this test server serves no integrator
        code, _, err = invoke(
            folder, "-i", "site_a", "--url", f"https://{address}", "--ca-file", str(pki.ca_file)
        )
        assert code == 2
        assert "'site_a' is not deployed" in err
