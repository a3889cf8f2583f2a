"""``TritonServer``: start a real ``tritonserver`` on a model repository, wait for it, stop it.

The binary is ``$TRITONSERVER``, else ``tritonserver`` on ``PATH`` (the NGC container), else the
CPU build inside the ``nvidia-pytriton`` wheel. The wheel's Python backend is copied once into a
cache folder with the stub for the running Python version (site-packages stays read-only).

The server runs in explicit model-control mode and loads the models listed in the repository's
deploy state (the segmentator and every deployed integrator), so a restart keeps deployments; or,
with ``poll_secs`` (the cluster setup), polls a repository that may be an ``s3://`` URL.

With an API key, every API that changes or reveals server state
(:data:`~loadcheck.deploy_constants.RESTRICTED_API_CATEGORIES`: model repository, model config,
statistics, logging, trace, shared memory) needs the header ``loadcheck-api-key: KEY`` on HTTP
and the metadata ``triton-grpc-protocol-loadcheck-api-key: KEY`` on gRPC (Triton adds the
prefix); inference, health and metadata stay open (``docs/serving.md`` says why). The key is
overwritten in tritonserver's command line once Triton has parsed it
(:mod:`loadcheck.serving.hidden_args`), is not passed in its environment, and the restriction is
checked once the server is ready.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from loadcheck.deploy_constants import (
    API_KEY_HEADER,
    RESTRICTED_API_CATEGORIES,
)
from loadcheck.environment import API_KEY, API_KEY_FILE, CACHE
from loadcheck.serving.hidden_args import HideError, hide_in_arguments, wait_until_multithreaded
from loadcheck.serving.state import models_to_load

LOGGER = logging.getLogger(__name__)
CACHE_DIR = Path(CACHE.get_text()).expanduser()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM tritonserver when the thread that started it dies.

    Without it, a parent killed without cleanup (SIGKILL, a test runner stopped hard) leaves an
    orphaned server holding ports and memory. Linux only; a no-op elsewhere.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG = 1


class TritonStartError(RuntimeError):
    """tritonserver could not be found, started, or did not become ready."""


@dataclass(frozen=True)
class ServerBinary:
    """A tritonserver executable, its backend folder (``None``: its own) and library path."""

    executable: Path
    backend_dir: Path | None = None
    library_path: tuple[Path, ...] = ()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bundled_binary() -> ServerBinary:
    try:
        import pytriton
    except ImportError as exc:
        raise TritonStartError(
            "no tritonserver: set $TRITONSERVER, put tritonserver on PATH, or install the serve "
            "extra (nvidia-pytriton)"
        ) from exc
    root = Path(pytriton.__file__).parent / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = root / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise TritonStartError(
            f"the nvidia-pytriton wheel has no Python backend stub for {version}"
        )
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        wheel = package_version("nvidia-pytriton")
    except PackageNotFoundError:
        wheel = "unknown"
    backends = CACHE_DIR / "triton-backends" / f"pytriton{wheel}-py{version}"
    python_dir = backends / "python"
    if not (python_dir / "triton_python_backend_stub").is_file():
        backends.parent.mkdir(parents=True, exist_ok=True)
        staging = backends.with_name(f".{backends.name}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(root / "backends" / "python", staging / "python")
        shutil.copy2(stub, staging / "python" / "triton_python_backend_stub")
        backends.parent.mkdir(parents=True, exist_ok=True)
        try:
            staging.replace(backends)
        except OSError:  # another process installed it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
            if not (python_dir / "triton_python_backend_stub").is_file():
                raise
    libs = [root.parent.parent / "nvidia_pytriton.libs"]
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        libs.append(Path(libdir))
    return ServerBinary(root / "bin" / "tritonserver", backends, tuple(libs))


def server_env(binary: ServerBinary, base: Mapping[str, str]) -> dict[str, str]:
    """The environment tritonserver runs with: ``base`` plus the binary's libraries on
    ``LD_LIBRARY_PATH`` and this interpreter's folder first on ``PATH``.

    The Python backend's stub finds its site-packages through the first ``python3`` on ``PATH``;
    with this interpreter's first, a venv that is not activated (``.venv/bin/loadcheck serve``)
    serves with the environment that runs it instead of failing with "No module named
    'loadcheck'" in every Python model.
    """
    env = dict(base)
    here = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([here, env["PATH"]]) if env.get("PATH") else here
    if binary.library_path:
        paths = [str(p) for p in binary.library_path]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            [*paths, env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else paths
        )
    return env


def _unpacked_bundle(executable: Path) -> ServerBinary:
    """``executable``, with ``../backends`` and ``../libs`` beside its folder when it is the
    server of a bundle made by ``make_triton_bundle.sh`` (unpacked on a GPU host)."""
    root = executable.resolve().parent.parent
    backends = root / "backends"
    if not (backends / "python" / "triton_python_backend_stub").is_file():
        return ServerBinary(executable)
    libs = (root / "libs",) if (root / "libs").is_dir() else ()
    return ServerBinary(executable, backends, libs)


def find_tritonserver() -> ServerBinary:
    """``$TRITONSERVER`` > ``tritonserver`` on PATH > the bundled CPU binary."""
    env = os.environ.get("TRITONSERVER")
    if env:
        if not Path(env).is_file():
            raise TritonStartError(f"$TRITONSERVER={env} is not a file")
        return _unpacked_bundle(Path(env))
    on_path = shutil.which("tritonserver")
    if on_path:
        return ServerBinary(Path(on_path))
    return _bundled_binary()


def is_url(repository: Path | str) -> bool:
    """``repository`` names a remote location (``s3://...``, ``gs://...``), not a folder."""
    return "://" in str(repository)


#: The API the start-up check calls (GET: read-only) to see that the key is required and works.
_RESTRICTION_PROBE_PATH = "/v2/logging"


class TritonServer:
    """A tritonserver child process as a context manager.

    Args:
        repository: the model repository (built by ``loadcheck repository build``): a folder,
            or with ``poll_secs`` also a URL Triton reads (``s3://...``).
        http_port / grpc_port / metrics_port: ports (0 picks a free one).
        api_key: when set, the restricted APIs (:data:`RESTRICTED_API_CATEGORIES`) need this
            key; it is hidden from tritonserver's command line once parsed.
        log_path: tritonserver's output goes here (default: inherited stderr).
        startup_timeout_s: how long to wait for readiness.
        host: bind address of all three ports (``0.0.0.0``: every interface).
        poll_secs: poll the repository every this many seconds instead of explicit model
            control (loads whatever the repository holds; ``--strict-readiness=false`` so one
            integrator failing to load does not make the server unready).
    """

    def __init__(
        self,
        repository: Path | str,
        *,
        http_port: int = 8000,
        grpc_port: int = 8001,
        metrics_port: int = 8002,
        api_key: str | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 180.0,
        host: str = "127.0.0.1",
        exit_timeout_s: int = 5,
        poll_secs: int | None = None,
    ) -> None:
        if poll_secs is not None and poll_secs < 1:
            raise ValueError(f"poll_secs: expected a whole number of seconds >= 1, got {poll_secs}")
        self.repository: Path | str = (
            str(repository) if is_url(repository) else Path(repository).resolve()
        )
        self.poll_secs = poll_secs
        self.http_port = http_port or free_port()
        self.grpc_port = grpc_port or free_port()
        self.metrics_port = metrics_port or free_port()
        self.api_key = api_key
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self.host = host
        self.exit_timeout_s = exit_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def connect_host(self) -> str:
        """Where clients on this machine reach the server (``host``, or loopback for 0.0.0.0)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    @property
    def http_url(self) -> str:
        return f"{self.connect_host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.connect_host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.connect_host}:{self.metrics_port}/metrics"

    @property
    def triton_repository(self) -> str:
        """The repository as tritonserver reads it: an ``s3://bucket/prefix`` whose endpoint
        comes from ``$LOADCHECK_S3_ENDPOINT_URL`` becomes ``s3://host:port/bucket/prefix``."""
        text = str(self.repository)
        if text.startswith("s3://"):
            from loadcheck.serving.storage_s3 import S3Location

            return S3Location.parse(text).triton_url
        return text

    def command(self, binary: ServerBinary) -> list[str]:
        args = [str(binary.executable), f"--model-repository={self.triton_repository}"]
        if self.poll_secs is not None:
            args += [
                "--model-control-mode=poll",
                f"--repository-poll-secs={self.poll_secs}",
                "--strict-readiness=false",
                "--exit-on-error=false",
            ]
        else:
            args.append("--model-control-mode=explicit")
            args += [f"--load-model={name}" for name in models_to_load(Path(self.repository))]
        args += [
            f"--http-address={self.host}",
            f"--grpc-address={self.host}",
            f"--metrics-address={self.host}",
            f"--http-port={self.http_port}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-port={self.metrics_port}",
            f"--exit-timeout-secs={self.exit_timeout_s}",
            "--log-verbose=0",
        ]
        if binary.backend_dir is not None:
            args.append(f"--backend-directory={binary.backend_dir}")
        if self.api_key:
            rule = f"{','.join(RESTRICTED_API_CATEGORIES)}:{API_KEY_HEADER}={self.api_key}"
            args += [f"--http-restricted-api={rule}", f"--grpc-restricted-protocol={rule}"]
        return args

    def start(self) -> TritonServer:
        if isinstance(self.repository, Path) and not self.repository.is_dir():
            raise TritonStartError(f"--repository: {self.repository} is not a folder")
        if not isinstance(self.repository, Path) and self.poll_secs is None:
            raise TritonStartError(
                f"--repository: {self.repository} is a URL; serving one needs --poll-secs "
                "(explicit model control reads the deployed models from a local folder)"
            )
        binary = find_tritonserver()
        env = server_env(binary, os.environ)
        for name in (API_KEY.name, API_KEY_FILE.name):  # Triton reads neither; keep it out
            env.pop(name, None)
        log = self.log_path.open("ab") if self.log_path else None
        LOGGER.info("starting %s on %s", binary.executable, self.repository)
        self.process = subprocess.Popen(
            self.command(binary),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        if log:
            log.close()
        try:
            if self.api_key:
                self._hide_api_key()
            self.wait_ready()
            if self.api_key:
                self.check_restricted()
        except BaseException:
            self.stop()
            raise
        LOGGER.info(
            "tritonserver ready, listening on %s: HTTP port %d, gRPC port %d, metrics %s",
            self.host,
            self.http_port,
            self.grpc_port,
            self.metrics_url,
        )
        return self

    def _hide_api_key(self) -> None:
        """Overwrite the key in tritonserver's command line once Triton has parsed it."""
        assert self.process is not None and self.api_key
        pid = self.process.pid
        if not wait_until_multithreaded(pid, timeout_s=self.startup_timeout_s):
            return  # it exited (wait_ready reports that) or never started its threads
        try:
            hidden = hide_in_arguments(pid, self.api_key)
        except HideError as exc:
            LOGGER.warning(
                "the API key stays visible on tritonserver's command line to every local user "
                "(ps): %s; see docs/serving.md, 'The API key and ps'",
                exc,
            )
            return
        LOGGER.info("API key hidden from tritonserver's command line (%d places)", hidden)

    def _get(self, path: str, headers: Mapping[str, str]) -> int:
        request = urllib.request.Request(f"http://{self.http_url}{path}", headers=dict(headers))
        try:
            with urllib.request.urlopen(request, timeout=10.0) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def check_restricted(self) -> None:
        """Check that a restricted API refuses a request without the key and accepts the key.

        Raises:
            TritonStartError: it answered otherwise (the key Triton holds is not ours, or the
                restriction is not applied).
        """
        assert self.api_key
        without = self._get(_RESTRICTION_PROBE_PATH, {})
        with_key = self._get(_RESTRICTION_PROBE_PATH, {API_KEY_HEADER: self.api_key})
        if (without, with_key) != (403, 200):
            raise TritonStartError(
                f"tritonserver's restricted APIs answered GET {_RESTRICTION_PROBE_PATH} with "
                f"{without} without the key and {with_key} with it (expected 403 and 200); "
                "the key Triton holds is not the one given"
            )

    def is_ready(self, timeout_s: float = 10.0) -> bool:
        """``GET /v2/health/ready`` answers 200 (every loaded model is ready)."""
        try:
            url = f"http://{self.http_url}/v2/health/ready"
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise TritonStartError(
                    f"tritonserver exited with code {self.process.returncode} while starting"
                    + (f"; see {self.log_path}" if self.log_path else "")
                )
            if self.is_ready(timeout_s=2.0):
                return
            time.sleep(0.5)
        raise TritonStartError(f"tritonserver not ready after {self.startup_timeout_s:.0f} s")

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (Triton drains in-flight requests), then SIGKILL after ``timeout_s``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            LOGGER.warning("tritonserver did not stop in %.0f s; killing it", timeout_s)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def wait(self, stop: threading.Event | None = None, poll_s: float = 0.5) -> int:
        """Block until the server exits (or ``stop`` is set); returns its exit code (or -1).

        Polls instead of ``Popen.wait()`` so a signal handler may call :meth:`stop` meanwhile.
        """
        process = self.process
        if process is None:
            raise TritonStartError("tritonserver is not running")
        while process.poll() is None:
            if stop is not None and stop.wait(poll_s):
                return -1
            if stop is None:
                time.sleep(poll_s)
        return int(process.returncode)

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
