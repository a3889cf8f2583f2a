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
        (["--style", "sunny"], "unknown ['sunny']"),
        (["--style", "all,night"], "'all' cannot be combined"),
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
        "--style",
    ):
        assert option in result.output


def test_a_bad_style_names_the_option_and_every_known_style(tmp_path):
    result = CliRunner().invoke(
        app, ["demo", "--out", str(tmp_path / "out"), "--style", "classic,sunny"]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "--style" in text
    for name in ("classic", "quarry", "night", "dust"):
        assert name in text


@pytest.mark.parametrize(
    ("args", "styles"),
    [
        ([], ("classic",)),
        (["--style", "night,dust"], ("night", "dust")),
        (["--style", "all"], ("classic", "quarry", "night", "dust")),
    ],
)
def test_the_chosen_styles_reach_the_demo(args, styles, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        "loadcheck.demo.runner.run_demo", lambda options, *_: seen.append(options.styles)
    )
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 0, result.output
    assert seen == [styles]
