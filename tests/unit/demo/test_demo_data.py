"""The demo's inputs: scene sets rendered once and reused, and which networks it serves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from loadcheck.demo import data as demo_data
from loadcheck.demo.data import (
    DemoError,
    card_facts,
    ensure_scenes,
    find_export_dir,
    read_truth,
    resolve_models,
    scene_set_dir,
)
from loadcheck.demo.runner import DemoOptions
from loadcheck.payloads import Verdict

SIZE = (160, 90)


def test_scenes_are_rendered_once_then_reused(tmp_path):
    first = ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False)
    assert first.rendered
    assert len(first.truth) == 4
    assert first.qualified_zip.is_file() and first.unqualified_zip.is_file()
    again = ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False)
    assert not again.rendered
    assert again.truth == first.truth


def test_scenes_are_rendered_again_when_the_count_or_seed_differs(tmp_path):
    ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False)
    assert ensure_scenes(tmp_path / "fit", 3, 5, SIZE, progress=False).rendered
    assert ensure_scenes(tmp_path / "fit", 4, 5, SIZE, progress=False).rendered


def test_classic_scene_sets_keep_their_folder_and_other_styles_get_their_own(tmp_path):
    assert scene_set_dir(tmp_path, "fit", 1, ("classic",)) == tmp_path / "fit_seed1"
    assert (
        scene_set_dir(tmp_path, "test", 2, ("night", "dust")) == tmp_path / "test_seed2_night-dust"
    )
    folders = {
        scene_set_dir(tmp_path, "fit", 1, styles)
        for styles in [("classic",), ("night",), ("night", "dust"), ("dust", "night")]
    }
    assert len(folders) == 4


def test_scenes_of_other_styles_are_never_reused_for_classic_ones(tmp_path):
    classic = ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False)
    night = ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False, styles=("night", "dust"))
    assert night.rendered
    assert night.truth == classic.truth, "labels never depend on the style"
    name = "s3_000000.jpg"
    assert (tmp_path / "fit" / "images" / name).read_bytes() != (
        ensure_scenes(tmp_path / "classic", 3, 4, SIZE, progress=False).images_dir / name
    ).read_bytes()
    assert ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False).rendered


def test_each_scene_knows_its_style_index_mod_n(tmp_path):
    scenes = ensure_scenes(tmp_path / "fit", 3, 5, SIZE, progress=False, styles=("night", "dust"))
    assert scenes.styles == ("night", "dust")
    assert [scenes.style_of[f"s3_{i:06d}.jpg"] for i in range(5)] == [
        "night",
        "dust",
        "night",
        "dust",
        "night",
    ]
    again = ensure_scenes(tmp_path / "fit", 3, 5, SIZE, progress=False, styles=("night", "dust"))
    assert not again.rendered and again.style_of == scenes.style_of


def test_a_labels_file_from_before_styles_counts_as_classic(tmp_path):
    ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False)
    labels = tmp_path / "fit" / "labels.json"
    document = json.loads(labels.read_text())
    del document["styles"]
    labels.write_text(json.dumps(document))
    assert not ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False).rendered
    assert ensure_scenes(tmp_path / "fit", 3, 4, SIZE, progress=False, styles=("dust",)).rendered


def test_label_counts_cover_every_verdict(tmp_path):
    scenes = ensure_scenes(tmp_path / "fit", 3, 6, SIZE, progress=False)
    counts = scenes.label_counts()
    assert set(counts) == {v.value for v in Verdict}
    assert sum(counts.values()) == 6


def test_a_broken_labels_file_is_reported_by_path(tmp_path):
    (tmp_path / "labels.json").write_text("{not json")
    with pytest.raises(DemoError, match=r"labels\.json"):
        read_truth(tmp_path)


def write_card(folder, kind):
    folder.mkdir(parents=True, exist_ok=True)
    card = {"kind": kind, "model_type": "m", "file": f"{kind}.onnx", "source_sha256": "ab"}
    (folder / f"{kind}.onnx.card.json").write_text(json.dumps(card))


def test_export_dir_is_the_folder_or_its_onnx_subfolder(tmp_path):
    assert find_export_dir(tmp_path) is None
    write_card(tmp_path / "onnx", "detector")
    assert find_export_dir(tmp_path) == tmp_path / "onnx"
    write_card(tmp_path, "sam_encoder")
    assert find_export_dir(tmp_path) == tmp_path


def test_card_facts_report_model_type_and_checkpoint_hash(tmp_path):
    write_card(tmp_path, "detector")
    assert card_facts(tmp_path)["detector"]["source_sha256"] == "ab"


def test_given_models_without_cards_are_refused_with_what_is_expected(tmp_path):
    with pytest.raises(DemoError, match="loadcheck export sam"):
        resolve_models(tmp_path, tmp_path / "cache")


def test_given_models_are_not_placeholders(tmp_path):
    write_card(tmp_path / "mine", "detector")
    models = resolve_models(tmp_path / "mine", tmp_path / "cache")
    assert (models.export_dir, models.placeholder) == (tmp_path / "mine", False)


def test_without_models_demo_the_placeholders_are_used_and_flagged(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_data, "DEFAULT_MODELS_DIR", tmp_path / "absent")
    monkeypatch.setattr(demo_data, "CHECKOUT", tmp_path)
    write_card(tmp_path / "cache", "detector")  # already exported: no torch export here
    models = resolve_models(None, tmp_path / "cache")
    assert (models.export_dir, models.placeholder) == (tmp_path / "cache", True)


def test_models_demo_is_preferred_when_it_exists(tmp_path, monkeypatch):
    write_card(tmp_path / "models" / "demo" / "onnx", "detector")
    monkeypatch.setattr(demo_data, "DEFAULT_MODELS_DIR", tmp_path / "models" / "demo")
    models = resolve_models(None, tmp_path / "cache")
    assert (models.export_dir, models.placeholder) == (tmp_path / "models/demo/onnx", False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fit_count": 3}, "fit count"),
        ({"test_count": 0}, "test count"),
        ({"seed": -1}, "seed"),
        ({"styles": ("sunny",)}, "styles"),
        ({"styles": ()}, "styles"),
    ],
)
def test_demo_options_reject_unusable_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DemoOptions(**kwargs)


def _ship_checkpoints(root):
    (root / "detector").mkdir(parents=True)
    (root / "sam").mkdir(parents=True)
    (root / "detector" / "detector.pt").write_bytes(b"detector weights")
    (root / "sam" / "sam.pth").write_bytes(b"sam weights")


def _card_from(folder, kind, checkpoint):
    folder.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    card = {"kind": kind, "model_type": "m", "file": f"{kind}.onnx", "source_sha256": sha}
    (folder / f"{kind}.onnx.card.json").write_text(json.dumps(card))


def test_committed_checkpoints_are_exported_once_and_reused_while_unchanged(tmp_path, monkeypatch):
    root = tmp_path / "models" / "demo"
    _ship_checkpoints(root)
    monkeypatch.setattr(demo_data, "DEFAULT_MODELS_DIR", root)
    calls = []

    def fake_export(checkpoint, out, **_):
        calls.append(Path(checkpoint).name)
        _card_from(Path(out), Path(checkpoint).stem, Path(checkpoint))

    monkeypatch.setattr("loadcheck.export.yolov6_onnx.export_yolov6", fake_export)
    monkeypatch.setattr("loadcheck.export.sam_onnx.export_sam", fake_export)
    first = resolve_models(None, tmp_path / "run" / "placeholder_models")
    assert (first.export_dir, first.placeholder) == (tmp_path / "run" / "demo_models", False)
    assert calls == ["detector.pt", "sam.pth"]
    resolve_models(None, tmp_path / "run" / "placeholder_models")
    assert len(calls) == 2, "unchanged checkpoints must not be exported again"
    (root / "detector" / "detector.pt").write_bytes(b"retrained detector")
    resolve_models(None, tmp_path / "run" / "placeholder_models")
    assert len(calls) == 4, "a changed checkpoint must be exported again"
