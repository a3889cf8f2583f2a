"""The Recorder: the record of an InspectionResult, with the caller's provenance."""

from __future__ import annotations

import numpy as np

from loadcheck.payloads import InspectionResult, LoadFeatures, Verdict
from loadcheck.records import InspectionRecord, Provenance
from loadcheck.records.recorder import Recorder


class ListSink:
    def __init__(self) -> None:
        self.added: list[tuple[InspectionRecord, bytes | None]] = []

    def add(self, record: InspectionRecord, photo: bytes | None = None) -> InspectionRecord:
        self.added.append((record, photo))
        return record


def test_each_result_is_recorded_with_the_recorders_or_the_callers_provenance() -> None:
    sink = ListSink()
    recorder = Recorder(
        sink,
        recorded_by="gateway",
        camera="lane1",
        provenance=Provenance(scorer_version=2, networks={"detector": "d" * 64}),
    )
    features = LoadFeatures(("fullness",), np.array([0.9]), "lc-features-1")
    result = InspectionResult(Verdict.QUALIFIED, 0.9, 0.5, features=features)
    assert recorder.record(result, b"jpeg", integrator="north_pit", source="a.jpg")
    assert recorder.record(
        result,
        None,
        integrator="south_pit",
        camera="lane2",
        provenance=Provenance(scorer_version=7),
    )
    stats = recorder.close()
    assert (stats.written, stats.dropped) == (2, 0)
    (first, photo), (second, _) = sink.added
    assert photo == b"jpeg" and first.photo_sha256 is None  # the store hashes the photo
    assert (first.camera, first.integrator, first.provenance.source) == (
        "lane1",
        "north_pit",
        "a.jpg",
    )
    assert first.provenance.scorer_version == 2 and first.provenance.recorded_by == "gateway"
    assert first.provenance.networks == {"detector": "d" * 64}
    assert (second.camera, second.provenance.scorer_version) == ("lane2", 7)
    assert second.provenance.recorded_by == "gateway"
