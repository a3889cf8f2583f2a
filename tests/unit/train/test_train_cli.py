"""``loadcheck train``: help, usage errors and a bad data folder exit non-zero with a message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app

pytestmark = pytest.mark.torch  # trains PyTorch models (the folder needs torch)

runner = CliRunner()


@pytest.mark.parametrize("command", ["detector", "sam"])
def test_train_commands_have_help(command: str) -> None:
    result = runner.invoke(app, ["train", command, "--help"])
    assert result.exit_code == 0
    assert "--data" in result.output and "--out" in result.output


def test_unknown_detector_config_exits_with_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "detector",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
            "--config",
            "yolov9",
        ],
    )
    assert result.exit_code == 2
    assert "yolov9" in result.output


def test_missing_data_folder_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = runner.invoke(
        app, ["train", "sam", "--data", str(missing), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "not an existing folder" in result.output


def test_train_detector_command_writes_an_exportable_checkpoint(
    synth_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "det"
    result = runner.invoke(
        app,
        [
            "train",
            "detector",
            "--data",
            str(synth_dir),
            "--out",
            str(out),
            "--width",
            "0.125",
            "--depth",
            "0.33",
            "--img-size",
            "64",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "detector.pt").is_file() and (out / "last_ckpt.pt").is_file()
    assert "detector:" in result.output


def test_train_sam_command_writes_a_state_dict_and_a_resumable_state(
    synth_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sam"
    result = runner.invoke(
        app,
        [
            "train",
            "sam",
            "--data",
            str(synth_dir),
            "--out",
            str(out),
            "--img-size",
            "64",
            "--steps",
            "2",
            "--batch-size",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "sam.pth").is_file() and (out / "training_log.json").is_file()
    assert (out / "last_ckpt.pt").is_file()
    assert "vit_tiny, 64 px" in result.output
