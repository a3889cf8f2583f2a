"""Split an image's detections/masks into per-truck bed + load pairs.

* :func:`group_trucks` works on the served pipeline's output (one mask per detection).
* :func:`split_trucks_from_masks` works on the union masks given on disk
  (``<stem>_bed.png`` / ``<stem>_load.png``).

Both return trucks sorted by bed area, most prominent first. :func:`scored_truck` picks the
truck a photo's verdict is about (the most prominent one that carries load, :func:`is_loaded`),
for fitting and for serving alike.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from loadcheck.features.profile import first_true_row, last_true_row
from loadcheck.payloads import (
    BED_CLASS_ID,
    LOAD_CLASS_ID,
    Detections,
    PayloadError,
    SegmentationMasks,
    TruckMasks,
)

MIN_X_OVERLAP = 0.5  # share of a load box's width that must lie over the bed box
MIN_BED_AREA_FRACTION = 1e-3  # connected bed components smaller than this share are ignored
MIN_BED_AREA_PX = 16
MIN_LOAD_SHARE = 0.10
"""A truck carries load when its load mask covers at least this share of its bed mask. Fewer
load pixels are segmentation noise (a stray load box on an empty bed, a sliver at its floor), not
mineral: such a truck is empty, and a photo with only such trucks is "No Mine Detected"."""
SCORED_TRUCK_RULE = f"first-loaded;min-load-share={MIN_LOAD_SHARE}"
"""Names the rule of :func:`scored_truck` in feature-cache keys: features cached under another
rule are not reused."""


def is_loaded(truck: TruckMasks) -> bool:
    """Whether ``truck``'s load mask covers at least :data:`MIN_LOAD_SHARE` of its bed mask."""
    load = int(np.count_nonzero(truck.load_mask))
    return load > 0 and load >= MIN_LOAD_SHARE * int(np.count_nonzero(truck.bed_mask))


def loaded_trucks(trucks: list[TruckMasks]) -> list[TruckMasks]:
    """The trucks that carry load (:func:`is_loaded`), in the given (prominence) order."""
    return [t for t in trucks if is_loaded(t)]


def empty_truck(width: int, height: int) -> TruckMasks:
    """A ``width x height`` photo's "no truck": empty masks, zero boxes and scores (its features
    are the "no truck" vector, and it is not loaded)."""
    empty = np.zeros((height, width), bool)
    return TruckMasks(empty, empty, (0.0, 0.0, 0.0, 0.0), None, 0.0, 0.0, 0.0, 0.0)


def scored_truck(trucks: list[TruckMasks]) -> TruckMasks | None:
    """The truck a photo's verdict is about: the most prominent loaded one, else the most
    prominent one (an empty truck), else ``None``. ``trucks``: most prominent first."""
    loaded = loaded_trucks(trucks)
    if loaded:
        return loaded[0]
    return trucks[0] if trucks else None


def _x_overlap(load_xyxy: np.ndarray, bed_xyxy: np.ndarray) -> np.ndarray:
    """float ``[L, B]``: share of each load box's width inside each bed box's x-extent."""
    left = np.maximum(load_xyxy[:, None, 0], bed_xyxy[None, :, 0])
    right = np.minimum(load_xyxy[:, None, 2], bed_xyxy[None, :, 2])
    width = np.maximum(load_xyxy[:, 2] - load_xyxy[:, 0], 1e-6)[:, None]
    return np.clip(right - left, 0.0, None) / width


def _vertical_gap_ok(load_xyxy: np.ndarray, bed_xyxy: np.ndarray) -> np.ndarray:
    """bool ``[L, B]``: the load box is no further than one bed height above/below the bed box."""
    bed_h = (bed_xyxy[:, 3] - bed_xyxy[:, 1])[None, :]
    gap_above = bed_xyxy[None, :, 1] - load_xyxy[:, None, 3]
    gap_below = load_xyxy[:, None, 1] - bed_xyxy[None, :, 3]
    return (gap_above <= bed_h) & (gap_below <= bed_h)


