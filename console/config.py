"""Where the console finds the workspace, the model repository and Triton (from the environment,
variables declared in :mod:`loadcheck.environment`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from loadcheck.environment import (
    API_KEY,
    CONSOLE_MAX_IMAGES,
    GATEWAY_URL,
    PUBLIC_TRITON_URL,
    TRITON_URL,
)
from loadcheck.workspace.paths import default_home, repository_location

#: Most images one "Segment images" upload may hold (``$LOADCHECK_CONSOLE_MAX_IMAGES``).
DEFAULT_MAX_IMAGES = int(CONSOLE_MAX_IMAGES.get_default())


@dataclass(frozen=True)
class ConsoleConfig:
    """Everything the console pages act on.

    Attributes:
        home: the workspace folder (``$LOADCHECK_HOME``, default ``./workspace``).
        repository: the model repository Triton serves (``$LOADCHECK_REPOSITORY``): a folder
            or ``s3://bucket/prefix``.
        triton_url: Triton's HTTP ``host:port`` (``$LOADCHECK_TRITON_URL``, default
            ``localhost:8000``).
        api_key: the key of Triton's model-repository API (``$LOADCHECK_API_KEY``).
        max_images: most images per "Segment images" upload.
        gateway_url / public_triton_url: base URLs printed in the copy-paste examples.
    """

    home: Path
    repository: str
    triton_url: str
    api_key: str | None
    max_images: int = DEFAULT_MAX_IMAGES
    gateway_url: str = GATEWAY_URL.get_default()
    public_triton_url: str = f"http://{TRITON_URL.get_default()}"

    @classmethod
    def from_env(cls) -> ConsoleConfig:
        text = CONSOLE_MAX_IMAGES.get_text()
        try:
            max_images = int(text)
        except ValueError:
            raise ValueError(
                f"${CONSOLE_MAX_IMAGES.name}: expected a whole number, got {text!r}"
            ) from None
        triton = TRITON_URL.get_text()
        return cls(
            home=default_home(),
            repository=repository_location(),
            triton_url=triton,
            api_key=API_KEY.get(),
            max_images=max_images,
            gateway_url=GATEWAY_URL.get_text(),
            public_triton_url=PUBLIC_TRITON_URL.get() or f"http://{triton}",
        )
