"""Integrator metadata: names, create/list/show/update/delete, fitting data."""

from __future__ import annotations

import pytest
from integrator_files import dataset, jpeg_bytes, write_zip

from loadcheck.integrators.errors import IngestError, IntegratorError, NotFoundError
from loadcheck.scoring import FeatureSetting, HyperParameterError
from loadcheck.scoring.settings import SettingsError


@pytest.mark.parametrize(
    "name", ["", "Site", "a/b", "../x", "-x", "_x", "x" * 49, "a b", "é", "a.b"]
)
def test_invalid_integrator_names_are_rejected(store, name):
    with pytest.raises(IntegratorError, match="invalid integrator name"):
        store.create(name)


def test_a_created_integrator_is_listed_and_shown(store):
    store.create("site-a", "north pit", "xgboost-rf")
    cfg = store.get("site-a")
    assert (cfg.description, cfg.model_type, cfg.threshold, cfg.served_version) == (
        "north pit",
        "xgboost-rf",
        0.5,
        None,
    )
    assert [r["name"] for r in store.list_all()] == ["site-a"]
    with pytest.raises(IntegratorError, match="already exists"):
        store.create("site-a")


def test_an_unknown_integrator_is_not_found(store):
    with pytest.raises(NotFoundError, match="no integrator named 'nope'"):
        store.get("nope")


def test_settings_are_validated_and_merged(store):
    store.create("a")
    store.update(
        "a",
        params={"max_depth": "3"},
        threshold=0.6,
        features={"fullness": FeatureSetting(weight=1, monotone=1)},
    )
    store.update("a", params={"n_estimators": 50})
    cfg = store.get("a")
    assert cfg.params == {"max_depth": 3, "n_estimators": 50}
    assert cfg.threshold == 0.6
    assert cfg.features["fullness"] == FeatureSetting(True, 1.0, 1)


def test_a_hyper_parameter_set_to_default_is_dropped(store):
    store.create("a")
    store.update("a", params={"max_depth": 3})
    store.update("a", params={"max_depth": "default"}, model_type="xgboost-linear")
    assert store.get("a").params == {}
    assert store.get("a").model_type == "xgboost-linear"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"params": {"depth": 3}}, HyperParameterError),
        ({"threshold": 2.0}, SettingsError),
        ({"model_type": "xgboost-linear"}, HyperParameterError),  # monotone is set below
    ],
)
def test_invalid_settings_leave_the_stored_ones_unchanged(store, kwargs, error):
    store.create("a")
    store.update("a", features={"fullness": FeatureSetting(monotone=1)})
    before = store.get("a")
    with pytest.raises(error):
        store.update("a", **kwargs)
    assert store.get("a") == before


def test_fitting_data_is_stored_content_addressed_and_deduplicated(store, tmp_path):
    store.create("a")
    store.create("b")
    q, u, _ = dataset(tmp_path, 3)
    report = store.add_data("a", q, u)
    assert (report.added_qualified, report.added_unqualified) == (3, 3)
    again = store.add_data("a", q, u)
    assert again.already_present == 6 and again.added_qualified == 0
    store.add_data("b", q, u)
    files = [p for p in store.images.root.rglob("*") if p.is_file()]
    assert len(files) == 6  # shared by both integrators
    assert store.sample_counts("a") == {"qualified": 3, "unqualified": 3}


def test_the_same_image_in_both_classes_is_rejected_and_nothing_is_written(store, tmp_path):
    store.create("a")
    same = jpeg_bytes(7)
    q = write_zip(tmp_path / "q.zip", {"x.jpg": same, "y.jpg": jpeg_bytes(8)})
    u = write_zip(tmp_path / "u.zip", {"z.jpg": same})
    with pytest.raises(
        IngestError, match=r"in both the qualified and the unqualified zip .*x\.jpg = z\.jpg"
    ):
        store.add_data("a", q, u)
    assert store.sample_counts("a") == {"qualified": 0, "unqualified": 0}
    assert not store.images.root.exists() or not any(store.images.root.rglob("*.jpg"))


def test_an_image_already_stored_with_the_other_label_is_rejected(store, tmp_path):
    store.create("a")
    q = write_zip(tmp_path / "q.zip", {"x.jpg": jpeg_bytes(1)})
    u = write_zip(tmp_path / "u.zip", {"y.jpg": jpeg_bytes(2)})
    store.add_data("a", q, u)
    swapped_q = write_zip(tmp_path / "q2.zip", {"y-again.jpg": jpeg_bytes(2)})
    with pytest.raises(IngestError, match=r"already stored as unqualified y\.jpg"):
        store.add_data("a", swapped_q, write_zip(tmp_path / "u2.zip", {"w.jpg": jpeg_bytes(3)}))
    assert store.sample_counts("a") == {"qualified": 1, "unqualified": 1}


def test_a_bad_archive_leaves_existing_data_untouched(store, tmp_path):
    store.create("a")
    q, u, _ = dataset(tmp_path, 2)
    store.add_data("a", q, u)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(IngestError, match="not a valid zip"):
        store.add_data("a", q, bad)
    assert store.sample_counts("a") == {"qualified": 2, "unqualified": 2}


def test_clearing_data_removes_samples_and_unreferenced_images(store, tmp_path):
    store.create("a")
    q, u, _ = dataset(tmp_path, 2)
    store.add_data("a", q, u)
    assert store.clear_data("a") == 4
    assert store.sample_counts("a") == {"qualified": 0, "unqualified": 0}
    assert not any(p.is_file() for p in store.images.root.rglob("*"))


def test_deleting_an_integrator_removes_it_and_its_model_folder(store, tmp_path):
    store.create("a")
    store.model_dir("a").mkdir(parents=True)
    (store.model_dir("a") / "1").mkdir()
    store.delete("a")
    assert store.list_all() == []
    assert not store.model_dir("a").exists()
    with pytest.raises(NotFoundError):
        store.delete("a")


def test_operations_are_recorded_in_the_audit_log(store, tmp_path, monkeypatch):
    monkeypatch.setenv("LOADCHECK_USER", "alice")
    store.create("a")
    store.update("a", threshold=0.7)
    actions = [(e["action"], e["actor"]) for e in store.ws.audit_entries("a")]
    assert actions == [("create", "alice"), ("set", "alice")]
