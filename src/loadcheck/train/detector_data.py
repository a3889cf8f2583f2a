"""A YOLO-format dataset (``data.yaml`` + ``images/`` + ``labels/``) fed to YOLOv6's loss.

Layout (what ``loadcheck synth`` writes under ``yolo/``, and the usual YOLO layout)::

    data.yaml                 train: <images dir>, val: <images dir>, nc: C, names: [...]
    .../images/<split>/x.jpg  the photos
    .../labels/<split>/x.txt  one line per box: "class cx cy w h", normalised to [0, 1]

Relative paths in ``data.yaml`` are taken from its ``path:`` key, else from its folder. Each
image is letterboxed exactly as the serving ``preprocess`` model does
(:func:`loadcheck.pipeline.preprocess.letterbox`: aspect kept, centred, grey 114 padding), so the
detector trains on what it will see.

Targets use YOLOv6's training format: float32 ``[n, 6]`` rows ``(image index in batch, class,
cx, cy, w, h)`` with the box normalised to the S x S letterboxed input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from loadcheck.imageio import ImageDecodeError, decode_image, is_image_name
from loadcheck.pipeline.preprocess import LETTERBOX_PAD_VALUE, letterbox
from loadcheck.train.augment import PhotometricAugment, augment_photo
from loadcheck.train.common import TrainError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class YoloSample:
    """One image and its boxes.

    Attributes:
        image: path of the photo.
        labels: float32 ``[n, 5]``: class, cx, cy, w, h normalised to the original image.
    """

    image: Path
    labels: np.ndarray


@dataclass(frozen=True)
class YoloDataset:
    """A parsed ``data.yaml``: class names and the train/val samples."""

    yaml_path: Path
    names: tuple[str, ...]
    train: tuple[YoloSample, ...]
    val: tuple[YoloSample, ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)


def find_data_yaml(data: Path) -> Path:
    """``data`` itself when it is a ``.yaml`` file, else ``data/data.yaml``."""
    if data.is_file() and data.suffix in (".yaml", ".yml"):
        return data
    candidate = data / "data.yaml"
    if not candidate.is_file():
        raise TrainError(
            f"data: {data} has no data.yaml; expected a YOLO dataset folder (data.yaml with "
            "train/val image folders, nc and names), e.g. the output of 'loadcheck synth'"
        )
    return candidate


def load_yolo_dataset(data: Path) -> YoloDataset:
    """Parse ``data.yaml`` and every label file; :class:`TrainError` names what is wrong."""
    yaml_path = find_data_yaml(data)
    try:
        doc: Any = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrainError(f"{yaml_path}: not readable YAML: {exc}") from exc
    if not isinstance(doc, dict) or "train" not in doc or "names" not in doc:
        raise TrainError(f"{yaml_path}: expected a mapping with 'train', 'val', 'nc' and 'names'")
    names = _names(doc, yaml_path)
    base = Path(doc["path"]) if doc.get("path") else yaml_path.parent
    if not base.is_absolute():
        base = yaml_path.parent / base
    train = _read_split(_resolve(doc["train"], base), len(names), "train")
    val = _read_split(_resolve(doc.get("val") or doc["train"], base), len(names), "val")
    if not train:
        raise TrainError(f"{yaml_path}: the train split has no images")
    if not any(len(s.labels) for s in train):
        raise TrainError(
            f"{yaml_path}: no train image has a box; expected label files under a 'labels' "
            "folder beside 'images' (labels/<split>/<stem>.txt, 'class cx cy w h' per line)"
        )
    return YoloDataset(yaml_path, names, tuple(train), tuple(val))


def _names(doc: dict[str, Any], yaml_path: Path) -> tuple[str, ...]:
    raw = doc["names"]
    names = [str(raw[k]) for k in sorted(raw)] if isinstance(raw, dict) else [str(n) for n in raw]
    nc = int(doc.get("nc", len(names)))
    if nc != len(names) or nc < 1:
        raise TrainError(f"{yaml_path}: nc is {nc} but names lists {len(names)} classes")
    return tuple(names)


def _resolve(value: Any, base: Path) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else base / path


def label_path_for(image: Path) -> Path:
    """``.../images/train/x.jpg`` -> ``.../labels/train/x.txt`` (last ``images`` component)."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def _read_split(folder: Path, num_classes: int, split: str) -> list[YoloSample]:
    if not folder.is_dir():
        raise TrainError(f"data.yaml {split}: {folder} is not a folder of images")
    images = sorted(p for p in folder.iterdir() if is_image_name(p.name))
    return [YoloSample(p, read_label_file(label_path_for(p), num_classes)) for p in images]


