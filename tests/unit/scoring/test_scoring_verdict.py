"""From trucks to the photo's verdict."""

from __future__ import annotations

import numpy as np
from scoring_data import FAST, table

from loadcheck.payloads import TruckMasks, Verdict
from loadcheck.scoring import fit_score_model
from loadcheck.scoring.verdict import score_trucks


def _truck(x1: int, load: bool) -> TruckMasks:
    bed = np.zeros((100, 200), bool)
    bed[50:80, x1 : x1 + 60] = True
    return TruckMasks(bed, bed if load else np.zeros_like(bed), (x1, 50, x1 + 60, 80))


def test_no_truck_or_only_empty_trucks_means_no_mine_detected():
    model = fit_score_model(*table(), cv_folds=0, params=FAST).model
    assert score_trucks([], model).score_result is Verdict.NO_MINE_DETECTED
    result = score_trucks([_truck(10, load=False)], model)
    assert result.score_result is Verdict.NO_MINE_DETECTED
    assert result.probability == 0.0 and result.features is not None


def test_the_verdict_is_the_most_prominent_loaded_trucks():
    model = fit_score_model(*table(), cv_folds=0, params=FAST).model
    result = score_trucks([_truck(10, load=False), _truck(100, load=True)], model)
    assert len(result.trucks) == 1
    assert result.trucks[0].bed_xyxy == (100, 50, 160, 80)
    assert result.probability == result.trucks[0].probability
    assert result.score_result in (Verdict.QUALIFIED, Verdict.UNQUALIFIED)


def test_a_few_stray_load_pixels_on_an_empty_bed_are_no_mine_detected():
    from loadcheck.features.trucks import MIN_LOAD_SHARE

    model = fit_score_model(*table(), cv_folds=0, params=FAST).model
    bed = np.zeros((100, 200), bool)
    bed[50:80, 10:70] = True  # 1,800 px
    stray = np.zeros_like(bed)
    stray[75:80, 10:30] = True  # 100 px: 5.6 % of the bed
    assert MIN_LOAD_SHARE * 1800 > 100
    result = score_trucks([TruckMasks(bed, stray, (10, 50, 70, 80))], model)
    assert result.score_result is Verdict.NO_MINE_DETECTED
    low = np.zeros_like(bed)
    low[70:80, 10:70] = True  # a third of the bed: a real, low load
    result = score_trucks([TruckMasks(bed, low, (10, 50, 70, 80))], model)
    assert result.score_result in (Verdict.QUALIFIED, Verdict.UNQUALIFIED)
