"""The ``loadcheck`` command: help everywhere, light imports, clear usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from loadcheck.cli import app

COMMANDS = [
    [],
    ["demo"],
    ["synth"],
    ["export"],
    ["export", "sam"],
    ["export", "yolov6"],
    ["export", "tensorrt"],
    ["train", "detector"],
    ["train", "sam"],
    ["repository", "build"],
    ["serve"],
    ["deploy"],
    ["undeploy"],
    ["integrator"],
    ["integrator", "fit"],
    ["inspect"],
    ["gateway"],
    ["gateway", "tokens"],
    ["console", "create-admin"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "loadcheck")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_cli_imports_no_heavy_library_so_a_client_install_can_run_it() -> None:
    code = (
        "import sys, loadcheck.cli; heavy = ('torch', 'xgboost', 'onnxruntime', 'streamlit', "
        "'tritonclient', 'segment_anything', 'yolov6', 'starlette', 'scipy'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_option_is_a_usage_error_with_exit_code_2() -> None:
    result = CliRunner().invoke(app, ["synth", "--no-such-flag"])
    assert result.exit_code == 2
