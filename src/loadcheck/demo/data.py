"""The demo's inputs: synthetic scene sets (rendered when absent) and the networks to serve.

A scene set is a ``loadcheck synth`` output folder (``images/``, ``masks/``, ``labels.json``,
``qualified.zip``, ``unqualified.zip``); it is reused when its ``labels.json`` records the same
seed, count, size and scene styles, and rendered again otherwise. Its folder name
(:func:`scene_set_dir`) names the styles too, so sets of other styles never share a folder.

The networks are the trained demo models when they exist: ``models/demo`` holds the committed
checkpoints (``scripts/train_demo_models.sh``), exported once through the normal export functions
into the run's folder (or an export folder with ONNX + model cards); else the tiny random-weight
models of :func:`loadcheck.export.tiny.export_tiny_models`, which
make every step run but whose verdicts mean nothing (:attr:`DemoModels.placeholder`).
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from loadcheck.imageio import sha256_file
from loadcheck.payloads import Verdict
from loadcheck.pipeline.cards import CARD_SUFFIX
from loadcheck.synth.styles import DEFAULT_STYLE

LOG = logging.getLogger(__name__)
DEFAULT_MODELS_DIR = Path("models/demo")
#: The checkout the package runs from (src layout: <checkout>/src/loadcheck/demo/data.py).
CHECKOUT = Path(__file__).resolve().parents[3]
#: Sub-folders of a models folder searched for the exported files, in order.
EXPORT_SUBDIRS = ("", "onnx")
#: The committed demo checkpoints, relative to :data:`DEFAULT_MODELS_DIR`.
SHIPPED_DETECTOR = Path("detector/detector.pt")
SHIPPED_SAM = Path("sam/sam.pth")
#: What they were trained at (scripts/train_demo_models.sh).
SHIPPED_DETECTOR_IMG_SIZE = 320
SHIPPED_SAM_MODEL_TYPE = "vit_tiny"
#: The demo serves SAM's encoder with int8 MatMul weights: 1,200 held-out scenes paired against
#: fp32, 0.933 vs 0.935 (7 gained, 9 lost, McNemar p = 0.80), mask IoU equal to 3 decimals
#: (docs/quality.md, session 7).
SHIPPED_SAM_ENCODER_DTYPE = "int8"
#: And the mask decoder with int8 MatMul weights: 1,200 held-out scenes paired against the fp32
#: decoder (int8 encoder in both), 0.937 vs 0.933 (12 gained, 8 lost, McNemar p = 0.50)
#: (docs/quality.md, session 8).
SHIPPED_SAM_DECODER_DTYPE = "int8"


class DemoError(RuntimeError):
    """A demo step cannot run; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class SceneSet:
    """One rendered scene set.

    Attributes:
        root: the ``loadcheck synth`` output folder.
        seed / count / size_wh: how it was rendered.
        truth: image file name (``<stem>.jpg``) -> true verdict of the image.
        rendered: True when this run rendered it (False: reused).
        styles: the scene styles, scene ``i`` drawn in ``styles[i % len(styles)]``.
        style_of: image file name -> the style that drew it.
    """

    root: Path
    seed: int
    count: int
    size_wh: tuple[int, int]
    truth: dict[str, Verdict]
    rendered: bool
    styles: tuple[str, ...] = (DEFAULT_STYLE,)
    style_of: dict[str, str] = field(default_factory=dict)

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def masks_dir(self) -> Path:
        return self.root / "masks"

    @property
    def qualified_zip(self) -> Path:
        return self.root / "qualified.zip"

    @property
    def unqualified_zip(self) -> Path:
        return self.root / "unqualified.zip"

    def label_counts(self) -> dict[str, int]:
        counts = {v.value: 0 for v in Verdict}
        for verdict in self.truth.values():
            counts[verdict.value] += 1
        return counts


def read_truth(root: Path) -> tuple[dict[str, object], dict[str, Verdict]]:
    """``labels.json`` of a scene set and its image name -> true verdict map.

    Raises:
        DemoError: the file is missing or not a ``loadcheck synth`` labels file.
    """
    path = root / "labels.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        truth = {Path(r["file"]).name: Verdict(r["label"]) for r in document["images"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"{path}: not a loadcheck synth labels file ({exc})") from exc
    return document, truth


