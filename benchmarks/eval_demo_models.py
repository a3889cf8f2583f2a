"""Quality of exported detector + SAM networks on a held-out synthetic seed.

    python benchmarks/eval_demo_models.py [--models EXPORT_DIR] [--seed 9] [--count 200]
        [--size 960x540] [--frame crop|whole|both] [--json OUT] [--cache DIR]

Runs the ONNX files of ``--models`` (detector, sam_encoder, sam_decoder + ``*.card.json``) in
ONNX Runtime through the serving functions (``serving.images.letterbox``, ``serving.prompts``,
``serving.masks.upsample_masks``) on scenes ``0 .. count-1`` of ``--seed`` from
``loadcheck.synth.render_scene`` (JPEG-encoded and decoded as a served photo), and measures:

1. detector AP@0.5 per class (``bed``, ``load``) and their mean (mAP@0.5), all-point interpolated,
   from detections decoded at ``--eval-conf`` (0.001), plus precision / recall at the serving
   threshold (``DetectorSettings().conf_thres``); truth = every truck's visible bed / load box;
2. SAM mask IoU per class against every truck's true visible masks, prompted (a) with the true
   boxes and (b) with the serving detections matched (IoU >= 0.5) to the truth, where SAM sees the
   region serving would encode from those prompts (``crop``: the trucks' region; ``whole``);
   true objects the detector missed are counted, not scored;
   and the serving detections' **box precision**: for those matched to a true box, the mean box
   IoU and the mean error of each edge (top, bottom in true box heights; left, right in widths) —
   the load features are measured from where the boxes put SAM;
3. the load's *fill* as the scorer sees it: for the most prominent truck, the ``fullness``
   feature (:mod:`loadcheck.features`) of the served masks (detector prompts, crop framing,
   trucks paired by ``group_trucks``) against the same feature of the true masks, as the mean
   absolute error over all loaded trucks and over the partly filled ones (true fullness < 0.95),
   and the share of scenes whose most prominent truck is empty that get no load pixels (else
   the photo cannot be "No Mine Detected");
4. the end-to-end verdict accuracy from ``loadcheck demo``'s ``runs/demo/report.json``, if present.

Rendered scenes are cached as ``.npz`` (no pickle) under ``--cache``, keyed by seed, size and a
hash of the ``loadcheck.synth`` sources. Prints a table; ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadcheck.payloads import Detections
from loadcheck.serving.masks import MaskRefinement

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("bed", "load")  # loadcheck class ids 0, 1 (payloads.BED_CLASS_ID, LOAD_CLASS_ID)
SOURCES = ("true_boxes", "detector_boxes")


@dataclass(frozen=True)
class TruthScene:
    """One held-out scene: its JPEG bytes and per-truck truth (trucks most prominent first).

    ``masks[c]``: bool ``[T_c, H, W]`` visible masks of class ``c`` (0 bed, 1 load);
    ``boxes[c]``: float64 ``[T_c, 4]`` their xyxy boxes; ``trucks[c]``: int ``[T_c]`` truck index
    of each (loads exist only for loaded trucks).
    """

    stem: str
    jpeg: bytes
    label: str
    masks: tuple[np.ndarray, np.ndarray]
    boxes: tuple[np.ndarray, np.ndarray]
    trucks: tuple[np.ndarray, np.ndarray]


def synth_fingerprint() -> str:
    """Short hash of the ``loadcheck.synth`` sources: a new renderer invalidates the cache."""
    import loadcheck.synth

    digest = hashlib.sha256()
    for path in sorted(Path(loadcheck.synth.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _render(seed: int, index: int, size_wh: tuple[int, int]) -> dict[str, np.ndarray]:
    from loadcheck.synth import render_scene

    scene = render_scene(seed, index, size_wh)
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


def load_scene(cache: Path, seed: int, index: int, size_wh: tuple[int, int]) -> TruthScene:
    """Scene ``index`` of ``seed`` from the cache, rendered (and cached atomically) if absent."""
    from loadcheck.synth.scene import scene_stem

    stem = scene_stem(seed, index)
    path = cache / f"{stem}.npz"
    if not path.is_file():
        data = _render(seed, index, size_wh)
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".npz", dir=cache)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez_compressed(handle, **data)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
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


class Networks:
    """The three exported networks and the serving settings their cards imply."""

    def __init__(
        self, models: Path, threads: int, refine_radius: float = MaskRefinement().radius
    ) -> None:
        from loadcheck import tensor_names as tn
        from loadcheck.serving.onnx_session import OnnxNetwork
        from loadcheck.serving.prompts import format_class_map, parse_class_map
        from loadcheck.serving.repository import load_cards

        cards: dict[str, Any] = load_cards(models)
        self.cards = {
            k: cards[k] for k in (tn.DETECTOR_MODEL, tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL)
        }
        det, enc = cards[tn.DETECTOR_MODEL], cards[tn.SAM_ENCODER_MODEL]
        self.det_size = int(det.image_size)
        self.det_pad = int(det.pad_rgb[0])
        self.det_float = det.input_contract == "float32_nchw_rgb_unit"
        self.class_map = parse_class_map(format_class_map(dict(det.class_map)))
        self.side = int(enc.image_size)
        r, g, b = (int(v) for v in enc.pad_rgb)
        self.sam_pad = (r, g, b)
        self.nets = {
            k: OnnxNetwork(models / c.file, threads=threads) for k, c in self.cards.items()
        }
        self.refine = MaskRefinement(radius=refine_radius)  # serving's refinement (0: off)

    def card_facts(self) -> dict[str, dict[str, Any]]:
        keys = ("file", "model_type", "image_size", "source_checkpoint", "source_sha256")
        return {k: {f: getattr(c, f) for f in keys} for k, c in self.cards.items()}

    def detect(
        self, rgb: np.ndarray, conf_thres: float, iou_thres: float, max_det: int
    ) -> Detections:
        """Serving's detector path at a chosen threshold -> ``Detections`` (loadcheck class ids)."""
        from loadcheck import tensor_names as tn
        from loadcheck.serving.images import letterbox, to_float_nchw
        from loadcheck.serving.prompts import DetectorSettings, decode_yolo, remap_classes

        boxed, transform = letterbox(rgb, (self.det_size, self.det_size), self.det_pad)
        feed = to_float_nchw(boxed) if self.det_float else boxed[None]
        raw = self.nets[tn.DETECTOR_MODEL].run({tn.DETECTOR_INPUT: feed})[tn.DETECTOR_RAW_OUTPUT]
        settings = DetectorSettings(conf_thres, iou_thres, max_det)
        wh = (int(rgb.shape[1]), int(rgb.shape[0]))
        return remap_classes(decode_yolo(raw, transform, wh, settings), self.class_map)

    def segment(
        self,
        rgb: np.ndarray,
        region: Any,
        xyxy: np.ndarray,
        class_id: int,
        cache: dict[Any, np.ndarray],
    ) -> np.ndarray:
        """uint8 ``[K, H, W]`` masks of the ``[K, 4]`` boxes of class ``class_id``, prompted as
        serving prompts them, SAM encoding ``region`` (the embeddings are reused from ``cache``
        for a region already encoded)."""
        from loadcheck import tensor_names as tn
        from loadcheck.serving.masks import upsample_masks
        from loadcheck.serving.prompts import decoder_prompts, sam_input

        h, w = rgb.shape[:2]
        if not len(xyxy):
            return np.zeros((0, h, w), np.uint8)
        if region not in cache:
            image = sam_input(rgb, region, self.side, self.sam_pad)[None]
            cache[region] = self.nets[tn.SAM_ENCODER_MODEL].run({tn.SAM_ENCODER_INPUT: image})[
                tn.SAM_EMBEDDINGS
            ]
        out = self.nets[tn.SAM_DECODER_MODEL].run(
            {
                tn.SAM_DECODER_EMBEDDINGS: cache[region],
                **decoder_prompts(
                    Detections(xyxy, np.ones(len(xyxy)), np.full(len(xyxy), class_id)),
                    region,
                    self.side,
                ),
            }
        )
        masks = upsample_masks(
            out[tn.SAM_LOW_RES_MASKS], region, (w, h), self.side, rgb=rgb, refine=self.refine
        )
        return masks[: len(xyxy)]


