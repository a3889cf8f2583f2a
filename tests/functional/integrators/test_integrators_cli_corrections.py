"""``loadcheck integrator fit`` reports how many fitting images came from corrections."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
from integrator_cli import run_json, small_dataset

from loadcheck.integrators.corrections import correct_record
from loadcheck.integrators.store import IntegratorStore
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, RecordStore


def test_fit_prints_and_versions_keep_the_number_of_corrections(tmp_path) -> None:
    home, repo = tmp_path / "ws", tmp_path / "repo"
    q, u, masks = small_dataset(tmp_path, 4)
    run_json(home, repo, "create", "site-a")
    run_json(home, repo, "set", "site-a", "--param", "n_estimators=10")
    run_json(home, repo, "add-data", "site-a", "--qualified", str(q), "--unqualified", str(u))
    first = run_json(home, repo, "fit", "site-a", "--masks", str(masks), "--cv", "0")
    assert (first["n_samples"], first["n_corrections"]) == (8, 0)
    photo = cv2.imencode(".jpg", np.full((64, 96, 3), 90, np.uint8))[1].tobytes()
    with RecordStore(home=home) as records:
        kept = records.add(
            InspectionRecord(
                at=datetime(2026, 12, 1, 14, 2, tzinfo=UTC),
                integrator="site-a",
                verdict=Verdict.QUALIFIED,
                probability=0.7,
                threshold=0.5,
            ),
            photo,
        )
        assert kept.record_id is not None
        correct_record(records, IntegratorStore(home, repo), kept.record_id, "Unqualified")
    for name in ("bed", "load"):
        source = masks / f"unqualified_0_{name}.png"
        (masks / f"record-{kept.record_id}_{name}.png").write_bytes(source.read_bytes())
    second = run_json(home, repo, "fit", "site-a", "--masks", str(masks), "--cv", "0")
    assert (second["n_samples"], second["n_corrections"]) == (9, 1)
    versions = run_json(home, repo, "versions", "site-a")
    assert [(v["version"], v["n_corrections"]) for v in versions] == [(1, 0), (2, 1)]
