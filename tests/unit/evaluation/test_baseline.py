"""loadcheck.evaluation.baseline: the old networks between the served steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadcheck.evaluation.baseline import BaselineError, SingleProcessBaseline
from loadcheck.payloads import Verdict
from loadcheck.pipeline.cards import InputContract
from loadcheck.synth import render_scene

pytestmark = pytest.mark.torch


def test_the_baseline_scores_a_photo_with_the_repositorys_settings(
    tiny_models: Path, tiny_repository: Path
) -> None:
    baseline = SingleProcessBaseline.load(tiny_models, tiny_repository, "site_a")
    assert baseline.preprocess.settings.detector_input is InputContract.FLOAT32_NCHW_RGB_UNIT
    assert baseline.prompts.settings.conf_thres == 0.25  # the repository's default
    assert baseline.sam_img_size == 256
    scored = baseline(render_scene(11, 0, (320, 180)).encode_jpeg())
    assert isinstance(scored.score_result, Verdict)
    assert 0.0 <= scored.probability <= 1.0


def test_an_integrator_the_repository_never_fitted_is_refused(
    tiny_models: Path, tiny_repository: Path
) -> None:
    with pytest.raises(BaselineError, match="site_b"):
        SingleProcessBaseline.load(tiny_models, tiny_repository, "site_b")


def test_a_folder_that_is_no_repository_is_refused(tiny_models: Path, tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="repository build"):
        SingleProcessBaseline.load(tiny_models, tmp_path, "site_a")
