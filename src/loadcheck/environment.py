"""Every ``LOADCHECK_*`` environment variable, declared once: its name, meaning and default.

Commands take a variable through typer's ``envvar=`` (:mod:`loadcheck.cli_options`), so
``--help`` names it next to the option it fills; library code reads it with :meth:`EnvVar.get`.
An empty value counts as unset. ``tests/unit/core/test_environment.py`` checks that every
``LOADCHECK_*`` name in the package, ``docker/``, the scripts, the docs and the tests is declared
here.

The shared ones:

* :data:`REPOSITORY` — the model repository: ``repository build``, ``serve``, ``deploy``,
  ``undeploy``, ``integrator ...``, ``console``;
* :data:`TRITON_URL` — Triton's address: ``inspect --url``, ``gateway --triton``,
  ``integrator fit|predict --triton``, ``console``, and the compose / Kubernetes files;
* :data:`HOME` — the workspace: ``integrator ...``, ``gateway ...``, ``console ...``, ``deploy``;
* :data:`DATABASE_URL` — the inspection records' database: ``inspect --record``,
  ``records ...``;
* :data:`API_KEY` — the key of Triton's restricted APIs: ``serve``, ``deploy``, ``undeploy``,
  ``inspect``, ``gateway``, ``console``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from loadcheck.deploy_constants import GATEWAY_PORT, TRITON_HTTP_PORT


class Scope(StrEnum):
    """Who reads a variable."""

    #: loadcheck's commands and library, in any process.
    PROCESS = "process"
    #: the container images only (their entrypoint and serve script).
    CONTAINER = "container"
    #: ``docker compose`` on the host (interpolation in ``docker/compose.yaml``).
    COMPOSE = "compose"
    #: a build argument of ``docker/triton.Dockerfile``.
    BUILD = "build"
    #: the test suite.
    TESTS = "tests"


@dataclass(frozen=True)
class EnvVar:
    """One environment variable.

    Attributes:
        name: ``LOADCHECK_...``.
        meaning: what it sets, for people (shown by ``--help`` through the option's help).
        default: what applies when it is unset or empty (``None``: nothing).
        scope: who reads it.
    """

    name: str
    meaning: str
    default: str | None = None
    scope: Scope = Scope.PROCESS

    def get(self) -> str | None:
        """The variable's value, else :attr:`default` (an empty value counts as unset)."""
        return os.environ.get(self.name) or self.default

    def get_text(self) -> str:
        """:meth:`get` of a variable that has a default (:class:`LookupError` for one without)."""
        return os.environ.get(self.name) or self.get_default()

    def get_default(self) -> str:
        """:attr:`default` of a variable that has one (:class:`LookupError` for one without)."""
        if self.default is None:
            raise LookupError(f"${self.name} has no default")
        return self.default

    def is_set(self) -> bool:
        return bool(os.environ.get(self.name))


HOME: Final = EnvVar(
    "LOADCHECK_HOME",
    "Workspace folder: integrators, fitting images, feature cache, versions, audit log, admin "
    "accounts, gateway tokens.",
    "workspace",
)
REPOSITORY: Final = EnvVar(
    "LOADCHECK_REPOSITORY",
    "Model repository Triton serves: a folder, or s3://bucket/prefix (cluster setup; see "
    "LOADCHECK_S3_ENDPOINT_URL), where "
    "`repository build` writes and integrators are fitted and deployed.",
    "model_repository",
)
TRITON_URL: Final = EnvVar(
    "LOADCHECK_TRITON_URL",
    "Triton's host:port for inspect, the gateway, integrator fit/predict --triton and "
    "the console: the HTTP port; a command run with --grpc needs the gRPC port instead. "
    "inspect also takes https://host:port (TLS; grpcs:// with --grpc).",
    f"localhost:{TRITON_HTTP_PORT}",
)
API_KEY: Final = EnvVar(
    "LOADCHECK_API_KEY",
    "Key of Triton's restricted APIs (model repository and config, statistics, logging, trace, "
    "shared memory; header loadcheck-api-key): set by serve, sent by deploy, undeploy, inspect, "
    "the gateway and the console. Prefer it to --api-key, which every local user sees (ps).",
)
API_KEY_FILE: Final = EnvVar(
    "LOADCHECK_API_KEY_FILE",
    "A file holding the API key (a Docker/Kubernetes secret); the images' entrypoint reads it "
    "into LOADCHECK_API_KEY, so the key is never written in compose files.",
    scope=Scope.CONTAINER,
)
CA_FILE: Final = EnvVar(
    "LOADCHECK_CA_FILE",
    "inspect and the client: PEM bundle of the CAs that may sign the TLS certificate of the "
    "server at --url (default: the system's trust store); turns TLS on for a bare host:port.",
)
CERT_FILE: Final = EnvVar(
    "LOADCHECK_CERT_FILE",
    "inspect and the client: the client's TLS certificate (PEM) for mutual TLS; needs "
    "LOADCHECK_KEY_FILE.",
)
KEY_FILE: Final = EnvVar(
    "LOADCHECK_KEY_FILE",
    "inspect and the client: the unencrypted PEM private key of LOADCHECK_CERT_FILE.",
)
S3_ENDPOINT_URL: Final = EnvVar(
    "LOADCHECK_S3_ENDPOINT_URL",
    "Endpoint of an S3-compatible store (MinIO, Ceph: http[s]://host:port) for an s3://bucket/"
    "prefix repository; unset: boto3's AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS. "
    "Credentials and region are boto3's AWS_* variables.",
)
POLL_SECS: Final = EnvVar(
    "LOADCHECK_POLL_SECS",
    "Cluster setup: seconds between two polls of the repository by each Triton replica "
    "(`loadcheck serve --poll-secs`): Triton loads whatever the repository holds instead of "
    "explicit model control.",
)
DATABASE_URL: Final = EnvVar(
    "LOADCHECK_DATABASE_URL",
    "Database of the inspection records: a SQLAlchemy URL such as "
    "postgresql://user@host:5432/loadcheck (several gateway replicas writing at once); unset: "
    "SQLite in the workspace (<LOADCHECK_HOME>/records.db).",
)
CACHE: Final = EnvVar(
    "LOADCHECK_CACHE",
    "Cache folder (the Python backend assembled for the bundled tritonserver).",
    "~/.cache/loadcheck",
)
USER: Final = EnvVar(
    "LOADCHECK_USER",
    "Actor recorded in the workspace's audit log when no console admin acts.",
    "the OS user",
)
FIT_THREADS: Final = EnvVar(
    "LOADCHECK_FIT_THREADS",
    "XGBoost threads when fitting an integrator.",
    "1",
)
CONSOLE_MAX_IMAGES: Final = EnvVar(
    "LOADCHECK_CONSOLE_MAX_IMAGES",
    "Most images one upload of the console's Segment images page may hold.",
    "50",
)
CONSOLE_MAX_UPLOAD_MB: Final = EnvVar(
    "LOADCHECK_CONSOLE_MAX_UPLOAD_MB",
    "Largest file one upload of the console may hold, in MB (Streamlit's server.maxUploadSize; "
    "fitting-data zips of a few hundred photos). Only logged-in sessions may upload.",
    "512",
)
CONSOLE_PASSWORD_CHECKS: Final = EnvVar(
    "LOADCHECK_CONSOLE_PASSWORD_CHECKS",
    "Password checks the console runs at once (argon2id, 64 MiB each); more logins wait up to "
    "10 s, then are told to retry.",
    "2",
)
CONSOLE_METRICS_PORT: Final = EnvVar(
    "LOADCHECK_CONSOLE_METRICS_PORT",
    "Port of the console process's Prometheus metrics (logins, actions, uploads, errors, "
    "drift per integrator and camera); unset: no metrics server.",
)
CONSOLE_METRICS_ADDRESS: Final = EnvVar(
    "LOADCHECK_CONSOLE_METRICS_ADDRESS",
    "Address the console's metrics server listens on (0.0.0.0 in the containers).",
    "127.0.0.1",
)
GATEWAY_MAX_BODY_MB: Final = EnvVar(
    "LOADCHECK_GATEWAY_MAX_BODY_MB",
    "Largest request body the gateway accepts, in MiB (413 above).",
    "20",
)
GATEWAY_HEADER_TIMEOUT: Final = EnvVar(
    "LOADCHECK_GATEWAY_HEADER_TIMEOUT",
    "Seconds a client of the gateway has to send a request line and its headers, from the "
    "connection or the request's first byte (408 and closed after).",
    "10",
)
GATEWAY_BODY_TIMEOUT: Final = EnvVar(
    "LOADCHECK_GATEWAY_BODY_TIMEOUT",
    "Seconds a client of the gateway has to send a whole request body (408 and closed after).",
    "60",
)
GATEWAY_MIN_BODY_RATE_KIB: Final = EnvVar(
    "LOADCHECK_GATEWAY_MIN_BODY_RATE_KIB",
    "Slowest request body the gateway waits for, in KiB/s on average after its first 5 s "
    "(408 and closed below; 0: no minimum).",
    "8",
)
GATEWAY_MAX_CONNECTIONS: Final = EnvVar(
    "LOADCHECK_GATEWAY_MAX_CONNECTIONS",
    "Open connections the gateway serves; requests on more are answered 503.",
    "256",
)
GATEWAY_MAX_IN_FLIGHT: Final = EnvVar(
    "LOADCHECK_GATEWAY_MAX_IN_FLIGHT",
    "Uploads the gateway processes at once (body, check, inference); more are answered 503 "
    "with Retry-After, not queued. Bounds its memory: about this many times the largest body.",
    "16",
)
GATEWAY_TOKENS_FROM: Final = EnvVar(
    "LOADCHECK_GATEWAY_TOKENS_FROM",
    "Where the gateway reads its token hashes: `workspace` (the workspace database), "
    "`repository` (the document the console publishes in LOADCHECK_REPOSITORY), or a folder or "
    "s3://bucket/prefix repository holding that document.",
    "workspace",
)
GATEWAY_TOKENS_MAX_AGE: Final = EnvVar(
    "LOADCHECK_GATEWAY_TOKENS_MAX_AGE",
    "Seconds a gateway reading published tokens keeps its copy before reading it again (a "
    "rotated token stops working within this time).",
    "3",
)
LOG_FORMAT: Final = EnvVar(
    "LOADCHECK_LOG_FORMAT",
    "Log lines of every loadcheck command on stderr: `text`, or `json` (one object per line with "
    "time, level, logger, message and the gateway's request_id).",
    "text",
)
GATEWAY_RECORD: Final = EnvVar(
    "LOADCHECK_GATEWAY_RECORD",
    "Whether the gateway records every verdict with its photo (docs/records.md): `auto` records "
    "when LOADCHECK_DATABASE_URL is set or the workspace folder exists; `on`; `off`.",
    "auto",
)
WEBHOOK_URL: Final = EnvVar(
    "LOADCHECK_WEBHOOK_URL",
    "http(s) URL the gateway POSTs chosen verdicts to, signed (docs/observability.md); unset: no "
    "webhooks.",
)
WEBHOOK_SECRET: Final = EnvVar(
    "LOADCHECK_WEBHOOK_SECRET",
    "Shared HMAC-SHA256 key of the gateway's webhook signatures (at least 16 bytes).",
)
WEBHOOK_ON: Final = EnvVar(
    "LOADCHECK_WEBHOOK_ON",
    "Which verdicts the gateway posts: a comma-separated list of `unqualified`, `qualified`, "
    "`no-mine`, `needs-review`.",
    "unqualified",
)
GATEWAY_URL: Final = EnvVar(
    "LOADCHECK_GATEWAY_URL",
    "The gateway's public base URL, shown in the console's copy-paste examples.",
    f"http://localhost:{GATEWAY_PORT}",
)
PUBLIC_TRITON_URL: Final = EnvVar(
    "LOADCHECK_PUBLIC_TRITON_URL",
    "Triton's public HTTP URL, shown in the console's copy-paste examples (unset: http:// and "
    "LOADCHECK_TRITON_URL).",
)
EXPORT_DIR: Final = EnvVar(
    "LOADCHECK_EXPORT_DIR",
    "Host folder with the exported networks, mounted read-only into the containers.",
    "./exports",
    Scope.COMPOSE,
)
EXTRAS: Final = EnvVar(
    "LOADCHECK_EXTRAS",
    "Package extras installed in the Triton image (add `export` for the python-torch runtime).",
    "serve",
    Scope.BUILD,
)
UID: Final = EnvVar(
    "LOADCHECK_UID",
    "Numeric UID/GID of the images' non-root user (shared volumes are written by it).",
    "10001",
    Scope.BUILD,
)
UPDATE_GOLDEN: Final = EnvVar(
    "LOADCHECK_UPDATE_GOLDEN",
    "Set to 1 to rewrite the golden config.pbtxt files instead of comparing with them.",
    scope=Scope.TESTS,
)

#: Every variable, in the order above.
ALL: Final[tuple[EnvVar, ...]] = (
    HOME,
    REPOSITORY,
    TRITON_URL,
    API_KEY,
    API_KEY_FILE,
    CA_FILE,
    CERT_FILE,
    KEY_FILE,
    S3_ENDPOINT_URL,
    POLL_SECS,
    DATABASE_URL,
    CACHE,
    USER,
    FIT_THREADS,
    CONSOLE_MAX_IMAGES,
    CONSOLE_MAX_UPLOAD_MB,
    CONSOLE_PASSWORD_CHECKS,
    CONSOLE_METRICS_PORT,
    CONSOLE_METRICS_ADDRESS,
    GATEWAY_MAX_BODY_MB,
    GATEWAY_HEADER_TIMEOUT,
    GATEWAY_BODY_TIMEOUT,
    GATEWAY_MIN_BODY_RATE_KIB,
    GATEWAY_MAX_CONNECTIONS,
    GATEWAY_MAX_IN_FLIGHT,
    GATEWAY_TOKENS_FROM,
    GATEWAY_TOKENS_MAX_AGE,
    LOG_FORMAT,
    GATEWAY_RECORD,
    WEBHOOK_URL,
    WEBHOOK_SECRET,
    WEBHOOK_ON,
    GATEWAY_URL,
    PUBLIC_TRITON_URL,
    EXPORT_DIR,
    EXTRAS,
    UID,
    UPDATE_GOLDEN,
)
BY_NAME: Final = {v.name: v for v in ALL}


def names(*scopes: Scope) -> tuple[str, ...]:
    """The names of the variables of ``scopes`` (every variable without arguments)."""
    return tuple(v.name for v in ALL if not scopes or v.scope in scopes)