def load_owners(detections: Detections) -> np.ndarray:
    """int ``[L]``: for each load detection (in detection order), the index among the bed
    detections of the bed it joins (see :func:`group_trucks`), ``-1`` for none."""
    bed_idx = np.flatnonzero(detections.class_id == BED_CLASS_ID)
    load_idx = np.flatnonzero(detections.class_id == LOAD_CLASS_ID)
    if load_idx.size == 0 or bed_idx.size == 0:
        return np.full(load_idx.size, -1)
    share = _x_overlap(detections.xyxy[load_idx], detections.xyxy[bed_idx])
    share = np.where(
        _vertical_gap_ok(detections.xyxy[load_idx], detections.xyxy[bed_idx]), share, 0.0
    )
    best = np.argmax(share, axis=1)
    return np.where(share[np.arange(load_idx.size), best] >= MIN_X_OVERLAP, best, -1)


def group_trucks(detections: Detections, masks: SegmentationMasks) -> list[TruckMasks]:
    """Pair each detected bed with the loads whose box lies mostly over it.

    Args:
        detections: N boxes with class ids (:data:`BED_CLASS_ID`, :data:`LOAD_CLASS_ID`).
        masks: N masks, ``masks.mask_hw[i]`` belonging to ``detections.xyxy[i]``.

    A load joins the bed over which at least half of its box width lies (the largest share wins)
    and whose box is within one bed height vertically; several loads of one bed are merged.
    Returns one :class:`TruckMasks` per bed, sorted by bed mask area (largest first).
    """
    if len(masks) != len(detections):
        raise PayloadError(
            f"group_trucks: expected one mask per detection, got {len(masks)} masks for "
            f"{len(detections)} detections"
        )
    bed_idx = np.flatnonzero(detections.class_id == BED_CLASS_ID)
    if bed_idx.size == 0:
        return []
    load_idx = np.flatnonzero(detections.class_id == LOAD_CLASS_ID)
    owner = load_owners(detections)
    trucks: list[tuple[int, TruckMasks]] = []
    for b, det in enumerate(bed_idx):
        bed_mask = masks.mask_hw[det]
        mine = load_idx[owner == b]
        if mine.size:
            load_mask = np.any(masks.mask_hw[mine], axis=0)
            boxes = detections.xyxy[mine]
            load_xyxy: tuple[float, float, float, float] | None = (
                float(boxes[:, 0].min()),
                float(boxes[:, 1].min()),
                float(boxes[:, 2].max()),
                float(boxes[:, 3].max()),
            )
            load_conf = float(detections.confidence[mine].max())
            load_iou = float(masks.iou_prediction[mine].max())
        else:
            load_mask = np.zeros_like(bed_mask)
            load_xyxy, load_conf, load_iou = None, 0.0, 0.0
        truck = TruckMasks(
            bed_mask=bed_mask,
            load_mask=load_mask,
            bed_xyxy=tuple(float(v) for v in detections.xyxy[det]),  # type: ignore[arg-type]
            load_xyxy=load_xyxy,
            bed_confidence=float(detections.confidence[det]),
            load_confidence=load_conf,
            bed_mask_iou=float(masks.iou_prediction[det]),
            load_mask_iou=load_iou,
        )
        trucks.append((int(np.count_nonzero(bed_mask)), truck))
    trucks.sort(key=lambda item: -item[0])
    return [t for _, t in trucks]


