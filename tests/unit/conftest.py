"""Unit-test helpers shared across the package's folders.

``network_cards.py`` (beside this file, importable as ``network_cards`` from any unit test:
pytest puts this folder on the import path with this conftest) builds model cards of the three
networks without model files.
"""

from __future__ import annotations

import pytest
from network_cards import synthetic_networks


@pytest.fixture
def networks():  # type: ignore[no-untyped-def]
    """The synthetic cards (:func:`network_cards.synthetic_networks`)."""
    return synthetic_networks()
