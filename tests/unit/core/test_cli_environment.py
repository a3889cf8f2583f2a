"""Every command that takes the repository, Triton's address or the workspace honours the one
variable for it (``--help`` names it; a run with only the variable set uses it), and fixed
choices are enums with the settings classes' defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from loadcheck import environment as env
from loadcheck.cli import app

WIDE = {"COLUMNS": "250"}  # rich wraps help at the terminal width


def invoke(args: list[str], **variables: str) -> Any:
    return CliRunner().invoke(app, args, env={**WIDE, **variables})


class RecordedError(Exception):
    """Raised by a fake once it has recorded what the command gave it."""


REPOSITORY_COMMANDS = [
    ["repository", "build"],
    ["serve"],
    ["deploy"],
    ["undeploy"],
    ["integrator"],
    ["console"],
]
TRITON_URL_COMMANDS = [["inspect"], ["gateway"], ["integrator", "fit"], ["console"]]
HOME_COMMANDS = [["integrator"], ["gateway"], ["gateway", "tokens"], ["console"]]


@pytest.mark.parametrize(
    ("variable", "command"),
    [(env.REPOSITORY, c) for c in REPOSITORY_COMMANDS]
    + [(env.TRITON_URL, c) for c in TRITON_URL_COMMANDS]
    + [(env.HOME, c) for c in HOME_COMMANDS]
    + [(env.API_KEY, c) for c in (["serve"], ["deploy"], ["undeploy"], ["inspect"], ["gateway"])],
    ids=lambda x: x.name if isinstance(x, env.EnvVar) else " ".join(x),
)
def test_help_names_the_variable_that_sets_the_option(variable: env.EnvVar, command: list[str]):
    result = invoke([*command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"env var: {variable.name}" in result.output


# --- a run with only the variable set uses it ------------------------------------------------


def record_repository_build(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    def fake_build(models: Path, repository: Path, settings: Any) -> list[str]:
        seen.update(repository=repository, settings=settings)
        return []

    monkeypatch.setattr("loadcheck.serving.repository.build_repository", fake_build)
    return ["repository", "build", "--models", "exported"]


def record_serve(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    from loadcheck.serving.server import TritonStartError

    class FakeServer:
        def __init__(self, repository: Path, **_: Any) -> None:
            seen["repository"] = repository

        def start(self) -> None:
            raise TritonStartError("not started in a unit test")

    monkeypatch.setattr("loadcheck.serving.server.TritonServer", FakeServer)
    monkeypatch.setattr("signal.signal", lambda *_: None)
    return ["serve"]


def record_deploy(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    def fake_deploy(repository: Path, name: str, version: Any, control: Any) -> int:
        seen["repository"] = repository
        return 1

    monkeypatch.setattr("loadcheck.serving.deploy.deploy", fake_deploy)
    return ["deploy", "site_a"]


def record_undeploy(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    def fake_undeploy(repository: Path, name: str, control: Any, force: bool) -> list[str]:
        seen["repository"] = repository
        return [name]

    monkeypatch.setattr("loadcheck.serving.deploy.undeploy", fake_undeploy)
    return ["undeploy", "site_a"]


def record_integrator(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    class FakeStore:
        def __init__(self, home: Path, repository: Path) -> None:
            seen.update(home=home, repository=repository)

        def list_all(self) -> list[Any]:
            return []

    monkeypatch.setattr("loadcheck.integrators.store.IntegratorStore", FakeStore)
    return ["integrator", "list"]


def record_console(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    """The console hands its options to the Streamlit process as the variables."""

    class Admins:
        def __init__(self, workspace: Any) -> None:
            seen["home"] = workspace.home

        def names(self) -> list[str]:
            return ["admin"]

    def fake_execv(executable: str, args: list[str]) -> None:
        for variable in (env.HOME, env.REPOSITORY, env.TRITON_URL):
            seen[f"process {variable.name}"] = os.environ[variable.name]
        raise RecordedError

    monkeypatch.setattr("loadcheck.console.auth.AdminStore", Admins)
    monkeypatch.setattr("loadcheck.console.cli.os.execv", fake_execv)
    return ["console"]


def record_inspect(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    import cv2

    image = Path("truck.jpg")
    image.write_bytes(cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))[1].tobytes())

    def fake_client(url: str, *args: Any) -> Any:
        seen["url"] = url
        raise ValueError("no client in a unit test")

    monkeypatch.setattr("loadcheck.client.cli.make_client", fake_client)
    return ["inspect", str(image), "--integrator", "site_a"]


def record_gateway(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    def fake_client(url: str, *args: Any, **kwargs: Any) -> Any:
        seen["url"] = url
        raise ValueError("no client in a unit test")

    monkeypatch.setattr("loadcheck.client.async_client.AsyncInspectionClient", fake_client)
    return ["gateway"]


def record_integrator_fit(monkeypatch: pytest.MonkeyPatch, seen: dict[str, Any]) -> list[str]:
    from loadcheck.integrators.errors import IntegratorError

    def fake_segmentator(url: str, **kwargs: Any) -> Any:
        seen.update(url=url, repository=kwargs["repository"])
        raise IntegratorError("no Triton in a unit test")

    monkeypatch.setattr("loadcheck.integrators.served.ServedSegmentator", fake_segmentator)
    return ["integrator", "fit", "site_a"]


Recorder = Callable[[pytest.MonkeyPatch, dict[str, Any]], list[str]]


@pytest.mark.parametrize(
    ("recorder", "key"),
    [
        (record_repository_build, "repository"),
        (record_serve, "repository"),
        (record_deploy, "repository"),
        (record_undeploy, "repository"),
        (record_integrator, "repository"),
        (record_integrator_fit, "repository"),
        (record_console, f"process {env.REPOSITORY.name}"),
    ],
    ids=lambda x: x.__name__.removeprefix("record_") if callable(x) else x,
)
def test_commands_use_the_repository_variable(
    recorder: Recorder, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: dict[str, Any] = {}
    args = recorder(monkeypatch, seen)
    for variable in (env.HOME, env.TRITON_URL):  # the console writes them for Streamlit
        monkeypatch.setenv(variable.name, variable.get_default())
    monkeypatch.setenv(env.REPOSITORY.name, str(tmp_path / "from_variable"))
    invoke(args)
    assert str(seen[key]) == str(tmp_path / "from_variable")


@pytest.mark.parametrize(
    ("recorder", "key"),
    [
        (record_inspect, "url"),
        (record_gateway, "url"),
        (record_integrator_fit, "url"),
        (record_console, f"process {env.TRITON_URL.name}"),
    ],
    ids=lambda x: x.__name__.removeprefix("record_") if callable(x) else x,
)
def test_commands_use_the_triton_url_variable(
    recorder: Recorder, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: dict[str, Any] = {}
    args = recorder(monkeypatch, seen)
    for variable in (env.HOME, env.REPOSITORY):
        monkeypatch.setenv(variable.name, str(tmp_path / variable.get_default()))
    monkeypatch.setenv(env.TRITON_URL.name, "triton.example:8123")
    invoke(args)
    assert seen[key] == "triton.example:8123"


@pytest.mark.parametrize(
    ("recorder", "key"),
    [
        (record_integrator, "home"),
        (record_console, "home"),
        (record_console, f"process {env.HOME.name}"),
    ],
    ids=["integrator", "console", "console process"],
)
def test_commands_use_the_home_variable(
    recorder: Recorder, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seen: dict[str, Any] = {}
    args = recorder(monkeypatch, seen)
    for variable in (env.REPOSITORY, env.TRITON_URL):
        monkeypatch.setenv(variable.name, variable.get_default())
    monkeypatch.setenv(env.HOME.name, str(tmp_path / "ws"))
    invoke(args)
    assert str(seen[key]) == str(tmp_path / "ws")


def test_an_option_beats_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    args = record_deploy(monkeypatch, seen)
    monkeypatch.setenv(env.REPOSITORY.name, str(tmp_path / "from_variable"))
    invoke([*args, "--repository", str(tmp_path / "from_option")])
    assert seen["repository"] == str(tmp_path / "from_option")


def test_an_s3_repository_reaches_deploy_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a folder named ``s3:`` (a ``Path`` would collapse the ``//``)."""
    seen: dict[str, Any] = {}
    args = record_deploy(monkeypatch, seen)
    monkeypatch.setenv(env.REPOSITORY.name, "s3://models/site/repository")
    invoke(args)
    assert seen["repository"] == "s3://models/site/repository"