def _box_of(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


MERGE_MAX_GAP = 0.15  # share of the wider piece's width
MERGE_ROW_TOLERANCE = 0.2  # top and bottom rows may differ by this share of the taller height
CUT_JUMP = 0.25  # a jump of the bed's top or bottom row by this share of its height is a cut
STACKED = 1.25  # a piece this much taller than the widest one holds two stacked beds
NEST_TOLERANCE = 0.1  # rows, in piece heights, a nested piece may stick out
SLIVER = 0.1  # cut pieces narrower than this share of their component are slivers


@dataclass(frozen=True)
class _Piece:
    """Columns ``x1..x2`` (inclusive) of connected component ``label``; rows ``y1..y2``."""

    label: int
    x1: int
    x2: int
    y1: int
    y2: int
    area: int


def _pieces(labels: np.ndarray, label: int, stats: np.ndarray) -> list[_Piece]:
    """Cut one component where its top or bottom row jumps (two touching beds)."""
    x0, y0 = int(stats[label, cv2.CC_STAT_LEFT]), int(stats[label, cv2.CC_STAT_TOP])
    w, h = int(stats[label, cv2.CC_STAT_WIDTH]), int(stats[label, cv2.CC_STAT_HEIGHT])
    crop = labels[y0 : y0 + h, x0 : x0 + w] == label
    has = crop.any(axis=0)
    cols = np.flatnonzero(has)
    top = first_true_row(crop)[cols]
    bottom = last_true_row(crop)[cols]
    height = max(1.0, float(np.median(bottom - top + 1)))
    jumps = (np.abs(np.diff(top)) > CUT_JUMP * height) | (
        np.abs(np.diff(bottom)) > CUT_JUMP * height
    )
    bounds = [0, *(np.flatnonzero(jumps) + 1).tolist(), len(cols)]
    out = []
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        area = int(np.count_nonzero(crop[:, cols[a] : cols[b - 1] + 1]))
        out.append(
            _Piece(
                label,
                x0 + int(cols[a]),
                x0 + int(cols[b - 1]),
                y0 + int(top[a:b].min()),
                y0 + int(bottom[a:b].max()),
                area,
            )
        )
    return out


def _nested(a: _Piece, b: _Piece, tol: float) -> bool:
    """One piece's rows lie within the other's (an occluder only removes pixels)."""
    return (a.y1 - tol <= b.y1 and b.y2 <= a.y2 + tol) or (
        b.y1 - tol <= a.y1 and a.y2 <= b.y2 + tol
    )


def _y_iou(a: _Piece, b: _Piece) -> float:
    inter = min(a.y2, b.y2) - max(a.y1, b.y1) + 1
    union = max(a.y2, b.y2) - min(a.y1, b.y1) + 1
    return max(inter, 0) / union


def _join_cut_pieces(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Re-join the left-to-right pieces of one component.

    Slivers (narrower than 10% of the component) join the neighbour whose rows match best; wide
    neighbours join when one's rows lie within the other's (an occluder took the top or bottom)
    and neither is 25% taller than the widest piece (two beds stacked in those columns); they
    stay apart otherwise (two touching beds).
    """
    total = pieces[-1].x2 - pieces[0].x1 + 1
    wide = [p.x2 - p.x1 + 1 >= SLIVER * total for p in pieces]
    if not any(wide):
        return [pieces]
    widest = max(pieces, key=lambda p: p.x2 - p.x1)
    normal = widest.y2 - widest.y1 + 1
    groups: list[list[_Piece]] = []
    pending: list[_Piece] = []  # slivers waiting for the next wide piece
    last: _Piece | None = None  # the last wide piece, in groups[-1]
    for piece, is_wide in zip(pieces, wide, strict=True):
        if not is_wide:
            pending.append(piece)
            continue
        tol = NEST_TOLERANCE * (piece.y2 - piece.y1 + 1)
        tall = max(last.y2 - last.y1, piece.y2 - piece.y1) + 1 if last is not None else 0
        if last is not None and _nested(last, piece, tol) and tall <= STACKED * normal:
            groups[-1].extend([*pending, piece])
        else:
            new_group = [piece]
            for sliver in pending:
                if last is not None and _y_iou(sliver, last) >= _y_iou(sliver, piece):
                    groups[-1].append(sliver)
                else:
                    new_group.append(sliver)
            groups.append(new_group)
        last, pending = piece, []
    groups[-1].extend(pending)
    return groups


def _box(group: list[_Piece]) -> tuple[int, int, int, int]:
    return (
        min(p.x1 for p in group),
        min(p.y1 for p in group),
        max(p.x2 for p in group),
        max(p.y2 for p in group),
    )


def _merge_pieces(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Group pieces into beds: cut pieces of one component first, then across components.

    Separate components merge when the horizontal gap between them is at most 15% of the wider
    one's width and their top and bottom rows differ by at most 20% of the taller one's height
    (a bed cut by a pole). Groups are sorted by total area, largest first.
    """
    by_label: dict[int, list[_Piece]] = {}
    for piece in pieces:
        by_label.setdefault(piece.label, []).append(piece)
    groups = [g for comp in by_label.values() for g in _join_cut_pieces(comp)]
    parent = list(range(len(groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    boxes = [_box(g) for g in groups]
    for i, (ax1, ay1, ax2, ay2) in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            if groups[i][0].label == groups[j][0].label:
                continue  # pieces of one component were judged by _join_cut_pieces
            bx1, by1, bx2, by2 = boxes[j]
            gap = max(ax1, bx1) - min(ax2, bx2) - 1
            wide = max(ax2 - ax1 + 1, bx2 - bx1 + 1)
            tol = MERGE_ROW_TOLERANCE * max(ay2 - ay1 + 1, by2 - by1 + 1)
            if 0 <= gap <= MERGE_MAX_GAP * wide and abs(ay1 - by1) <= tol and abs(ay2 - by2) <= tol:
                parent[root(j)] = root(i)
    merged: dict[int, list[_Piece]] = {}
    for i, group in enumerate(groups):
        merged.setdefault(root(i), []).extend(group)
    return sorted(merged.values(), key=lambda g: -sum(p.area for p in g))


LOAD_HEADROOM = 2.0  # bed heights above a bed's top that its load may reach


def _load_owner(beds: list[np.ndarray], load: np.ndarray) -> np.ndarray:
    """int ``[H, W]``: the index of the bed each load pixel belongs to, -1 for none.

    A load pixel belongs to the bed it lies in; above the beds, to the nearest bed below it in
    its column whose top is at most two bed heights lower (hidden bed columns take the top
    interpolated from the visible ones). Other load pixels belong to no bed.
    """
    owner = np.full(load.shape, -1, np.int32)
    ys, xs = np.nonzero(load)
    if ys.size == 0:
        return owner
    best = np.full(ys.size, np.inf)
    choice = np.full(ys.size, -1, np.int32)
    for k, one_bed in enumerate(beds):
        has = one_bed.any(axis=0)
        cols = np.flatnonzero(has)
        top_visible = first_true_row(one_bed)[cols].astype(np.float64)
        bottom = last_true_row(one_bed)[cols]
        height = max(1.0, float(np.median(bottom - top_visible + 1)))
        top = np.full(load.shape[1], np.inf)
        top[cols[0] : cols[-1] + 1] = np.interp(np.arange(cols[0], cols[-1] + 1), cols, top_visible)
        dist = top[xs] - ys  # > 0 above the bed's top
        dist = np.where(one_bed[ys, xs], 0.0, dist)
        ok = (dist >= 0) & (dist <= LOAD_HEADROOM * height) & (dist < best)
        best = np.where(ok, dist, best)
        choice = np.where(ok, k, choice)
    owner[ys, xs] = choice
    return owner


def split_trucks_from_masks(bed_mask: np.ndarray, load_mask: np.ndarray) -> list[TruckMasks]:
    """Per-truck masks from union masks (bool or 0/255 ``[H, W]``).

    Beds are the connected components of ``bed_mask`` (components under 0.1% of the image or
    16 px are dropped), cut where their top or bottom row jumps by a quarter of their height
    (two touching beds), then re-joined where pieces line up across a narrow gap (a bed cut by
    an occluder). Each load pixel goes to the bed it lies in, else to the nearest bed below it
    in its column (at most two bed heights down); other load pixels are dropped.
    Sorted by bed area, largest first. An empty bed mask gives ``[]``.
    """
    bed = np.asarray(bed_mask) > 0
    load = np.asarray(load_mask) > 0
    if bed.ndim != 2 or bed.shape != load.shape:
        raise PayloadError(
            f"split_trucks_from_masks: expected two [H, W] masks of one shape, got {bed.shape} "
            f"and {load.shape}"
        )
    count, labels_mat, stats_mat, _ = cv2.connectedComponentsWithStats(
        bed.astype(np.uint8),
        connectivity=8,
    )
    labels, stats = np.asarray(labels_mat), np.asarray(stats_mat)
    min_area = max(MIN_BED_AREA_PX, MIN_BED_AREA_FRACTION * bed.size)
    pieces = [
        p
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] >= min_area
        for p in _pieces(labels, i, stats)
    ]
    if not pieces:
        return []
    groups = _merge_pieces(pieces)
    beds = []
    for group in groups:
        one_bed = np.zeros_like(bed)
        for p in group:
            one_bed[:, p.x1 : p.x2 + 1] |= labels[:, p.x1 : p.x2 + 1] == p.label
        beds.append(one_bed)
    owner = _load_owner(beds, load)
    trucks = []
    for k, one_bed in enumerate(beds):
        one_load = owner == k
        bed_box = _box_of(one_bed)
        assert bed_box is not None
        trucks.append(
            TruckMasks(
                bed_mask=one_bed,
                load_mask=one_load,
                bed_xyxy=bed_box,
                load_xyxy=_box_of(one_load),
            )
        )
    trucks.sort(key=lambda t: -int(np.count_nonzero(t.bed_mask)))
    return trucks
