"""``loadcheck synth``: arguments and a small run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "-1"], "--count"),
        (["--count", "two"], "--count"),
        (["--seed", "-5"], "--seed"),
        (["--size", "960"], "--size"),
        (["--size", "10x10"], "--size"),
        (["--size", "5000x540"], "--size"),
    ],
)
def test_bad_arguments_exit_with_a_usage_error_naming_the_flag(tmp_path, args, message):
    result = runner.invoke(app, ["synth", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_a_missing_out_flag_is_a_usage_error():
    result = runner.invoke(app, ["synth", "--count", "1"])
    assert result.exit_code == 2
    assert "--out" in result.output


def test_a_foreign_non_empty_out_folder_is_a_usage_error(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    result = runner.invoke(app, ["synth", "--count", "1", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty" in result.output


def test_a_small_run_writes_the_dataset(tmp_path):
    out = tmp_path / "ds"
    result = runner.invoke(
        app,
        [
            "synth",
            "--count",
            "4",
            "--seed",
            "2",
            "--out",
            str(out),
            "--size",
            "160x96",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 4 scenes" in result.output
    labels = json.loads((out / "labels.json").read_text())
    assert labels["size_wh"] == [160, 96] and labels["seed"] == 2
    assert len(list((out / "images").glob("*.jpg"))) == 4
    assert len(list((out / "masks").glob("*.png"))) == 8


def test_help_describes_every_flag():
    result = runner.invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    for flag in ("--count", "--seed", "--out", "--size", "--no-progress"):
        assert flag in result.output
