"""Wait until every Triton replica serves what a deploy, undeploy or roll back published.

Replicas in poll mode load a change on their own schedule; ``loadcheck deploy --wait`` and
``loadcheck undeploy --wait`` ask each one, through Triton's open health API (no API key), until
all of them serve the expected state (:class:`ReplicaTarget`) or the time is up. Replicas are
given as ``host:port`` URLs (``--replica``, repeatable) or found by resolving a headless
Service's name (``--replicas-from triton-headless:8000``: every address it resolves to, resolved
again every round so that pods scaled up or replaced during the wait are followed too).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from loadcheck import tensor_names as tn

LOGGER = logging.getLogger(__name__)
DEFAULT_WAIT_TIMEOUT_S = 300.0
DEFAULT_POLL_S = 1.0


class ReplicaError(RuntimeError):
    """The replicas cannot be found, or some did not follow in time (named in the message)."""


@dataclass(frozen=True)
class ModelVersion:
    """A model and a version (``""``: any version)."""

    model: str
    version: str = ""

    def __str__(self) -> str:
        return self.model if not self.version else f"{self.model} version {self.version}"


@dataclass(frozen=True)
class ReplicaTarget:
    """What every replica must serve: ``ready`` ready and ``not_ready`` not (or no longer)."""

    description: str
    ready: tuple[ModelVersion, ...] = ()
    not_ready: tuple[ModelVersion, ...] = field(default_factory=tuple)


def deployed_target(name: str, version: int, versions: Sequence[int]) -> ReplicaTarget:
    """Integrator ``name`` serves scorer ``version``; its other ``versions`` are unloaded."""
    scorer = tn.scorer_model_name(name)
    return ReplicaTarget(
        f"{name} serving scorer version {version}",
        ready=(ModelVersion(tn.integrator_model_name(name)), ModelVersion(scorer, str(version))),
        not_ready=tuple(ModelVersion(scorer, str(v)) for v in versions if v != version),
    )


def undeployed_target(name: str) -> ReplicaTarget:
    """Integrator ``name`` (or the segmentator) is no longer served."""
    model = name if name == tn.SEGMENTATOR_ENSEMBLE else tn.integrator_model_name(name)
    return ReplicaTarget(f"{model} not served", not_ready=(ModelVersion(model),))


def normalise_url(url: str) -> str:
    """``host:port`` from ``host:port`` or ``http://host:port[/]``."""
    text = url.strip().removeprefix("http://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in text:
        raise ReplicaError(f"replica {url!r}: expected host:port (Triton's HTTP port)")
    return text


def resolve_replicas(name: str) -> list[str]:
    """Every replica behind a headless Service: ``host:port`` resolved to one ``ip:port`` per
    address record (sorted; IPv6 as ``[ip]:port``).

    Raises:
        ReplicaError: not ``host:port``, or the name does not resolve.
    """
    text = normalise_url(name)
    host, _, port = text.rpartition(":")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ReplicaError(f"cannot resolve replicas {name!r}: {exc}") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise ReplicaError(f"{name!r} resolves to no address")
    return [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in addresses]


Probe = Callable[[str, ModelVersion], bool]


def triton_ready(url: str, model: ModelVersion) -> bool:
    """Whether ``model`` is ready on the replica at ``url``.

    Raises:
        ConnectionError: the replica does not answer.
    """
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(url, connection_timeout=5.0, network_timeout=5.0)
    try:
        return bool(client.is_model_ready(model.model, model.version))
    except InferenceServerException as exc:  # an unknown model or version: not ready
        LOGGER.debug("%s: %s: %s", url, model, exc)
        return False
    except Exception as exc:  # geventhttpclient raises OSError subclasses and its own errors
        raise ConnectionError(f"unreachable ({type(exc).__name__}: {exc})") from exc
    finally:
        client.close()


def lag(url: str, target: ReplicaTarget, probe: Probe = triton_ready) -> str | None:
    """Why the replica at ``url`` does not serve ``target`` yet, or None when it does."""
    try:
        for model in target.ready:
            if not probe(url, model):
                return f"{model} not ready"
        for model in target.not_ready:
            if probe(url, model):
                return f"{model} still ready"
    except ConnectionError as exc:
        return str(exc) or "unreachable"
    return None


def wait_for_replicas(
    urls: Sequence[str],
    target: ReplicaTarget,
    timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    *,
    discover: Callable[[], list[str]] | None = None,
    poll_s: float = DEFAULT_POLL_S,
    report: Callable[[str], None] = LOGGER.info,
    probe: Probe = triton_ready,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once every replica serves ``target``; ``report`` gets a line per replica whenever
    its state changes.

    ``discover`` (a headless Service's resolution) is asked again every round: a replica that
    appears (a pod scaled up or restarted with a new address) is waited for too, one that is gone
    is no longer waited for. ``urls`` are always waited for.

    Raises:
        ReplicaError: no replica given or found, or after ``timeout_s`` the replicas that did not
            follow, each with why.
    """
    fixed = [normalise_url(u) for u in urls]
    found = _discover(discover, [], report) if discover is not None else []
    if not fixed and not found:
        raise ReplicaError("no replica to wait for")
    pending = {u: "not asked yet" for u in [*fixed, *found]}
    followed: set[str] = set()
    deadline = clock() + timeout_s
    while True:
        for url in list(pending):
            reason = lag(url, target, probe)
            if reason is None:
                del pending[url]
                followed.add(url)
                report(f"{url}: {target.description}")
            elif reason != pending[url]:
                pending[url] = reason
                report(f"{url}: waiting ({reason})")
        if not pending:
            return
        if clock() >= deadline:
            lagging = "; ".join(f"{u} ({why})" for u, why in sorted(pending.items()))
            raise ReplicaError(
                f"{len(pending)} of {len(pending) + len(followed)} replicas did not reach "
                f"'{target.description}' within {timeout_s:g} s: {lagging}"
            )
        sleep(poll_s)
        if discover is not None:
            now = _discover(discover, found, report)
            for url in sorted(set(found) - set(now) - set(fixed)):
                if pending.pop(url, None) is not None:
                    report(f"{url}: gone (no longer resolved); not waited for")
                followed.discard(url)
            for url in sorted(set(now) - set(found) - set(fixed) - followed):
                pending[url] = "not asked yet"
                report(f"{url}: new replica")
            found = now


def _discover(
    discover: Callable[[], list[str]], previous: list[str], report: Callable[[str], None]
) -> list[str]:
    """``discover()``, or ``previous`` when it fails (reported)."""
    try:
        return [normalise_url(u) for u in discover()]
    except ReplicaError as exc:
        if not previous:
            raise
        report(f"keeping the {len(previous)} replicas found before: {exc}")
        return previous
