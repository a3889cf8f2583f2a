"""What each extra pulls (pyproject.toml): numpy < 2 and the old OpenCV only where Triton's
Python-backend stub needs them (``serve``), a client without server packages, a console without
the server (nvidia-pytriton, onnxruntime) whose modules import without it.

The client extra installed on its own with numpy 2 is exercised by scripts/test_lean_client.sh
(CI runs it in a virtual environment of its own).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
SERVER_PACKAGES = {"nvidia-pytriton", "onnxruntime", "torch", "torchvision"}


def name_of(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def requirements(extra: str | None) -> list[str]:
    """Every requirement an install of ``loadcheck[extra]`` (None: the core) asks for, the
    extras it names resolved."""
    todo = [] if extra is None else [extra]
    seen: set[str] = set()
    out = list(PROJECT["dependencies"])
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for requirement in EXTRAS[current]:
            inner = re.fullmatch(r"loadcheck\[([\w,]+)\]", requirement)
            if inner:
                todo.extend(inner.group(1).split(","))
            else:
                out.append(requirement)
    return out


def pins(extra: str | None, package: str) -> list[str]:
    return [r for r in requirements(extra) if name_of(r) == package]


@pytest.mark.parametrize("extra", [None, "client", "gateway", "records", "console"])
def test_numpy_and_opencv_have_no_upper_bound_outside_the_server(extra: str | None) -> None:
    for package in ("numpy", "opencv-python-headless"):
        bounds = pins(extra, package)
        assert not [b for b in bounds if "<" in b], (extra, bounds)


def test_the_serve_extra_keeps_numpy_below_2_and_opencv_below_4_12() -> None:
    assert "numpy>=1.24,<2" in pins("serve", "numpy")
    assert "opencv-python-headless>=4.8,<4.12" in pins("serve", "opencv-python-headless")
    # the development environment includes serve, so it stays on numpy < 2 as well
    assert "numpy>=1.24,<2" in pins("dev", "numpy")


@pytest.mark.parametrize(
    ("extra", "forbidden"),
    [
        ("client", SERVER_PACKAGES | {"xgboost", "boto3", "streamlit", "starlette"}),
        ("gateway", SERVER_PACKAGES | {"xgboost", "streamlit"}),
        ("console", SERVER_PACKAGES),
    ],
)
def test_an_extra_does_not_pull_the_server(extra: str, forbidden: set[str]) -> None:
    names = {name_of(r) for r in requirements(extra)}
    assert not names & forbidden, sorted(names & forbidden)


SCRIPT = """
import importlib, pkgutil, sys
for name in ("pytriton", "onnxruntime", "torch", "torchvision", "onnx"):
    sys.modules[name] = None  # importing any of them now raises ImportError
import loadcheck.console
names = [m.name for m in pkgutil.walk_packages(loadcheck.console.__path__, "loadcheck.console.")]
for name in names + [
    "loadcheck.serving.deploy", "loadcheck.serving.repository", "loadcheck.serving.storage",
    "loadcheck.serving.storage_s3", "loadcheck.serving.config", "loadcheck.integrators.served",
    "loadcheck.integrators.fitting", "loadcheck.cli",
]:
    importlib.import_module(name)
print(len(names), "ok")
"""


def test_every_console_module_imports_without_the_server_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
