from __future__ import annotations

import numpy as np
import pytest
from client_fakes import FEATURE_NAMES, integrator_outputs

from loadcheck import tensor_names as tn
from loadcheck.client.decode import decode_inspection, decode_trucks, unbatch
from loadcheck.client.errors import ServerError
from loadcheck.payloads import StageTimings, Verdict

MODEL = "integrator_site_a"


@pytest.mark.parametrize("batched", [False, True])
def test_integrator_outputs_decode_to_an_inspection_result(batched: bool) -> None:
    result = decode_inspection(
        integrator_outputs("Unqualified", 0.25, 0.6, batched=batched), model=MODEL
    )
    assert result.score_result is Verdict.UNQUALIFIED
    assert result.probability == pytest.approx(0.25)
    assert result.threshold == pytest.approx(0.6)
    assert result.features is not None
    assert result.features.names == FEATURE_NAMES
    assert result.features.spec_version == "1.0"
    assert result.features["fullness"] == pytest.approx(0.25)
    assert len(result.detections) == 2
    assert result.detections.class_id.tolist() == [0, 1]
    assert result.trucks[0].score_result is Verdict.UNQUALIFIED
    assert result.trucks[0].bed_xyxy == (4.0, 6.0, 70.0, 50.0)
    assert result.masks is not None and len(result.masks) == 2


def test_no_mine_detected_has_no_features_even_when_the_scorer_sends_zeros() -> None:
    outputs = integrator_outputs("No Mine Detected", 0.0, n_boxes=0)
    outputs[tn.FEATURES] = np.zeros(3, np.float32)
    result = decode_inspection(outputs, model=MODEL)
    assert result.score_result is Verdict.NO_MINE_DETECTED
    assert result.features is None
    assert len(result.detections) == 0


def test_empty_feature_vector_decodes_to_no_features() -> None:
    outputs = integrator_outputs()
    outputs[tn.FEATURES] = np.zeros(0, np.float32)
    outputs[tn.FEATURE_NAMES] = np.zeros(0, np.object_)
    assert decode_inspection(outputs, model=MODEL).features is None


def test_timings_are_kept() -> None:
    timings = StageTimings({"round_trip": 12.5})
    result = decode_inspection(integrator_outputs(), model=MODEL, timings=timings)
    assert result.timings.stages_ms == {"round_trip": 12.5}


def test_masks_returned_with_the_verdict_belong_to_its_detections() -> None:
    outputs = integrator_outputs()
    outputs[tn.CLASS_IDS] = np.array([1, 0], np.int32)
    result = decode_inspection(outputs, model=MODEL)
    assert result.masks is not None
    assert result.masks.mask_hw.shape == (2, 60, 80)
    assert result.masks.mask_hw.dtype == np.bool_
    assert result.detections.class_id.tolist() == [1, 0]


def test_a_verdict_without_masks_decodes_without_masks() -> None:
    outputs = integrator_outputs()
    del outputs[tn.MASKS], outputs[tn.MASK_IOU]
    assert decode_inspection(outputs, model=MODEL).masks is None


def test_masks_and_detections_of_different_counts_are_a_server_error() -> None:
    outputs = integrator_outputs()
    outputs[tn.MASKS] = outputs[tn.MASKS][:1]
    outputs[tn.MASK_IOU] = outputs[tn.MASK_IOU][:1]
    with pytest.raises(ServerError, match="1 masks for 2 detections"):
        decode_inspection(outputs, model=MODEL)


@pytest.mark.parametrize(
    "name", [tn.SCORE_RESULT, tn.PROBABILITY, tn.THRESHOLD, tn.BOXES_XYXY, tn.FEATURES]
)
def test_a_missing_output_is_a_server_error_naming_it(name: str) -> None:
    outputs = integrator_outputs()
    del outputs[name]
    with pytest.raises(ServerError, match=name):
        decode_inspection(outputs, model=MODEL)


def test_an_unknown_verdict_is_a_server_error() -> None:
    outputs = integrator_outputs()
    outputs[tn.SCORE_RESULT] = np.array([b"Maybe"], np.object_)
    with pytest.raises(ServerError, match="unknown verdict 'Maybe'"):
        decode_inspection(outputs, model=MODEL)


def test_a_probability_a_hair_above_one_is_clipped_but_a_wrong_one_is_refused() -> None:
    outputs = integrator_outputs(probability=1.0000001)
    assert decode_inspection(outputs, model=MODEL).probability == 1.0
    outputs = integrator_outputs(probability=1.5)
    with pytest.raises(ServerError, match="expected a value in"):
        decode_inspection(outputs, model=MODEL)


def test_feature_names_and_values_of_different_lengths_are_a_server_error() -> None:
    outputs = integrator_outputs()
    outputs[tn.FEATURES] = np.zeros(2, np.float32)
    with pytest.raises(ServerError, match="malformed features"):
        decode_inspection(outputs, model=MODEL)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"a": 1}',
        '[{"bed_xyxy": [1, 2], "score_result": "Qualified", "probability": 0.5}]',
        '[{"bed_xyxy": [1, 2, 3, 4], "score_result": "Good", "probability": 0.5}]',
    ],
)
def test_malformed_truck_json_is_a_server_error(text: str) -> None:
    with pytest.raises(ServerError, match="per-truck"):
        decode_trucks(text)


def test_empty_truck_json_means_no_trucks() -> None:
    assert decode_trucks("") == ()
    assert decode_trucks("[]") == ()


def test_unbatch_removes_only_a_leading_axis_of_one() -> None:
    assert unbatch(tn.BOXES_XYXY, np.zeros((1, 3, 4))).shape == (3, 4)
    assert unbatch(tn.BOXES_XYXY, np.zeros((3, 4))).shape == (3, 4)
    assert unbatch(tn.SCORES, np.zeros((1, 5))).shape == (5,)
    assert unbatch(tn.SCORES, np.zeros(1)).shape == (1,)
