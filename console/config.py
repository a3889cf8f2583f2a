"""Where the console finds the workspace, the model repository and Triton (from the environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from loadcheck.deploy_constants import (
    API_KEY_ENV,
    GATEWAY_PORT,
    TRITON_HTTP_PORT,
    TRITON_URL_ENV,
)
from loadcheck.workspace.paths import default_home, default_repository

#: Most images one "Segment images" upload may hold (``$LOADCHECK_CONSOLE_MAX_IMAGES``).
MAX_IMAGES_ENV = "LOADCHECK_CONSOLE_MAX_IMAGES"
DEFAULT_MAX_IMAGES = 50
#: The gateway's public base URL shown in the copy-paste examples (``$LOADCHECK_GATEWAY_URL``).
GATEWAY_URL_ENV = "LOADCHECK_GATEWAY_URL"
#: Triton's public HTTP URL shown in the examples (``$LOADCHECK_PUBLIC_TRITON_URL``).
PUBLIC_TRITON_URL_ENV = "LOADCHECK_PUBLIC_TRITON_URL"


@dataclass(frozen=True)
class ConsoleConfig:
    """Everything the console pages act on.

    Attributes:
        home: the workspace folder (``$LOADCHECK_HOME``, default ``./workspace``).
        repository: the model repository Triton serves (``$LOADCHECK_REPOSITORY``).
        triton_url: Triton's HTTP ``host:port`` (``$LOADCHECK_TRITON_URL``, default
            ``localhost:8000``).
        api_key: the key of Triton's model-repository API (``$LOADCHECK_API_KEY``).
        max_images: most images per "Segment images" upload.
        gateway_url / public_triton_url: base URLs printed in the copy-paste examples.
    """

    home: Path
    repository: Path
    triton_url: str
    api_key: str | None
    max_images: int = DEFAULT_MAX_IMAGES
    gateway_url: str = f"http://localhost:{GATEWAY_PORT}"
    public_triton_url: str = f"http://localhost:{TRITON_HTTP_PORT}"

    @classmethod
    def from_env(cls) -> ConsoleConfig:
        try:
            max_images = int(os.environ.get(MAX_IMAGES_ENV) or DEFAULT_MAX_IMAGES)
        except ValueError:
            raise ValueError(
                f"${MAX_IMAGES_ENV}: expected a whole number, got {os.environ[MAX_IMAGES_ENV]!r}"
            ) from None
        triton = os.environ.get(TRITON_URL_ENV) or f"localhost:{TRITON_HTTP_PORT}"
        return cls(
            home=default_home(),
            repository=default_repository(),
            triton_url=triton,
            api_key=os.environ.get(API_KEY_ENV) or None,
            max_images=max_images,
            gateway_url=os.environ.get(GATEWAY_URL_ENV) or f"http://localhost:{GATEWAY_PORT}",
            public_triton_url=os.environ.get(PUBLIC_TRITON_URL_ENV) or f"http://{triton}",
        )
