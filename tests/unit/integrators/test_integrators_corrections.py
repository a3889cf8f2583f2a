"""The correction loop on the library: a corrected record's photo joins the integrator's fitting
data (tagged, audited, never overwriting), and the next fit counts the corrections."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from integrator_files import dataset, jpeg_bytes, write_masks, write_zip

from loadcheck.imageio import sha256_bytes
from loadcheck.integrators.corrections import correct_record
from loadcheck.integrators.errors import IngestError, NotFoundError
from loadcheck.integrators.fitting import fit, list_versions
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, RecordError, RecordStore
from loadcheck.records.corrections import get_correction
from loadcheck.workspace.db import DB_FILE, SCHEMA_VERSION, Workspace, actor_scope


@pytest.fixture
def records(tmp_path):  # type: ignore[no-untyped-def]
    with RecordStore(f"sqlite:///{tmp_path / 'records.db'}") as s:
        yield s


@pytest.fixture
def site(store, tmp_path):  # type: ignore[no-untyped-def]
    store.create("a")
    store.update("a", params={"n_estimators": 10})
    q, u, masks = dataset(tmp_path, 3)
    store.add_data("a", q, u)
    return store, masks


def _record(
    records: RecordStore,
    photo: bytes | None,
    verdict: Verdict = Verdict.UNQUALIFIED,
    integrator: str = "a",
) -> int:
    kept = records.add(
        InspectionRecord(
            at=datetime(2026, 12, 1, 14, 2, tzinfo=UTC),
            integrator=integrator,
            verdict=verdict,
            probability=0.2,
            threshold=0.5,
            camera="lane1",
        ),
        photo,
    )
    assert kept.record_id is not None
    return kept.record_id


def _sample(store, sha: str) -> tuple[int, str, int | None]:  # type: ignore[no-untyped-def]
    rows = {r["sha256"]: r for r in store.samples("a")}
    r = rows[sha]
    return int(r["label"]), r["original_name"], r["correction_record_id"]


def test_a_correction_adds_the_photo_with_its_label_and_the_next_fit_counts_it(
    site, records, tmp_path
) -> None:
    store, masks = site
    photo = jpeg_bytes(101)
    rid = _record(records, photo)
    with actor_scope("console:alice"):
        result = correct_record(records, store, rid, "Qualified")
    assert result.fitting == "added" and result.sample_name == f"record-{rid}.jpg"
    assert "corrected from Unqualified to Qualified" in result.message()
    sha = result.correction.photo_sha256
    assert _sample(store, sha) == (1, f"record-{rid}.jpg", rid)
    assert store.images.get(sha, "jpg") == photo
    assert store.sample_counts("a") == {"qualified": 4, "unqualified": 3}
    correction = get_correction(records, rid)
    assert correction is not None and correction.corrected_by == "console:alice"
    (entry,) = [e for e in store.ws.audit_entries("a") if e["action"] == "correct"]
    assert entry["actor"] == "console:alice"
    assert entry["detail"]["record_id"] == rid
    assert entry["detail"]["verdict"] == "Unqualified" and entry["detail"]["label"] == "Qualified"
    assert entry["detail"]["previous_label"] is None
    # the next fit includes it and says so; the count is stored with the version
    write_masks(masks, f"record-{rid}", 0.95)
    summary = fit(store, "a", masks_dir=masks, cv_folds=0)
    assert (summary["n_samples"], summary["n_corrections"]) == (7, 1)
    assert [v["n_corrections"] for v in list_versions(store, "a")] == [1]
    fits = [e for e in store.ws.audit_entries("a") if e["action"] == "fit"]
    assert fits[-1]["detail"]["n_corrections"] == 1


def test_correcting_twice_relabels_the_one_sample_and_audits_both(site, records) -> None:
    store, _ = site
    rid = _record(records, jpeg_bytes(102), Verdict.NO_MINE_DETECTED)
    first = correct_record(records, store, rid, Verdict.QUALIFIED)
    second = correct_record(records, store, rid, Verdict.UNQUALIFIED)
    assert (first.fitting, second.fitting) == ("added", "relabelled")
    assert second.previous_label == Verdict.QUALIFIED and second.correction.revision == 2
    assert _sample(store, second.correction.photo_sha256)[:1] == (0,)
    assert store.sample_counts("a") == {"qualified": 3, "unqualified": 4}
    audits = [e["detail"] for e in store.ws.audit_entries("a") if e["action"] == "correct"]
    assert [(d["previous_label"], d["label"]) for d in audits] == [
        (None, "Qualified"),
        ("Qualified", "Unqualified"),
    ]
    # the same label once more changes nothing and is not audited again
    third = correct_record(records, store, rid, Verdict.UNQUALIFIED)
    assert not third.changed and "nothing changed" in third.message()
    assert len([e for e in store.ws.audit_entries("a") if e["action"] == "correct"]) == 2


def test_a_photo_already_in_the_zips_with_the_other_label_is_not_overwritten(site, records) -> None:
    store, _ = site
    sha, label, name, _ = next(
        (r["sha256"], int(r["label"]), r["original_name"], r) for r in store.samples("a")
    )
    photo = store.images.get(sha, "jpg")
    verdict = Verdict.QUALIFIED if label == 1 else Verdict.UNQUALIFIED
    other = Verdict.UNQUALIFIED if label == 1 else Verdict.QUALIFIED
    rid = _record(records, photo, verdict)
    with pytest.raises(IngestError, match=f"already in the fitting data of a as .*{name}"):
        correct_record(records, store, rid, other)
    assert _sample(store, sha) == (label, name, None)
    assert get_correction(records, rid) is None  # nothing written on either side


def test_a_photo_already_there_with_the_same_label_is_kept_and_the_record_corrected(
    site, records
) -> None:
    store, _ = site
    row = store.samples("a")[0]
    photo = store.images.get(row["sha256"], row["ext"])
    label = Verdict.QUALIFIED if int(row["label"]) == 1 else Verdict.UNQUALIFIED
    verdict = Verdict.UNQUALIFIED if label == Verdict.QUALIFIED else Verdict.QUALIFIED
    rid = _record(records, photo, verdict)
    result = correct_record(records, store, rid, label)
    assert result.fitting == "present"
    assert _sample(store, row["sha256"]) == (int(row["label"]), row["original_name"], None)
    assert get_correction(records, rid) is not None


def test_a_record_without_a_kept_photo_cannot_be_corrected(site, records) -> None:
    store, _ = site
    rid = _record(records, None)
    with pytest.raises(RecordError, match="cannot be corrected: the record has no photo"):
        correct_record(records, store, rid, "Qualified")
    assert store.sample_counts("a") == {"qualified": 3, "unqualified": 3}


def test_a_record_of_an_integrator_not_in_the_workspace_is_refused_and_not_stored(
    site, records
) -> None:
    store, _ = site
    rid = _record(records, jpeg_bytes(103), integrator="gone")
    with pytest.raises(NotFoundError, match="no integrator named 'gone'"):
        correct_record(records, store, rid, "Qualified")
    assert get_correction(records, rid) is None


def test_a_photo_that_is_not_an_image_is_refused(site, records) -> None:
    store, _ = site
    rid = _record(records, b"\xff\xd8\xff but not a jpeg")
    with pytest.raises(IngestError, match=f"photo of record {rid}"):
        correct_record(records, store, rid, "Qualified")
    assert get_correction(records, rid) is None
    assert store.sample_counts("a") == {"qualified": 3, "unqualified": 3}


def test_clearing_the_data_drops_the_correction_tags(site, records) -> None:
    store, _ = site
    rid = _record(records, jpeg_bytes(104))
    correct_record(records, store, rid, "Qualified")
    store.clear_data("a")
    with store.ws.reader() as conn:
        assert conn.execute("SELECT COUNT(*) FROM sample_corrections").fetchone()[0] == 0
    # correcting again puts it back (the record's correction is unchanged)
    again = correct_record(records, store, rid, "Qualified")
    assert again.fitting == "added" and again.correction.revision == 1


def test_a_workspace_of_schema_1_gets_the_correction_count_column(tmp_path) -> None:
    home = tmp_path / "old"
    home.mkdir()
    with sqlite3.connect(home / DB_FILE) as conn:
        conn.execute(
            "CREATE TABLE versions (integrator TEXT NOT NULL, version INTEGER NOT NULL, "
            "path TEXT NOT NULL, model_type TEXT NOT NULL, n_samples INTEGER NOT NULL, "
            "metrics_json TEXT NOT NULL, created_at TEXT NOT NULL, "
            "PRIMARY KEY (integrator, version))"
        )
        conn.execute(
            "INSERT INTO versions VALUES ('a', 1, '/x', 'xgboost', 12, 'null', '2026-01-01')"
        )
        conn.execute("PRAGMA user_version = 1")
    ws = Workspace(home)
    with ws.reader() as conn:
        row = conn.execute("SELECT n_samples, n_corrections FROM versions").fetchone()
        assert tuple(row) == (12, 0)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT COUNT(*) FROM sample_corrections").fetchone()[0] == 0


def test_the_zips_cannot_relabel_a_corrected_photo(site, records, tmp_path) -> None:
    store, _ = site
    photo = jpeg_bytes(105)
    rid = _record(records, photo)
    correct_record(records, store, rid, "Qualified")
    q = write_zip(tmp_path / "q2.zip", {"x.jpg": jpeg_bytes(106)})
    u = write_zip(tmp_path / "u2.zip", {"same.jpg": photo})
    with pytest.raises(IngestError, match="already stored with the other label"):
        store.add_data("a", q, u)


def test_the_same_photo_in_another_record_is_corrected_through_the_first(site, records) -> None:
    store, _ = site
    photo = jpeg_bytes(107)
    first = _record(records, photo, Verdict.NO_MINE_DETECTED)
    second = _record(records, photo, Verdict.NO_MINE_DETECTED)
    correct_record(records, store, first, "Qualified")
    for label in ("Qualified", "Unqualified"):
        with pytest.raises(IngestError, match=f"from the correction of record {first}"):
            correct_record(records, store, second, label)
    assert get_correction(records, second) is None
    assert _sample(store, sha256_bytes(photo)) == (1, f"record-{first}.jpg", first)
