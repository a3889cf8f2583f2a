"""The feature spec is consistent, and the docs agree with it."""

from __future__ import annotations

from pathlib import Path

from loadcheck.features import FEATURE_SPEC

DOCS = Path(__file__).resolve().parents[3] / "docs" / "integrators.md"


def test_feature_names_are_unique_and_ranges_ordered():
    assert len(set(FEATURE_SPEC.names)) == len(FEATURE_SPEC)
    for feature in FEATURE_SPEC.features:
        assert feature.low < feature.high, feature.name
        assert feature.formula


def test_the_docs_name_the_spec_version_and_every_feature():
    text = DOCS.read_text()
    assert f"`{FEATURE_SPEC.version}`" in text
    for name in FEATURE_SPEC.names:
        assert f"`{name}`" in text, name
