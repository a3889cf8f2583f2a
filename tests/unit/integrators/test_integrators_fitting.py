"""Fit -> numbered versions, served version, rollback, predict, failure safety."""

from __future__ import annotations

import json

import numpy as np
import pytest
from integrator_files import SIZE_WH, dataset, jpeg_bytes, write_masks, write_zip

from loadcheck.integrators import served_version
from loadcheck.integrators.errors import IntegratorError, NotFoundError
from loadcheck.integrators.fitting import fit, list_versions, predict, rollback, served_model
from loadcheck.integrators.mask_sources import MaskSource
from loadcheck.payloads import TruckMasks
from loadcheck.scoring import FitError, ScoreModel
from loadcheck.scoring.model import ARTIFACT_FILES


@pytest.fixture
def fitted(store, tmp_path):
    store.create("a")
    store.update("a", params={"n_estimators": 20})
    q, u, masks = dataset(tmp_path, 6)
    store.add_data("a", q, u)
    return store, masks


def test_fit_writes_version_one_and_serves_it(fitted):
    store, masks = fitted
    summary = fit(store, "a", masks_dir=masks, cv_folds=3)
    assert summary["version"] == 1
    assert summary["cv_accuracy"] == pytest.approx(1.0)
    assert summary["cv"]["confusion"] == [[6, 0], [0, 6]]
    target = store.model_dir("a") / "1"
    assert sorted(p.name for p in target.iterdir()) == sorted(ARTIFACT_FILES)
    assert store.get("a").served_version == 1
    meta = json.loads((target / "scorer.json").read_text())
    assert (meta["integrator"], meta["version"]) == ("a", 1)
    assert meta["mask_source"].startswith("masks:")
    assert served_model(store, "a").mask_source == meta["mask_source"]
    assert not [p for p in store.model_dir("a").iterdir() if p.name.startswith(".")]


def test_a_refit_reuses_cached_features_and_makes_a_new_version(fitted):
    store, masks = fitted
    assert fit(store, "a", masks_dir=masks, cv_folds=0)["features_computed"] == 12
    second = fit(store, "a", masks_dir=masks, cv_folds=0)
    assert (second["version"], second["features_cached"]) == (2, 12)
    assert [v["version"] for v in list_versions(store, "a")] == [1, 2]
    assert [v["served"] for v in list_versions(store, "a")] == [False, True]


def test_edited_masks_invalidate_the_feature_cache(fitted):
    store, masks = fitted
    fit(store, "a", masks_dir=masks, cv_folds=0)
    write_masks(masks, "qualified_000", 0.5)
    assert fit(store, "a", masks_dir=masks, cv_folds=0)["features_cached"] == 0


def test_rollback_serves_an_earlier_version_and_the_helpers_report_it(fitted):
    store, masks = fitted
    fit(store, "a", masks_dir=masks, cv_folds=0)
    fit(store, "a", masks_dir=masks, cv_folds=0)
    rollback(store, "a", 1)
    home, repo = store.ws.home, store.repository
    assert served_version("a", home, repo) == 1
    assert [(v["version"], v["served"]) for v in list_versions(store, "a")] == [
        (1, True),
        (2, False),
    ]
    with pytest.raises(NotFoundError, match="has no version 7"):
        rollback(store, "a", 7)
    assert [e["action"] for e in store.ws.audit_entries("a")][-1] == "rollback"


def test_fit_without_a_mask_source_says_what_to_do(fitted):
    store, _ = fitted
    with pytest.raises(IntegratorError, match=r"no masks for the images.*--masks DIR.*--triton"):
        fit(store, "a")


def test_fit_with_fewer_than_two_samples_per_class_fails(store, tmp_path):
    store.create("a")
    q = write_zip(tmp_path / "q.zip", {"x.jpg": jpeg_bytes(1)})
    u = write_zip(tmp_path / "u.zip", {"y.jpg": jpeg_bytes(2), "z.jpg": jpeg_bytes(3)})
    store.add_data("a", q, u)
    with pytest.raises(FitError, match=r"1 qualified and 2 unqualified .* at least 2 of each"):
        fit(store, "a", masks_dir=tmp_path)