def scene_set_dir(data_dir: Path, role: str, seed: int, styles: tuple[str, ...]) -> Path:
    """The folder of a scene set: ``<role>_seed<seed>`` for classic scenes (the folder of the demo
    before styles), ``<role>_seed<seed>_<style>-<style>...`` otherwise (in drawing order: scene
    ``i`` is in ``styles[i % n]``), so a run in other styles never reuses another run's scenes."""
    name = f"{role}_seed{seed}"
    if tuple(styles) != (DEFAULT_STYLE,):
        name += "_" + "-".join(styles)
    return data_dir / name


def _styles_of(document: dict[str, object]) -> tuple[str, ...]:
    """The styles a ``labels.json`` records; files written before styles existed are classic."""
    styles = document.get("styles", [DEFAULT_STYLE])
    return tuple(str(s) for s in styles) if isinstance(styles, list) else ()


def _style_of(document: dict[str, object]) -> dict[str, str]:
    """Image file name -> the style that drew it (each record's ``style``; records written
    before styles existed are classic)."""
    records = cast(list[dict[str, Any]], document["images"])  # read_truth has read them
    return {Path(r["file"]).name: str(r.get("style", DEFAULT_STYLE)) for r in records}


def _same_set(
    root: Path, seed: int, count: int, size_wh: tuple[int, int], styles: tuple[str, ...]
) -> bool:
    """True when ``root`` holds exactly the set of (seed, count, size, styles), every image."""
    if not (root / "labels.json").is_file():
        return False
    try:
        document, truth = read_truth(root)
    except DemoError:
        return False
    recorded = (document.get("seed"), document.get("count"), document.get("size_wh"))
    if recorded != (seed, count, list(size_wh)) or _styles_of(document) != styles:
        return False
    return all((root / "images" / name).is_file() for name in truth)


def ensure_scenes(
    root: Path,
    seed: int,
    count: int,
    size_wh: tuple[int, int],
    progress: bool = True,
    styles: tuple[str, ...] = (DEFAULT_STYLE,),
) -> SceneSet:
    """The scene set at ``root``, rendered with :func:`loadcheck.synth.dataset.write_dataset`
    (scene ``i`` in style ``styles[i % len(styles)]``) unless ``root`` already holds exactly that
    set (same seed, count, size and styles)."""
    from loadcheck.synth.dataset import DatasetError, write_dataset

    styles = tuple(styles)
    rendered = not _same_set(root, seed, count, size_wh, styles)
    if not rendered:
        LOG.info("reusing %d synthetic scenes (seed %d) in %s", count, seed, root)
    else:
        LOG.info(
            "rendering %d synthetic scenes (seed %d, styles %s) into %s",
            count,
            seed,
            ",".join(styles),
            root,
        )
        try:
            write_dataset(root, count, seed, size_wh, progress=progress, styles=styles)
        except DatasetError as exc:
            raise DemoError(f"cannot render the synthetic scenes: {exc}") from exc
    document, truth = read_truth(root)
    try:
        style_of = _style_of(document)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DemoError(f"{root / 'labels.json'}: malformed scene records ({exc})") from exc
    return SceneSet(root, seed, count, size_wh, truth, rendered, styles, style_of)


@dataclass(frozen=True)
class DemoModels:
    """The exported networks the demo serves.

    Attributes:
        export_dir: folder with ``detector``, ``sam_encoder`` and ``sam_decoder`` files + cards.
        placeholder: True for the tiny random-weight models (verdicts are meaningless).
        cards: kind -> ``{"model_type", "file", "source_sha256", "image_size"}`` from the cards.
    """

    export_dir: Path
    placeholder: bool
    cards: dict[str, dict[str, object]]


def find_export_dir(models: Path) -> Path | None:
    """The folder under ``models`` (itself or ``onnx/``) holding model cards, or None."""
    for sub in EXPORT_SUBDIRS:
        candidate = models / sub if sub else models
        if candidate.is_dir() and any(candidate.glob(f"*{CARD_SUFFIX}")):
            return candidate
    return None


