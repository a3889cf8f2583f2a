"""``loadcheck demo`` argument checks (nothing is started for bad input)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fit-count", "2"], "fit count: expected >= 4"),
        (["--test-count", "0"], "test count: expected >= 1"),
        (["--models", "/no/such/folder"], "is not a folder"),
    ],
)
def test_bad_demo_arguments_exit_2_with_the_reason(args, message, tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_demo_help_lists_every_option():
    result = CliRunner().invoke(app, ["demo", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in (
        "--out",
        "--models",
        "--fit-count",
        "--test-count",
        "--quick",
        "--seed",
        "--keep-serving",
        "--masks-fit",
    ):
        assert option in result.output
