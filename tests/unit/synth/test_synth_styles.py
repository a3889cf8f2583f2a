"""Scene styles: deterministic, the same labels in every style, exact masks through the lens."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from loadcheck.synth.dataset import DatasetError, write_dataset
from loadcheck.synth.render import render_scene
from loadcheck.synth.scene import mask_xyxy
from loadcheck.synth.styles import STYLE_NAMES, STYLES, parse_styles, render_styled
from loadcheck.synth.styles.camera import Camera
from loadcheck.synth.styles.classic import describe
from loadcheck.synth.styles.compose import render_composed
from loadcheck.synth.styles.quarry import QuarryStyle

SIZE = (320, 180)
NEW_STYLES = [s for s in STYLE_NAMES if s != "classic"]

# Digests of `write_dataset(out, 30, 7, (320, 180))` taken before styles existed: every file but
# labels.json / data.yaml, and labels.json's records (which now also name their style).
GOLDEN_FILES = "8ebb2d46a52d7a22bd671a826b3c42a4b01312851b4ab0e1f67421abfbf2fff8"
GOLDEN_RECORDS = "eaf53919abd426abe7044f1aaa4b45d1e04a15fefe3f5c1819a75ae3a4a87443"


def test_the_default_style_writes_what_the_renderer_wrote_before_styles(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    summary = write_dataset(out, 30, 7, SIZE, progress=False)
    assert summary.styles == {"classic": 30}
    digest = hashlib.sha256()
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name not in ("labels.json", "data.yaml"):
            digest.update(str(path.relative_to(out)).encode())
            digest.update(path.read_bytes())
    assert digest.hexdigest() == GOLDEN_FILES
    document = json.loads((out / "labels.json").read_text())
    assert document["styles"] == ["classic"]
    records = document["images"]
    assert {r.pop("style") for r in records} == {"classic"}
    assert (
        hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest() == GOLDEN_RECORDS
    )


@pytest.mark.parametrize("style", NEW_STYLES)
def test_a_style_renders_the_same_scene_twice_for_the_same_seed(style: str) -> None:
    a = render_styled(3, 4, SIZE, style)
    b = render_styled(3, 4, SIZE, style)
    assert a.style == style
    assert np.array_equal(a.image_rgb, b.image_rgb)
    assert np.array_equal(a.bed_mask, b.bed_mask) and np.array_equal(a.load_mask, b.load_mask)
    assert a.encode_jpeg() == b.encode_jpeg()
    assert not np.array_equal(a.image_rgb, render_styled(3, 5, SIZE, style).image_rgb)


def test_styles_draw_different_images_of_the_same_description() -> None:
    images = {s: render_styled(1, 2, SIZE, s).image_rgb.astype(np.float32) for s in STYLE_NAMES}
    for i, a in enumerate(STYLE_NAMES):
        for b in STYLE_NAMES[i + 1 :]:
            assert np.mean(np.abs(images[a] - images[b])) > 10.0, (a, b)


@pytest.mark.parametrize("index", range(14))
def test_a_scene_has_the_same_labels_in_every_style(index: int) -> None:
    classic = render_scene(5, index, SIZE)
    for style in NEW_STYLES:
        scene = render_styled(5, index, SIZE, style)
        assert scene.label is classic.label
        assert [t.label for t in scene.trucks] == [t.label for t in classic.trucks]
        assert [t.fill_level for t in scene.trucks] == [t.fill_level for t in classic.trucks]
        assert [t.has_load for t in scene.trucks] == [t.load_xyxy is not None for t in scene.trucks]


def test_forced_attributes_shape_the_description_every_style_draws() -> None:
    for style in STYLE_NAMES:
        scene = render_styled(0, 1, SIZE, style, truck_count=1, load_shape="empty")
        assert scene.label.value == "No Mine Detected" and scene.truck_count == 1
        assert not scene.load_mask.any()


@pytest.mark.parametrize("style", NEW_STYLES)
def test_masks_and_boxes_agree_and_trucks_keep_prominence_order(style: str) -> None:
    for index in range(6):
        scene = render_styled(2, index, SIZE, style)
        union_bed = np.zeros_like(scene.bed_mask)
        areas = []
        for truck in scene.trucks:
            assert truck.bed_xyxy == mask_xyxy(truck.bed_mask)
            assert truck.load_xyxy == mask_xyxy(truck.load_mask)
            union_bed |= truck.bed_mask
            areas.append(int(truck.bed_mask.sum()))
            assert 0.0 <= truck.occluded_share < 1.0
        assert np.array_equal(union_bed, scene.bed_mask)
        assert areas == sorted(areas, reverse=True)
        lines = scene.yolo_lines()
        assert len(lines) == len(scene.boxes()["bed"]) + len(scene.boxes()["load"])


class _FlatQuarry(QuarryStyle):
    """The quarry style with a pure magenta bed, a pure green load, no lighting and a strong
    barrel lens: pixels tell exactly what the masks should cover."""

    def camera(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Camera:
        base = super().camera(rng, size_wh)
        return Camera(size_wh, base.focal_px, base.pitch_deg, base.yaw_deg, k1=0.3)

    def bed_and_load(self, rng, window, raster, paint, mineral) -> None:  # type: ignore[no-untyped-def]
        window[raster.bed] = (1.0, 0.0, 1.0)
        window[raster.load] = (0.0, 1.0, 0.0)

    def finish(self, rng, image, backdrop):  # type: ignore[no-untyped-def]
        return image


def _near(image: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(np.abs(image.astype(np.int16) - np.array(colour, np.int16)) < 40, axis=2)


@pytest.mark.parametrize("index", range(5))
def test_lens_distorted_masks_cover_exactly_the_bed_and_load_pixels(index: int) -> None:
    classic = render_scene(4, index, SIZE, truck_count=1)
    scene = render_composed(_FlatQuarry(), describe(classic), SIZE)
    kernel = np.ones((3, 3), np.uint8)
    image = scene.image_rgb
    bed_only = scene.bed_mask & ~scene.load_mask
    inner_bed = cv2.erode(bed_only.astype(np.uint8), kernel).astype(bool)
    magenta, green = _near(image, (255, 0, 255)), _near(image, (0, 255, 0))
    if inner_bed.any():
        assert magenta[inner_bed].mean() > 0.97
    inner_load = cv2.erode(scene.load_mask.astype(np.uint8), kernel).astype(bool)
    if inner_load.any():
        assert green[inner_load].mean() > 0.97
    grown = cv2.dilate(scene.bed_mask.astype(np.uint8) | scene.load_mask, kernel).astype(bool)
    assert not (magenta & ~grown).any() and not (green & ~grown).any()
    assert scene.bed_mask.any()


def test_the_lens_bends_straight_edges_and_moves_points_with_the_image_map() -> None:
    camera = Camera((200, 100), focal_px=200.0, pitch_deg=0.0, yaw_deg=0.0, k1=0.25)
    ideal = np.zeros((100, 200), bool)
    ideal[20:80, 30:170] = True
    out = camera.mask_through_lens(ideal)
    tops = [int(np.flatnonzero(out[:, x])[0]) for x in (60, 100, 140)]
    assert tops[1] < tops[0] and tops[1] < tops[2]  # barrel: the top edge bows outwards
    for x, y in ((30.0, 20.0), (170.0, 80.0), (100.0, 20.0)):
        px, py = camera.ideal_to_output_points(np.array([[x, y]]))[0]
        assert abs(px - 100) >= abs(x - 100) - 1e-6  # magnified: points move outwards
        ox, oy = round(px), round(py)
        assert (
            out[oy - 2 : oy + 3, ox - 2 : ox + 3].any()
            and not out[oy - 2 : oy + 3, ox - 2 : ox + 3].all()
        )


def test_parse_styles_reads_one_several_or_all() -> None:
    assert parse_styles("classic") == ("classic",)
    assert parse_styles("night, dust,night") == ("night", "dust")
    assert parse_styles("all") == STYLE_NAMES
    assert set(STYLE_NAMES) == set(STYLES) and len(STYLE_NAMES) >= 4
    for bad in ("", "sunny", "all,classic"):
        with pytest.raises(ValueError, match="style"):
            parse_styles(bad)


def test_a_dataset_of_several_styles_names_each_scene_style(tmp_path: Path) -> None:
    summary = write_dataset(tmp_path / "m", 8, 3, SIZE, progress=False, styles=("quarry", "night"))
    assert summary.styles == {"quarry": 4, "night": 4}
    records = json.loads((tmp_path / "m" / "labels.json").read_text())["images"]
    assert [r["style"] for r in records] == ["quarry", "night"] * 4
    with pytest.raises(DatasetError, match="styles"):
        write_dataset(tmp_path / "x", 2, 3, SIZE, progress=False, styles=("sunny",))
