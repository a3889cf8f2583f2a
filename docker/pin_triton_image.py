#!/usr/bin/env python3
"""Pin the Triton base image by digest: ``ARG TRITON_DIGEST`` in docker/triton.Dockerfile.

The tag (``ARG TRITON_TAG``) and the digest sit next to each other in the Dockerfile, the one place
the Triton image is named. A tag can be re-pushed; the digest cannot. This asks the registry for
the digest of ``nvcr.io/nvidia/tritonserver:<TRITON_TAG>-py3`` (its multi-platform index) with
``docker buildx imagetools inspect`` and writes it (needs Docker with buildx and nvcr.io):

    python3 docker/pin_triton_image.py            # write the digest of the current tag
    python3 docker/pin_triton_image.py --check    # exit 1 unless it is set and the registry agrees
    python3 docker/pin_triton_image.py --offline-check   # exit 1 unless it is set (no registry)

Run it at every release and whenever TRITON_TAG changes (docs/deploying.md).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent / "triton.Dockerfile"
IMAGE = "nvcr.io/nvidia/tritonserver"
TAG_LINE = re.compile(r"^ARG TRITON_TAG=(\d\d\.\d\d)$", re.MULTILINE)
DIGEST_LINE = re.compile(r"^ARG TRITON_DIGEST=(.*)$", re.MULTILINE)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def read_pin(dockerfile: Path) -> tuple[str, str]:
    """``(tag, digest)`` from the Dockerfile; digest ``""`` when not pinned yet."""
    text = dockerfile.read_text()
    tags = TAG_LINE.findall(text)
    digests = DIGEST_LINE.findall(text)
    if len(tags) != 1 or len(digests) != 1:
        raise SystemExit(
            f"{dockerfile}: expected one 'ARG TRITON_TAG=YY.MM' and one 'ARG TRITON_DIGEST=' line"
        )
    digest = digests[0].strip()
    if digest and not re.fullmatch(rf"@{DIGEST.pattern}", digest):
        raise SystemExit(f"{dockerfile}: TRITON_DIGEST={digest!r}; expected '' or @sha256:<64 hex>")
    return tags[0], digest.removeprefix("@")


def registry_digest(reference: str) -> str:
    """The digest the registry gives ``reference`` (``docker buildx imagetools inspect``)."""
    command = ["docker", "buildx", "imagetools", "inspect", reference]
    try:
        done = subprocess.run(
            [*command, "--format", "{{json .Manifest.Digest}}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise SystemExit("docker not found: install Docker with buildx") from None
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout}")
    out = done.stdout.strip()
    try:
        value = json.loads(out)
    except json.JSONDecodeError:
        # some buildx versions ignore --format and print the plain listing: "Digest: sha256:..."
        found = re.search(rf"^Digest:\s*({DIGEST.pattern})", out, re.MULTILINE)
        value = found.group(1) if found else out
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise SystemExit(f"{' '.join(command)}: no sha256 digest in its answer: {out[:200]!r}")
    return value


def write_pin(dockerfile: Path, digest: str) -> None:
    text = dockerfile.read_text()
    new = DIGEST_LINE.sub(f"ARG TRITON_DIGEST=@{digest}", text, count=1)
    tmp = dockerfile.with_suffix(".tmp")
    tmp.write_text(new)
    tmp.replace(dockerfile)


def say(line: str, *, error: bool = False) -> None:
    (sys.stderr if error else sys.stdout).write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dockerfile", type=Path, default=DOCKERFILE)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with the registry")
    mode.add_argument("--offline-check", action="store_true", help="only: is a digest set?")
    args = parser.parse_args(argv)
    tag, pinned = read_pin(args.dockerfile)
    reference = f"{IMAGE}:{tag}-py3"
    if args.offline_check:
        if not pinned:
            say(f"{reference}: not pinned (ARG TRITON_DIGEST is empty)", error=True)
            return 1
        say(f"{reference}@{pinned}")
        return 0
    current = registry_digest(reference)
    if args.check:
        if pinned != current:
            say(
                f"{reference}: the Dockerfile pins {pinned or 'nothing'}, the registry has "
                f"{current}",
                error=True,
            )
            return 1
        say(f"{reference}@{current}: pinned")
        return 0
    write_pin(args.dockerfile, current)
    say(f"{reference}@{current} written to {args.dockerfile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
