"""Drift of recorded features against the served version's fitting data: the figure rises for
records of scenes of another style (features from the true masks of synthetic scenes), the
plain-language verdict, the cases without a figure, and ``loadcheck records drift``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drift_site import OTHER, SAME, SITE, DriftSite, add_records, drop_reference, make_site
from typer.testing import CliRunner

from loadcheck.cli import app
from loadcheck.integrators.errors import NotFoundError
from loadcheck.integrators.store import IntegratorStore
from loadcheck.monitoring.served_drift import (
    MIN_RECORDS,
    DriftStatus,
    assess_drift,
    psi_threshold,
    recorded_cameras,
)
from loadcheck.records import RecordStore


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> DriftSite:
    return make_site(tmp_path_factory.mktemp("drift"))


def _assess(site: DriftSite, camera: str | None, **kwargs):
    with RecordStore(home=site.home) as records:
        return assess_drift(
            IntegratorStore(site.home, site.repository), records, SITE, camera=camera, **kwargs
        )


def test_records_of_another_scene_style_drift_and_same_style_records_do_not(site):
    same = _assess(site, SAME)
    other = _assess(site, OTHER)
    assert same.status is DriftStatus.STABLE, same.message()
    assert other.status is DriftStatus.DRIFTING, other.message()
    assert other.max_psi > 2 * same.max_psi
    assert other.max_psi > other.psi_threshold > same.max_psi
    assert len(other.shifted) >= 2 and not same.shifted
    assert same.n_used == site.n_same and other.n_used == site.n_other
    assert same.version == other.version == 1 and other.other_versions == 0


def test_the_warning_names_the_camera_the_shifted_features_and_the_largest(site):
    other = _assess(site, OTHER)
    text = other.message()
    top = other.findings[0]
    assert f"photos of camera {OTHER}" in text and "no longer look like the fitting data" in text
    assert f"{len(other.shifted)} features shifted a lot" in text
    assert f"largest: {top.name} PSI {top.psi:.2f}" in text
    assert "still look like" in _assess(site, SAME).message()


def test_all_cameras_together_drift_when_one_camera_does(site):
    both = _assess(site, None, last=1000)
    assert both.n_used == site.n_same + site.n_other
    assert both.status is DriftStatus.DRIFTING
    assert both.subject() == f"integrator {SITE}"
    assert recorded_cameras(RecordStore(home=site.home), SITE) == (SAME, OTHER)


def test_last_takes_the_newest_records(site):
    # lane2's night records are the newest: the newest 35 of every camera are all night ones
    newest = _assess(site, None, last=35)
    assert newest.n_records == 35 and newest.status is DriftStatus.DRIFTING


def test_too_few_records_give_no_figure_and_say_how_many_are_needed(site):
    result = _assess(site, SAME, last=MIN_RECORDS - 1)
    assert result.status is DriftStatus.TOO_FEW_RECORDS and not result.findings
    assert f"at least {MIN_RECORDS} are needed" in result.message()
    nobody = _assess(site, "lane9")
    assert nobody.status is DriftStatus.TOO_FEW_RECORDS and nobody.n_records == 0


def test_a_version_fitted_without_a_reference_says_refit(tmp_path: Path):
    site = make_site(tmp_path, other=False)
    drop_reference(IntegratorStore(site.home, site.repository))
    result = _assess(site, SAME)
    assert result.status is DriftStatus.NO_REFERENCE
    assert "fitted before fits stored a drift reference" in result.message()
    assert "refit" in result.message()


def test_an_unknown_integrator_is_named(site):
    with RecordStore(home=site.home) as records, pytest.raises(NotFoundError, match="nope"):
        assess_drift(IntegratorStore(site.home, site.repository), records, "nope")


def test_the_psi_threshold_falls_with_the_sample_sizes():
    assert psi_threshold(10, 30, 442) > psi_threshold(10, 200, 442) > 0.25
    assert psi_threshold(10, 10**9, 10**9) == pytest.approx(0.25)


def _cli(site: DriftSite, *args: str):
    return CliRunner().invoke(
        app,
        ["records", "--home", str(site.home), "drift", "--repository", str(site.repository), *args],
    )


def test_cli_prints_the_table_and_the_warning_and_fails_on_drift_when_asked(site):
    result = _cli(site, "-i", SITE, "--camera", OTHER)
    assert result.exit_code == 0, result.output
    assert "no longer look like the fitting data" in result.output
    assert "PSI" in result.output and "shifted" in result.output
    assert _cli(site, "-i", SITE, "--camera", OTHER, "--fail-on-drift").exit_code == 3
    assert _cli(site, "-i", SITE, "--camera", SAME, "--fail-on-drift").exit_code == 0


def test_cli_json_holds_every_feature_and_the_status(site):
    result = _cli(site, "-i", SITE, "--camera", SAME, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "stable" and data["records_used"] == site.n_same
    assert len(data["features"]) > 10
    assert all(f["psi"] < data["psi_threshold"] for f in data["features"])


def test_cli_names_an_unknown_integrator_and_a_bad_time(site):
    unknown = _cli(site, "-i", "nope")
    assert unknown.exit_code == 2 and "no integrator named 'nope'" in unknown.output
    bad = _cli(site, "-i", SITE, "--since", "yesterday")
    assert bad.exit_code == 2 and "--since" in bad.output


def test_records_of_another_feature_spec_version_are_not_compared(tmp_path: Path):
    from dataclasses import replace

    from drift_site import T0, style_features

    from loadcheck.records.model import RecordQuery

    site = make_site(tmp_path, other=False)
    x, _ = style_features(1, 80, "night")
    with RecordStore(home=site.home) as records:
        add_records(records, "lane3", x, T0)
        for record in records.query(RecordQuery(camera="lane3", limit=1000)).records:
            records.add(replace(record, record_id=None, camera="lane4", feature_spec_version="v0"))
    assert _assess(site, "lane3").status is DriftStatus.DRIFTING
    old = _assess(site, "lane4")
    assert old.status is DriftStatus.TOO_FEW_RECORDS
    assert old.n_records == len(x) and old.n_used == 0