def true_prompts(scene: TruthScene) -> Detections:
    """The scene's true boxes as serving's prompts (beds, then loads; ``select_prompts``)."""
    from loadcheck.serving.prompts import select_prompts

    xyxy = np.concatenate(scene.boxes).astype(np.float32).reshape(-1, 4)
    class_id = np.repeat([0, 1], [len(b) for b in scene.boxes]).astype(np.int32)
    return select_prompts(Detections(xyxy, np.ones(len(xyxy), np.float32), class_id))


def serving_prompts(found: Detections, conf_thres: float) -> Detections:
    """The prompts serving sends from detections decoded at a lower threshold: those at or
    above ``conf_thres``, beds then loads (``select_prompts``)."""
    from loadcheck.serving.prompts import select_prompts

    kept = found.confidence >= conf_thres
    return select_prompts(
        Detections(found.xyxy[kept], found.confidence[kept], found.class_id[kept])
    )


def served_trucks(
    nets: Networks,
    rgb: np.ndarray,
    prompts: Detections,
    wh: tuple[int, int],
    cache: dict[Any, np.ndarray],
) -> list[Any]:
    """The served trucks (``TruckMasks``, most prominent first): every serving prompt segmented
    on the crop, paired by ``group_trucks``."""
    from loadcheck.features.trucks import group_trucks
    from loadcheck.payloads import SegmentationMasks
    from loadcheck.serving.prompts import SamFrame, sam_region

    region = sam_region(prompts, wh, SamFrame.CROP)
    # select_prompts orders beds, then loads: the per-class masks stack in the prompts' order
    masks = np.concatenate(
        [nets.segment(rgb, region, prompts.of_class(c).xyxy, c, cache) for c in range(len(CLASSES))]
    ).astype(bool)
    return group_trucks(prompts, SegmentationMasks(masks, np.ones(len(masks), np.float32)))


