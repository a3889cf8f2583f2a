"""``train_detector``: train or fine-tune YOLOv6 with the ``yolov6`` package's own model and loss.

The model comes from :func:`loadcheck.export.yolov6_models.build_yolov6` (a shipped YOLOv6
config, optionally at other width/depth multipliers) and the loss is YOLOv6's
``yolov6.models.losses.loss.ComputeLoss`` configured from that config's head (IoU type, DFL,
strides), fed YOLOv6's target format by :mod:`loadcheck.train.detector_data`.

Files written to ``out`` after every epoch:

* ``detector.pt``: the exportable checkpoint (YOLOv6's stripped format, fp16 module under
  ``"model"``) for ``loadcheck export yolov6 --checkpoint``;
* ``last_ckpt.pt``: the resumable state (float32 module, optimiser, epoch, settings, log) for
  ``--resume``; also accepted by the exporter;
* ``training_log.json``: settings, per-epoch mean losses and times (:class:`TrainingLog`).

Checkpoints are pickles (YOLOv6's format): ``--weights`` and ``--resume`` load only files you
trust (your own runs, official YOLOv6 releases).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
from loadcheck.train.detector_data import YoloDataset, load_yolo_dataset, make_batch

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "detector.pt"
RESUME_NAME = "last_ckpt.pt"
LOG_NAME = "training_log.json"
LOSS_NAMES = ("iou", "dfl", "cls")
OPTIMIZERS = ("adamw", "sgd")
DEFAULT_LR = {"adamw": 0.002, "sgd": 0.02}


@dataclass(frozen=True)
class DetectorTrainSettings:
    """One detector training run.

    Attributes:
        data: YOLO dataset folder (with ``data.yaml``) or the ``data.yaml`` file.
        out: output folder.
        config: YOLOv6 config (``yolov6n``, ``yolov6s``, ...).
        width / depth: width and depth multipliers overriding the config's (None: the config's).
        img_size: S, square letterboxed input side in pixels (multiple of 32).
        epochs: total epochs (a resumed run continues up to this number).
        batch_size: images per step.
        optimizer: ``adamw`` or ``sgd`` (SGD with momentum 0.937, as YOLOv6).
        lr: peak learning rate (None: 0.002 for AdamW, 0.02 for SGD); linear warm-up, then
            cosine decay to 1 % of it.
        weight_decay: on convolution weights only (not BN, not biases).
        seed: seeds initial weights, batch order and augmentation.
        weights: a YOLOv6 checkpoint to fine-tune from (tensors whose shapes match are copied,
            so an 80-class COCO model can start a 2-class detector).
        resume: a ``last_ckpt.pt`` of an interrupted run to continue.
        device: ``cpu``/``cuda``/None (None: CUDA when available).
        augment: HSV jitter and horizontal flips (and ``photometric`` when it is enabled).
        photometric: photometric/style augmentation of the photos (colour jitter, grey,
            posterise, blur, noise, JPEG, cut-out; :mod:`loadcheck.train.augment`); boxes kept.
        progress: show the rich progress bar.
    """

    data: Path
    out: Path
    config: str = "yolov6n"
    width: float | None = None
    depth: float | None = None
    img_size: int = 320
    epochs: int = 30
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float = 0.0005
    seed: int = 0
    weights: Path | None = None
    resume: Path | None = None
    device: str | None = None
    augment: bool = True
    photometric: PhotometricAugment = field(default_factory=PhotometricAugment)
    progress: bool = True

    def validate(self) -> None:
        """:class:`TrainError` naming the first bad setting."""
        from loadcheck.export.yolov6_models import YOLOV6_CONFIGS

        if self.config not in YOLOV6_CONFIGS:
            raise TrainError(
                f"config: unknown YOLOv6 config {self.config!r}; expected one of "
                f"{list(YOLOV6_CONFIGS)}"
            )
        for name in ("width", "depth"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= 2:
                raise TrainError(f"{name}: expected a multiplier in (0, 2], got {value}")
        if self.img_size % 32 or not 64 <= self.img_size <= 2048:
            raise TrainError(
                f"img-size: expected a multiple of 32 in [64, 2048], got {self.img_size}"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise TrainError(
                f"epochs and batch-size must be >= 1, got {self.epochs}, {self.batch_size}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise TrainError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr is not None and not self.lr > 0:
            raise TrainError(f"lr: expected a positive learning rate, got {self.lr}")
        if self.weights is not None and self.resume is not None:
            raise TrainError("give at most one of --weights (fine-tune) and --resume (continue)")
        for name in ("weights", "resume"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise TrainError(f"{name}: checkpoint {path} does not exist")

    @property
    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_json(self) -> dict[str, Any]:
        out = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in dataclasses.asdict(self).items()
            if k != "progress"
        }
        out["photometric"] = self.photometric.to_json()
        return out


def _head_settings(config: str) -> Any:
    """The ``model.head`` section of YOLOv6's config file (IoU type, DFL, strides...)."""
    import yolov6
    from yolov6.utils.config import Config

    path = Path(yolov6.__file__).parent / "configs" / f"{config}.py"
    return Config.fromfile(str(path)).model.head


