"""The engine of the composed styles: a style kit's pieces drawn through its camera, exact masks.

A :class:`StyleKit` (one module per style) supplies a camera, a backdrop with its clutter, truck
bodies, paints, the bed interior and load textures, the occluder colours and the lighting. This
module lays the described trucks out, draws each in its own body plane (side elevation, cab on
the left, mirrored for ``facing == "right"``), rasterises its bed and load with the labelling
geometry of :func:`loadcheck.synth.geometry.rasterize_bed`, warps image and masks into the frame
with the camera's homography, composites far to near, adds the occluder, and sends image and
masks through the same lens map. Truths and labels are the description's.

Every described truck is kept in view: a layout is accepted when the nearest truck is wholly in
the frame, every truck shows at least :data:`MIN_VISIBLE_SHARE` of its bed and the visible beds
shrink in description order (so the rule's "most prominent" truck is the description's); up to
:data:`ATTEMPTS` layouts are drawn, later ones with smaller far trucks.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, field
from typing import Final, Protocol

import cv2
import numpy as np

from loadcheck.synth.geometry import BedRaster, TruckLayout, View, extent_xyxy, rasterize_bed
from loadcheck.synth.profiles import MAX_HEAP
from loadcheck.synth.scene import Scene, SynthTruck, mask_xyxy, scene_stem
from loadcheck.synth.styles.base import SceneDescription, TruckDescription
from loadcheck.synth.styles.camera import Camera

MIN_VISIBLE_SHARE: Final = 0.35
ATTEMPTS: Final = 16
_HEAP_PX_PER_BED: Final = (MAX_HEAP - 1.0) * 1.6  # as rasterize_bed's window

RGB = tuple[float, ...]  # (r, g, b) in [0, 1]


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """The polygon float64 ``[4, 2]`` of an axis-aligned rectangle (a :class:`BodyPart`'s)."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def window_rows(raster: BedRaster, rows: int) -> np.ndarray:
    """float32 ``[rows, 1]``: the image y of each pixel row's centre in ``raster``'s window."""
    return (np.arange(rows, dtype=np.float32) + 0.5 + raster.window_xyxy[1])[:, None]


def rim_height(raster: BedRaster) -> np.ndarray:
    """float32 ``[1, W]``: the bed's rim-to-floor height per window column (at least 1 px)."""
    return np.maximum(raster.y_floor - raster.y_rim, 1.0).astype(np.float32)[None, :]


@dataclass(frozen=True)
class BodyPart:
    """A painted part of a truck body: a polygon ``points_xy`` float64 ``[K, 2]`` or, with
    ``ellipse``, ``[[cx, cy], [ax, ay]]`` (centre and half-axes); ``colour`` float RGB in [0, 1]."""

    points_xy: np.ndarray
    colour: RGB
    ellipse: bool = False


@dataclass(frozen=True)
class Body:
    """A truck body in its body plane, cab on the left, in pixels.

    Attributes:
        quad_xy: float64 ``[4, 2]`` bed corners (rim front, rim back, floor back, floor front).
        parts: painted before the bed, back to front (walls, cab, chassis, wheels...).
        paint: the body's main colour (the bed interior is shaded from it).
    """

    quad_xy: np.ndarray
    parts: tuple[BodyPart, ...]
    paint: RGB

    def extent_xyxy(self) -> tuple[float, float, float, float]:
        """Box around the bed, its highest possible heap and every part."""
        bed_h = float(np.mean(self.quad_xy[2:, 1]) - np.mean(self.quad_xy[:2, 1]))
        heap = self.quad_xy - [0.0, _HEAP_PX_PER_BED * bed_h]
        return extent_xyxy([self.quad_xy, heap], self.parts)

    def moved(self, scale: float, dx: float, dy: float, mirror: bool) -> Body:
        """Scaled about the origin, mirrored about its own centre when ``mirror``, then moved."""
        x0, _, x1, _ = self.extent_xyxy()
        axis = (x0 + x1) * scale

        def move(points: np.ndarray, ellipse: bool) -> np.ndarray:
            out = np.asarray(points, np.float64) * scale
            if ellipse:
                if mirror:
                    out[0, 0] = axis - out[0, 0]
                out[0] += (dx, dy)
            else:
                if mirror:
                    out[:, 0] = axis - out[:, 0]
                out = out + np.array([dx, dy])
            return out

        return Body(
            move(self.quad_xy, False),
            tuple(BodyPart(move(p.points_xy, p.ellipse), p.colour, p.ellipse) for p in self.parts),
            self.paint,
        )


@dataclass(frozen=True)
class Backdrop:
    """A style's background in the ideal image plane.

    Attributes:
        image: float32 ``[H, W, 3]`` RGB in [0, 1] (clutter included).
        ground_y: the row where the ground the trucks stand on begins, in pixels.
        lighting / background: names recorded in the scene's metadata.
    """

    image: np.ndarray
    ground_y: float
    lighting: str
    background: str


class StyleKit(Protocol):
    """What one composed style supplies (see the module docstring)."""

    name: str
    summary: str

    def camera(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Camera: ...

    def backdrop(self, rng: np.random.Generator, size_wh: tuple[int, int]) -> Backdrop: ...

    def body(self, rng: np.random.Generator, rim_length_px: float) -> Body:
        """A body whose rim starts at (0, 0) and runs ``rim_length_px`` to the right."""
        ...

    def bed_and_load(
        self,
        rng: np.random.Generator,
        window: np.ndarray,
        raster: BedRaster,
        paint: RGB,
        mineral: str,
    ) -> None:
        """Paint the bed interior and the load into ``window`` (float32 ``[h, w, 3]``, the
        raster's window) where ``raster.bed`` and ``raster.load`` are set."""
        ...

    def occluder_colour(self, kind: str) -> RGB: ...

    def finish(self, rng: np.random.Generator, image: np.ndarray, backdrop: Backdrop) -> np.ndarray:
        """Lighting and sensor effects on float32 ``[H, W, 3]`` (returned, float32, [0, 1])."""
        ...

    def jpeg_quality(self, rng: np.random.Generator) -> int: ...


@dataclass
class _Placed:
    body: Body
    description: TruckDescription
    footprint: np.ndarray  # bool [H, W] ideal plane, every pixel the truck covers
    bed: np.ndarray  # bool [H, W] ideal plane
    load: np.ndarray  # bool [H, W] ideal plane
    raster: BedRaster  # body plane
    extras: dict[str, float] = field(default_factory=dict)


def style_tag(name: str) -> int:
    """A stable number for a style's random streams (CRC-32 of its name)."""
    return zlib.crc32(name.encode())


def _stream(desc: SceneDescription, tag: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([int(desc.seed), int(desc.index), 7_000, tag, *more])


def _body_plane_masks(
    body: Body, profile: np.ndarray, size_wh: tuple[int, int]
) -> tuple[BedRaster, np.ndarray, np.ndarray, np.ndarray]:
    w, h = size_wh
    layout = TruckLayout(View.SIDE, "left", body.quad_xy, ())
    raster = rasterize_bed(layout, profile, (w, h))
    x0, y0, x1, y1 = raster.window_xyxy
    bed = np.zeros((h, w), np.uint8)
    load = np.zeros((h, w), np.uint8)
    bed[y0:y1, x0:x1] = raster.bed
    load[y0:y1, x0:x1] = raster.load
    foot = np.zeros((h, w), np.uint8)
    for p in body.parts:
        _fill(foot, p, (1.0,))
    foot |= bed | load
    return raster, bed, load, foot


def _fill(canvas: np.ndarray, part: BodyPart, colour: tuple[float, ...]) -> None:
    if part.ellipse:
        (cx, cy), (ax, ay) = part.points_xy
        c, a = (round(cx * 8), round(cy * 8)), (max(round(ax * 8), 1), max(round(ay * 8), 1))
        cv2.ellipse(canvas, c, a, 0, 0, 360, colour, -1, cv2.LINE_8, 3)
    else:
        cv2.fillPoly(canvas, [np.round(part.points_xy * 8).astype(np.int32)], colour, cv2.LINE_8, 3)


def _edge_points(box: tuple[float, float, float, float], n: int = 9) -> np.ndarray:
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, n)
    return np.concatenate(
        [
            np.c_[x0 + (x1 - x0) * t, np.full(n, y0)],
            np.c_[x0 + (x1 - x0) * t, np.full(n, y1)],
            np.c_[np.full(n, x0), y0 + (y1 - y0) * t],
            np.c_[np.full(n, x1), y0 + (y1 - y0) * t],
        ]
    )


def _in_frame(camera: Camera, body: Body) -> bool:
    """Whether the whole body (heap room included) lands inside the output frame."""
    w, h = camera.size_wh
    out = camera.ideal_to_output_points(
        camera.body_to_ideal_points(_edge_points(body.extent_xyxy()))
    )
    return bool(
        np.all(out[:, 0] >= 0.01 * w)
        and np.all(out[:, 0] <= 0.99 * w)
        and np.all(out[:, 1] >= 0.01 * h)
        and np.all(out[:, 1] <= 0.995 * h)
    )


def _layout(
    kit: StyleKit,
    rng: np.random.Generator,
    desc: SceneDescription,
    camera: Camera,
    backdrop: Backdrop,
    attempt: int,
) -> list[_Placed]:
    w, h = camera.size_wh
    n = len(desc.trucks)
    share = rng.uniform(0.3, 0.5) if n == 1 else rng.uniform(0.24, 0.38)
    share *= 0.93**attempt
    placed: list[_Placed] = []
    near_x: tuple[float, float] | None = None
    near_bottom = 0.0
    for i, truck in enumerate(desc.trucks):
        length = share * w * (1.0 if i == 0 else rng.uniform(0.5, 0.75) * 0.9**attempt)
        body = kit.body(rng, length)
        ex0, _, ex1, ey1 = body.extent_xyxy()
        if i == 0:
            lo = max(backdrop.ground_y + 0.12 * h, 0.6 * h)
            bottom = rng.uniform(min(lo, 0.97 * h), 0.97 * h)
        else:
            bottom = near_bottom - rng.uniform(0.08, 0.2) * h
        x_lo, x_hi = 0.03 * w - ex0, 0.97 * w - ex1
        xs = rng.uniform(x_lo, max(x_hi, x_lo), size=6)
        if near_x is None:
            dx = float(xs[0])
        else:
            overlap = [max(0.0, min(near_x[1], x + ex1) - max(near_x[0], x + ex0)) for x in xs]
            dx = float(xs[int(np.argmin(overlap))])
        body = body.moved(1.0, dx, bottom - ey1, truck.facing == "right")
        if i == 0:
            bx0, _, bx1, _ = body.extent_xyxy()
            near_x, near_bottom = (bx0, bx1), bottom
        raster, bed, load, foot = _body_plane_masks(body, truck.profile, (w, h))
        placed.append(
            _Placed(
                body,
                truck,
                camera.to_ideal(foot, nearest=True).astype(bool),
                camera.to_ideal(bed, nearest=True).astype(bool),
                camera.to_ideal(load, nearest=True).astype(bool),
                raster,
            )
        )
    return placed


def _occluder(
    rng: np.random.Generator, kind: str, camera: Camera, near: _Placed
) -> list[np.ndarray]:
    """Occluder polygons in the ideal plane over the nearest truck (a loader bucket stays above
    the highest possible heap, so it never hides load)."""
    if kind == "none":
        return []
    w, h = camera.size_wh
    q = camera.body_to_ideal_points(near.body.quad_xy)
    bed_h = float(np.mean(q[2:, 1]) - np.mean(q[:2, 1]))
    x_lo, x_hi = float(q[:, 0].min()), float(q[:, 0].max())
    cx = rng.uniform(x_lo + 0.15 * (x_hi - x_lo), x_hi - 0.15 * (x_hi - x_lo))
    if kind == "pole":
        half = rng.uniform(0.006, 0.016) * (x_hi - x_lo) + 1.0
        bottom = float(q[:, 1].max()) + rng.uniform(0.3, 1.0) * abs(bed_h)
        return [
            np.array(
                [[cx - half, -2.0], [cx + half, -2.0], [cx + half, bottom], [cx - half, bottom]]
            )
        ]
    heap = camera.body_to_ideal_points(
        near.body.quad_xy - [0.0, _HEAP_PX_PER_BED * _bed_height(near.body)]
    )
    bot = float(heap[:, 1].min()) - rng.uniform(0.1, 0.3) * abs(bed_h)
    if bot < 0.06 * h:
        return []  # no room above the heap: no loader this time
    bw = rng.uniform(0.18, 0.3) * (x_hi - x_lo)
    top = bot - rng.uniform(0.3, 0.5) * abs(bed_h)
    bucket = np.array(
        [[cx - bw / 2, top], [cx + bw / 2, top], [cx + 0.4 * bw, bot], [cx - 0.4 * bw, bot]]
    )
    ax = cx + float(rng.choice([-1.0, 1.0])) * rng.uniform(0.2, 0.5) * w
    arm_w = 0.12 * bw
    arm = np.array(
        [[cx - arm_w, top + 1], [cx + arm_w, top + 1], [ax + arm_w, -2.0], [ax - arm_w, -2.0]]
    )
    return [bucket, arm]


def _bed_height(body: Body) -> float:
    q = body.quad_xy
    return float(0.5 * ((q[3, 1] - q[0, 1]) + (q[2, 1] - q[1, 1])))


def _visible(
    placed: list[_Placed], occluded: np.ndarray, camera: Camera
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Per truck: visible bed and load through the lens, and the whole bed's area there."""
    out = []
    hidden = occluded.copy()
    for p in placed:  # nearest first
        bed = camera.mask_through_lens(p.bed & ~hidden)
        load = camera.mask_through_lens(p.load & ~hidden)
        whole = int(camera.mask_through_lens(p.bed).sum())
        out.append((bed, load, whole))
        hidden |= p.footprint
    return out


def _acceptable(camera: Camera, placed: list[_Placed], visible: list) -> bool:
    if placed and not _in_frame(camera, placed[0].body):
        return False
    areas = [int(bed.sum()) for bed, _, _ in visible]
    for (_, _, whole), area in zip(visible, areas, strict=True):
        if area == 0 or area < MIN_VISIBLE_SHARE * whole:
            return False
    return all(a > b for a, b in itertools.pairwise(areas))


def render_composed(kit: StyleKit, desc: SceneDescription, size_wh: tuple[int, int]) -> Scene:
    """The scene of ``desc`` drawn by ``kit`` at ``size_wh`` (see the module docstring)."""
    w, h = size_wh
    tag = style_tag(kit.name)
    camera = kit.camera(_stream(desc, tag, 0), size_wh)
    backdrop = kit.backdrop(_stream(desc, tag, 1), size_wh)
    placed: list[_Placed] = []
    occluders: list[np.ndarray] = []
    visible: list = []
    for attempt in range(ATTEMPTS):
        placed = _layout(kit, _stream(desc, tag, 2, attempt), desc, camera, backdrop, attempt)
        occluders = (
            _occluder(_stream(desc, tag, 3, attempt), desc.occluder, camera, placed[0])
            if placed
            else []
        )
        occ = np.zeros((h, w), np.uint8)
        for poly in occluders:
            cv2.fillPoly(occ, [np.round(poly * 8).astype(np.int32)], (1,), cv2.LINE_8, 3)
        visible = _visible(placed, occ.astype(bool), camera)
        if _acceptable(camera, placed, visible):
            break
    else:
        raise RuntimeError(
            f"style {kit.name}: no layout of scene {scene_stem(desc.seed, desc.index)} keeps every "
            f"truck in view after {ATTEMPTS} attempts"
        )

    canvas = backdrop.image.copy()
    for i in reversed(range(len(placed))):  # far to near
        _paint_truck(kit, _stream(desc, tag, 4, i), canvas, placed[i], desc.mineral, camera)
    occluder_name = desc.occluder if occluders else "none"
    if occluders:
        colour = kit.occluder_colour(desc.occluder)
        for poly in occluders:
            cv2.fillPoly(canvas, [np.round(poly * 8).astype(np.int32)], colour, cv2.LINE_8, 3)
    lit = kit.finish(_stream(desc, tag, 5), canvas, backdrop)
    image = cv2.convertScaleAbs(camera.through_lens(lit), alpha=255.0)
    jpeg_quality = kit.jpeg_quality(_stream(desc, tag, 6))

    truths = []
    for p, (bed, load, whole) in zip(placed, visible, strict=True):
        box = mask_xyxy(bed)
        assert box is not None  # _acceptable: every truck shows part of its bed
        quad = camera.ideal_to_output_points(camera.body_to_ideal_points(p.body.quad_xy))
        d = p.description
        truths.append(
            SynthTruck(
                bed_mask=bed,
                load_mask=load,
                bed_xyxy=box,
                load_xyxy=mask_xyxy(load),
                fill_level=d.fill_level,
                pit_depth=d.pit_depth,
                balance=d.balance,
                label=d.label,
                view=camera.view,
                facing=d.facing,
                load_shape=d.load_shape,
                mineral=desc.mineral,
                profile=d.profile.astype(np.float64),
                quad_xy=quad,
                occluded_share=1.0 - int(bed.sum()) / max(whole, 1),
            )
        )
    bed_union = np.zeros((h, w), bool)
    load_union = np.zeros((h, w), bool)
    for t in truths:
        bed_union |= t.bed_mask
        load_union |= t.load_mask
    source = next((t for t in truths if t.has_load), truths[0] if truths else None)
    return Scene(
        seed=desc.seed,
        index=desc.index,
        stem=scene_stem(desc.seed, desc.index),
        image_rgb=image,
        bed_mask=bed_union,
        load_mask=load_union,
        trucks=tuple(truths),
        label=desc.label,
        fill_level=source.fill_level if source else 0.0,
        pit_depth=source.pit_depth if source else 0.0,
        balance=source.balance if source else 0.0,
        view=camera.view,
        lighting=backdrop.lighting,
        background=backdrop.background,
        mineral=desc.mineral,
        occluder=occluder_name if truths else "none",
        haze=0.0,
        motion_blur_px=0,
        jpeg_quality=jpeg_quality,
        style=kit.name,
    )


def _paint_truck(
    kit: StyleKit,
    rng: np.random.Generator,
    canvas: np.ndarray,
    p: _Placed,
    mineral: str,
    camera: Camera,
) -> None:
    """Draw one truck in its body plane, warp it into the frame and composite it."""
    h, w = canvas.shape[:2]
    layer = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    for part in p.body.parts:
        _fill(layer, part, part.colour)
        _fill(alpha, part, (1.0,))
    r = p.raster
    x0, y0, x1, y1 = r.window_xyxy
    window = np.ascontiguousarray(layer[y0:y1, x0:x1])
    kit.bed_and_load(rng, window, r, p.body.paint, mineral)
    layer[y0:y1, x0:x1] = window
    alpha[y0:y1, x0:x1][r.bed | r.load] = 1.0
    warped = camera.to_ideal(layer * alpha[:, :, None])
    a = camera.to_ideal(alpha)
    # Where the truth says truck, the image shows truck: exact alpha on the warped masks.
    a[p.bed | p.load] = 1.0
    canvas *= (1.0 - a)[:, :, None]
    canvas += warped
