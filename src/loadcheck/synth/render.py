"""``render_scene``: one synthetic truck-loading scene from (seed, index), with exact truth.

Every random choice comes from generators seeded with ``[seed, index, stream, ...]`` (one stream
for the scene's attributes, one per truck, one per truck's paint, one for the occluder and one for
the camera), so scene ``i`` is the same whatever the count, and an override changes only what
depends on it: every scene-level draw is made whether or not an override replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import cv2
import numpy as np

from loadcheck.synth import rules
from loadcheck.synth.effects import finish_image, occluder_polygons
from loadcheck.synth.geometry import (
    VIEWS,
    BedRaster,
    PartRole,
    TruckLayout,
    View,
    make_layout,
    rasterize_bed,
    shift_layout,
)
from loadcheck.synth.profiles import LOAD_SHAPES, make_profile
from loadcheck.synth.scene import Scene, SynthTruck, mask_xyxy, scene_stem
from loadcheck.synth.textures import (
    BACKGROUNDS,
    MINERALS,
    SMOOTH,
    background,
    colourise,
    mineral_texture,
    noise,
)

LIGHTINGS: tuple[str, ...] = ("day", "dusk", "night")
OCCLUDERS: tuple[str, ...] = ("none", "pole", "loader")
MIN_SIZE: Final = 64
MAX_SIZE: Final = 4096

_VIEW_P = (0.42, 0.32, 0.26)
_TRUCKS_P = (0.07, 0.7, 0.23)
_LIGHT_P = (0.6, 0.25, 0.15)
_SHAPE_P = (0.24, 0.16, 0.18, 0.17, 0.13, 0.12)  # order of LOAD_SHAPES
_OCCLUDER_P = (0.72, 0.14, 0.14)
_PAINTS = np.array(
    [(0.86, 0.64, 0.1), (0.9, 0.45, 0.08), (0.85, 0.85, 0.82), (0.62, 0.12, 0.08), (0.3, 0.4, 0.5)],
    np.float32,
)

OVERRIDES: tuple[str, ...] = (
    "view",
    "truck_count",
    "load_shape",
    "fill_level",
    "pit_depth",
    "mineral",
    "lighting",
    "background",
    "haze",
    "motion_blur_px",
    "jpeg_quality",
    "occluder",
    "facing",
)


def _stream(seed: int, index: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), *tags])


def _choice(rng: np.random.Generator, options: tuple[str, ...], p: tuple[float, ...]) -> str:
    return options[int(rng.choice(len(options), p=np.asarray(p) / np.sum(p)))]


def _check_overrides(overrides: dict[str, Any]) -> None:
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"render_scene: unknown overrides {unknown}; known: {list(OVERRIDES)}")
    choices = {
        "view": VIEWS,
        "load_shape": LOAD_SHAPES,
        "mineral": MINERALS,
        "lighting": LIGHTINGS,
        "background": BACKGROUNDS,
        "occluder": OCCLUDERS,
        "facing": ("left", "right"),
    }
    for key, allowed in choices.items():
        if key in overrides and str(overrides[key]) not in allowed:
            raise ValueError(f"{key}: got {overrides[key]!r}, expected one of {list(allowed)}")
    if "truck_count" in overrides and overrides["truck_count"] not in (0, 1, 2):
        raise ValueError(f"truck_count: got {overrides['truck_count']!r}, expected 0, 1 or 2")
    if "fill_level" in overrides and not 0.0 <= float(overrides["fill_level"]) <= 1.0:
        raise ValueError(f"fill_level: got {overrides['fill_level']!r}, expected [0, 1]")
    if "pit_depth" in overrides and float(overrides["pit_depth"]) < 0.0:
        raise ValueError(f"pit_depth: got {overrides['pit_depth']!r}, expected >= 0")
    if "haze" in overrides and not 0.0 <= float(overrides["haze"]) < 1.0:
        raise ValueError(f"haze: got {overrides['haze']!r}, expected [0, 1)")
    if "motion_blur_px" in overrides and int(overrides["motion_blur_px"]) < 0:
        raise ValueError(f"motion_blur_px: got {overrides['motion_blur_px']!r}, expected >= 0")
    if "jpeg_quality" in overrides and not 1 <= int(overrides["jpeg_quality"]) <= 100:
        raise ValueError(f"jpeg_quality: got {overrides['jpeg_quality']!r}, expected 1..100")


def check_size(size_wh: tuple[int, int]) -> tuple[int, int]:
    """Validated ``(width, height)`` in pixels, each in [MIN_SIZE, MAX_SIZE]."""
    try:
        w, h = (int(v) for v in size_wh)
    except (TypeError, ValueError):
        raise ValueError(f"size_wh: expected (width, height) integers, got {size_wh!r}") from None
    if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
        raise ValueError(
            f"size_wh: got {w}x{h}, expected width and height in [{MIN_SIZE}, {MAX_SIZE}] pixels"
        )
    return w, h


@dataclass
class _Truck:
    layout: TruckLayout
    profile: np.ndarray
    shape: str
    raster: BedRaster
    footprint: np.ndarray  # bool [H, W], every pixel this truck paints


def _place(
    rng: np.random.Generator,
    view: str,
    facing: str,
    size_wh: tuple[int, int],
    length: float,
    bottom_range: tuple[float, float],
    avoid: tuple[float, float] | None,
) -> TruckLayout:
    """Lay a truck out with rim length ``length`` px standing inside the frame."""
    w, h = size_wh
    layout = make_layout(view, rng, x0=0.0, y_rim=0.0, rim_length_px=length, facing=facing)
    for _ in range(6):
        ex0, ey0, ex1, ey1 = layout.extent_xyxy()
        if ex1 - ex0 <= 0.98 * w and ey1 - ey0 <= 0.96 * h:
            break
        scale = min(0.98 * w / (ex1 - ex0), 0.96 * h / (ey1 - ey0), 0.9)
        length *= scale
        layout = make_layout(view, rng, x0=0.0, y_rim=0.0, rim_length_px=length, facing=facing)
    ex0, ey0, ex1, ey1 = layout.extent_xyxy()
    lo = max(bottom_range[0], ey1 - ey0 + 0.01 * h)
    hi = max(bottom_range[1], lo)
    bottom = min(rng.uniform(lo, hi), 0.995 * h)
    x_lo, x_hi = 0.01 * w - ex0, 0.99 * w - ex1
    candidates = rng.uniform(x_lo, max(x_hi, x_lo), size=6)
    if avoid is None:
        dx = float(candidates[0])
    else:  # farther truck: least overlap with the nearer one
        overlap = [max(0.0, min(avoid[1], c + ex1) - max(avoid[0], c + ex0)) for c in candidates]
        dx = float(candidates[int(np.argmin(overlap))])
    return shift_layout(layout, dx, bottom - ey1)


def _role_colours(paint: np.ndarray) -> dict[PartRole, tuple[float, ...]]:
    return {
        PartRole.PAINT: tuple(float(v) for v in paint),
        PartRole.PAINT_DARK: tuple(float(v) for v in paint * 0.6),
        PartRole.CHASSIS: (0.12, 0.12, 0.12),
        PartRole.TYRE: (0.05, 0.05, 0.055),
        PartRole.HUB: (0.45, 0.44, 0.42),
        PartRole.GLASS: (0.2, 0.27, 0.34),
    }


def _draw_parts(
    canvas: np.ndarray, footprint: np.ndarray, layout: TruckLayout, paint: np.ndarray
) -> None:
    colours = _role_colours(paint)
    for part in layout.parts:
        colour = colours[part.role]
        if part.ellipse:
            (cx, cy), (ax, ay) = part.points_xy
            c, a = (round(cx * 8), round(cy * 8)), (max(round(ax * 8), 1), max(round(ay * 8), 1))
            cv2.ellipse(canvas, c, a, 0, 0, 360, colour, -1, cv2.LINE_8, 3)
            cv2.ellipse(footprint, c, a, 0, 0, 360, (1,), -1, cv2.LINE_8, 3)
        else:
            pts = [np.round(part.points_xy * 8).astype(np.int32)]
            cv2.fillPoly(canvas, pts, colour, cv2.LINE_8, 3)
            cv2.fillPoly(footprint, pts, (1,), cv2.LINE_8, 3)


def _draw_frame(
    canvas: np.ndarray, footprint: np.ndarray, layout: TruckLayout, paint: np.ndarray
) -> None:
    """The body's walls around the bed: a band just outside its front, floor and back edges.

    The bed and load are painted afterwards, so the band never covers bed or load pixels and
    never reaches above the rim except at the two rim corners.
    """
    q = layout.quad_xy
    edge = np.array([q[0], q[3], q[2], q[1]])  # rim front -> floor front -> floor back -> rim back
    pts = [np.round(edge * 8).astype(np.int32)]
    thickness = max(2, round(0.07 * layout.bed_height_px))
    colour = tuple(float(c) for c in paint * 0.85)
    cv2.polylines(canvas, pts, False, colour, thickness, cv2.LINE_8, 3)
    cv2.polylines(footprint, pts, False, (1,), thickness, cv2.LINE_8, 3)


def _draw_shadow(canvas: np.ndarray, layout: TruckLayout) -> None:
    """Darken a soft ellipse on the ground under the truck (not part of any mask)."""
    h, w = canvas.shape[:2]
    ex0, _, ex1, ey1 = layout.extent_xyxy()
    half_w, half_h = 0.55 * (ex1 - ex0), 0.05 * (ex1 - ex0) + 2.0
    cx = 0.5 * (ex0 + ex1)
    x0, x1 = max(int(cx - half_w - 4), 0), min(int(cx + half_w + 4), w)
    y0, y1 = max(int(ey1 - 2 * half_h - 4), 0), min(int(ey1 + half_h + 4), h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return
    shadow = np.zeros((y1 - y0, x1 - x0), np.float32)
    centre = (round((cx - x0) * 8), round((ey1 - half_h * 0.3 - y0) * 8))
    axes = (max(round(half_w * 8), 8), max(round(half_h * 8), 8))
    cv2.ellipse(shadow, centre, axes, 0, 0, 360, (0.5,), -1, cv2.LINE_8, 3)
    k = max(3, int(half_h))
    soft = cv2.blur(shadow, (k, k))  # box blur: constant cost whatever the softness
    win = np.ascontiguousarray(canvas[y0:y1, x0:x1])
    canvas[y0:y1, x0:x1] = cv2.multiply(win, cv2.merge([1.0 - soft] * 3))


def _draw_bed_and_load(
    rng: np.random.Generator, canvas: np.ndarray, truck: _Truck, paint: np.ndarray, mineral: str
) -> None:
    r = truck.raster
    x0, y0, x1, y1 = r.window_xyxy
    win = np.ascontiguousarray(canvas[y0:y1, x0:x1])
    yc = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
    height = np.maximum(r.y_floor - r.y_rim, 1.0).astype(np.float32)[None, :]
    # Interior: darker paint, vertical ribs, a bright rim rail along the top.
    ribs = (np.modf(r.u * rng.integers(5, 10))[0] < 0.07).astype(np.float32)[None, :]
    rail = ((yc - r.y_rim[None, :].astype(np.float32)) < 0.07 * height).astype(np.float32)
    shade = (0.5 + 0.12 * ribs + 0.45 * rail) * (1.0 + 0.08 * noise(rng, SMOOTH, y1 - y0, x1 - x0))
    win = cv2.copyTo(colourise(shade, paint), r.bed.view(np.uint8), win)
    if r.load.any():
        depth = (yc - r.y_load[None, :].astype(np.float32)) / height
        lit = 1.0 + 0.35 * np.exp(-np.maximum(depth, 0.0) / 0.08)
        tex = mineral_texture(rng, mineral, y1 - y0, x1 - x0, light=lit)
        win = cv2.copyTo(tex, r.load.view(np.uint8), win)
    canvas[y0:y1, x0:x1] = win


def render_scene(
    seed: int, index: int, size_wh: tuple[int, int] = (960, 540), **overrides: Any
) -> Scene:
    """Render scene ``index`` of ``seed`` at ``size_wh`` (width, height) pixels.

    Overrides (see :data:`OVERRIDES`) force an attribute: ``view``, ``truck_count`` (0-2),
    ``load_shape`` (every truck), ``fill_level`` (share in [0, 1]; every truck's profile is
    shifted to it), ``pit_depth`` (bed heights; one hollow dug mid-bed), ``mineral``,
    ``lighting``, ``background``, ``haze`` ([0, 1)), ``motion_blur_px``, ``jpeg_quality``,
    ``occluder``, ``facing``.
    """
    if int(seed) < 0 or int(index) < 0:
        raise ValueError(f"seed and index: expected integers >= 0, got {seed!r} and {index!r}")
    w, h = check_size(size_wh)
    _check_overrides(overrides)
    rng = _stream(seed, index, 0)

    view = str(overrides.get("view", _choice(rng, VIEWS, _VIEW_P)))
    n_trucks = int(overrides.get("truck_count", int(rng.choice(3, p=_TRUCKS_P))))
    lighting = str(overrides.get("lighting", _choice(rng, LIGHTINGS, _LIGHT_P)))
    bg_p = (0.1, 0.3, 0.6) if view == View.ELEVATED else (0.4, 0.45, 0.15)
    bg_kind = str(overrides.get("background", _choice(rng, BACKGROUNDS, bg_p)))
    mineral = str(overrides.get("mineral", _choice(rng, MINERALS, (1.0, 1.0, 1.0))))
    haze_draw = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.08, 0.5))
    haze = float(overrides.get("haze", haze_draw))
    blur_draw = 0 if rng.random() < 0.7 else int(rng.integers(3, 16))
    blur = int(overrides.get("motion_blur_px", blur_draw))
    q_draw = int(rng.integers(80, 96)) if rng.random() < 0.7 else int(rng.integers(30, 71))
    jpeg_quality = int(overrides.get("jpeg_quality", q_draw))
    occluder = str(overrides.get("occluder", _choice(rng, OCCLUDERS, _OCCLUDER_P)))

    base_share = rng.uniform(0.3, 0.6) if n_trucks == 1 else rng.uniform(0.26, 0.42)
    if view == View.ELEVATED:
        base_share *= 0.85
    paints = _PAINTS[rng.integers(0, len(_PAINTS), 2)]
    canvas, ground_y = background(rng, bg_kind, lighting, (w, h))
    bottom_range = (max(ground_y + 0.15 * h, 0.55 * h), 0.99 * h)

    trucks: list[_Truck] = []
    near_extent: tuple[float, float] | None = None
    for i in range(n_trucks):  # i = 0 is the nearest (largest) truck
        truck_rng = _stream(seed, index, 1, i)
        facing = str(overrides.get("facing", "left" if truck_rng.random() < 0.5 else "right"))
        shape = str(overrides.get("load_shape", _choice(truck_rng, LOAD_SHAPES, _SHAPE_P)))
        wants_load = overrides.get("fill_level", 0.0) > 0.0 or "pit_depth" in overrides
        if shape == "empty" and wants_load and "load_shape" not in overrides:
            shape = "level_full"  # a forced fill or pit needs a load to apply to
        length = base_share * w * (1.0 if i == 0 else truck_rng.uniform(0.6, 0.88))
        b_range = bottom_range if i == 0 else (bottom_range[0] * 0.9, bottom_range[0] + 0.2 * h)
        layout = _place(truck_rng, view, facing, (w, h), length, b_range, near_extent)
        if i == 0:
            ex0, _, ex1, _ = layout.extent_xyxy()
            near_extent = (ex0, ex1)
        profile = make_profile(
            shape,
            _stream(seed, index, 2, i),
            fill_level=overrides.get("fill_level"),
            pit_depth=overrides.get("pit_depth"),
        )
        raster = rasterize_bed(layout, profile, (w, h))
        trucks.append(_Truck(layout, profile, shape, raster, np.zeros((h, w), bool)))

    # Paint far to near; each truck's footprint hides what was painted before it.
    for i in reversed(range(n_trucks)):
        t = trucks[i]
        fp = np.zeros((h, w), np.uint8)
        _draw_shadow(canvas, t.layout)
        _draw_parts(canvas, fp, t.layout, paints[i])
        _draw_frame(canvas, fp, t.layout, paints[i])
        _draw_bed_and_load(_stream(seed, index, 3, i), canvas, t, paints[i], mineral)
        x0, y0, x1, y1 = t.raster.window_xyxy
        fp[y0:y1, x0:x1] |= (t.raster.bed | t.raster.load).view(np.uint8)
        t.footprint = fp.astype(bool)

    hidden_by_occluder = np.zeros((h, w), bool)
    if occluder != "none" and n_trucks:
        a, b, colour = occluder_polygons(
            _stream(seed, index, 4), (w, h), trucks[0].layout, occluder
        )
        occ = np.zeros((h, w), np.uint8)
        for poly in (a, b):
            pts = [np.round(poly * 8).astype(np.int32)]
            cv2.fillPoly(canvas, pts, colour, cv2.LINE_8, 3)
            cv2.fillPoly(occ, pts, (1,), cv2.LINE_8, 3)
        hidden_by_occluder = occ.astype(bool)

    image = finish_image(_stream(seed, index, 5), canvas, lighting, haze, blur)
    truths = _truths(trucks, hidden_by_occluder, view, mineral, (w, h))
    label = rules.image_verdict([t.label for t in truths])
    source = next((t for t in truths if t.has_load), truths[0] if truths else None)
    bed_union = np.zeros((h, w), bool)
    load_union = np.zeros((h, w), bool)
    for truth in truths:
        bed_union |= truth.bed_mask
        load_union |= truth.load_mask
    return Scene(
        seed=int(seed),
        index=int(index),
        stem=scene_stem(int(seed), int(index)),
        image_rgb=image,
        bed_mask=bed_union,
        load_mask=load_union,
        trucks=tuple(truths),
        label=label,
        fill_level=source.fill_level if source else 0.0,
        pit_depth=source.pit_depth if source else 0.0,
        balance=source.balance if source else 0.0,
        view=view,
        lighting=lighting,
        background=bg_kind,
        mineral=mineral,
        occluder=occluder if n_trucks else "none",
        haze=haze,
        motion_blur_px=blur,
        jpeg_quality=jpeg_quality,
    )


def _truths(
    trucks: list[_Truck],
    hidden_by_occluder: np.ndarray,
    view: str,
    mineral: str,
    size_wh: tuple[int, int],
) -> list[SynthTruck]:
    """Visible masks and truths per truck, most prominent (largest visible bed) first."""
    w, h = size_wh
    out: list[tuple[int, int, SynthTruck]] = []
    for i, t in enumerate(trucks):
        hidden = hidden_by_occluder.copy()
        for nearer in trucks[:i]:
            hidden |= nearer.footprint
        x0, y0, x1, y1 = t.raster.window_xyxy
        bed = np.zeros((h, w), bool)
        load = np.zeros((h, w), bool)
        bed[y0:y1, x0:x1] = t.raster.bed
        load[y0:y1, x0:x1] = t.raster.load
        bed_area = int(t.raster.bed.sum())
        fill = float((t.raster.bed & t.raster.load).sum()) / max(bed_area, 1)
        has_load = bool(t.raster.load.any())
        pit = rules.pit_depth_of_profile(t.profile) if has_load else 0.0
        balance = rules.balance_of_profile(t.profile) if has_load else 0.0
        bed_visible = bed & ~hidden
        load_visible = load & ~hidden
        visible_area = int(bed_visible.sum())
        bed_box = mask_xyxy(bed_visible)
        if bed_box is None:  # fully hidden: not in view, not in the truth
            continue
        truth = SynthTruck(
            bed_mask=bed_visible,
            load_mask=load_visible,
            bed_xyxy=bed_box,
            load_xyxy=mask_xyxy(load_visible),
            fill_level=fill,
            pit_depth=pit,
            balance=balance,
            label=rules.truck_verdict(fill, pit, balance, has_load),
            view=view,
            facing=t.layout.facing,
            load_shape=t.shape if has_load else "empty",
            mineral=mineral,
            profile=t.profile.astype(np.float64),
            quad_xy=t.layout.quad_xy.astype(np.float64),
            occluded_share=1.0 - visible_area / max(bed_area, 1),
        )
        out.append((-visible_area, i, truth))
    out.sort(key=lambda item: (item[0], item[1]))
    return [t for _, _, t in out]