def test_without_the_variable_the_declared_default_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    args = record_undeploy(monkeypatch, seen)
    monkeypatch.delenv(env.REPOSITORY.name, raising=False)
    invoke(args)
    assert seen["repository"] == env.REPOSITORY.get_default()


# --- fixed choices are enums; defaults come from the settings classes ---------------------------


def test_repository_build_without_options_uses_the_settings_classes_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loadcheck.serving.repository import RepositorySettings

    monkeypatch.chdir(tmp_path)
    seen: dict[str, Any] = {}
    result = invoke(record_repository_build(monkeypatch, seen))
    assert result.exit_code == 0, result.output
    assert seen["settings"] == RepositorySettings()


@pytest.mark.parametrize(
    ("command", "listed"),
    [
        (["repository", "build"], "python-onnxruntime|onnxruntime|tensorrt|python-torch"),
        (["repository", "build"], "cpu|gpu"),
        (["repository", "build"], "whole|crop"),
        (["train", "sam"], "vit_b|vit_l|vit_h|vit_tiny"),
        (["train", "sam"], "crop|whole|both"),
        (["train", "sam"], "bce|focal"),
        (["train", "detector"], "yolov6n|yolov6s|yolov6m|yolov6l"),
        (["train", "detector"], "adamw|sgd"),
        (["export", "sam"], "vit_b|vit_l|vit_h|vit_tiny"),
        (["export", "yolov6"], "none|onnx|tensorrt"),
        (["integrator", "create"], "xgboost|"),
        (["inspect"], "table|"),
    ],
)
def test_help_lists_the_choices_of_fixed_options(command: list[str], listed: str) -> None:
    result = invoke([*command, "--help"])
    assert result.exit_code == 0
    assert listed in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["repository", "build", "--models", "m", "--runtime", "tensorflow"],
        ["repository", "build", "--models", "m", "--device", "tpu"],
        ["repository", "build", "--models", "m", "--sam-frame", "half"],
        ["train", "sam", "--data", "d", "--out", "o", "--frame", "half"],
        ["integrator", "create", "site_a", "--model-type", "forest"],
    ],
    ids=lambda a: " ".join(a[:2]) + " " + a[-2],
)
def test_a_value_outside_the_choices_is_a_usage_error(args: list[str]) -> None:
    result = invoke(args)
    assert result.exit_code == 2
    assert args[-1] in result.output
