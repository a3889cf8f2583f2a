"""The images' lock files (docker/requirements/, written by scripts/lock_images.sh) pin every
package with its hashes, still satisfy pyproject.toml's requirements (a changed requirement makes
this fail until the locks are rewritten), and are what the Dockerfiles install, hash-checked."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_files import (
    CONSOLE_DOCKERFILE,
    DOCKER,
    REPO,
    TRITON_DOCKERFILE,
    dockerfile_instructions,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCKS = DOCKER / "requirements"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
# Python 3.12 on Linux x86_64: both images (Triton 24.12's Ubuntu 24.04, python:3.12-slim).
IMAGE_ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
}


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[str, list[Pin]]:
    """Pins by canonical name (a name can appear twice with exclusive markers)."""
    pins: dict[str, list[Pin]] = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, *hashes = re.split(r"\s+--hash=", line)
        requirement, _, marker = head.partition(";")
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", requirement.strip())
        assert match, f"{path.name}: not pinned with ==: {line[:80]!r}"
        name = canonicalize_name(match.group(1))
        pins.setdefault(name, []).append(
            Pin(name, match.group(2), marker.strip(), tuple(h.strip() for h in hashes))
        )
    return pins


def extras_requirements(extras: list[str]) -> list[Requirement]:
    todo, seen = list(extras), set()
    out = [Requirement(r) for r in PROJECT["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "loadcheck":
                todo.extend(requirement.extras)
            else:
                out.append(requirement)
    return out


def active(pin: Pin) -> bool:
    if not pin.marker:
        return True
    return Requirement(f"x; {pin.marker}").marker.evaluate(IMAGE_ENV)  # type: ignore[union-attr]


LOCKED = {"triton-serve.txt": ["serve"], "console.txt": ["console", "gateway"]}


@pytest.mark.parametrize("lock", sorted(LOCKED))
def test_every_package_is_pinned_with_sha256_hashes(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    assert pins
    for versions in pins.values():
        for pin in versions:
            assert pin.hashes, f"{lock}: {pin.name} has no --hash"
            assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), pin


@pytest.mark.parametrize(("lock", "extras"), sorted(LOCKED.items()))
def test_the_lock_satisfies_the_extras_requirements_of_pyproject(
    lock: str, extras: list[str]
) -> None:
    pins = read_lock(LOCKS / lock)
    for requirement in extras_requirements(extras):
        name = canonicalize_name(requirement.name)
        chosen = [p for p in pins.get(name, []) if active(p)]
        assert len(chosen) == 1, f"{lock}: {name} is not locked (run bash scripts/lock_images.sh)"
        assert requirement.specifier.contains(chosen[0].version, prereleases=True), (
            f"{lock}: {name}=={chosen[0].version} does not satisfy pyproject's {requirement}; "
            "run bash scripts/lock_images.sh"
        )


def test_the_triton_lock_keeps_numpy_below_2_and_the_console_lock_holds_no_server() -> None:
    triton = read_lock(LOCKS / "triton-serve.txt")
    assert all(int(p.version.split(".")[0]) < 2 for p in triton["numpy"])
    assert "torch" not in triton
    console = read_lock(LOCKS / "console.txt")
    assert not {"nvidia-pytriton", "onnxruntime", "torch"} & set(console)


def run_lines(dockerfile: Path) -> str:
    return "\n".join(i.args for i in dockerfile_instructions(dockerfile) if i.keyword == "RUN")


def test_the_dockerfiles_install_the_locks_with_hashes_then_the_wheel_without_dependencies() -> (
    None
):
    triton = run_lines(TRITON_DOCKERFILE)
    assert '--require-hashes -r "${lock}"' in triton
    assert 'lock="/tmp/requirements/triton-$(echo "${LOADCHECK_EXTRAS}" | tr , -).txt"' in triton
    assert '--no-deps "${wheel}"' in triton
    default = [
        i.args.split("=", 1)[1]
        for i in dockerfile_instructions(TRITON_DOCKERFILE)
        if i.keyword == "ARG" and i.args.startswith("LOADCHECK_EXTRAS=")
    ]
    assert default == ["serve"]  # the lock committed for it: triton-serve.txt
    console = run_lines(CONSOLE_DOCKERFILE)
    assert "--require-hashes -r /tmp/requirements/console.txt" in console
    assert '--no-deps "${wheel}"' in console
    assert "[console" not in console  # no unlocked install of the extras


def test_the_locks_say_how_they_were_made() -> None:
    for lock in LOCKED:
        assert "bash scripts/lock_images.sh" in (LOCKS / lock).read_text().splitlines()[1]