def served_primary_truck(
    nets: Networks,
    rgb: np.ndarray,
    prompts: Detections,
    wh: tuple[int, int],
    cache: dict[Any, np.ndarray],
) -> Any:
    """The most prominent served truck (:func:`served_trucks`); ``None`` when no bed was
    detected."""
    trucks = served_trucks(nets, rgb, prompts, wh, cache)
    return trucks[0] if trucks else None


class BoxPrecision:
    """Per class: how close the served boxes matched to a true box are to it."""

    EDGES = ("left", "top", "right", "bottom")

    def __init__(self, iou_match: float) -> None:
        self.iou_match = iou_match
        self.ious: dict[int, list[float]] = defaultdict(list)
        self.errors: dict[int, list[np.ndarray]] = defaultdict(list)

    def add(self, class_id: int, found: Detections, truth: np.ndarray) -> None:
        from loadcheck.metrics import box_iou, match_detections

        match = match_detections(found.xyxy, found.confidence, truth, self.iou_match)
        hit = np.flatnonzero(match >= 0)
        if not len(hit):
            return
        pred = found.xyxy[hit].astype(np.float64)
        true = np.asarray(truth, np.float64)[match[hit]]
        w = np.maximum(true[:, 2] - true[:, 0], 1.0)
        h = np.maximum(true[:, 3] - true[:, 1], 1.0)
        self.errors[class_id].extend(np.abs(pred - true) / np.stack([w, h, w, h], axis=1))
        self.ious[class_id].extend(np.diag(box_iou(pred, true)).tolist())

    def summary(self, class_id: int) -> dict[str, Any]:
        ious = np.asarray(self.ious[class_id])
        if not len(ious):
            return {"n": 0, "mean_iou": None, "iou_75": None, **dict.fromkeys(self.EDGES)}
        errors = np.mean(self.errors[class_id], axis=0)
        return {
            "n": len(ious),
            "mean_iou": round(float(ious.mean()), 4),
            "iou_75": round(float(np.mean(ious >= 0.75)), 4),
            **{edge: round(float(e), 4) for edge, e in zip(self.EDGES, errors, strict=True)},
        }


