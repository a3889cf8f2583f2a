"""Truck geometry: where the bed, the load and the other body parts of one truck lie in the image.

Coordinates are continuous image pixels (x right, y down); pixel ``(col, row)`` has its centre at
``(col + 0.5, row + 0.5)``. The bed (carriage) is a convex quadrilateral ``quad_xy`` with corners
(rim front, rim back, floor back, floor front). The *rim line* runs through the two rim corners
and the *floor line* through the two floor corners. For an image column with centre ``x`` the load
top lies at ``y_floor(x) - h(u(x)) * (y_floor(x) - y_rim(x))`` where ``h`` is the height profile
(bed heights, see :mod:`loadcheck.synth.profiles`) and ``u(x)`` is the position along the rim
(0 = front, 1 = back). So:

* **bed mask** = every pixel inside the quad: the whole carriage from floor to rim, including
  where load sits inside it. It is exactly the loadable region, so
  ``fill_level = |load ∩ bed| / |bed|``. Tailgate faces, outer wall faces, cab, chassis and
  wheels are *not* bed.
* **load mask** = pixels inside the bed at or below the load top, plus pixels above the rim line
  up to the load top where the load is heaped (``h > 1``), only over the rim's x-extent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from loadcheck.synth.profiles import MAX_HEAP, PROFILE_STATIONS


class View(StrEnum):
    SIDE = "side"
    REAR_THREE_QUARTER = "rear_three_quarter"
    ELEVATED = "elevated"


VIEWS: tuple[str, ...] = tuple(v.value for v in View)


class PartRole(StrEnum):
    """What a body part is painted with."""

    PAINT = "paint"  # the truck's paint colour
    PAINT_DARK = "paint_dark"  # shaded faces (tailgate, outer walls)
    CHASSIS = "chassis"
    TYRE = "tyre"
    HUB = "hub"
    GLASS = "glass"


class Outline(Protocol):
    """A painted part's outline: a polygon, or with ``ellipse`` ``[[cx, cy], [ax, ay]]``."""

    @property
    def points_xy(self) -> np.ndarray: ...

    @property
    def ellipse(self) -> bool: ...


def extent_xyxy(
    points: list[np.ndarray], parts: Iterable[Outline]
) -> tuple[float, float, float, float]:
    """Box ``(x0, y0, x1, y1)`` around ``points`` (float ``[K, 2]`` arrays) and ``parts``."""
    pts = list(points)
    for part in parts:
        if part.ellipse:
            c, a = part.points_xy
            pts.append(np.array([c - a, c + a]))
        else:
            pts.append(part.points_xy)
    allp = np.concatenate(pts)
    return (
        float(allp[:, 0].min()),
        float(allp[:, 1].min()),
        float(allp[:, 0].max()),
        float(allp[:, 1].max()),
    )


@dataclass(frozen=True)
class Part:
    """A painted body part: a polygon (``points_xy`` float [K, 2]) or an ellipse.

    An ellipse has ``points_xy`` = [[cx, cy], [ax, ay]] (centre and half-axes in pixels).
    """

    role: PartRole
    points_xy: np.ndarray
    ellipse: bool = False


@dataclass(frozen=True)
class TruckLayout:
    """One truck's geometry in image pixels (see the module docstring).

    Attributes:
        view: the camera view the truck is drawn in.
        facing: ``"left"`` when the cab is on the left of the bed, else ``"right"``.
        quad_xy: float64 ``[4, 2]`` bed corners (rim front, rim back, floor back, floor front).
        parts: body parts painted before the bed, back to front.
    """

    view: View
    facing: str
    quad_xy: np.ndarray
    parts: tuple[Part, ...]

    @property
    def bed_height_px(self) -> float:
        """Mean vertical distance between the rim and the floor corners, in pixels."""
        q = self.quad_xy
        return float(0.5 * ((q[3, 1] - q[0, 1]) + (q[2, 1] - q[1, 1])))

    @property
    def rim_length_px(self) -> float:
        return float(abs(self.quad_xy[1, 0] - self.quad_xy[0, 0]))

    def extent_xyxy(self) -> tuple[float, float, float, float]:
        """Box around the bed, its highest possible heap and every body part, in pixels."""
        heap = self.quad_xy - [0.0, (MAX_HEAP - 1.0) * self.bed_height_px * 1.6]
        return extent_xyxy([self.quad_xy, heap], self.parts)


