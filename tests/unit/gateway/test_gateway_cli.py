"""``loadcheck gateway``'s limits: options and ``LOADCHECK_GATEWAY_*`` variables reach the server
and the application; the variables' documented defaults are the limits' defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import loadcheck.gateway.server as server
from loadcheck import environment as env
from loadcheck.cli import app
from loadcheck.gateway import limits as lim


class ServedError(Exception):
    """Raised by the fake server once it has recorded what it was given."""


def run(monkeypatch: pytest.MonkeyPatch, args: list[str], **variables: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def fake_run_gateway(app: Any, host: str, port: int, limits: Any, **kw: Any) -> None:
        seen.update(limits=limits, kw=kw)
        raise ServedError

    monkeypatch.setattr(server, "run_gateway", fake_run_gateway)
    result = CliRunner().invoke(app, ["gateway", *args], env=variables)
    assert isinstance(result.exception, ServedError), result.output
    return seen


def test_the_limits_come_from_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = run(
        monkeypatch,
        ["--home", str(tmp_path)],
        LOADCHECK_GATEWAY_HEADER_TIMEOUT="3",
        LOADCHECK_GATEWAY_BODY_TIMEOUT="40",
        LOADCHECK_GATEWAY_MIN_BODY_RATE_KIB="2",
        LOADCHECK_GATEWAY_MAX_CONNECTIONS="50",
        LOADCHECK_GATEWAY_MAX_IN_FLIGHT="4",
    )
    assert seen["limits"] == lim.GatewayLimits(
        header_timeout_s=3.0,
        body_timeout_s=40.0,
        min_body_rate_bytes_s=2048.0,
        max_connections=50,
        max_in_flight=4,
    )


def test_an_option_wins_over_its_variable_and_the_defaults_apply_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = run(
        monkeypatch,
        ["--home", str(tmp_path), "--max-in-flight", "7", "--retry-after", "9"],
        LOADCHECK_GATEWAY_MAX_IN_FLIGHT="4",
    )
    assert seen["limits"] == lim.GatewayLimits(max_in_flight=7)
    assert seen["kw"] == {"retry_after_s": 9}


def test_a_bad_value_is_refused_with_the_option_and_its_variable() -> None:
    result = CliRunner().invoke(
        app, ["gateway"], env={"LOADCHECK_GATEWAY_MAX_CONNECTIONS": "0", "COLUMNS": "250"}
    )
    assert result.exit_code == 2
    assert "--max-connections" in result.output
    assert "LOADCHECK_GATEWAY_MAX_CONNECTIONS" in result.output


@pytest.mark.parametrize(
    ("variable", "default"),
    [
        (env.GATEWAY_HEADER_TIMEOUT, lim.DEFAULT_HEADER_TIMEOUT_S),
        (env.GATEWAY_BODY_TIMEOUT, lim.DEFAULT_BODY_TIMEOUT_S),
        (env.GATEWAY_MIN_BODY_RATE_KIB, lim.DEFAULT_MIN_BODY_RATE_KIB_S),
        (env.GATEWAY_MAX_CONNECTIONS, lim.DEFAULT_MAX_CONNECTIONS),
        (env.GATEWAY_MAX_IN_FLIGHT, lim.DEFAULT_MAX_IN_FLIGHT),
        (env.GATEWAY_MAX_BODY_MB, 20.0),
    ],
    ids=lambda x: x.name if isinstance(x, env.EnvVar) else str(x),
)
def test_each_variable_documents_the_default_in_force(variable: env.EnvVar, default: float) -> None:
    assert float(variable.get_default()) == default