class FillAccumulator:
    """Served vs true ``fullness`` of the most prominent truck, and empty trucks kept empty."""

    PARTIAL = 0.95

    def __init__(self) -> None:
        self.errors: list[float] = []
        self.partial: list[float] = []
        self.empty_clean: list[bool] = []

    def add(self, scene: TruthScene, served: Any) -> None:
        from loadcheck.features.extract import extract_features
        from loadcheck.payloads import TruckMasks

        beds = np.flatnonzero(scene.trucks[0] == 0)
        if not len(beds):
            return
        loads = np.flatnonzero(scene.trucks[1] == 0)
        if not len(loads):
            self.empty_clean.append(served is None or not served.load_mask.any())
            return
        bed_mask = scene.masks[0][beds[0]]
        truth = TruckMasks(
            bed_mask,
            scene.masks[1][loads[0]],
            tuple(float(v) for v in scene.boxes[0][beds[0]]),  # type: ignore[arg-type]
            tuple(float(v) for v in scene.boxes[1][loads[0]]),  # type: ignore[arg-type]
        )
        want = extract_features(truth).as_dict()["fullness"]
        got = extract_features(served).as_dict()["fullness"] if served is not None else 0.0
        self.errors.append(abs(got - want))
        if want < self.PARTIAL:
            self.partial.append(abs(got - want))

    def summary(self) -> dict[str, Any]:
        def mean(values: Sequence[float]) -> float | None:
            return round(float(np.mean(values)), 4) if values else None

        return {
            "fullness_mae": mean(self.errors),
            "fullness_mae_partial": mean(self.partial),
            "n_loaded": len(self.errors),
            "n_partial": len(self.partial),
            "partial_below": self.PARTIAL,
            "empty_kept_empty": mean([float(v) for v in self.empty_clean]),
            "n_empty": len(self.empty_clean),
        }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the benchmark as a JSON-ready dict (see the module docstring)."""
    from rich.progress import Progress

    from loadcheck.metrics import ClassAccumulator, iou_summary, mask_iou, match_detections
    from loadcheck.serving.images import decode_image
    from loadcheck.serving.prompts import DetectorSettings, SamFrame, sam_region

    nets = Networks(args.models, args.threads, args.mask_refine_radius)
    serving = DetectorSettings()
    frames = [SamFrame(f) for f in (("crop", "whole") if args.frame == "both" else (args.frame,))]
    cache = args.cache / f"s{args.seed}_{args.size[0]}x{args.size[1]}_{synth_fingerprint()}"
    cache.mkdir(parents=True, exist_ok=True)
    acc = [ClassAccumulator(args.iou_match) for _ in CLASSES]
    ious: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    primary: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    missed: dict[tuple[str, int], int] = defaultdict(int)
    labels: dict[str, int] = defaultdict(int)
    fill = FillAccumulator()
    box_precision = BoxPrecision(args.iou_match)
    start = time.perf_counter()
    with Progress(disable=not args.progress) as bar:
        task = bar.add_task("eval (scenes)", total=args.count)
        for index in range(args.count):
            scene = load_scene(cache, args.seed, index, args.size)
            labels[scene.label] += 1
            rgb = decode_image(scene.jpeg)
            wh = (int(rgb.shape[1]), int(rgb.shape[0]))
            found = nets.detect(rgb, args.eval_conf, serving.iou_thres, args.max_det)
            for c in range(len(CLASSES)):
                mine = found.of_class(c)
                acc[c].add(mine.xyxy, mine.confidence, scene.boxes[c])
            prompts = serving_prompts(found, serving.conf_thres)
            for c in range(len(CLASSES)):
                box_precision.add(c, prompts.of_class(c), scene.boxes[c])
            true = true_prompts(scene)
            embeddings: dict[Any, np.ndarray] = {}
            fill.add(scene, served_primary_truck(nets, rgb, prompts, wh, embeddings))
            for frame in frames:
                for source, region_boxes in zip(SOURCES, (true, prompts), strict=True):
                    region = sam_region(region_boxes, wh, frame)
                    for c in range(len(CLASSES)):
                        truth = scene.boxes[c]
                        if source == "true_boxes":
                            xyxy, which = truth, np.arange(len(truth))
                        else:
                            mine = prompts.of_class(c)
                            match = match_detections(
                                mine.xyxy, mine.confidence, truth, args.iou_match
                            )
                            xyxy, which = mine.xyxy[match >= 0], match[match >= 0]
                            missed[(frame.value, c)] += len(truth) - len(which)
                        masks = nets.segment(rgb, region, xyxy, c, embeddings)
                        for mask, j in zip(masks, which, strict=True):
                            iou = mask_iou(mask, scene.masks[c][j])
                            ious[(frame.value, source, c)].append(iou)
                            if scene.trucks[c][j] == 0:
                                primary[(frame.value, source, c)].append(iou)
            bar.advance(task)
    elapsed = time.perf_counter() - start

    detector = {name: acc[c].summary(serving.conf_thres) for c, name in enumerate(CLASSES)}
    aps = [d["ap"] for d in detector.values() if d["ap"] is not None]
    masks_out: dict[str, Any] = {}
    for frame in frames:
        f = frame.value
        masks_out[f] = {
            s: {
                name: {
                    **iou_summary(ious[(f, s, c)]),
                    "primary_truck": iou_summary(primary[(f, s, c)]),
                    **({"missed_by_detector": missed[(f, c)]} if s == "detector_boxes" else {}),
                }
                for c, name in enumerate(CLASSES)
            }
            for s in SOURCES
        }
    return {
        "models": str(args.models),
        "cards": nets.card_facts(),
        "seed": args.seed,
        "count": args.count,
        "size_wh": list(args.size),
        "truth_labels": dict(sorted(labels.items())),
        "detector": {
            "map": round(float(np.mean(aps)), 4) if aps else None,
            "per_class": detector,
            "eval_conf_thres": args.eval_conf,
            "serving_conf_thres": serving.conf_thres,
            "nms_iou_thres": serving.iou_thres,
            "max_det": args.max_det,
            "match_iou": args.iou_match,
            "box_precision_at_conf": {
                name: box_precision.summary(c) for c, name in enumerate(CLASSES)
            },
        },
        "masks": {"sam_side": nets.side, "mean_iou": masks_out},
        "fill": fill.summary(),
        "verdict": read_demo_report(args.demo_report),
        "elapsed_s": round(elapsed, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.python_version()}",
    }


def read_demo_report(path: Path | None) -> dict[str, Any] | None:
    """Accuracy facts of ``loadcheck demo``'s ``report.json``; ``None`` when absent."""
    if path is None or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        "report": str(path),
        "accuracy": data.get("accuracy"),
        "chance_accuracy": data.get("chance_accuracy"),
        "test": data.get("test"),
        "placeholder_models": data.get("placeholder_models"),
    }


