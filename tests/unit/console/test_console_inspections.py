"""The console's Inspections page, driven by Streamlit's AppTest on a temp workspace with an
SQLite records store (no Triton: fits use given masks): filters, paging, the CSV export, the
record's detail and the correction loop through to the next fit."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from loadcheck.console.auth import AdminStore
from loadcheck.console.inspections import EXPORT_COLUMNS, record_overlay
from loadcheck.integrators.store import IntegratorStore
from loadcheck.payloads import Verdict
from loadcheck.records import InspectionRecord, Provenance, RecordStore, TruckRecord
from loadcheck.records.corrections import get_correction
from loadcheck.workspace import Workspace

APP = Path(__file__).resolve().parents[3] / "console" / "app.py"
ADMIN, PASSWORD = "admin", "inspections-test-password"
SITE = "north_pit"
DAY0 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
W, H = 96, 64
VERDICTS = (Verdict.QUALIFIED, Verdict.UNQUALIFIED, Verdict.NO_MINE_DETECTED)


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    ok, buf = cv2.imencode(".jpg", rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    assert ok
    return buf.tobytes()


def _masks(folder: Path, stem: str, fill: float) -> None:
    bed = np.zeros((H, W), np.uint8)
    bed[30:60, 10:86] = 255
    load = np.zeros_like(bed)
    load[60 - round(30 * fill) : 60, 10:86] = 255
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{stem}_bed.png"), bed)
    cv2.imwrite(str(folder / f"{stem}_load.png"), load)


@dataclass(frozen=True)
class Site:
    home: Path
    repository: Path
    masks: Path
    records: list[InspectionRecord]  # as stored, with ids


@pytest.fixture
def site(tmp_path: Path) -> Site:
    home, repo, masks = tmp_path / "ws", tmp_path / "repo", tmp_path / "masks"
    AdminStore(Workspace(home)).create(ADMIN, PASSWORD)
    store = IntegratorStore(home, repo)
    store.create(SITE)
    store.update(SITE, params={"n_estimators": 10})
    zips = {}
    for label, fill in (("qualified", 0.97), ("unqualified", 0.4)):
        zips[label] = tmp_path / f"{label}.zip"
        with zipfile.ZipFile(zips[label], "w") as zf:
            for i in range(4):
                stem = f"{label}_{i}"
                zf.writestr(f"{stem}.jpg", _jpeg(hash((label, i)) % 2**31))
                _masks(masks, stem, fill - 0.02 * i)
    store.add_data(SITE, zips["qualified"], zips["unqualified"])
    stored = []
    with RecordStore(home=home) as records:
        # 12 records over two days: cameras lane1 / lane2, integrators north_pit / south_pit,
        # the three verdicts in turn, probabilities 0, 1/11, ..., 1; the last has no photo.
        for i in range(12):
            verdict = VERDICTS[i % 3]
            p = i / 11
            stored.append(
                records.add(
                    InspectionRecord(
                        at=DAY0 + timedelta(hours=3 * i),
                        integrator=SITE if i % 4 else "south_pit",
                        verdict=verdict,
                        probability=p,
                        threshold=0.5,
                        camera="lane1" if i % 2 == 0 else "lane2",
                        needs_review=False,
                        feature_spec_version="lc-test-1",
                        features={"fullness": 0.5 + i / 30, "roughness_pits": float(i % 3)},
                        trucks=(TruckRecord((10.0, 30.0, 86.0, 60.0), verdict, p),),
                        provenance=Provenance(scorer_version=2, recorded_by="test"),
                    ),
                    None if i == 11 else _jpeg(1000 + i),
                )
            )
    return Site(home, repo, masks, stored)


@pytest.fixture
def app(site: Site, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("LOADCHECK_HOME", str(site.home))
    monkeypatch.setenv("LOADCHECK_REPOSITORY", str(site.repository))
    monkeypatch.delenv("LOADCHECK_DATABASE_URL", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="login_name").input(ADMIN)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_button").click().run()
    at.sidebar.radio(key="page").set_value("Inspections").run()
    _ok(at)
    return at


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, bytes]]:
    """What each download button serves, by file name (recorded as Streamlit stores it)."""
    served: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        if filename and isinstance(path_or_data, bytes):
            served[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    yield served


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _ids(at: AppTest) -> list[int]:
    return [int(i) for i in at.dataframe[0].value["id"]]


def _expected(site: Site, keep) -> list[int]:  # type: ignore[no-untyped-def]
    return [r.record_id for r in reversed(site.records) if keep(r)]  # type: ignore[misc]


def test_filters_narrow_the_rows(app: AppTest, site: Site) -> None:
    assert _ids(app) == _expected(site, lambda r: True)
    assert len(app.get("vega_lite_chart")) == 1  # the daily verdict shares per camera
    app.selectbox(key="insp_camera").set_value("lane2").run()
    _ok(app)
    assert _ids(app) == _expected(site, lambda r: r.camera == "lane2")
    app.selectbox(key="insp_verdict").set_value("Unqualified").run()
    assert _ids(app) == _expected(
        site, lambda r: r.camera == "lane2" and r.verdict == Verdict.UNQUALIFIED
    )
    app.selectbox(key="insp_camera").set_value("(all)").run()
    app.selectbox(key="insp_verdict").set_value("(all)").run()
    app.selectbox(key="insp_integrator").set_value("south_pit").run()
    assert _ids(app) == _expected(site, lambda r: r.integrator == "south_pit")
    app.selectbox(key="insp_integrator").set_value("(all)").run()
    app.slider(key="insp_band").set_value((0.5, 0.8)).run()
    assert _ids(app) == _expected(site, lambda r: 0.5 <= r.probability <= 0.8)
    app.slider(key="insp_band").set_value((0.0, 1.0)).run()
    # from the second day on (records 6 to 11 are from 2026-12-02 06:00 on)
    app.date_input(key="insp_from_day").set_value(date(2026, 12, 2)).run()
    _ok(app)
    assert _ids(app) == _expected(site, lambda r: r.at >= datetime(2026, 12, 2, tzinfo=UTC))
    assert len(_ids(app)) == 6
    # a range that ends before it starts is named
    app.date_input(key="insp_to_day").set_value(date(2026, 11, 30)).run()
    assert any("since" in e.value and "must be before until" in e.value for e in app.error)


def test_rows_are_paged_newest_first(app: AppTest, site: Site) -> None:
    every = _expected(site, lambda r: True)
    assert _ids(app) == every  # 25 rows a page by default
    assert app.button(key="insp_next").disabled
    app.selectbox(key="insp_page_size").set_value(10).run()
    assert _ids(app) == every[:10]
    assert app.button(key="insp_prev").disabled
    app.button(key="insp_next").click().run()
    _ok(app)
    assert _ids(app) == every[10:]
    assert app.button(key="insp_next").disabled
    app.button(key="insp_prev").click().run()
    assert _ids(app) == every[:10]
    # other filters start again at the first page
    app.button(key="insp_next").click().run()
    app.selectbox(key="insp_camera").set_value("lane1").run()
    assert _ids(app) == [i for i in every if i in _expected(site, lambda r: r.camera == "lane1")]


def test_the_csv_export_holds_the_filtered_rows(
    app: AppTest, site: Site, downloads: dict[str, bytes]
) -> None:
    app.selectbox(key="insp_camera").set_value("lane1").run()
    app.date_input(key="insp_from_day").set_value(date(2026, 12, 1)).run()
    app.time_input(key="insp_from_time").set_value(time(6, 0)).run()
    app.date_input(key="insp_to_day").set_value(date(2026, 12, 1)).run()
    app.time_input(key="insp_to_time").set_value(time(18, 0)).run()  # a day shift
    _ok(app)
    assert not any(n.endswith(".csv") for n in downloads)  # built when asked, not every rerun
    app.button(key="insp_csv_prepare").click().run()
    _ok(app)
    expected = _expected(
        site,
        lambda r: (
            r.camera == "lane1"
            and datetime(2026, 12, 1, 6, tzinfo=UTC) <= r.at < datetime(2026, 12, 1, 18, tzinfo=UTC)
        ),
    )
    assert expected and _ids(app) == expected
    name = "inspections_20261201T0600_20261201T1800.csv"
    assert [n for n in downloads if n.endswith(".csv")] == [name]
    assert (
        app.download_button(key="insp_csv").label
        == f"Download these {len(expected)} records as CSV"
    )
    rows = list(csv.DictReader(io.StringIO(downloads[name].decode())))
    assert [int(r["id"]) for r in rows] == expected
    assert list(rows[0])[: len(EXPORT_COLUMNS)] == list(EXPORT_COLUMNS)
    by_id = {r.record_id: r for r in site.records}
    for row in rows:
        record = by_id[int(row["id"])]
        assert row["camera"] == "lane1" and row["verdict"] == record.verdict.value
        assert float(row["probability"]) == pytest.approx(record.probability, abs=1e-6)
        fullness = record.features["fullness"]  # type: ignore[index]
        assert float(row["feature:fullness"]) == pytest.approx(fullness, rel=1e-5)
        assert row["corrected_label"] == ""


def test_a_record_shows_its_photo_overlay_and_features(app: AppTest, site: Site) -> None:
    record = site.records[4]
    app.selectbox(key="insp_record").set_value(record.record_id).run()
    _ok(app)
    captions = [c for img in app.get("image") for c in img.captions]  # type: ignore[attr-defined]
    assert any(c.startswith("photo ") for c in captions)
    assert any("records keep no masks" in c for c in captions)
    features = app.dataframe[1].value  # the table, then the features
    assert dict(zip(features["feature"], features["value"], strict=True)) == pytest.approx(
        record.features
    )
    # the overlay draws the bed box in the verdict's colour on the photo
    with RecordStore(home=site.home) as store:
        photo = store.photo(record.photo_sha256)  # type: ignore[arg-type]
    overlay = record_overlay(photo, record)
    assert overlay.shape == (H, W, 3)
    plain = cv2.cvtColor(cv2.imdecode(np.frombuffer(photo, np.uint8), 1), cv2.COLOR_BGR2RGB)
    assert not np.array_equal(overlay[45, 85:88], plain[45, 85:88])  # the box's right edge


def test_a_record_without_a_kept_photo_cannot_be_corrected(app: AppTest, site: Site) -> None:
    app.selectbox(key="insp_record").set_value(site.records[11].record_id).run()
    _ok(app)
    assert any("cannot be corrected: its photo is not kept" in w.value for w in app.warning)
    assert not _has_key(app, "insp_correct")


def _has_key(at: AppTest, key: str) -> bool:
    try:
        at.button(key=key)
    except KeyError:
        return False
    return True


def test_a_correction_reaches_the_fitting_data_and_the_next_fit(
    app: AppTest, site: Site, downloads: dict[str, bytes]
) -> None:
    # record 5: north_pit, lane2, No Mine Detected -> corrected twice
    record = site.records[5]
    assert record.integrator == SITE and record.verdict == Verdict.NO_MINE_DETECTED
    rid = record.record_id
    assert rid is not None
    app.selectbox(key="insp_record").set_value(rid).run()
    app.radio(key="insp_label").set_value("Qualified").run()
    app.button(key="insp_correct").click().run()
    assert any("tick the confirmation first" in w.value for w in app.warning)
    assert get_correction(RecordStore(home=site.home), rid) is None
    app.checkbox(key="insp_confirm").check().run()
    app.button(key="insp_correct").click().run()
    _ok(app)
    assert any(
        f"record {rid} corrected from No Mine Detected to Qualified" in s.value for s in app.success
    )
    assert any("by console:admin" in i.value for i in app.info)
    table = app.dataframe[0].value
    assert list(table[table["id"] == rid]["corrected to"]) == ["Qualified"]
    # correcting again updates the correction and the one sample
    app.radio(key="insp_label").set_value("Unqualified").run()
    app.checkbox(key="insp_confirm").check().run()
    app.button(key="insp_correct").click().run()
    _ok(app)
    assert any("to Unqualified (correction 2)" in s.value for s in app.success)
    with RecordStore(home=site.home) as records:
        correction = get_correction(records, rid)
    assert correction is not None
    assert (correction.label, correction.revision) == (Verdict.UNQUALIFIED, 2)
    store = IntegratorStore(site.home, site.repository)
    tagged = [r for r in store.samples(SITE) if r["correction_record_id"] is not None]
    assert [(int(r["label"]), r["original_name"]) for r in tagged] == [(0, f"record-{rid}.jpg")]
    audit = [e for e in store.ws.audit_entries(SITE) if e["action"] == "correct"]
    assert [(e["actor"], e["detail"]["label"]) for e in audit] == [
        ("console:admin", "Qualified"),
        ("console:admin", "Unqualified"),
    ]
    # the CSV carries the correction
    app.button(key="insp_csv_prepare").click().run()
    (name,) = [n for n in downloads if n.endswith(".csv")]
    exported = {int(r["id"]): r for r in csv.DictReader(io.StringIO(downloads[name].decode()))}
    assert (exported[rid]["corrected_label"], exported[rid]["corrected_by"]) == (
        "Unqualified",
        "console:admin",
    )
    # a record of an integrator this workspace does not have: the reason is shown
    app.selectbox(key="insp_record").set_value(site.records[8].record_id).run()
    app.checkbox(key="insp_confirm").check().run()
    app.button(key="insp_correct").click().run()
    assert any("no integrator named 'south_pit'" in e.value for e in app.error)
    # the next fit includes the correction and says so
    _masks(site.masks, f"record-{rid}", 0.35)
    app.sidebar.radio(key="page").set_value("Integrators").run()
    app.radio(key="section").set_value("Fit & metrics").run()
    app.text_input(key="fit_masks").input(str(site.masks))
    app.number_input(key="fit_cv").set_value(3)
    app.button(key="fit").click().run()
    _ok(app)
    assert any(
        "fitted version 1 on 9 images (1 of them from corrections of verdicts)" in s.value
        for s in app.success
    ), [s.value for s in app.success]
    assert any("1 of them from corrections" in c.value for c in app.caption)
