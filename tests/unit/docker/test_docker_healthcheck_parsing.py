"""docker/healthcheck.py: target parsing and argument errors (no network)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from deploy_files import DOCKER


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "loadcheck_healthcheck", DOCKER / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load_healthcheck()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/v2/health/ready", ("http", "127.0.0.1", 8000, "/v2/health/ready")),
        ("http://triton/v2/health/live", ("http", "triton", 80, "/v2/health/live")),
        ("http://console:8501", ("http", "console", 8501, "/")),
        ("tcp://127.0.0.1:8080", ("tcp", "127.0.0.1", 8080, "/")),
    ],
)
def test_parse_target_splits_scheme_host_port_and_path(
    url: str, expected: tuple[str, str, int, str]
) -> None:
    assert healthcheck.parse_target(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://host:443/", "unsupported scheme"),
        ("127.0.0.1:8000", "unsupported scheme"),
        ("tcp://127.0.0.1", "no port"),
        ("http://:8000/", "no host"),
        ("tcp://host:99999", "bad port"),
    ],
)
def test_parse_target_names_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        healthcheck.parse_target(url)


def test_main_returns_2_for_a_bad_url_or_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["ftp://x/"]) == healthcheck.BAD_ARGUMENT
    assert "unsupported scheme" in capsys.readouterr().err
    assert healthcheck.main(["tcp://x:1", "--timeout", "0"]) == healthcheck.BAD_ARGUMENT
    assert "--timeout must be > 0" in capsys.readouterr().err
