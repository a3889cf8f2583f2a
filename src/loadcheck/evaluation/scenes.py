"""Held-out synthetic scenes with their truth, rendered once and cached as ``.npz`` (no pickle).

A :class:`TruthScene` is what every evaluation scores against: the scene's JPEG bytes (decoded
as a served photo is), its true verdict, and per truck the visible bed and load masks and boxes.
Scenes are rendered by :func:`loadcheck.synth.render_scene` (another scene style:
:func:`loadcheck.synth.styles.render_styled`) and cached under
``<cache>/s<seed>_<W>x<H>[_<style>]_<fingerprint>/<stem>.npz`` (no style part for the default
``classic``), where the fingerprint hashes the ``loadcheck.synth`` sources, its styles included
(:func:`synth_fingerprint`): a changed renderer never reuses stale scenes. The cache files
hold arrays only and are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID, Detections

#: Class names by loadcheck class id (``BED_CLASS_ID`` 0, ``LOAD_CLASS_ID`` 1).
CLASSES: tuple[str, str] = ("bed", "load")


@dataclass(frozen=True)
class TruthScene:
    """One held-out scene: its JPEG bytes and per-truck truth (trucks most prominent first).

    Attributes:
        stem: the scene's file stem (:func:`loadcheck.synth.scene.scene_stem`).
        jpeg: the encoded photo.
        label: the true verdict (a :class:`~loadcheck.payloads.Verdict` value).
        masks: ``masks[c]`` bool ``[T_c, H, W]``, the visible masks of class ``c`` (0 bed, 1 load).
        boxes: ``boxes[c]`` float64 ``[T_c, 4]``, their xyxy boxes in pixels.
        trucks: ``trucks[c]`` int64 ``[T_c]``, the truck index of each (loads exist only for
            loaded trucks).
    """

    stem: str
    jpeg: bytes
    label: str
    masks: tuple[np.ndarray, np.ndarray]
    boxes: tuple[np.ndarray, np.ndarray]
    trucks: tuple[np.ndarray, np.ndarray]

    def __post_init__(self) -> None:
        for c, name in enumerate(CLASSES):
            n = len(self.trucks[c])
            if len(self.masks[c]) != n or np.asarray(self.boxes[c]).reshape(-1, 4).shape[0] != n:
                raise ValueError(
                    f"{self.stem}: {name}: expected one mask and one box per truck index, got "
                    f"{len(self.masks[c])} masks, {len(self.boxes[c])} boxes, {n} truck indices"
                )


def synth_fingerprint() -> str:
    """Short hash of the ``loadcheck.synth`` sources: a new renderer invalidates the cache."""
    import loadcheck.synth

    digest = hashlib.sha256()
    root = Path(loadcheck.synth.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def scene_folder(cache: Path, seed: int, size_wh: tuple[int, int], style: str = "classic") -> Path:
    """The cache folder of ``seed``'s scenes at ``size_wh`` in ``style`` (created)."""
    tag = "" if style == "classic" else f"_{style}"
    folder = cache / f"s{seed}_{size_wh[0]}x{size_wh[1]}{tag}_{synth_fingerprint()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def render_truth(
    seed: int, index: int, size_wh: tuple[int, int], style: str = "classic"
) -> dict[str, np.ndarray]:
    """Scene ``index`` of ``seed`` in ``style`` as the arrays of its cache file (masks
    bit-packed)."""
    from loadcheck.synth import render_scene
    from loadcheck.synth.styles import render_styled

    if style == "classic":
        scene = render_scene(seed, index, size_wh)
    else:
        scene = render_styled(seed, index, size_wh, style)
    w, h = size_wh
    out: dict[str, np.ndarray] = {
        "jpeg": np.frombuffer(scene.encode_jpeg(), np.uint8),
        "label": np.array(scene.label.value),
        "shape_hw": np.array([h, w]),
    }
    for c, name in enumerate(CLASSES):
        kept = [(i, t) for i, t in enumerate(scene.trucks) if c == 0 or t.load_xyxy is not None]
        masks = np.array([t.bed_mask if c == 0 else t.load_mask for _, t in kept], bool)
        out[f"{name}_bits"] = np.packbits(masks.reshape(len(kept), h * w), axis=1)
        out[f"{name}_xyxy"] = np.array(
            [t.bed_xyxy if c == 0 else t.load_xyxy for _, t in kept], np.float64
        ).reshape(-1, 4)
        out[f"{name}_truck"] = np.array([i for i, _ in kept], np.int64)
    return out


def _write_atomically(path: Path, data: dict[str, np.ndarray]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_scene(
    folder: Path, seed: int, index: int, size_wh: tuple[int, int], style: str = "classic"
) -> TruthScene:
    """Scene ``index`` of ``seed`` from ``folder`` (:func:`scene_folder` of the same ``style``),
    rendered and cached atomically if absent."""
    from loadcheck.synth.scene import scene_stem

    stem = scene_stem(seed, index)
    path = folder / f"{stem}.npz"
    if not path.is_file():
        _write_atomically(path, render_truth(seed, index, size_wh, style))
    with np.load(path, allow_pickle=False) as data:
        h, w = (int(v) for v in data["shape_hw"])
        masks, boxes, trucks = [], [], []
        for name in CLASSES:
            n = len(data[f"{name}_truck"])
            bits = np.unpackbits(data[f"{name}_bits"], axis=1, count=h * w)
            masks.append(bits.reshape(n, h, w).astype(bool))
            boxes.append(data[f"{name}_xyxy"])
            trucks.append(data[f"{name}_truck"])
        return TruthScene(
            stem,
            data["jpeg"].tobytes(),
            str(data["label"]),
            (masks[0], masks[1]),
            (boxes[0], boxes[1]),
            (trucks[0], trucks[1]),
        )


def true_detections(scene: TruthScene) -> Detections:
    """The scene's true boxes as detections of confidence 1: its beds, then its loads, each in
    the scene's order (so the ``k``-th of class ``c`` is ``scene.boxes[c][k]``)."""
    xyxy = np.concatenate(scene.boxes).astype(np.float32).reshape(-1, 4)
    class_id = np.repeat([BED_CLASS_ID, LOAD_CLASS_ID], [len(b) for b in scene.boxes])
    return Detections(xyxy, np.ones(len(xyxy), np.float32), class_id.astype(np.int32))


def true_prompts(scene: TruthScene) -> Detections:
    """The scene's true boxes as serving's prompts (beds, then loads; ``select_prompts``)."""
    from loadcheck.pipeline.prompts import select_prompts

    return select_prompts(true_detections(scene))
