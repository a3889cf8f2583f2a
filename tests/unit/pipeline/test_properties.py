"""Properties of the coordinate transforms, and the docs agreeing with the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loadcheck.pipeline.preprocess import letterbox
from loadcheck.pipeline.prompts import SamFrame, SamRegion, boxes_to_sam, sam_region
from loadcheck.serving.runtimes import RUNTIMES

DOCS = Path(__file__).resolve().parents[3] / "docs" / "serving.md"


@settings(max_examples=40, deadline=None)
@given(
    st.integers(8, 400), st.integers(8, 400), st.sampled_from([(320, 320), (640, 640), (256, 384)])
)
def test_letterbox_maps_the_image_corners_inside_the_detector_input(w, h, size_hw):
    boxed, t = letterbox(np.zeros((h, w, 3), np.uint8), size_hw)
    assert boxed.shape[:2] == size_hw
    for x, y in ((0, 0), (w, h)):
        dx, dy = x * t.scale + t.pad_x, y * t.scale + t.pad_y
        assert -1 <= dx <= size_hw[1] + 1 and -1 <= dy <= size_hw[0] + 1


@settings(max_examples=40, deadline=None)
@given(
    st.integers(32, 2000),
    st.integers(32, 2000),
    st.lists(
        st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
        min_size=1,
        max_size=5,
    ),
)
def test_every_box_lies_inside_the_sam_frame_of_its_crop(w, h, rel_boxes):
    from loadcheck.payloads import Detections

    boxes = np.array(
        [[min(a, c) * w, min(b, d) * h, max(a, c) * w, max(b, d) * h] for a, b, c, d in rel_boxes],
        np.float32,
    )
    det = Detections(boxes, np.full(len(boxes), 0.5), np.zeros(len(boxes)))
    region = sam_region(det, (w, h), SamFrame.CROP)
    assert region.x0 >= 0 and region.x0 + region.w <= w and region.y0 + region.h <= h
    mapped = boxes_to_sam(det.xyxy, region, 512)
    assert mapped.min() >= -1e-3 and mapped.max() <= 512 + 1e-3
    assert isinstance(region, SamRegion)


def test_the_docs_name_every_runtime_and_every_repository_build_option():
    from typer.testing import CliRunner

    from loadcheck.cli import app

    text = DOCS.read_text(encoding="utf-8")
    for runtime in RUNTIMES:
        assert f"`{runtime}`" in text, runtime
    help_text = CliRunner().invoke(app, ["repository", "build", "--help"], terminal_width=200)
    options = set(re.findall(r"--[a-z][a-z-]+", help_text.output)) - {"--help"}
    assert options, help_text.output
    missing = [o for o in sorted(options) if f"`{o}" not in text]
    assert not missing, f"docs/serving.md does not document {missing}"