def _make_loss(config: str, num_classes: int, img_size: int) -> Any:
    from yolov6.models.losses.loss import ComputeLoss

    head = _head_settings(config)
    return ComputeLoss(
        num_classes=num_classes,
        ori_img_size=img_size,
        warmup_epoch=head.atss_warmup_epoch,
        use_dfl=head.use_dfl,
        reg_max=head.reg_max,
        iou_type=head.iou_type,
        fpn_strides=head.strides,
    )


def _load_pickled_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)  # trusted files only
    except Exception as exc:  # pickle, zip and runtime errors for corrupt files
        raise TrainError(f"cannot read YOLOv6 checkpoint {path}: {exc}") from exc
    model = ckpt.get("ema") or ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "detect"):
        raise TrainError(
            f"{path} is not a YOLOv6 checkpoint: expected a dict with a YOLOv6 model under "
            "'model' (as YOLOv6 training and 'loadcheck train detector' write)"
        )
    return dict(ckpt)


def _transfer_weights(model: torch.nn.Module, source: torch.nn.Module, path: Path) -> None:
    """Copy every tensor of ``source`` whose name and shape match ``model``'s; at least half of
    the model's tensors must match (else the config/width/depth differ from the checkpoint's)."""
    target = model.state_dict()
    matched = {
        k: v.float()
        for k, v in source.state_dict().items()
        if k in target and target[k].shape == v.shape
    }
    if len(matched) < len(target) // 2:
        raise TrainError(
            f"--weights {path.name}: only {len(matched)} of {len(target)} tensors fit the model; "
            "give the --config, --width and --depth the checkpoint was trained with"
        )
    model.load_state_dict(matched, strict=False)
    logger.info("fine-tuning from %s: %d of %d tensors copied", path, len(matched), len(target))


def _optimizer(model: torch.nn.Module, settings: DetectorTrainSettings) -> torch.optim.Optimizer:
    import torch

    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        (decay if param.ndim > 1 and not name.endswith(".bias") else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if settings.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=settings.peak_lr, momentum=0.937, nesterov=True)
    return torch.optim.AdamW(groups, lr=settings.peak_lr, betas=(0.937, 0.999))