def test_missing_masks_are_listed_and_the_served_version_stays(fitted, tmp_path):
    store, masks = fitted
    fit(store, "a", masks_dir=masks, cv_folds=0)
    (masks / "unqualified_002_load.png").unlink()
    with pytest.raises(IntegratorError, match="for 1 images: unqualified_002"):
        fit(store, "a", masks_dir=masks, cv_folds=0)
    assert store.get("a").served_version == 1
    assert [v["version"] for v in list_versions(store, "a")] == [1]


def test_a_crash_while_writing_the_artifact_leaves_no_version_behind(fitted, monkeypatch):
    store, masks = fitted
    fit(store, "a", masks_dir=masks, cv_folds=0)

    def broken_save(self, directory):
        (directory / "model.ubj").write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ScoreModel, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        fit(store, "a", masks_dir=masks, cv_folds=0)
    assert sorted(p.name for p in store.model_dir("a").iterdir()) == ["1"]
    assert store.get("a").served_version == 1


def test_masks_of_another_size_than_the_image_are_rejected(fitted):
    store, masks = fitted
    write_masks(masks, "qualified_001", 1.0, (SIZE_WH[0] * 2, SIZE_WH[1] * 2))
    with pytest.raises(IntegratorError, match="are 192x128 but the image is 96x64"):
        fit(store, "a", masks_dir=masks, cv_folds=0)


def test_predict_gives_json_verdicts_with_the_served_model(fitted, tmp_path):
    store, masks = fitted
    fit(store, "a", masks_dir=masks, cv_folds=0)
    images = tmp_path / "new"
    images.mkdir()
    (images / "full.jpg").write_bytes(jpeg_bytes(100))
    (images / "half.jpg").write_bytes(jpeg_bytes(101))
    (images / "none.jpg").write_bytes(jpeg_bytes(102))
    write_masks(images, "full", 1.0)
    write_masks(images, "half", 0.4)
    write_masks(images, "none", 0.0)
    out = predict(store, "a", sorted(images.glob("*.jpg")), masks_dir=images)
    verdicts = {r["image"].rsplit("/", 1)[-1]: r["score_result"] for r in out}
    assert verdicts == {
        "full.jpg": "Qualified",
        "half.jpg": "Unqualified",
        "none.jpg": "No Mine Detected",
    }
    assert out[0]["threshold"] == 0.5


def test_predict_before_any_fit_fails_clearly(store):
    store.create("a")
    with pytest.raises(IntegratorError, match="has no fitted version"):
        predict(store, "a", [])


def test_a_mask_source_given_by_the_caller_computes_the_features(fitted):
    store, _ = fitted

    class Rectangles:
        config_key = "test-rectangles"

        def segment(self, image_bytes: bytes) -> list[TruckMasks]:
            full = image_bytes[-3] % 2 == 0
            bed = np.zeros((SIZE_WH[1], SIZE_WH[0]), bool)
            bed[30:60, 10:86] = True
            load = bed.copy()
            if not full:
                load[:50] = False
            return [TruckMasks(bed, load, (10, 30, 86, 60))]

    assert isinstance(Rectangles(), MaskSource)
    # labels do not follow the fake masks, but fitting must run through the mask source
    summary = fit(store, "a", mask_source=Rectangles(), cv_folds=0)
    assert summary["features_computed"] == 12
    assert served_model(store, "a").mask_source == "test-rectangles"


def test_a_version_fitted_before_the_rename_still_names_its_mask_source(fitted):
    store, masks = fitted
    fit(store, "a", masks_dir=masks, cv_folds=0)
    scorer_json = store.model_dir("a") / "1" / "scorer.json"
    meta = json.loads(scorer_json.read_text())
    meta["segmenter"] = meta.pop("mask_source")  # the key's name until the rename
    scorer_json.write_text(json.dumps(meta))
    assert served_model(store, "a").mask_source.startswith("masks:")
