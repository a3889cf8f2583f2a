"""The "needs review" flag and the provenance in decoded answers, from new and old servers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from client_fakes import integrator_outputs

from loadcheck import tensor_names as tn
from loadcheck.client.decode import INTEGRATOR_OUTPUTS, OPTIONAL_OUTPUTS, decode_inspection
from loadcheck.client.errors import ServerError
from loadcheck.client.transport import TritonTransport
from loadcheck.gateway.app import legacy_body
from loadcheck.payloads import NOT_FLAGGED, ReviewFlag, ReviewReason, ServedProvenance
from loadcheck.records.model import Provenance

MODEL = "integrator_site_a"
DIGEST = "0f" * 32
REVIEW = {
    "needs_review": True,
    "reasons": [{"code": "near_threshold", "message": "the probability 0.52 is close"}],
}
PROVENANCE = {
    "integrator": "site_a",
    "scorer_version": 4,
    "repository_build": "20261205T230000Z-00aa",
    "networks": {"detector": DIGEST, "sam_decoder": DIGEST, "sam_encoder": DIGEST},
}


def _json(value: Any) -> np.ndarray:
    return np.array([json.dumps(value).encode()], np.object_)


def _new_server_outputs() -> dict[str, Any]:
    outputs = integrator_outputs("Qualified", 0.52, 0.5)
    outputs[tn.REVIEW_JSON] = _json(REVIEW)
    outputs[tn.PROVENANCE_JSON] = _json(PROVENANCE)
    return outputs


def test_the_review_flag_and_provenance_decode_into_the_result() -> None:
    result = decode_inspection(_new_server_outputs(), model=MODEL)
    assert result.review.needs_review
    assert result.review.codes == ("near_threshold",)
    assert result.provenance == ServedProvenance(
        "site_a",
        4,
        PROVENANCE["repository_build"],
        {k: DIGEST for k in ("detector", "sam_decoder", "sam_encoder")},
    )
    body = result.to_dict()
    assert body["needs_review"] is True
    assert body["review_reasons"] == REVIEW["reasons"]
    assert body["provenance"] == PROVENANCE
    assert body["score_result"] == "Qualified"


def test_an_old_server_without_the_outputs_decodes_as_not_flagged_and_unknown() -> None:
    outputs = integrator_outputs("Unqualified", 0.25, 0.6)
    assert tn.REVIEW_JSON not in outputs and tn.PROVENANCE_JSON not in outputs
    result = decode_inspection(outputs, model=MODEL)
    assert result.review == NOT_FLAGGED and not result.review.needs_review
    assert result.provenance is None
    body = result.to_dict()
    assert body["needs_review"] is False and body["review_reasons"] == []
    assert body["provenance"] is None


def test_a_verdict_served_with_batching_decodes_the_same() -> None:
    outputs = {k: v[None] for k, v in _new_server_outputs().items()}
    result = decode_inspection(outputs, model=MODEL)
    assert result.review.codes == ("near_threshold",)
    assert result.provenance is not None and result.provenance.scorer_version == 4


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        (tn.REVIEW_JSON, b"{not json", "not JSON"),
        (tn.REVIEW_JSON, json.dumps([1]).encode(), "JSON object"),
        (tn.REVIEW_JSON, json.dumps({"needs_review": True, "reasons": []}).encode(), "0 reasons"),
        (tn.REVIEW_JSON, json.dumps({"reasons": [{"code": "Bad Code"}]}).encode(), "code"),
        (tn.PROVENANCE_JSON, json.dumps({"scorer_version": 1}).encode(), "integrator"),
        (
            tn.PROVENANCE_JSON,
            json.dumps({"integrator": "a", "networks": {"detector": "xyz"}}).encode(),
            "SHA-256",
        ),
    ],
)
def test_malformed_review_or_provenance_is_a_server_error_naming_the_output(
    name: str, value: bytes, says: str
) -> None:
    outputs = _new_server_outputs()
    outputs[name] = np.array([value], np.object_)
    with pytest.raises(ServerError, match=name) as info:
        decode_inspection(outputs, model=MODEL)
    assert says in str(info.value)


def test_the_transport_asks_for_the_optional_outputs_only_where_the_model_declares_them() -> None:
    transport = TritonTransport("localhost:1")
    assert set(INTEGRATOR_OUTPUTS) >= OPTIONAL_OUTPUTS
    transport._output_names["old"] = frozenset(set(INTEGRATOR_OUTPUTS) - OPTIONAL_OUTPUTS)
    transport._output_names["new"] = frozenset(INTEGRATOR_OUTPUTS)
    asked_old = transport._asked("old", INTEGRATOR_OUTPUTS)
    assert set(asked_old) == set(INTEGRATOR_OUTPUTS) - OPTIONAL_OUTPUTS
    assert transport._asked("new", INTEGRATOR_OUTPUTS) == list(INTEGRATOR_OUTPUTS)


def test_the_gateway_detail_body_carries_the_flag_and_provenance_and_the_legacy_body_not() -> None:
    result = decode_inspection(_new_server_outputs(), model=MODEL)
    assert legacy_body(result, detail=False) == {"score_result": "Qualified"}
    body = legacy_body(result, detail=True)
    assert body["needs_review"] is True
    assert body["review_reasons"] == REVIEW["reasons"]
    assert body["provenance"] == PROVENANCE
    old = legacy_body(decode_inspection(integrator_outputs(), model=MODEL), detail=True)
    assert old["needs_review"] is False and old["review_reasons"] == []
    assert old["provenance"] is None


def test_served_provenance_becomes_a_records_provenance() -> None:
    served = ServedProvenance.from_dict(PROVENANCE)
    record = served.to_record(recorded_by="gateway", source="truck14.jpg")
    assert record == Provenance(
        scorer_version=4,
        repository_build=PROVENANCE["repository_build"],
        networks=PROVENANCE["networks"],
        recorded_by="gateway",
        source="truck14.jpg",
    )


def test_a_review_flag_needs_review_exactly_when_it_has_reasons() -> None:
    assert not ReviewFlag().needs_review
    flag = ReviewFlag((ReviewReason("low_mask_quality", "poor mask"),))
    assert flag.needs_review and ReviewFlag.from_dict(flag.to_dict()) == flag
