from __future__ import annotations

import pytest

from loadcheck.integrators.store import IntegratorStore


@pytest.fixture
def store(tmp_path) -> IntegratorStore:
    return IntegratorStore(tmp_path / "ws", tmp_path / "repo")