def _fmt(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.3f}"


def print_table(result: dict[str, Any]) -> None:
    det = result["detector"]
    print(
        f"\nmodels {result['models']} | seed {result['seed']}, {result['count']} scenes at "
        f"{result['size_wh'][0]}x{result['size_wh'][1]} | {result['elapsed_s']} s"
    )
    ap = f"AP@{det['match_iou']:g}"
    print(f"{'detector':10s} {ap:>7s} {'P@serv':>7s} {'R@serv':>7s} {'n_true':>7s}")
    for name, d in det["per_class"].items():
        print(
            f"{name:10s} {_fmt(d['ap']):>7s} {_fmt(d['precision_at_conf']):>7s} "
            f"{_fmt(d['recall_at_conf']):>7s} {d['n_true']:7d}"
        )
    print(f"{'m' + ap:10s} {_fmt(det['map']):>7s}")
    print("served boxes matched to a true box: mean IoU, share >= 0.75, mean edge error")
    for name, b in det["box_precision_at_conf"].items():
        edges = " ".join(f"{e} {_fmt(b[e]).strip()}" for e in BoxPrecision.EDGES)
        print(
            f"  {name:8s} IoU {_fmt(b['mean_iou']).strip()}, {_fmt(b['iou_75']).strip()} | {edges}"
        )
    print(f"\nSAM mask IoU (S={result['masks']['sam_side']}): mean (primary truck) [n, missed]")
    for frame, by_source in result["masks"]["mean_iou"].items():
        for source, by_class in by_source.items():
            cells = []
            for name, s in by_class.items():
                miss = f", missed {s['missed_by_detector']}" if "missed_by_detector" in s else ""
                cells.append(
                    f"{name} {_fmt(s['mean'])} ({_fmt(s['primary_truck']['mean']).strip()}) "
                    f"[{s['n']}{miss}]"
                )
            print(f"  {frame:5s} {source:15s} " + "   ".join(cells))
    fill = result["fill"]
    print(
        f"\nload fill (served vs true 'fullness', most prominent truck, crop, detector prompts): "
        f"MAE {_fmt(fill['fullness_mae']).strip()} over {fill['n_loaded']} loaded trucks, "
        f"{_fmt(fill['fullness_mae_partial']).strip()} over {fill['n_partial']} partly filled; "
        f"empty trucks left empty {_fmt(fill['empty_kept_empty']).strip()} of {fill['n_empty']}"
    )
    verdict = result["verdict"]
    if verdict is None:
        print("\nverdict accuracy: no demo report (run `loadcheck demo`)")
    else:
        print(
            f"\nverdict accuracy (loadcheck demo, {verdict['report']}): {_fmt(verdict['accuracy'])}"
            f" (chance {_fmt(verdict['chance_accuracy'])}, placeholder models: "
            f"{verdict['placeholder_models']})"
        )