def lr_at(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from ``peak`` to ``peak / 100``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train_detector(settings: DetectorTrainSettings) -> TrainingLog:
    """Run the training described by ``settings``; returns the log (also written to ``out``).

    Raises :class:`TrainError` for a bad dataset, checkpoint or setting.
    """
    import torch

    settings.validate()
    data_path = Path(settings.data)
    is_yaml = data_path.suffix in (".yaml", ".yml") and data_path.is_file()
    data = load_yolo_dataset(data_path if is_yaml else require_data_dir(data_path))
    out = prepare_out_dir(settings.out)
    seed_everything(settings.seed)
    device = pick_device(settings.device)
    model, optimizer, start_epoch, log = _setup(settings, data, device)
    compute_loss = _make_loss(settings.config, data.num_classes, settings.img_size)
    steps_per_epoch = math.ceil(len(data.train) / settings.batch_size)
    total_steps = settings.epochs * steps_per_epoch
    warmup = max(1, min(300, total_steps // 10))
    started = time.perf_counter() - log.elapsed_s
    step = start_epoch * steps_per_epoch
    with warnings.catch_warnings(), make_progress("train detector", settings.progress) as bar:
        # yolov6's loss calls deprecated torch APIs on every step (autocast, meshgrid)
        warnings.filterwarnings("ignore", message=r".*torch\.cuda\.amp\.autocast")
        warnings.filterwarnings("ignore", message=r".*torch\.meshgrid")
        task = bar.add_task("steps", total=total_steps, completed=step, losses="")
        for epoch in range(start_epoch, settings.epochs):
            rng = np.random.default_rng([settings.seed, epoch])
            order = rng.permutation(len(data.train))
            model.train()
            rows: list[dict[str, float]] = []
            for first in range(0, len(order), settings.batch_size):
                batch = [data.train[i] for i in order[first : first + settings.batch_size]]
                images_u8, targets_np = make_batch(
                    batch,
                    settings.img_size,
                    rng if settings.augment else None,
                    settings.photometric if settings.augment else None,
                )
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, settings.peak_lr, warmup)
                images = torch.from_numpy(images_u8).to(device).float() / 255.0
                targets = torch.from_numpy(targets_np).to(device)
                preds, _ = model(images)
                loss, items = compute_loss(preds, targets, epoch, step)
                optimizer.zero_grad(set_to_none=True)
                backward(loss, device)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                optimizer.step()
                row = {"loss": float(loss.detach())}
                row.update({n: float(v) for n, v in zip(LOSS_NAMES, items.tolist(), strict=True)})
                if not math.isfinite(row["loss"]):
                    raise TrainError(
                        f"the loss became {row['loss']} at step {step}; lower --lr (now "
                        f"{settings.peak_lr})"
                    )
                rows.append(row)
                step += 1
                bar.update(task, advance=1, losses=f"epoch {epoch + 1} {format_losses(row)}")
            log.steps = step
            log.elapsed_s = time.perf_counter() - started
            log.epochs.append(
                {"epoch": epoch + 1, "steps": step, **mean_of(rows), "elapsed_s": log.elapsed_s}
            )
            _save(out, model, optimizer, epoch, settings, log)
            logger.info("epoch %d/%d: %s", epoch + 1, settings.epochs, format_losses(mean_of(rows)))
    return log


def _setup(
    settings: DetectorTrainSettings, data: YoloDataset, device: torch.device
) -> tuple[torch.nn.Module, torch.optim.Optimizer, int, TrainingLog]:
    """Model, optimiser, first epoch and log: fresh, fine-tuned (``weights``) or resumed."""
    import torch

    from loadcheck.export.yolov6_models import build_yolov6

    log = TrainingLog("detector", settings.to_json(), device.type, torch.get_num_threads())
    if settings.resume is not None:
        ckpt = _load_pickled_checkpoint(settings.resume)
        state = ckpt.get("loadcheck_train")
        if not isinstance(state, dict) or ckpt.get("optimizer") is None:
            raise TrainError(
                f"--resume {settings.resume}: not a resumable checkpoint (no optimiser state); "
                f"give the {RESUME_NAME} of a 'loadcheck train detector' run, or use --weights "
                "to fine-tune from it"
            )
        model = ckpt["model"].float().to(device)
        if int(model.detect.nc) != data.num_classes:
            raise TrainError(
                f"--resume: the checkpoint has {int(model.detect.nc)} classes, the data "
                f"{data.num_classes}"
            )
        optimizer = _optimizer(model, settings)
        optimizer.load_state_dict(ckpt["optimizer"])
        log.steps = int(state["log"]["steps"])
        log.epochs = list(state["log"]["epochs"])
        log.elapsed_s = float(state["log"]["elapsed_s"])
        start = int(ckpt["epoch"]) + 1
        logger.info("resuming %s at epoch %d", settings.resume, start + 1)
        return model, optimizer, start, log
    model = build_yolov6(
        settings.config,
        data.num_classes,
        width_multiple=settings.width,
        depth_multiple=settings.depth,
    )
    if settings.weights is not None:
        source = _load_pickled_checkpoint(settings.weights)
        _transfer_weights(model, source.get("ema") or source["model"], settings.weights)
    model = model.to(device)
    for param in model.parameters():
        param.requires_grad_(True)
    return model, _optimizer(model, settings), 0, log


def _save(
    out: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    settings: DetectorTrainSettings,
    log: TrainingLog,
) -> None:
    import copy

    import torch

    from loadcheck.export.yolov6_models import save_yolov6_checkpoint

    save_yolov6_checkpoint(model, out / CHECKPOINT_NAME, epoch=epoch)
    log.checkpoint = CHECKPOINT_NAME
    state = {
        "model": copy.deepcopy(model).cpu().float(),
        "ema": None,
        "updates": None,
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "img_size": settings.img_size,
        "loadcheck_train": {"settings": settings.to_json(), "log": dataclasses.asdict(log)},
    }
    tmp = out / f".{RESUME_NAME}.tmp"
    torch.save(state, tmp)
    tmp.replace(out / RESUME_NAME)
    log.save(out / LOG_NAME)
