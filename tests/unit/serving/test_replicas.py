"""Waiting for Triton replicas: a headless name resolves to every address, progress is reported
per replica when it changes, and a timeout names the replicas that did not follow and why."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from loadcheck.serving.replicas import (
    ModelVersion,
    ReplicaError,
    deployed_target,
    lag,
    resolve_replicas,
    undeployed_target,
    wait_for_replicas,
)


def _info(address: str) -> tuple[Any, ...]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, 6, "", (address, 8000))


def test_a_headless_name_resolves_to_one_replica_per_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, int]] = []

    def getaddrinfo(host: str, port: int, **kw: Any) -> list[tuple[Any, ...]]:
        seen.append((host, port))
        return [_info("10.0.0.7"), _info("10.0.0.5"), _info("10.0.0.7"), _info("fd00::1")]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    replicas = resolve_replicas("triton-headless.loadcheck.svc:8000")
    assert replicas == ["10.0.0.5:8000", "10.0.0.7:8000", "[fd00::1]:8000"]
    assert seen == [("triton-headless.loadcheck.svc", 8000)]


def test_localhost_resolves_through_the_real_resolver() -> None:
    assert "127.0.0.1:8000" in resolve_replicas("localhost:8000")


@pytest.mark.parametrize("name", ["triton-headless", "http://h:8000/v2", "h:port"])
def test_a_name_without_a_port_is_refused(name: str) -> None:
    with pytest.raises(ReplicaError, match="expected host:port"):
        resolve_replicas(name)


def test_an_unknown_name_is_named() -> None:
    with pytest.raises(ReplicaError, match=r"cannot resolve replicas 'no-such-host\.invalid:8000'"):
        resolve_replicas("no-such-host.invalid:8000")


def test_a_deployed_integrator_needs_its_version_ready_and_the_others_unloaded() -> None:
    target = deployed_target("site_a", 2, [1, 2, 3])
    loaded = {("integrator_site_a", ""), ("scorer_site_a", "2"), ("scorer_site_a", "1")}

    def probe(url: str, model: ModelVersion) -> bool:
        return (model.model, model.version) in loaded

    assert lag("r:1", target, probe) == "scorer_site_a version 1 still ready"
    loaded.discard(("scorer_site_a", "1"))
    assert lag("r:1", target, probe) is None
    loaded.discard(("integrator_site_a", ""))
    assert lag("r:1", target, probe) == "integrator_site_a not ready"
    assert lag("r:1", undeployed_target("site_a"), probe) is None


class Replicas:
    """Replicas that follow after a number of probes each (None: never; "down": unreachable)."""

    def __init__(self, follow_after: dict[str, int | str | None]) -> None:
        self.follow_after = follow_after
        self.asked: dict[str, int] = {}

    def probe(self, url: str, model: ModelVersion) -> bool:
        after = self.follow_after[url]
        if after == "down":
            raise ConnectionError("unreachable (connection refused)")
        self.asked[url] = self.asked.get(url, 0) + 1
        return after is not None and self.asked[url] > int(after)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_waiting_returns_once_every_replica_follows_and_reports_each() -> None:
    replicas = Replicas({"a:1": 0, "b:1": 3})
    lines: list[str] = []
    clock = Clock()
    wait_for_replicas(
        ["a:1", "b:1"],
        undeployed_target("site_a"),
        60,
        report=lines.append,
        probe=lambda u, m: not replicas.probe(u, m),  # "not ready" after N probes
        clock=clock,
        sleep=clock.sleep,
    )
    assert lines == [
        "a:1: integrator_site_a not served",
        "b:1: waiting (integrator_site_a still ready)",
        "b:1: integrator_site_a not served",
    ]
    assert clock.now == 3.0


def test_a_timeout_names_the_replicas_that_did_not_follow_and_why() -> None:
    def probe(url: str, model: ModelVersion) -> bool:
        if url == "c:1":
            raise ConnectionError("unreachable (connection refused)")
        return url == "a:1" and model.version != "1"  # a follows; b loads nothing

    clock = Clock()
    with pytest.raises(ReplicaError) as caught:
        wait_for_replicas(
            ["a:1", "b:1", "c:1"],
            deployed_target("site_a", 2, [1, 2]),
            10,
            report=lambda line: None,
            probe=probe,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(caught.value)
    assert message.startswith(
        "2 of 3 replicas did not reach 'site_a serving scorer version 2' within 10 s"
    )
    assert "b:1 (integrator_site_a not ready)" in message
    assert "c:1 (unreachable (connection refused))" in message
    assert "a:1" not in message


def test_no_replica_is_an_error() -> None:
    with pytest.raises(ReplicaError, match="no replica"):
        wait_for_replicas([], undeployed_target("site_a"))


def test_replicas_found_again_every_round_are_followed_when_new_and_dropped_when_gone() -> None:
    rounds = [
        ["10.0.0.1:8000", "10.0.0.2:8000"],
        ["10.0.0.1:8000", "10.0.0.3:8000"],  # .2 replaced by .3 (a restarted pod)
    ]
    resolved: list[list[str]] = []

    def discover() -> list[str]:
        resolved.append(rounds[min(len(resolved), len(rounds) - 1)])
        return resolved[-1]

    follows = {"10.0.0.1:8000": True, "10.0.0.2:8000": False, "10.0.0.3:8000": True}
    lines: list[str] = []
    clock = Clock()
    wait_for_replicas(
        [],
        undeployed_target("site_a"),
        60,
        discover=discover,
        report=lines.append,
        probe=lambda url, model: not follows[url],
        clock=clock,
        sleep=clock.sleep,
    )
    assert lines == [
        "10.0.0.1:8000: integrator_site_a not served",
        "10.0.0.2:8000: waiting (integrator_site_a still ready)",
        "10.0.0.2:8000: gone (no longer resolved); not waited for",
        "10.0.0.3:8000: new replica",
        "10.0.0.3:8000: integrator_site_a not served",
    ]


def test_a_failed_resolution_keeps_the_replicas_found_before() -> None:
    answers: list[list[str] | ReplicaError] = [["r:1"], ReplicaError("cannot resolve"), ["r:1"]]

    def discover() -> list[str]:
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, ReplicaError):
            raise answer
        return answer

    asked = Replicas({"r:1": 2})
    lines: list[str] = []
    clock = Clock()
    wait_for_replicas(
        [],
        undeployed_target("site_a"),
        60,
        discover=discover,
        report=lines.append,
        probe=lambda url, model: not asked.probe(url, model),
        clock=clock,
        sleep=clock.sleep,
    )
    assert "keeping the 1 replicas found before: cannot resolve" in lines
    assert lines[-1] == "r:1: integrator_site_a not served"


def test_nothing_resolved_at_the_start_is_an_error() -> None:
    def discover() -> list[str]:
        raise ReplicaError("cannot resolve replicas 'x:1'")

    with pytest.raises(ReplicaError, match="cannot resolve"):
        wait_for_replicas([], undeployed_target("site_a"), discover=discover)


def test_undeploy_wait_follows_every_address_of_the_headless_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    import loadcheck.serving.deploy as deploy_module
    import loadcheck.serving.replicas as replicas_module
    from loadcheck.cli import app

    monkeypatch.setattr(deploy_module, "undeploy", lambda *a, **kw: ["integrator_site_a"])
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, port, **kw: [_info("10.0.0.5"), _info("10.0.0.6")]
    )
    lagging = {"10.0.0.6:8000": "integrator_site_a still ready"}
    monkeypatch.setattr(replicas_module, "lag", lambda url, target, probe: lagging.get(url))
    args = ["undeploy", "site_a", "--wait", "--replicas-from", "triton-headless:8000"]
    result = CliRunner().invoke(app, [*args, "--wait-timeout", "0"])
    assert result.exit_code == 1
    assert "10.0.0.5:8000: integrator_site_a not served" in result.output
    assert (
        "1 of 2 replicas did not reach 'integrator_site_a not served' within 0 s" in result.output
    )
    assert "10.0.0.6:8000 (integrator_site_a still ready)" in result.output
    lagging.clear()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "every replica: integrator_site_a not served" in result.output
