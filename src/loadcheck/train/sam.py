"""``train_sam``: train a small SAM on box prompts, or fine-tune a real SAM's mask decoder.

* From scratch (default): segment-anything's ``ImageEncoderViT`` at the ``vit_tiny``
  configuration (:func:`loadcheck.export.sam_models.build_sam`) with SAM's real prompt encoder
  and mask decoder, all trained together; photos get HSV jitter and flips.
* ``from_sam``: a real SAM checkpoint (``vit_b``...) loaded with
  :func:`loadcheck.export.sam_models.load_sam`; the image encoder and prompt encoder are frozen
  and only the mask decoder learns. Image embeddings are computed once per photo and cached
  (fp16, in memory), so each step costs only the decoder.

Each step takes ``batch_size`` photos, up to ``max_boxes`` instances each, prompts SAM the way
serving does (:func:`loadcheck.pipeline.prompts.prompt_points`: a bed is its box, a load is its
box plus a positive point at the box's lower middle) with the true boxes plus jitter
(:func:`~loadcheck.train.sam_data.jitter_boxes`), load boxes sometimes grown towards their
bed's box and, with ``load_top_noise``, their top edges moved by a heavy-tailed amount
(:func:`~loadcheck.train.sam_data.noisy_top_edges`), and a load prompt with an empty
target on every bed without load; it trains SAM's single-mask output
(``multimask_output=False``, what the exported decoder returns) at the decoder's S/4 grid.
Loss = BCE (or SAM's focal loss) + dice on the mask logits, plus the MSE
between the predicted IoU and the mask's real IoU (SAM's IoU head).

Writes, at every ``save_every`` steps and at the end:

* ``out/sam.pth``: a plain state dict, for ``loadcheck export sam --checkpoint``;
* ``out/last_ckpt.pt``: the resumable state (float32 weights, optimiser state, step counter, the
  log and its pending loss records, PyTorch's / NumPy's / Python's RNG states) for ``resume``:
  a resumed run gives the weights and losses of an uninterrupted one. Each step's batch, jitter
  and augmentation come from a generator seeded with ``(seed, step)``, so they need no state;
* ``out/training_log.json``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from loadcheck.payloads import LOAD_CLASS_ID
from loadcheck.pipeline.prompts import prompt_points
from loadcheck.train.augment import PhotometricAugment
from loadcheck.train.common import (
    TrainError,
    TrainingLog,
    backward,
    format_losses,
    make_progress,
    mean_of,
    pick_device,
    prepare_out_dir,
    require_data_dir,
    seed_everything,
)
from loadcheck.train.sam_data import (
    FRAMES,
    SegExample,
    SegSample,
    grow_towards,
    jitter_boxes,
    jitter_points,
    load_seg_dataset,
    make_example,
    noisy_top_edges,
)

if TYPE_CHECKING:
    import torch
    from segment_anything.modeling import Sam

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "sam.pth"
RESUME_NAME = "last_ckpt.pt"
RESUME_FORMAT = "loadcheck-train-sam-1"
#: Settings a resumed run may change: where things are, how it reports, and ``steps`` (the run
#: goes on to the new total; the learning-rate schedule follows it). Every other setting shapes
#: the result and must be the interrupted run's.
RESUMABLE_CHANGES = frozenset(
    {"data", "out", "resume", "device", "save_every", "log_every", "steps", "progress"}
)
LOG_NAME = "training_log.json"
LOSSES = ("bce", "focal")
DEFAULT_LR = {"scratch": 5e-4, "decoder": 1e-4}
EDGE_BAND = 2  # low-res pixels on each side of a target edge that ``edge_weight`` emphasises


@dataclass(frozen=True)
class SamTrainSettings:
    """One SAM training run.

    Attributes:
        data: folder in the ``loadcheck synth`` layout (images/, masks/, labels.json).
        out: output folder.
        model_type: SAM registry key; ``vit_tiny`` to train from scratch. With ``from_sam``,
            checked against the checkpoint (None: detect).
        from_sam: a real SAM checkpoint whose mask decoder is fine-tuned (encoder frozen).
        init: a SAM checkpoint to start from with every part trained (e.g. a model trained at
            a smaller ``img_size``: its position tables are resized); not with ``from_sam``.
        img_size: S, SAM input side (multiple of 16); None: 256 from scratch, the checkpoint's
            size with ``from_sam``.
        steps: optimiser steps.
        batch_size: photos per step.
        max_boxes: instances (box prompts) per photo and step, at most.
        frame: ``crop`` (the trucks' region, serving's default), ``whole`` or ``both``.
        grow_loads: share of load prompts whose box is grown a random part of the way to its
            bed's box (the detector's load box on a partly filled bed is often as large as the
            bed; the load's point prompt, not its box, then says what to segment).
        load_top_noise: share of load prompts whose top edge gets extra noise of
            ``load_top_noise_std`` box heights
            (:func:`~loadcheck.train.sam_data.noisy_top_edges`: the detector's heavy
            tail, so that SAM finds the load's top in the photo instead of copying the box's;
            0: off, the demo recipe uses 0.25).
        load_top_noise_std: standard deviation of that noise in load-box heights (demo: 0.18).
        loss: ``bce`` (BCE + dice) or ``focal`` (SAM's 20:1 focal + dice).
        edge_weight: extra weight of the BCE / focal term on pixels within
            :data:`EDGE_BAND` low-res pixels of a target edge (0: every pixel counts the same).
        lr: peak AdamW learning rate (None: 5e-4 from scratch, 1e-4 decoder only); linear
            warm-up over 5 % of the steps, cosine decay to 1 %.
        seed: seeds weights, batches, jitter and augmentation.
        device: ``cpu``/``cuda``/None (CUDA when available).
        save_every: write the checkpoint every this many steps (and at the end).
        log_every: add a record of the mean losses to the log every this many steps.
        fp16_checkpoint: store the state dict in fp16 (half the size: the vit_tiny checkpoint
            is 27 MB in fp32, 13 MB in fp16); the exporter loads it into fp32 modules.
        photometric: photometric/style augmentation of the photos when training from scratch
            (colour jitter, grey, posterise, blur, noise, JPEG, cut-out;
            :mod:`loadcheck.train.augment`); masks and boxes kept. Not with ``from_sam``, whose
            frozen encoder's embeddings are computed once.
        progress: show the rich progress bar.
        resume: the ``last_ckpt.pt`` of an interrupted run to continue (its settings, except
            :data:`RESUMABLE_CHANGES`, must be these).
    """

    data: Path
    out: Path
    model_type: str | None = None
    from_sam: Path | None = None
    init: Path | None = None
    img_size: int | None = None
    steps: int = 1500
    batch_size: int = 4
    max_boxes: int = 8
    frame: str = "both"
    grow_loads: float = 0.4
    load_top_noise: float = 0.0
    load_top_noise_std: float = 0.18
    loss: str = "bce"
    edge_weight: float = 0.0
    lr: float | None = None
    weight_decay: float = 0.01
    seed: int = 0
    device: str | None = None
    save_every: int = 250
    log_every: int = 25
    fp16_checkpoint: bool = False
    photometric: PhotometricAugment = field(default_factory=PhotometricAugment)
    progress: bool = True
    resume: Path | None = None

    def validate(self) -> None:
        """:class:`TrainError` naming the first bad setting."""
        from loadcheck.export.sam_models import SAM_MODEL_TYPES

        if self.model_type is not None and self.model_type not in SAM_MODEL_TYPES:
            raise TrainError(
                f"model-type: unknown SAM model type {self.model_type!r}; expected one of "
                f"{list(SAM_MODEL_TYPES)}"
            )
        if self.from_sam is not None and not Path(self.from_sam).is_file():
            raise TrainError(f"from-sam: checkpoint {self.from_sam} does not exist")
        if self.init is not None and not Path(self.init).is_file():
            raise TrainError(f"init: checkpoint {self.init} does not exist")
        if self.resume is not None and not Path(self.resume).is_file():
            raise TrainError(f"resume: checkpoint {self.resume} does not exist")
        if self.init is not None and self.from_sam is not None:
            raise TrainError(
                "init and from-sam exclude each other: --from-sam trains the mask decoder "
                "only, --init trains every part from the given weights"
            )
        if self.img_size is not None and (self.img_size % 16 or not 64 <= self.img_size <= 2048):
            raise TrainError(
                f"img-size: expected a multiple of 16 in [64, 2048], got {self.img_size}"
            )
        for name in ("steps", "batch_size", "max_boxes", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise TrainError(
                    f"{name.replace('_', '-')}: expected >= 1, got {getattr(self, name)}"
                )
        if self.frame not in (*FRAMES, "both"):
            raise TrainError(f"frame: expected crop, whole or both, got {self.frame!r}")
        if not 0.0 <= self.grow_loads <= 1.0:
            raise TrainError(f"grow-loads: expected a share in [0, 1], got {self.grow_loads}")
        if not 0.0 <= self.load_top_noise <= 1.0:
            raise TrainError(
                f"load-top-noise: expected a share in [0, 1], got {self.load_top_noise}"
            )
        if not 0.0 < self.load_top_noise_std <= 1.0:
            raise TrainError(
                "load-top-noise-std: expected a standard deviation in (0, 1] load-box heights, "
                f"got {self.load_top_noise_std}"
            )
        if self.loss not in LOSSES:
            raise TrainError(f"loss: expected one of {LOSSES}, got {self.loss!r}")
        if not 0.0 <= self.edge_weight <= 100.0:
            raise TrainError(f"edge-weight: expected a value in [0, 100], got {self.edge_weight}")
        if self.lr is not None and not self.lr > 0:
            raise TrainError(f"lr: expected a positive learning rate, got {self.lr}")

    @property
    def frames(self) -> tuple[str, ...]:
        return FRAMES if self.frame == "both" else (self.frame,)

    @property
    def peak_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        return DEFAULT_LR["decoder" if self.from_sam is not None else "scratch"]

    def to_json(self) -> dict[str, Any]:
        out = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(self).items()
            if k != "progress"
        }
        out["photometric"] = self.photometric.to_json()
        return out


def mask_losses(
    logits: torch.Tensor,
    targets: torch.Tensor,
    iou_pred: torch.Tensor,
    kind: str = "bce",
    edge_weight: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Per-batch mean losses of ``K`` masks.

    Args:
        logits: float ``[K, h, w]`` mask logits.
        targets: float ``[K, h, w]`` in [0, 1] (soft edges allowed).
        iou_pred: float ``[K]`` the IoU head's prediction.
        kind: ``bce`` (BCE + dice) or ``focal`` (20 x focal + dice, SAM's weighting).
        edge_weight: pixels within :data:`EDGE_BAND` of a target edge weigh ``1 + edge_weight``
            in the BCE / focal term (a weighted mean, so the loss keeps its scale).

    Returns ``{"loss", "mask", "dice", "iou"}``, ``loss`` = mask + dice + iou (MSE between the
    predicted IoU and the IoU of ``logits > 0`` with ``targets > 0.5``).
    """
    import torch
    import torch.nn.functional as F
    from torchvision.ops import sigmoid_focal_loss

    if kind == "focal":
        per_pixel = 20.0 * sigmoid_focal_loss(logits, targets, reduction="none")
    else:
        per_pixel = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if edge_weight > 0:
        weight = 1.0 + edge_weight * edge_band(targets)
        mask = (per_pixel * weight).sum() / weight.sum()
    else:
        mask = per_pixel.mean()
    prob = torch.sigmoid(logits).flatten(1)
    flat = targets.flatten(1)
    dice = 1 - (2 * (prob * flat).sum(1) + 1) / (prob.sum(1) + flat.sum(1) + 1)
    with torch.no_grad():
        pred_bin = (logits > 0).flatten(1)
        true_bin = flat > 0.5
        inter = (pred_bin & true_bin).sum(1).float()
        union = (pred_bin | true_bin).sum(1).float()
        real_iou = inter / union.clamp(min=1)
    iou = F.mse_loss(iou_pred, real_iou)
    dice_mean = dice.mean()
    return {"loss": mask + dice_mean + iou, "mask": mask, "dice": dice_mean, "iou": iou}


def edge_band(targets: torch.Tensor, width: int = EDGE_BAND) -> torch.Tensor:
    """float ``[K, h, w]``: 1 where a pixel lies within ``width`` pixels of an edge of the binary
    target (``targets > 0.5``), else 0 (a dilation minus an erosion)."""
    import torch.nn.functional as F

    binary = (targets > 0.5).float().unsqueeze(1)
    size = 2 * width + 1
    dilated = F.max_pool2d(binary, size, stride=1, padding=width)
    eroded = -F.max_pool2d(-binary, size, stride=1, padding=width)
    return (dilated - eroded).squeeze(1)


def decode_prompts(
    sam: Sam,
    embedding: torch.Tensor,
    boxes_xyxy: torch.Tensor,
    point_coords: torch.Tensor,
    point_labels: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's single-mask decoding of ``K`` box + point prompts on one image.

    Args:
        embedding: float ``[1, 256, S/16, S/16]``.
        boxes_xyxy: float ``[K, 4]`` in S-frame pixels.
        point_coords: float ``[K, 1, 2]`` in S-frame pixels; point_labels: float ``[K, 1]``
            (1 positive, -1 none; :func:`loadcheck.pipeline.prompts.prompt_points`).

    Returns ``(low_res_logits [K, S/4, S/4], iou [K])``, as the exported decoder computes them.
    """
    sparse, dense = sam.prompt_encoder(
        points=(point_coords, point_labels), boxes=boxes_xyxy, masks=None
    )
    low_res, iou = sam.mask_decoder(
        image_embeddings=embedding,
        image_pe=sam.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=False,
    )
    return low_res[:, 0], iou[:, 0]


def lr_at(step: int, total: int, peak: float) -> float:
    """Linear warm-up over 5 % of ``total`` (at least 1 step), then cosine to ``peak / 100``."""
    warmup = max(1, total // 20)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _build_model(settings: SamTrainSettings) -> tuple[Sam, str, int]:
    from loadcheck.export.onnx_utils import ExportError
    from loadcheck.export.sam_models import build_sam, load_sam, sam_config

    try:
        start = settings.from_sam if settings.from_sam is not None else settings.init
        if start is not None:
            sam, model_type = load_sam(start, settings.model_type, settings.img_size)
        else:
            model_type = settings.model_type or "vit_tiny"
            size = settings.img_size or min(256, sam_config(model_type).native_img_size)
            sam = build_sam(model_type, size)
            with_pos = sam.image_encoder.pos_embed
            if with_pos is not None:  # segment-anything leaves it at zero; SAM's init is random
                import torch

                with torch.no_grad():
                    with_pos.normal_(0.0, 0.02)
    except ExportError as exc:
        raise TrainError(str(exc)) from exc
    return sam, model_type, int(sam.image_encoder.img_size)


def train_sam(settings: SamTrainSettings) -> TrainingLog:
    """Run the training described by ``settings``; returns the log (also written to ``out``).

    Raises :class:`TrainError` for a bad dataset, checkpoint or setting.
    """
    import torch

    settings.validate()
    samples = load_seg_dataset(require_data_dir(settings.data))
    out = prepare_out_dir(settings.out)
    seed_everything(settings.seed)
    device = pick_device(settings.device)
    sam, model_type, side = _build_model(settings)
    sam = sam.to(device)
    decoder_only = settings.from_sam is not None
    for name, param in sam.named_parameters():
        param.requires_grad_(not decoder_only or name.startswith("mask_decoder."))
    params = [p for p in sam.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.peak_lr, weight_decay=settings.weight_decay)
    log = TrainingLog("sam", settings.to_json(), device.type, torch.get_num_threads())
    log.settings.update(model_type=model_type, img_size=side)
    start_step = 0
    rows: list[dict[str, float]] = []  # loss records since the last log record
    if settings.resume is not None:
        start_step, rows = _resume(settings.resume, settings, sam, optimizer, log)
    pad_rgb = _pad_rgb()
    usable = [i for i, s in enumerate(samples) if len(s.xyxy)]
    started = time.perf_counter() - log.elapsed_s
    with make_progress("train sam", settings.progress) as bar:
        cache = (
            _encode_all(sam, samples, usable, settings, side, pad_rgb, device, bar)
            if decoder_only
            else None
        )
        task = bar.add_task("steps", total=settings.steps, completed=start_step, losses="")
        sam.train()
        if decoder_only:
            sam.image_encoder.eval()
            sam.prompt_encoder.eval()
        for step in range(start_step, settings.steps):
            rng = np.random.default_rng([settings.seed, step])
            picks = rng.choice(usable, min(settings.batch_size, len(usable)), replace=False)
            frames = [settings.frames[int(rng.integers(len(settings.frames)))] for _ in picks]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, settings.steps, settings.peak_lr)
            if cache is not None:
                examples = [cache[(int(i), f)] for i, f in zip(picks, frames, strict=True)]
                embeddings = torch.stack([e for _, e in examples]).to(device).float()
                batch = [ex for ex, _ in examples]
            else:
                batch = [
                    make_example(
                        samples[int(i)],
                        side,
                        f,
                        pad_rgb,
                        rng,
                        settings.max_boxes,
                        settings.photometric,
                    )
                    for i, f in zip(picks, frames, strict=True)
                ]
                embeddings = sam.image_encoder(_to_input(batch, sam, device))
            losses = _step_losses(sam, embeddings, batch, rng, settings, side, device)
            optimizer.zero_grad(set_to_none=True)
            backward(losses["loss"], device)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            row = {k: float(v.detach()) for k, v in losses.items()}
            if not math.isfinite(row["loss"]):
                raise TrainError(f"the loss became {row['loss']} at step {step}; lower --lr")
            rows.append(row)
            bar.update(task, advance=1, losses=format_losses(row))
            last = step + 1 == settings.steps
            if (step + 1) % settings.log_every == 0 or last:
                log.steps = step + 1
                log.elapsed_s = time.perf_counter() - started
                log.epochs.append({"step": step + 1, **mean_of(rows), "elapsed_s": log.elapsed_s})
                rows = []
                logger.info("step %d/%d: %s", step + 1, settings.steps, format_losses(row))
            if (step + 1) % settings.save_every == 0 or last:
                _save(sam, out, log, settings.fp16_checkpoint)
                _save_resumable(out, sam, optimizer, step + 1, settings, log, rows)
    return log


def _resume(
    path: Path,
    settings: SamTrainSettings,
    sam: Sam,
    optimizer: torch.optim.Optimizer,
    log: TrainingLog,
) -> tuple[int, list[dict[str, float]]]:
    """Load the resumable checkpoint ``path`` into ``sam``, ``optimizer``, ``log`` and the global
    RNGs; returns the steps done and the loss records not yet averaged into the log."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors alike
        raise TrainError(f"resume: {path} cannot be read ({exc})") from exc
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise TrainError(
            f"resume: {path} is not a resumable checkpoint; give the {RESUME_NAME} "
            "of a 'loadcheck train sam' run (--init starts a new run from trained weights)"
        )
    before, now = state["settings"], settings.to_json()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and before.get(k) != now[k])
    if changed:
        raise TrainError(
            f"resume: {path} was trained with other settings ("
            + ", ".join(f"{k.replace('_', '-')} {before.get(k)!r}, now {now[k]!r}" for k in changed)
            + "); resume with the interrupted run's settings"
        )
    done = int(state["step"])
    if done >= settings.steps:
        raise TrainError(f"resume: {path} has done {done} steps already; give --steps above it")
    sam.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    log.steps = int(state["log"]["steps"])
    log.epochs = list(state["log"]["epochs"])
    log.elapsed_s = float(state["log"]["elapsed_s"])
    _set_rng_state(state["rng"])
    logger.info("resuming %s after step %d", path, done)
    return done, [dict(row) for row in state["pending_rows"]]


def _rng_state() -> dict[str, Any]:
    """PyTorch's (CPU and CUDA), NumPy's global and Python's RNG states, as plain tensors, lists
    and numbers (so that the checkpoint loads with ``weights_only=True``)."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "python": [version, list(internal), gauss_next],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _save_resumable(
    out: Path,
    sam: Sam,
    optimizer: torch.optim.Optimizer,
    steps_done: int,
    settings: SamTrainSettings,
    log: TrainingLog,
    pending_rows: list[dict[str, float]],
) -> None:
    """Write ``out/last_ckpt.pt`` atomically: everything :func:`_resume` needs."""
    import torch

    state = {
        "format": RESUME_FORMAT,
        "model": {k: v.detach().cpu().clone() for k, v in sam.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "step": steps_done,
        "settings": settings.to_json(),
        "log": dataclasses.asdict(log),
        "pending_rows": pending_rows,
        "rng": _rng_state(),
    }
    tmp = out / f".{RESUME_NAME}.tmp"
    torch.save(state, tmp)
    tmp.replace(out / RESUME_NAME)


def _pad_rgb() -> tuple[int, int, int]:
    from loadcheck.export.sam_models import PIXEL_MEAN

    r, g, b = (round(v) for v in PIXEL_MEAN)
    return (r, g, b)


def _to_input(batch: list[SegExample], sam: Sam, device: torch.device) -> torch.Tensor:
    """uint8 ``[B, S, S, 3]`` examples -> SAM-normalised float ``[B, 3, S, S]`` (as the
    exported encoder normalises inside its graph)."""
    import torch

    images = torch.from_numpy(np.stack([ex.image for ex in batch])).to(device)
    x = images.permute(0, 3, 1, 2).float()
    return (x - sam.pixel_mean) / sam.pixel_std


def _step_losses(
    sam: Sam,
    embeddings: torch.Tensor,
    batch: list[SegExample],
    rng: np.random.Generator,
    settings: SamTrainSettings,
    side: int,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    import torch

    logits, iou_pred, targets = [], [], []
    for index, example in enumerate(batch):
        if not len(example.boxes_xyxy):
            continue
        is_load = (example.class_ids == LOAD_CLASS_ID)[:, None]
        grown = grow_towards(example.boxes_xyxy, example.bed_boxes, rng, settings.grow_loads)
        if settings.load_top_noise > 0:  # drawn for every box, kept for the loads below
            grown = noisy_top_edges(
                grown, rng, settings.load_top_noise, settings.load_top_noise_std
            )
        boxes_np = jitter_boxes(np.where(is_load, grown, example.boxes_xyxy), side, rng)
        coords_np, labels_np = prompt_points(boxes_np, example.class_ids)
        coords_np = np.where(is_load[:, :, None], jitter_points(coords_np, boxes_np, rng), 0)
        low_res, iou = decode_prompts(
            sam,
            embeddings[index : index + 1],
            torch.from_numpy(boxes_np).to(device),
            torch.from_numpy(coords_np.astype(np.float32)).to(device),
            torch.from_numpy(labels_np).to(device),
        )
        logits.append(low_res)
        iou_pred.append(iou)
        targets.append(torch.from_numpy(example.targets).to(device).float() / 255.0)
    return mask_losses(
        torch.cat(logits),
        torch.cat(targets),
        torch.cat(iou_pred),
        settings.loss,
        settings.edge_weight,
    )


def _encode_all(
    sam: Sam,
    samples: list[SegSample],
    usable: list[int],
    settings: SamTrainSettings,
    side: int,
    pad_rgb: tuple[int, int, int],
    device: torch.device,
    bar: Any,
) -> dict[tuple[int, str], tuple[SegExample, torch.Tensor]]:
    """Frozen-encoder embeddings (fp16, CPU) and fixed examples for every photo and frame."""
    import torch

    cache: dict[tuple[int, str], tuple[SegExample, torch.Tensor]] = {}
    task = bar.add_task("encode", total=len(usable) * len(settings.frames), losses="(cached)")
    with torch.no_grad():
        for index in usable:
            for frame in settings.frames:
                example = make_example(
                    samples[index], side, frame, pad_rgb, None, settings.max_boxes
                )
                embedding = sam.image_encoder(_to_input([example], sam, device))[0]
                cache[(index, frame)] = (example, embedding.to("cpu", torch.float16))
                bar.advance(task)
    return cache


def _save(sam: Sam, out: Path, log: TrainingLog, fp16: bool = False) -> None:
    import torch

    state = {k: v.detach().cpu().contiguous() for k, v in sam.state_dict().items()}
    if fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    tmp = out / f".{CHECKPOINT_NAME}.tmp"
    torch.save(state, tmp)
    tmp.replace(out / CHECKPOINT_NAME)
    log.checkpoint = CHECKPOINT_NAME
    log.save(out / LOG_NAME)
