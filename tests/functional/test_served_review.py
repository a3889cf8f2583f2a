"""The "needs review" flag and the provenance of every verdict, from a real tritonserver.

The session's server (the ``triton`` fixture: tiny random-weight networks, one deployed
integrator) answers photos over HTTP and gRPC through the client; each answer's review flag is
the in-process runner's for the same photo, and its provenance names the integrator, the
deployed scorer version, the repository build recorded in the manifest and the hashes of the
exported networks' model cards.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from loadcheck import tensor_names as tn

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]


def _card_hashes(models: Path) -> dict[str, str]:
    from loadcheck.pipeline.cards import card_path_for, load_cards

    networks = load_cards(models)
    return {
        kind: hashlib.sha256(card_path_for(networks.path(kind)).read_bytes()).hexdigest()
        for kind in ("detector", "sam_encoder", "sam_decoder")
    }


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_answers_carry_the_review_flag_and_provenance(
    triton, tiny_models, scene_jpegs, protocol
):
    from loadcheck.client import InspectionClient
    from loadcheck.pipeline.runner import PipelineRunner
    from loadcheck.serving.repository import read_manifest

    build = read_manifest(triton.repository).build
    assert build is not None and build.networks == _card_hashes(tiny_models)
    local = PipelineRunner.from_repository(
        triton.repository, tn.integrator_model_name(triton.integrator)
    )
    url = triton.http_url if protocol == "http" else triton.grpc_url
    with InspectionClient(url, protocol=protocol) as client:
        for jpeg in scene_jpegs:
            served = client.inspect(jpeg, triton.integrator)
            expected = local.inspect(jpeg)
            assert served.score_result == expected.score_result
            assert served.review == expected.review
            assert served.provenance is not None
            assert served.provenance == expected.provenance
            assert served.provenance.integrator == triton.integrator
            assert served.provenance.scorer_version == 1
            assert served.provenance.repository_build == build.id
            assert dict(served.provenance.networks) == build.networks
            body = served.to_dict()
            assert body["needs_review"] == served.review.needs_review
            assert body["provenance"]["repository_build"] == build.id