def read_label_file(path: Path, num_classes: int) -> np.ndarray:
    """float32 ``[n, 5]`` (class, cx, cy, w, h); a missing file means no boxes."""
    if not path.is_file():
        return np.zeros((0, 5), np.float32)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            values = [float(v) for v in fields]
        except ValueError:
            values = []
        if len(values) != 5:
            raise TrainError(f"{path}:{number}: expected 'class cx cy w h', got {line!r}")
        cls, cx, cy, w, h = values
        if cls != int(cls) or not 0 <= cls < num_classes:
            raise TrainError(f"{path}:{number}: class {fields[0]} is not in [0, {num_classes})")
        if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1.001 and 0 < h <= 1.001):
            raise TrainError(f"{path}:{number}: box {fields[1:]} is not normalised to [0, 1]")
        rows.append(values)
    return np.asarray(rows, np.float32).reshape(-1, 5)


def load_example(
    sample: YoloSample,
    img_size: int,
    rng: np.random.Generator | None,
    photometric: PhotometricAugment | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Letterboxed uint8 ``[S, S, 3]`` RGB image and float32 ``[n, 5]`` labels normalised to it.

    With ``rng`` (training) the image gets YOLOv6's HSV jitter, ``photometric`` (images only) and
    a horizontal flip half the time.
    """
    rgb = read_rgb(sample.image, rng, photometric)
    h0, w0 = rgb.shape[:2]
    boxed, lb = letterbox(rgb, (img_size, img_size), LETTERBOX_PAD_VALUE)
    labels = sample.labels.copy()
    labels[:, 1] = (labels[:, 1] * w0 * lb.scale + lb.pad_x) / img_size
    labels[:, 2] = (labels[:, 2] * h0 * lb.scale + lb.pad_y) / img_size
    labels[:, 3] = labels[:, 3] * w0 * lb.scale / img_size
    labels[:, 4] = labels[:, 4] * h0 * lb.scale / img_size
    if rng is not None and rng.random() < 0.5:
        boxed = np.ascontiguousarray(boxed[:, ::-1])
        labels[:, 1] = 1.0 - labels[:, 1]
    return boxed, labels


def read_rgb(
    path: Path, rng: np.random.Generator | None, photometric: PhotometricAugment | None = None
) -> np.ndarray:
    """uint8 ``[H, W, 3]`` RGB of a training photo; with ``rng``, YOLOv6's HSV jitter applied,
    then ``photometric`` (:mod:`loadcheck.train.augment`) when given."""
    try:
        rgb = decode_image(Path(path).read_bytes())
    except (OSError, ImageDecodeError) as exc:
        raise TrainError(f"{path}: not a readable image ({exc})") from None
    if rng is None:
        return rgb
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    augment_hsv(bgr, rng)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    # One draw whatever the photometric settings: the flips and box choices that follow see the
    # same generator state with augmentation on or off.
    own = np.random.default_rng(int(rng.integers(2**63)))
    return rgb if photometric is None else augment_photo(rgb, own, photometric)


def augment_hsv(
    bgr: np.ndarray, rng: np.random.Generator, gains: tuple[float, ...] = (0.015, 0.7, 0.4)
) -> None:
    """YOLOv6's HSV jitter (its default gains), in place, drawn from ``rng``."""
    r = rng.uniform(-1, 1, 3) * np.asarray(gains) + 1
    hue, sat, val = cv2.split(cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV))
    x = np.arange(256, dtype=np.float64)
    lut_hue = ((x * r[0]) % 180).astype(np.uint8)
    lut_sat = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_val = np.clip(x * r[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat), cv2.LUT(val, lut_val)))
    cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=bgr)


def make_batch(
    samples: list[YoloSample],
    img_size: int,
    rng: np.random.Generator | None,
    photometric: PhotometricAugment | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``[B, 3, S, S]`` RGB images and float32 ``[n, 6]`` YOLOv6 targets (``rng`` and
    ``photometric``: as :func:`load_example`)."""
    images = []
    targets = []
    for index, sample in enumerate(samples):
        image, labels = load_example(sample, img_size, rng, photometric)
        images.append(image.transpose(2, 0, 1))
        batch_col = np.full((len(labels), 1), index, np.float32)
        targets.append(np.concatenate([batch_col, labels], axis=1))
    return np.stack(images), np.concatenate(targets).reshape(-1, 6).astype(np.float32)
