"""Photometric augmentation: seeded, shape-keeping, images only (labels and masks untouched)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from loadcheck.train.augment import PhotometricAugment, augment_photo
from loadcheck.train.detector_data import load_example, load_yolo_dataset, make_batch
from loadcheck.train.sam_data import load_seg_dataset, make_example

EVERY_OP = PhotometricAugment(
    jitter_p=1.0, grey_p=0.0, posterise_p=1.0, blur_p=1.0, noise_p=1.0, jpeg_p=1.0, cutout_p=1.0
)
_ONLY = {
    "jitter_p": "colour jitter",
    "grey_p": "grey",
    "posterise_p": "posterise",
    "blur_p": "blur",
    "noise_p": "noise",
    "jpeg_p": "jpeg",
    "cutout_p": "cut-out",
}


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, 96 * 64 * 3).reshape(64, 96, 3)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def _only(op: str) -> PhotometricAugment:
    off = {name: 0.0 for name in _ONLY}
    return dataclasses.replace(PhotometricAugment(), **{**off, op: 1.0})


def test_the_same_seed_gives_the_same_photo_and_another_seed_another() -> None:
    photo = _photo()
    a = augment_photo(photo, np.random.default_rng(5), EVERY_OP)
    b = augment_photo(photo, np.random.default_rng(5), EVERY_OP)
    c = augment_photo(photo, np.random.default_rng(6), EVERY_OP)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("op", list(_ONLY))
def test_each_operation_changes_the_photo_and_keeps_shape_and_dtype(op: str) -> None:
    photo = _photo()
    before = photo.copy()
    out = augment_photo(photo, np.random.default_rng(1), _only(op))
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert not np.array_equal(out, photo), _ONLY[op]
    assert np.array_equal(photo, before)  # the input is not modified


def test_grey_gives_three_equal_channels_and_off_changes_nothing() -> None:
    grey = augment_photo(_photo(), np.random.default_rng(0), _only("grey_p"))
    assert np.array_equal(grey[:, :, 0], grey[:, :, 1]) and np.array_equal(
        grey[:, :, 1], grey[:, :, 2]
    )
    photo = _photo()
    assert np.array_equal(
        augment_photo(photo, np.random.default_rng(0), PhotometricAugment.off()), photo
    )


def test_cutout_stays_within_its_documented_size() -> None:
    cfg = dataclasses.replace(_only("cutout_p"), cutout_max=1, cutout_size=(0.1, 0.1))
    photo = np.zeros((100, 200, 3), np.uint8)
    out = augment_photo(photo, np.random.default_rng(3), cfg)
    changed = np.any(out != photo, axis=2)
    assert 0 < changed.sum() <= 10 * 20


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jitter_p", 1.5),
        ("brightness", -0.1),
        ("blur_sigma", (2.0, 1.0)),
        ("jpeg_quality", (0, 90)),
        ("cutout_max", 40),
        ("posterise_bits", (0, 9)),
    ],
)
def test_a_bad_setting_is_named(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        PhotometricAugment(**{field: value})  # type: ignore[arg-type]


def test_a_photo_that_is_not_uint8_rgb_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        augment_photo(np.zeros((4, 4), np.uint8), np.random.default_rng(0), EVERY_OP)


def test_detector_boxes_are_the_same_with_and_without_photometric_augmentation(
    synth_dir: Path,
) -> None:
    data = load_yolo_dataset(synth_dir)
    samples = list(data.train[:4])
    for seed in range(4):
        plain = [
            load_example(s, 96, np.random.default_rng(seed), PhotometricAugment.off())
            for s in samples
        ]
        augmented = [load_example(s, 96, np.random.default_rng(seed), EVERY_OP) for s in samples]
        for (img_a, lab_a), (img_b, lab_b) in zip(plain, augmented, strict=True):
            assert np.array_equal(lab_a, lab_b)
            assert img_a.shape == img_b.shape == (96, 96, 3) and img_b.dtype == np.uint8
            assert not np.array_equal(img_a, img_b)
    images_a, targets_a = make_batch(samples, 96, np.random.default_rng(9), EVERY_OP)
    images_b, targets_b = make_batch(samples, 96, np.random.default_rng(9), EVERY_OP)
    assert np.array_equal(images_a, images_b) and np.array_equal(targets_a, targets_b)
    # evaluation: no generator, no augmentation at all
    images_eval2, _ = make_batch(samples, 96, None, None)
    images_eval, _ = make_batch(samples, 96, None, EVERY_OP)
    assert np.array_equal(images_eval, images_eval2)


def test_sam_masks_and_boxes_are_the_same_with_and_without_photometric_augmentation(
    synth_dir: Path,
) -> None:
    samples = [s for s in load_seg_dataset(synth_dir) if len(s.xyxy)][:3]
    for seed, sample in enumerate(samples):
        plain = make_example(
            sample,
            64,
            "crop",
            (124, 116, 104),
            np.random.default_rng(seed),
            8,
            PhotometricAugment.off(),
        )
        aug = make_example(
            sample, 64, "crop", (124, 116, 104), np.random.default_rng(seed), 8, EVERY_OP
        )
        assert np.array_equal(plain.targets, aug.targets)
        assert np.array_equal(plain.boxes_xyxy, aug.boxes_xyxy)
        assert np.array_equal(plain.class_ids, aug.class_ids)
        assert aug.image.shape == plain.image.shape and aug.image.dtype == np.uint8
        assert not np.array_equal(plain.image, aug.image)


def test_training_settings_turn_photometric_augmentation_on_by_default(tmp_path: Path) -> None:
    from loadcheck.train.detector import DetectorTrainSettings
    from loadcheck.train.sam import SamTrainSettings

    for settings in (
        DetectorTrainSettings(tmp_path, tmp_path),
        SamTrainSettings(tmp_path, tmp_path),
    ):
        assert settings.photometric.enabled
        recorded = settings.to_json()["photometric"]
        assert recorded["enabled"] is True and recorded["jpeg_quality"] == [25, 90]