def _size(text: str) -> tuple[int, int]:
    from loadcheck.synth.render import check_size

    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return check_size((w, h))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 960x540: {exc}") from exc


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def _unit(text: str) -> float:
    """A number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def add_models_argument(parser: argparse.ArgumentParser) -> None:
    """``--models``: exported networks + cards (None: :func:`shipped_models`)."""
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder with detector/sam_encoder/sam_decoder ONNX files + *.card.json "
        "(default: the committed demo checkpoints in models/demo, exported once into "
        "runs/demo/demo_models as `loadcheck demo` does)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_models_argument(p)
    p.add_argument("--seed", type=int, default=9, help="held-out synthetic seed (training: 0)")
    p.add_argument("--count", type=_positive, default=200, help="scenes 0..count-1")
    p.add_argument("--size", type=_size, default=(960, 540), help="WIDTHxHEIGHT")
    p.add_argument(
        "--frame",
        choices=("crop", "whole", "both"),
        default="both",
        help="what SAM encodes (serving default: crop)",
    )
    p.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    p.add_argument(
        "--cache",
        type=Path,
        default=REPO / "runs/eval_cache",
        help="rendered scenes are cached here",
    )
    p.add_argument(
        "--demo-report",
        type=Path,
        default=REPO / "runs/demo/report.json",
        help="loadcheck demo's report.json: its verdict accuracy is printed if it exists",
    )
    p.add_argument(
        "--eval-conf", type=_unit, default=0.001, help="decode threshold for the PR curve"
    )
    p.add_argument("--iou-match", type=_unit, default=0.5, help="IoU of a true positive")
    p.add_argument("--max-det", type=_positive, default=100, help="detections kept per image")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: default)")
    p.add_argument(
        "--mask-refine-radius",
        type=float,
        default=MaskRefinement().radius,
        help="serving's guided-filter mask refinement, SAM low-res px (0: SAM's plain masks)",
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return p


def shipped_models(parser: argparse.ArgumentParser) -> Path:
    """The committed demo checkpoints, exported once into ``runs/demo/demo_models`` (as
    ``loadcheck demo`` does); a usage error when there are none."""
    from loadcheck.demo.data import DEFAULT_MODELS_DIR, export_shipped_models

    models = export_shipped_models(REPO / DEFAULT_MODELS_DIR, REPO / "runs/demo/demo_models")
    if models is None:
        parser.error(f"--models: no trained demo checkpoints in {REPO / DEFAULT_MODELS_DIR}")
    return models


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    """Write ``result`` to ``path`` (folders created); nothing when ``path`` is None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed: expected an integer >= 0, got {args.seed}")
    from loadcheck.serving.repository import RepositoryError

    if args.models is None:
        args.models = shipped_models(parser)
    try:
        result = evaluate(args)
    except RepositoryError as exc:
        message = str(exc)
        parser.error(message if message.startswith("--models") else f"--models: {message}")
    print_table(result)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