def _line_y(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> np.ndarray:
    dx = q[0] - p[0]
    slope = (q[1] - p[1]) / dx if abs(dx) > 1e-9 else 0.0
    return p[1] + (x - p[0]) * slope


@dataclass(frozen=True)
class BedRaster:
    """Bed and load of one truck rasterised inside a window of the image.

    Attributes:
        window_xyxy: integer window (x0, y0, x1, y1), the masks cover ``[y0:y1, x0:x1]``.
        bed: bool ``[y1-y0, x1-x0]`` bed pixels (see the module docstring).
        load: bool ``[y1-y0, x1-x0]`` load pixels (inside the bed and heaped above the rim).
        y_rim / y_floor / y_load: float64 ``[x1-x0]`` per-column rim, floor and load-top rows.
        u: float64 ``[x1-x0]`` position along the rim per column (0 front, 1 back, clipped).
    """

    window_xyxy: tuple[int, int, int, int]
    bed: np.ndarray
    load: np.ndarray
    y_rim: np.ndarray
    y_floor: np.ndarray
    y_load: np.ndarray
    u: np.ndarray


def rasterize_bed(layout: TruckLayout, profile: np.ndarray, size_wh: tuple[int, int]) -> BedRaster:
    """Rasterise the bed quad and the load of ``profile`` (float [STATIONS], bed heights)."""
    w, h = size_wh
    q = layout.quad_xy
    heap_px = (MAX_HEAP - 1.0) * 1.6 * layout.bed_height_px
    x0 = max(int(np.floor(q[:, 0].min())), 0)
    x1 = min(int(np.ceil(q[:, 0].max())) + 1, w)
    y0 = max(int(np.floor(q[:, 1].min() - heap_px)), 0)
    y1 = min(int(np.ceil(q[:, 1].max())) + 1, h)
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    xc = np.arange(x0, x1, dtype=np.float64) + 0.5
    yc = (np.arange(y0, y1, dtype=np.float64) + 0.5)[:, None]

    inside_pos = np.ones((len(yc), len(xc)), bool)
    inside_neg = np.ones((len(yc), len(xc)), bool)
    for i in range(4):
        p, r = q[i], q[(i + 1) % 4]
        cross = (r[0] - p[0]) * (yc - p[1]) - (r[1] - p[1]) * (xc[None, :] - p[0])
        inside_pos &= cross >= 0
        inside_neg &= cross <= 0
    bed = inside_pos | inside_neg

    y_rim = _line_y(q[0], q[1], xc)
    y_floor = _line_y(q[3], q[2], xc)
    span = q[1, 0] - q[0, 0]
    u = np.clip((xc - q[0, 0]) / span, 0.0, 1.0) if abs(span) > 1e-9 else np.zeros_like(xc)
    stations = np.linspace(0.0, 1.0, PROFILE_STATIONS)
    heights = np.interp(u, stations, np.asarray(profile, np.float64))
    y_load = y_floor - heights * (y_floor - y_rim)
    if float(np.max(profile)) <= 0.0:
        load = np.zeros_like(bed)
    else:
        below_top = yc >= y_load[None, :]
        lo, hi = sorted((q[0, 0], q[1, 0]))
        in_rim_x = (xc >= lo) & (xc <= hi)
        above = below_top & (yc < y_rim[None, :]) & in_rim_x[None, :]
        load = (bed & below_top) | above
    return BedRaster((x0, y0, x1, y1), bed, load, y_rim, y_floor, y_load, u)


# --- Layouts per view ----------------------------------------------------------------------------


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def _wheel(cx: float, cy: float, r: float, squash: float = 1.0) -> tuple[Part, Part]:
    return (
        Part(PartRole.TYRE, np.array([[cx, cy], [r * squash, r]]), ellipse=True),
        Part(PartRole.HUB, np.array([[cx, cy], [0.45 * r * squash, 0.45 * r]]), ellipse=True),
    )


def _side_layout(rng: np.random.Generator, x0: float, y_r: float, length: float) -> list:
    height = length * rng.uniform(0.26, 0.36)
    tilt = rng.uniform(0.0, 0.05) * length
    taper_front = rng.uniform(0.03, 0.12) * length
    taper_back = rng.uniform(0.0, 0.1) * length
    quad = np.array(
        [
            [x0, y_r],
            [x0 + length, y_r - tilt],
            [x0 + length - taper_back, y_r + height],
            [x0 + taper_front, y_r + height],
        ]
    )
    floor = y_r + height
    chassis_h = 0.16 * height
    cab_w = rng.uniform(0.22, 0.32) * length
    cab_top = y_r + rng.uniform(-0.15, 0.2) * height
    cab_x1 = x0 - 0.03 * length
    cab_x0 = cab_x1 - cab_w
    wheel_r = rng.uniform(0.34, 0.42) * height
    wheel_y = floor + chassis_h + 0.45 * wheel_r
    parts: list[Part] = [
        Part(PartRole.CHASSIS, _rect(cab_x0, floor, x0 + 0.95 * length, floor + chassis_h)),
        Part(PartRole.PAINT, _rect(cab_x0, cab_top, cab_x1, floor + chassis_h)),
        Part(
            PartRole.GLASS,
            _rect(
                cab_x0 + 0.12 * cab_w,
                cab_top + 0.12 * height,
                cab_x1 - 0.25 * cab_w,
                cab_top + 0.45 * (floor - cab_top),
            ),
        ),
        # The canopy of a dump body reaching over the cab.
        Part(
            PartRole.PAINT_DARK,
            np.array(
                [
                    [x0, y_r],
                    [cab_x0 + 0.3 * cab_w, y_r - 0.02 * height],
                    [cab_x0 + 0.3 * cab_w, y_r + 0.06 * height],
                    [x0, y_r + 0.12 * height],
                ]
            ),
        ),
    ]
    parts += _wheel(cab_x0 + 0.5 * cab_w, wheel_y, wheel_r)
    parts += _wheel(x0 + 0.62 * length, wheel_y, wheel_r)
    if rng.random() < 0.5:
        parts += _wheel(x0 + 0.62 * length + 2.1 * wheel_r, wheel_y, wheel_r)
    return [quad, parts]


def _rear_layout(rng: np.random.Generator, x0: float, y_r: float, length: float) -> list:
    height = length * rng.uniform(0.28, 0.38)
    persp = rng.uniform(0.15, 0.35)
    h_front, h_back = height * (1.0 - 0.5 * persp), height * (1.0 + persp)
    drop = persp * height * 0.7
    quad = np.array(
        [
            [x0, y_r],
            [x0 + length, y_r + drop],
            [x0 + length, y_r + drop + h_back],
            [x0 + rng.uniform(0.02, 0.08) * length, y_r + h_front],
        ]
    )
    depth = np.array([rng.uniform(0.12, 0.2) * length, 0.1 * height])
    tail = np.array([quad[1], quad[1] + depth, quad[2] + depth, quad[2]])
    cab_w = 0.2 * length
    cab = _rect(x0 - cab_w, y_r - 0.05 * height, x0 - 0.02 * length, y_r + 1.05 * h_front)
    chassis = np.array(
        [
            [x0 - cab_w, quad[3, 1]],
            [quad[2, 0] + depth[0], quad[2, 1] + depth[1]],
            [quad[2, 0] + depth[0], quad[2, 1] + depth[1] + 0.18 * h_back],
            [x0 - cab_w, quad[3, 1] + 0.14 * h_front],
        ]
    )
    parts: list[Part] = [Part(PartRole.CHASSIS, chassis), Part(PartRole.PAINT, cab)]
    parts.append(
        Part(PartRole.GLASS, _rect(x0 - 0.9 * cab_w, y_r + 0.1 * height, x0 - 0.35 * cab_w, y_r))
    )
    r_front, r_back = 0.32 * h_front, 0.4 * h_back
    parts += _wheel(x0 - 0.5 * cab_w, quad[3, 1] + 0.14 * h_front + 0.3 * r_front, r_front, 0.7)
    parts += _wheel(
        x0 + 0.75 * length, quad[2, 1] + 0.1 * h_back + 0.3 * r_back - 0.1 * drop, r_back, 0.7
    )
    parts.append(Part(PartRole.PAINT_DARK, tail))
    return [quad, parts]


def _elevated_layout(rng: np.random.Generator, x0: float, y_r: float, length: float) -> list:
    height = length * rng.uniform(0.45, 0.6)
    inset = rng.uniform(0.02, 0.06) * length
    quad = np.array(
        [
            [x0 + inset, y_r],
            [x0 + length - inset, y_r],
            [x0 + length, y_r + height],
            [x0, y_r + height],
        ]
    )
    wall = 0.22 * height
    outer = _rect(x0, y_r + height, x0 + length, y_r + height + wall)
    cab_w = 0.22 * length
    cab = _rect(x0 - cab_w, y_r + 0.15 * height, x0 - 0.02 * length, y_r + height + wall)
    glass = _rect(x0 - 0.85 * cab_w, y_r + 0.25 * height, x0 - 0.2 * cab_w, y_r + 0.6 * height)
    parts: list[Part] = [Part(PartRole.PAINT, cab), Part(PartRole.GLASS, glass)]
    wheel_r = 0.25 * height
    wy = y_r + height + wall + 0.2 * wheel_r
    parts += _wheel(x0 - 0.5 * cab_w, wy, wheel_r, 0.6)
    parts += _wheel(x0 + 0.7 * length, wy, wheel_r, 0.6)
    parts.append(Part(PartRole.PAINT_DARK, outer))
    return [quad, parts]


_LAYOUTS = {
    View.SIDE: _side_layout,
    View.REAR_THREE_QUARTER: _rear_layout,
    View.ELEVATED: _elevated_layout,
}


def make_layout(
    view: View | str,
    rng: np.random.Generator,
    *,
    x0: float,
    y_rim: float,
    rim_length_px: float,
    facing: str,
) -> TruckLayout:
    """Lay out one truck whose rim starts at ``(x0, y_rim)`` with the cab on the left, then
    mirror it about its own centre when ``facing == "right"``."""
    v = View(view)
    quad, parts = _LAYOUTS[v](rng, x0, y_rim, rim_length_px)
    layout = TruckLayout(v, "left", quad, tuple(parts))
    if facing == "right":
        x_lo, _, x_hi, _ = layout.extent_xyxy()
        axis = x_lo + x_hi

        def flip(points: np.ndarray, ellipse: bool) -> np.ndarray:
            out = points.copy()
            if ellipse:
                out[0, 0] = axis - out[0, 0]
            else:
                out[:, 0] = axis - out[:, 0]
            return out

        layout = TruckLayout(
            v,
            "right",
            flip(quad, False),
            tuple(Part(p.role, flip(p.points_xy, p.ellipse), p.ellipse) for p in parts),
        )
    return layout


def shift_layout(layout: TruckLayout, dx: float, dy: float) -> TruckLayout:
    """The same truck moved by ``(dx, dy)`` pixels."""
    d = np.array([dx, dy])

    def move(points: np.ndarray, ellipse: bool) -> np.ndarray:
        out = points.copy()
        if ellipse:
            out[0] += d
        else:
            out += d
        return out

    return TruckLayout(
        layout.view,
        layout.facing,
        layout.quad_xy + d,
        tuple(Part(p.role, move(p.points_xy, p.ellipse), p.ellipse) for p in layout.parts),
    )
