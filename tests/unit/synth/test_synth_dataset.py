"""write_dataset: files, labels, zips, YOLO layout, determinism."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from loadcheck.payloads import VERDICTS
from loadcheck.synth import write_dataset
from loadcheck.synth.dataset import DatasetError, split_of
from loadcheck.synth.geometry import VIEWS
from loadcheck.synth.rules import image_verdict

SIZE = (320, 180)


def _digests(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "batch"
    summary = write_dataset(out, 200, 7, SIZE, progress=False)
    assert summary.count == 200
    return out, json.loads((out / "labels.json").read_text())


def test_a_batch_of_200_has_every_label_and_every_view(batch):
    _, labels = batch
    records = labels["images"]
    assert len(records) == 200
    assert {r["label"] for r in records} == set(VERDICTS)
    assert {r["view"] for r in records} == set(VIEWS)
    assert {r["truck_count"] for r in records} == {0, 1, 2}
    assert {r["lighting"] for r in records} == {"day", "dusk", "night"}
    assert {r["mineral"] for r in records} == {"coal", "iron_ore", "limestone"}
    shapes = {t["load_shape"] for r in records for t in r["trucks"]}
    assert shapes == {"heaped", "level_full", "under_filled", "pitted", "one_sided", "empty"}


def test_every_record_points_at_its_files_and_masks_match_its_boxes(batch):
    out, labels = batch
    for record in labels["images"][:60]:
        image = cv2.imread(str(out / record["file"]))
        assert image is not None and image.shape == (SIZE[1], SIZE[0], 3)
        stem = Path(record["file"]).stem
        for cls in ("bed", "load"):
            mask = cv2.imread(str(out / "masks" / f"{stem}_{cls}.png"), cv2.IMREAD_UNCHANGED)
            assert mask.dtype == np.uint8 and mask.shape == (SIZE[1], SIZE[0])
            assert set(np.unique(mask)) <= {0, 255}
            boxes = record["boxes"][cls]
            if not boxes:
                assert not mask.any()
                continue
            # The union mask's extent is the union of the boxes.
            ys, xs = np.nonzero(mask)
            x1 = min(b[0] for b in boxes)
            y1 = min(b[1] for b in boxes)
            x2 = max(b[2] for b in boxes)
            y2 = max(b[3] for b in boxes)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
        assert record["label"] == image_verdict([t["label"] for t in record["trucks"]])


def test_zips_hold_the_qualified_and_unqualified_images_at_their_root(batch):
    out, labels = batch
    by_label = Counter(r["label"] for r in labels["images"])
    for name, label in (("qualified.zip", "Qualified"), ("unqualified.zip", "Unqualified")):
        with zipfile.ZipFile(out / name) as archive:
            names = archive.namelist()
            assert archive.testzip() is None
            assert len(names) == by_label[label]
            assert all("/" not in n and n.endswith(".jpg") for n in names)
            expected = {Path(r["file"]).name for r in labels["images"] if r["label"] == label}
            assert set(names) == expected
            first = names[0]
            assert archive.read(first) == (out / "images" / first).read_bytes()


def test_yolo_labels_match_the_record_boxes(batch):
    out, labels = batch
    w, h = SIZE
    for record in labels["images"]:
        stem = Path(record["file"]).stem
        split = record["split"]
        assert split == split_of(record["index"])
        assert (out / "yolo" / "images" / split / f"{stem}.jpg").read_bytes() == (
            out / record["file"]
        ).read_bytes()
        rows = (out / "yolo" / "labels" / split / f"{stem}.txt").read_text().split("\n")
        parsed = [tuple(float(v) for v in row.split()) for row in rows if row]
        expected = [
            (
                cls,
                (b[0] + b[2]) / 2 / w,
                (b[1] + b[3]) / 2 / h,
                (b[2] - b[0]) / w,
                (b[3] - b[1]) / h,
            )
            for cls, name in enumerate(("bed", "load"))
            for b in record["boxes"][name]
        ]
        assert len(parsed) == len(expected)
        for got, want in zip(parsed, expected, strict=True):
            assert got == pytest.approx(want, abs=1e-5)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["nc"] == 2 and data["names"] == ["bed", "load"]
    assert Path(data["train"]) == out / "yolo" / "images" / "train"
    assert Path(data["val"]) == out / "yolo" / "images" / "val"
    splits = Counter(r["split"] for r in labels["images"])
    assert splits == {"train": 180, "val": 20}


def test_the_same_seed_rewrites_byte_identical_files(tmp_path):
    out = tmp_path / "a"
    write_dataset(out, 25, 3, SIZE, progress=False)
    first = _digests(out)
    write_dataset(out, 25, 3, SIZE, progress=False)  # over its own earlier output
    assert _digests(out) == first
    other = tmp_path / "b"
    write_dataset(other, 25, 3, SIZE, progress=False)
    assert _digests(other, skip=("data.yaml",)) == {
        k: v for k, v in first.items() if k != "data.yaml"
    }
    another = tmp_path / "c"
    write_dataset(another, 25, 4, SIZE, progress=False)
    assert _digests(another)["labels.json"] != first["labels.json"]
    assert not set(_digests(another)) & {k for k in first if k.startswith("images/")}


def test_scene_i_does_not_depend_on_the_count(tmp_path):
    write_dataset(tmp_path / "few", 3, 5, SIZE, progress=False)
    write_dataset(tmp_path / "many", 12, 5, SIZE, progress=False)
    for name in ("s5_000000.jpg", "s5_000002.jpg"):
        assert (tmp_path / "few" / "images" / name).read_bytes() == (
            tmp_path / "many" / "images" / name
        ).read_bytes()


def test_a_rerun_with_a_smaller_count_leaves_no_stale_files(tmp_path):
    write_dataset(tmp_path / "d", 12, 1, SIZE, progress=False)
    write_dataset(tmp_path / "d", 4, 1, SIZE, progress=False)
    assert len(list((tmp_path / "d" / "images").iterdir())) == 4


def test_too_few_scenes_for_a_val_split_point_val_at_train(tmp_path):
    write_dataset(tmp_path / "e", 3, 1, SIZE, progress=False)
    data = yaml.safe_load((tmp_path / "e" / "data.yaml").read_text())
    assert data["val"] == data["train"]


def test_an_empty_count_writes_empty_labels_and_zips(tmp_path):
    summary = write_dataset(tmp_path / "f", 0, 1, SIZE, progress=False)
    assert summary.count == 0
    assert json.loads((tmp_path / "f" / "labels.json").read_text())["images"] == []
    with zipfile.ZipFile(tmp_path / "f" / "qualified.zip") as archive:
        assert archive.namelist() == []


def test_a_foreign_non_empty_folder_is_refused_and_kept(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty"):
        write_dataset(tmp_path, 1, 0, SIZE, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_file_as_output_folder_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        write_dataset(target, 1, 0, SIZE, progress=False)


@pytest.mark.parametrize(
    ("count", "seed", "size", "message"),
    [
        (-1, 0, SIZE, "count"),
        (1.5, 0, SIZE, "count"),
        (1, -2, SIZE, "seed"),
        (1, 0, (8, 8), "size"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, count, seed, size, message):
    with pytest.raises(DatasetError, match=message):
        write_dataset(tmp_path / "g", count, seed, size, progress=False)
    shutil.rmtree(tmp_path / "g", ignore_errors=True)
