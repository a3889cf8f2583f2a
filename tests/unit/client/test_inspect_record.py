"""``loadcheck inspect --record``: each verdict stored with its photo; the verdicts printed are
the same with or without recording, and with a records database that cannot be reached."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from client_fakes import FakeTransport, jpeg_bytes
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.client import AsyncInspectionClient, RetryPolicy
from loadcheck.client import cli as inspect_cli
from loadcheck.client.transport import Protocol_
from loadcheck.imageio import sha256_bytes
from loadcheck.records import RecordQuery, RecordStore


@pytest.fixture(autouse=True)
def transport(monkeypatch: pytest.MonkeyPatch) -> FakeTransport:
    fake = FakeTransport()

    def make_client(
        url: str,
        protocol: Protocol_,
        timeout: float,
        api_key: str | None,
        tls_files: inspect_cli.TlsFiles = (None, None, None),
    ) -> AsyncInspectionClient:
        return AsyncInspectionClient(
            transport=fake, retry=RetryPolicy(max_attempts=2, initial_backoff_s=0)
        )

    monkeypatch.setattr(inspect_cli, "make_client", make_client)
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    return fake


def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "bright.jpg").write_bytes(jpeg_bytes(230))
    (folder / "dark.jpg").write_bytes(jpeg_bytes(20))
    (folder / "zz_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    return folder


def inspect(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(
        app, ["inspect", *args, "--integrator", "site_a", "--format", "json", "--no-progress"]
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_each_verdict_is_recorded_with_its_photo_in_the_workspace(tmp_path: Path) -> None:
    folder = photos(tmp_path)
    home = tmp_path / "ws"
    code, items, err = inspect(str(folder), "--record", "--camera", "lane1", "--home", str(home))
    assert code == 1, err  # the corrupt photo fails, and is not recorded
    assert "recorded 2 inspections, 0 dropped" in err
    with RecordStore(home=home) as store:
        records = {r.provenance.source: r for r in store.query(RecordQuery()).records}
        assert set(records) == {str(folder / "bright.jpg"), str(folder / "dark.jpg")}
        for item in items[:2]:
            r = records[item["source"]]
            assert (r.verdict.value, r.probability) == (
                item["score_result"],
                pytest.approx(item["probability"], abs=1e-6),
            )
            assert r.camera == "lane1" and r.integrator == "site_a"
            assert r.provenance.recorded_by == "inspect"
            assert r.features == pytest.approx(item["features"])
            photo = Path(item["source"]).read_bytes()
            assert r.photo_sha256 == sha256_bytes(photo) and store.photo(r.photo_sha256) == photo


def test_an_unreachable_records_database_changes_no_verdict(tmp_path: Path) -> None:
    folder = photos(tmp_path)
    _, plain, _ = inspect(str(folder))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, recorded, err = inspect(
        str(folder), "--record", "--database", f"postgresql://nobody@127.0.0.1:{port}/records"
    )
    assert code == 1  # the corrupt photo, as without --record
    assert "cannot open the records database, inspecting without recording" in err
    assert "recorded 0 inspections" in err

    def verdicts(items: list[dict]) -> list[tuple]:
        return [(i["source"], i.get("score_result"), i.get("probability")) for i in items]

    assert verdicts(recorded) == verdicts(plain)


def test_a_bad_database_url_is_a_usage_error_before_any_photo_is_sent(
    tmp_path: Path, transport: FakeTransport
) -> None:
    result = CliRunner().invoke(
        app,
        ["inspect", str(photos(tmp_path)), "-i", "site_a", "--record", "--database", "mysql://x"],
    )
    assert result.exit_code == 2
    assert "the records store runs on sqlite or postgresql, not mysql" in result.stderr
    assert transport.calls == []