def card_facts(export_dir: Path) -> dict[str, dict[str, object]]:
    """kind -> the card facts worth reporting (read as JSON; the repository builder validates)."""
    facts: dict[str, dict[str, object]] = {}
    for path in sorted(export_dir.glob(f"*{CARD_SUFFIX}")):
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
            facts[str(card["kind"])] = {
                k: card.get(k) for k in ("model_type", "file", "source_sha256", "image_size")
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DemoError(f"{path}: not a model card ({exc})") from exc
    return facts


def _exported_from(out: Path, checkpoints: list[Path]) -> bool:
    """True when ``out`` holds model cards whose sources are exactly ``checkpoints``, exported
    as the demo serves them (SAM in :data:`SHIPPED_SAM_ENCODER_DTYPE` and
    :data:`SHIPPED_SAM_DECODER_DTYPE`)."""
    shipped_dtype = {
        "sam_encoder": SHIPPED_SAM_ENCODER_DTYPE,
        "sam_decoder": SHIPPED_SAM_DECODER_DTYPE,
    }
    if find_export_dir(out) != out:
        return False
    sources: set[str] = set()
    for path in out.glob(f"*{CARD_SUFFIX}"):
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
            sources.add(str(card["source_sha256"]))
            wanted = shipped_dtype.get(card["kind"])
            if wanted is not None and card["dtype"] != wanted:
                return False
        except (OSError, ValueError, KeyError, TypeError):
            return False
    return sources == {sha256_file(p) for p in checkpoints}


def trained_models_available(root: Path = CHECKOUT / DEFAULT_MODELS_DIR) -> bool:
    """True when ``root`` holds the trained demo models (exported, or the committed checkpoints)."""
    shipped = (root / SHIPPED_DETECTOR).is_file() and (root / SHIPPED_SAM).is_file()
    return shipped or find_export_dir(root) is not None


def export_shipped_models(root: Path, out: Path) -> Path | None:
    """Export the committed demo checkpoints under ``root`` into ``out`` (ONNX + cards).

    Runs the normal exporters (``loadcheck export yolov6`` / ``sam``), once: an ``out`` already
    exported from the same checkpoints (by sha256) is reused. Returns None when ``root`` does not
    hold the two checkpoints.
    """
    detector, sam = root / SHIPPED_DETECTOR, root / SHIPPED_SAM
    if not (detector.is_file() and sam.is_file()):
        return None
    if _exported_from(out, [detector, sam]):
        return out
    from loadcheck.export.sam_onnx import export_sam
    from loadcheck.export.yolov6_onnx import export_yolov6

    LOG.info("exporting the demo models in %s to ONNX in %s", root, out)
    with warnings.catch_warnings():  # torch.onnx's tracer warnings are noise here
        warnings.simplefilter("ignore")
        export_yolov6(detector, out, img_size=SHIPPED_DETECTOR_IMG_SIZE)
        export_sam(
            sam,
            out,
            model_type=SHIPPED_SAM_MODEL_TYPE,
            int8_encoder=SHIPPED_SAM_ENCODER_DTYPE == "int8",
            int8_decoder=SHIPPED_SAM_DECODER_DTYPE == "int8",
        )
    return out


def resolve_models(
    models: Path | None, cache_dir: Path, shipped_cache: Path | None = None
) -> DemoModels:
    """The networks to serve.

    ``models`` given: that folder (or its ``onnx/``) must hold the exported models + cards.
    ``models`` None: :data:`DEFAULT_MODELS_DIR` (in the working directory, then in the
    checkout) when it holds exported models, or its committed checkpoints exported once into
    ``shipped_cache`` (default ``cache_dir``'s sibling ``demo_models``), else the tiny random-weight
    models, exported once into ``cache_dir`` (placeholders).

    Raises:
        DemoError: ``models`` was given but holds no model cards.
    """
    if models is not None:
        found = find_export_dir(models)
        if found is None:
            raise DemoError(
                f"--models {models}: no *{CARD_SUFFIX} model cards there or in {models}/onnx; "
                "expected the output of `loadcheck export sam` and `loadcheck export yolov6`"
            )
        return DemoModels(found, False, card_facts(found))
    for default in (DEFAULT_MODELS_DIR, CHECKOUT / DEFAULT_MODELS_DIR):
        found = find_export_dir(default)
        if found is not None:
            return DemoModels(found, False, card_facts(found))
        shipped_out = shipped_cache or cache_dir.parent / "demo_models"
        exported = export_shipped_models(default, shipped_out)
        if exported is not None:
            return DemoModels(exported, False, card_facts(exported))
    if find_export_dir(cache_dir) is None:
        from loadcheck.export.tiny import export_tiny_models

        LOG.warning(
            "%s does not exist yet: exporting tiny random-weight placeholder models to %s",
            DEFAULT_MODELS_DIR,
            cache_dir,
        )
        with warnings.catch_warnings():  # torch.onnx's tracer warnings are noise here
            warnings.simplefilter("ignore")
            export_tiny_models(cache_dir)
    return DemoModels(cache_dir, True, card_facts(cache_dir))
