"""The Triton base image is named in one place, by tag and digest (docker/triton.Dockerfile), and
docker/pin_triton_image.py (the release procedure) writes and checks the digest. No registry here:
a stand-in ``docker`` on PATH answers as ``docker buildx imagetools inspect`` does."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_files import DOCKER, DOCS, TRITON_DOCKERFILE, dockerfile_instructions, triton_tag

SCRIPT = DOCKER / "pin_triton_image.py"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "0123456789abcdef" * 4


def digest_arg() -> str:
    values = [
        ins.args.split("=", 1)[1]
        for ins in dockerfile_instructions(TRITON_DOCKERFILE)
        if ins.keyword == "ARG" and ins.args.startswith("TRITON_DIGEST=")
    ]
    assert len(values) == 1, f"expected one ARG TRITON_DIGEST= in {TRITON_DOCKERFILE}"
    return values[0]


def test_the_digest_is_empty_or_a_sha256_and_every_triton_from_line_uses_tag_and_digest() -> None:
    value = digest_arg()
    assert value == "" or re.fullmatch(r"@sha256:[0-9a-f]{64}", value), value
    froms = [
        i.args
        for i in dockerfile_instructions(TRITON_DOCKERFILE)
        if i.keyword == "FROM" and "tritonserver" in i.args
    ]
    assert froms
    for line in froms:
        assert line.startswith("nvcr.io/nvidia/tritonserver:${TRITON_TAG}-py3${TRITON_DIGEST} "), (
            line
        )


def test_the_docs_give_the_pinning_procedure_and_say_it_is_due_at_release() -> None:
    text = DOCS.read_text()
    assert "python3 docker/pin_triton_image.py" in text
    assert "docker buildx imagetools inspect" in text
    assert "--check" in text and "at every release" in text


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    copy = tmp_path / "triton.Dockerfile"
    shutil.copy(TRITON_DOCKERFILE, copy)
    text = re.sub(r"(?m)^ARG TRITON_DIGEST=.*$", "ARG TRITON_DIGEST=", copy.read_text())
    copy.write_text(text)
    return copy


def fake_docker(tmp_path: Path, answer: str, *, status: int = 0) -> dict[str, str]:
    """A ``docker`` on PATH that logs its arguments and prints ``answer``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "docker.log"
    script = bin_dir / "docker"
    script.write_text(
        f"#!/bin/sh\necho \"$@\" >> '{log}'\ncat <<'EOF'\n{answer}\nEOF\nexit {status}\n"
    )
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def pin(dockerfile: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--dockerfile", str(dockerfile), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_pinning_writes_the_registry_digest_of_the_dockerfiles_tag(
    dockerfile: Path, tmp_path: Path
) -> None:
    env = fake_docker(tmp_path, f'"{DIGEST_A}"')
    assert pin(dockerfile, env, "--offline-check").returncode == 1
    done = pin(dockerfile, env)
    assert done.returncode == 0, done.stderr
    asked = (tmp_path / "docker.log").read_text()
    assert f"buildx imagetools inspect nvcr.io/nvidia/tritonserver:{triton_tag()}-py3" in asked
    assert f"ARG TRITON_DIGEST=@{DIGEST_A}\n" in dockerfile.read_text()
    assert pin(dockerfile, env, "--offline-check").returncode == 0
    assert pin(dockerfile, env, "--check").returncode == 0
    # the rest of the Dockerfile is untouched
    original = re.sub(r"(?m)^ARG TRITON_DIGEST=.*$", "", TRITON_DOCKERFILE.read_text())
    assert re.sub(r"(?m)^ARG TRITON_DIGEST=.*$", "", dockerfile.read_text()) == original


def test_the_check_fails_when_the_registry_moved_the_tag(dockerfile: Path, tmp_path: Path) -> None:
    assert pin(dockerfile, fake_docker(tmp_path, f'"{DIGEST_A}"')).returncode == 0
    done = pin(dockerfile, fake_docker(tmp_path, f'"{DIGEST_B}"'), "--check")
    assert done.returncode == 1
    assert f"pins {DIGEST_A}, the registry has {DIGEST_B}" in done.stderr


def test_the_plain_listing_of_older_buildx_versions_is_read_too(
    dockerfile: Path, tmp_path: Path
) -> None:
    listing = (
        "Name:      nvcr.io/nvidia/tritonserver:24.12-py3\n"
        "MediaType: application/vnd.oci.image.index.v1+json\n"
        f"Digest:    {DIGEST_B}\n\nManifests:\n  Name: x@{DIGEST_A}\n"
    )
    assert pin(dockerfile, fake_docker(tmp_path, listing)).returncode == 0
    assert f"ARG TRITON_DIGEST=@{DIGEST_B}\n" in dockerfile.read_text()


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [("no digest here", 0, "no sha256 digest"), ("unauthorized", 1, "failed: unauthorized")],
)
def test_a_registry_answer_without_a_digest_changes_nothing(
    dockerfile: Path, tmp_path: Path, answer: str, status: int, message: str
) -> None:
    before = dockerfile.read_text()
    done = pin(dockerfile, fake_docker(tmp_path, answer, status=status))
    assert done.returncode != 0
    assert message in done.stderr
    assert dockerfile.read_text() == before
