"""``loadcheck train detector|sam``: thin Typer commands over the trainers.

Every option defaults to the settings class's value (:class:`DetectorTrainSettings`,
:class:`SamTrainSettings`); fixed choices are enums from the registries. Heavy libraries (torch,
yolov6, segment-anything) are imported inside the commands. A bad input prints ``error: ...`` to
stderr and exits with status 2.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer

from loadcheck.cli_options import SamModelType, choices
from loadcheck.export.yolov6_models import YOLOV6_CONFIGS
from loadcheck.train.augment import PhotometricAugment
from loadcheck.train.detector import OPTIMIZERS, DetectorTrainSettings
from loadcheck.train.sam import LOSSES, SamTrainSettings
from loadcheck.train.sam_data import FRAMES

train_app = typer.Typer(
    name="train",
    help="Train or fine-tune the detector (YOLOv6) and SAM on labelled photos.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

YoloConfig = choices("YoloConfig", YOLOV6_CONFIGS)
Optimizer = choices("Optimizer", OPTIMIZERS)
SamTrainFrame = choices("SamTrainFrame", (*FRAMES, "both"))
SamLoss = choices("SamLoss", LOSSES)


def _defaults(settings: type) -> dict[str, Any]:
    """Field name -> default of a settings dataclass (fields without one are left out)."""
    return {
        f.name: f.default
        for f in dataclasses.fields(settings)
        if f.default is not dataclasses.MISSING
    }


_DET = _defaults(DetectorTrainSettings)
_SAM = _defaults(SamTrainSettings)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


@train_app.command("detector")
def detector_command(
    data: Path = typer.Option(
        ...,
        "--data",
        help="YOLO dataset: a folder with data.yaml (e.g. 'loadcheck synth' "
        "output) or the data.yaml file.",
    ),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    config: YoloConfig = typer.Option(  # type: ignore[valid-type]
        _DET["config"], "--config", help="YOLOv6 config."
    ),
    width: float | None = typer.Option(
        None, "--width", help="Width multiplier (default: the config's; demo: 0.125)."
    ),
    depth: float | None = typer.Option(
        None, "--depth", help="Depth multiplier (default: the config's; demo: 0.33)."
    ),
    img_size: int = typer.Option(
        _DET["img_size"], "--img-size", help="Square input side, multiple of 32."
    ),
    epochs: int = typer.Option(
        _DET["epochs"], "--epochs", help="Total epochs (a resumed run goes on to it)."
    ),
    batch_size: int = typer.Option(_DET["batch_size"], "--batch-size", help="Images per step."),
    optimizer: Optimizer = typer.Option(  # type: ignore[valid-type]
        _DET["optimizer"], "--optimizer", help="AdamW, or SGD with momentum 0.937."
    ),
    lr: float | None = typer.Option(
        None, "--lr", help="Peak learning rate (default 0.002 AdamW, 0.02 SGD)."
    ),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        dir_okay=False,
        help="Fine-tune from this YOLOv6 checkpoint (trusted files only: it is a pickle). "
        "Tensors of matching shape are copied, so a COCO model can start a 2-class detector.",
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        dir_okay=False,
        help="Continue an interrupted run from its OUT/last_ckpt.pt.",
    ),
    seed: int = typer.Option(
        _DET["seed"], "--seed", help="Seed of weights, batch order, augmentation."
    ),
    device: str | None = typer.Option(
        _DET["device"], "--device", help="cpu, cuda or cuda:N (default: cuda when available)."
    ),
    augment: bool = typer.Option(
        _DET["augment"], "--augment/--no-augment", help="HSV jitter and flips."
    ),
    photometric: bool = typer.Option(
        True,
        "--photometric/--no-photometric",
        help="Photometric/style augmentation of training photos (colour jitter, grey, posterise, "
        "blur, noise, JPEG, cut-out); labels never change.",
    ),
    progress: bool = typer.Option(
        _DET["progress"], "--progress/--no-progress", help="Show a progress bar."
    ),
) -> None:
    """Train or fine-tune YOLOv6 with its own model and loss.

    Writes OUT/detector.pt (for 'loadcheck export yolov6'), OUT/last_ckpt.pt (for --resume) and
    OUT/training_log.json after every epoch.
    """
    from loadcheck.train.common import TrainError
    from loadcheck.train.detector import CHECKPOINT_NAME, train_detector

    settings = DetectorTrainSettings(
        data=data,
        out=out,
        config=str(config),
        width=width,
        depth=depth,
        img_size=img_size,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=str(optimizer),
        lr=lr,
        seed=seed,
        weights=weights,
        resume=resume,
        device=device,
        augment=augment,
        photometric=PhotometricAugment(enabled=photometric),
        progress=progress,
    )
    try:
        log = train_detector(settings)
    except TrainError as exc:
        raise _fail(exc) from exc
    last = log.epochs[-1] if log.epochs else {}
    typer.echo(
        f"detector: {log.steps} steps in {log.elapsed_s:.0f} s on {log.device}, last epoch loss "
        f"{last.get('loss', float('nan')):.3f}\n  {out / CHECKPOINT_NAME}"
    )


@train_app.command("sam")
def sam_command(
    data: Path = typer.Option(
        ...,
        "--data",
        help="Folder in the 'loadcheck synth' layout: images/, masks/<stem>_bed.png"
        ", masks/<stem>_load.png, labels.json (optional: else instances from mask components).",
    ),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    from_sam: Path | None = typer.Option(
        None,
        "--from-sam",
        dir_okay=False,
        help="Fine-tune only the mask decoder of this SAM checkpoint (encoder frozen, "
        "embeddings cached).",
    ),
    init: Path | None = typer.Option(
        None,
        "--init",
        dir_okay=False,
        help="Start from this SAM checkpoint and train every part (e.g. a model trained at a "
        "smaller --img-size).",
    ),
    model_type: SamModelType | None = typer.Option(  # type: ignore[valid-type]
        _SAM["model_type"],
        "--model-type",
        help="SAM model type (default vit_tiny; with --from-sam: the checkpoint's).",
    ),
    img_size: int | None = typer.Option(
        _SAM["img_size"],
        "--img-size",
        help="SAM input side, multiple of 16 (default 256; with --from-sam the checkpoint's).",
    ),
    steps: int = typer.Option(_SAM["steps"], "--steps", help="Optimiser steps."),
    batch_size: int = typer.Option(_SAM["batch_size"], "--batch-size", help="Photos per step."),
    max_boxes: int = typer.Option(
        _SAM["max_boxes"], "--max-boxes", help="Box prompts per photo and step, max."
    ),
    frame: SamTrainFrame = typer.Option(  # type: ignore[valid-type]
        _SAM["frame"], "--frame", help="What SAM sees: the trucks' region (crop), whole, or both."
    ),
    grow_loads: float = typer.Option(
        _SAM["grow_loads"],
        "--grow-loads",
        help="Share of load prompts whose box is grown towards its bed's box (0..1).",
    ),
    load_top_noise: float = typer.Option(
        _SAM["load_top_noise"],
        "--load-top-noise",
        help="Share of load prompts whose box top gets extra heavy-tailed noise, as the "
        "detector's does (0..1; demo: 0.25).",
    ),
    load_top_noise_std: float = typer.Option(
        _SAM["load_top_noise_std"],
        "--load-top-noise-std",
        help="Standard deviation of that noise, in load-box heights (clipped to 0.4).",
    ),
    loss: SamLoss = typer.Option(  # type: ignore[valid-type]
        _SAM["loss"], "--loss", help="bce (BCE + dice) or focal (SAM's focal + dice)."
    ),
    edge_weight: float = typer.Option(
        _SAM["edge_weight"],
        "--edge-weight",
        help="Extra weight of the mask loss within 2 low-res pixels of a true mask edge "
        "(0: plain; e.g. 4: edges count 5x).",
    ),
    lr: float | None = typer.Option(
        None, "--lr", help="Peak AdamW learning rate (default 5e-4; 1e-4 with --from-sam)."
    ),
    seed: int = typer.Option(
        _SAM["seed"], "--seed", help="Seed of weights, batches, jitter, augmentation."
    ),
    device: str | None = typer.Option(
        _SAM["device"], "--device", help="cpu, cuda or cuda:N (default: cuda when available)."
    ),
    save_every: int = typer.Option(
        _SAM["save_every"], "--save-every", help="Checkpoint every N steps."
    ),
    log_every: int = typer.Option(
        _SAM["log_every"], "--log-every", help="Log mean losses every N steps."
    ),
    fp16_checkpoint: bool = typer.Option(
        _SAM["fp16_checkpoint"],
        "--fp16-checkpoint",
        help="Store the state dict in fp16 (half the size).",
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        dir_okay=False,
        help="Continue an interrupted run from its OUT/last_ckpt.pt, with the same settings "
        "(--steps may grow): the result is the uninterrupted run's.",
    ),
    photometric: bool = typer.Option(
        True,
        "--photometric/--no-photometric",
        help="Photometric/style augmentation of training photos (colour jitter, grey, posterise, "
        "blur, noise, JPEG, cut-out); labels never change.",
    ),
    progress: bool = typer.Option(
        _SAM["progress"], "--progress/--no-progress", help="Show a progress bar."
    ),
) -> None:
    """Train a small SAM on box + point prompts, or fine-tune a real SAM's mask decoder.

    Writes OUT/sam.pth (a plain state dict for 'loadcheck export sam'), OUT/last_ckpt.pt (for
    --resume) and OUT/training_log.json every --save-every steps and at the end.
    """
    from loadcheck.train.common import TrainError
    from loadcheck.train.sam import CHECKPOINT_NAME, train_sam

    settings = SamTrainSettings(
        data=data,
        out=out,
        model_type=None if model_type is None else str(model_type),
        from_sam=from_sam,
        init=init,
        img_size=img_size,
        steps=steps,
        batch_size=batch_size,
        max_boxes=max_boxes,
        frame=str(frame),
        grow_loads=grow_loads,
        load_top_noise=load_top_noise,
        load_top_noise_std=load_top_noise_std,
        loss=str(loss),
        edge_weight=edge_weight,
        lr=lr,
        seed=seed,
        device=device,
        save_every=save_every,
        log_every=log_every,
        fp16_checkpoint=fp16_checkpoint,
        photometric=PhotometricAugment(enabled=photometric),
        resume=resume,
        progress=progress,
    )
    try:
        log = train_sam(settings)
    except TrainError as exc:
        raise _fail(exc) from exc
    last = log.epochs[-1] if log.epochs else {}
    typer.echo(
        f"sam ({log.settings['model_type']}, {log.settings['img_size']} px): {log.steps} "
        f"steps in {log.elapsed_s:.0f} s on {log.device}, last loss "
        f"{last.get('loss', float('nan')):.3f}\n  {out / CHECKPOINT_NAME}"
    )
