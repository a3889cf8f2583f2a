"""``loadcheck train detector|sam``: thin Typer commands over the trainers.

Heavy libraries (torch, yolov6, segment-anything) are imported inside the commands. A bad input
prints ``error: ...`` to stderr and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

train_app = typer.Typer(
    name="train",
    help="Train or fine-tune the detector (YOLOv6) and SAM on labelled photos.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_YOLOV6_CONFIGS = ("yolov6n", "yolov6s", "yolov6m", "yolov6l")  # = yolov6_models.YOLOV6_CONFIGS
_SAM_TYPES = ("vit_b", "vit_l", "vit_h", "vit_tiny")  # = sam_models.SAM_MODEL_TYPES


def _choice(value: str | None, choices: tuple[str, ...], flag: str) -> None:
    if value is not None and value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=flag)


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
    config: str = typer.Option(
        "yolov6n", "--config", help=f"YOLOv6 config: {', '.join(_YOLOV6_CONFIGS)}."
    ),
    width: float | None = typer.Option(
        None, "--width", help="Width multiplier (default: the config's; demo: 0.125)."
    ),
    depth: float | None = typer.Option(
        None, "--depth", help="Depth multiplier (default: the config's; demo: 0.33)."
    ),
    img_size: int = typer.Option(320, "--img-size", help="Square input side, multiple of 32."),
    epochs: int = typer.Option(30, "--epochs", help="Total epochs (a resumed run goes on to it)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Images per step."),
    optimizer: str = typer.Option("adamw", "--optimizer", help="adamw or sgd."),
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
    seed: int = typer.Option(0, "--seed", help="Seed of weights, batch order, augmentation."),
    device: str | None = typer.Option(
        None, "--device", help="cpu or cuda (default: cuda when available)."
    ),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="HSV jitter and flips."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train or fine-tune YOLOv6 with its own model and loss.

    Writes OUT/detector.pt (for 'loadcheck export yolov6'), OUT/last_ckpt.pt (for --resume) and
    OUT/training_log.json after every epoch.
    """
    _choice(config, _YOLOV6_CONFIGS, "--config")
    _choice(optimizer, ("adamw", "sgd"), "--optimizer")
    from loadcheck.train.common import TrainError
    from loadcheck.train.detector import CHECKPOINT_NAME, DetectorTrainSettings, train_detector

    settings = DetectorTrainSettings(
        data=data,
        out=out,
        config=config,
        width=width,
        depth=depth,
        img_size=img_size,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        seed=seed,
        weights=weights,
        resume=resume,
        device=device,
        augment=augment,
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
    model_type: str | None = typer.Option(
        None,
        "--model-type",
        help=f"SAM type: {', '.join(_SAM_TYPES)} (default vit_tiny; with --from-sam: detect).",
    ),
    img_size: int | None = typer.Option(
        None,
        "--img-size",
        help="SAM input side, multiple of 16 (default 256; with --from-sam the checkpoint's).",
    ),
    steps: int = typer.Option(1500, "--steps", help="Optimiser steps."),
    batch_size: int = typer.Option(4, "--batch-size", help="Photos per step."),
    max_boxes: int = typer.Option(8, "--max-boxes", help="Box prompts per photo and step, max."),
    frame: str = typer.Option(
        "both", "--frame", help="What SAM sees: crop (trucks' region), whole, or both."
    ),
    grow_loads: float = typer.Option(
        0.4,
        "--grow-loads",
        help="Share of load prompts whose box is grown towards its bed's box (0..1).",
    ),
    load_top_noise: float = typer.Option(
        0.0,
        "--load-top-noise",
        help="Share of load prompts whose box top gets extra heavy-tailed noise, as the "
        "detector's does (0..1; demo: 0.25).",
    ),
    load_top_noise_std: float = typer.Option(
        0.18,
        "--load-top-noise-std",
        help="Standard deviation of that noise, in load-box heights (clipped to 0.4).",
    ),
    loss: str = typer.Option("bce", "--loss", help="bce (BCE + dice) or focal (focal + dice)."),
    edge_weight: float = typer.Option(
        0.0,
        "--edge-weight",
        help="Extra weight of the mask loss within 2 low-res pixels of a true mask edge "
        "(0: plain; e.g. 4: edges count 5x).",
    ),
    lr: float | None = typer.Option(
        None, "--lr", help="Peak AdamW learning rate (default 5e-4; 1e-4 with --from-sam)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of weights, batches, jitter, augmentation."),
    device: str | None = typer.Option(
        None, "--device", help="cpu or cuda (default: cuda when available)."
    ),
    save_every: int = typer.Option(250, "--save-every", help="Checkpoint every N steps."),
    log_every: int = typer.Option(25, "--log-every", help="Log mean losses every N steps."),
    fp16_checkpoint: bool = typer.Option(
        False, "--fp16-checkpoint", help="Store the state dict in fp16 (half the size)."
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        dir_okay=False,
        help="Continue an interrupted run from its OUT/last_ckpt.pt, with the same settings "
        "(--steps may grow): the result is the uninterrupted run's.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train a small SAM on box + point prompts, or fine-tune a real SAM's mask decoder.

    Writes OUT/sam.pth (a plain state dict for 'loadcheck export sam'), OUT/last_ckpt.pt (for
    --resume) and OUT/training_log.json every --save-every steps and at the end.
    """
    _choice(model_type, _SAM_TYPES, "--model-type")
    _choice(frame, ("crop", "whole", "both"), "--frame")
    _choice(loss, ("bce", "focal"), "--loss")
    from loadcheck.train.common import TrainError
    from loadcheck.train.sam import CHECKPOINT_NAME, SamTrainSettings, train_sam

    settings = SamTrainSettings(
        data=data,
        out=out,
        model_type=model_type,
        from_sam=from_sam,
        init=init,
        img_size=img_size,
        steps=steps,
        batch_size=batch_size,
        max_boxes=max_boxes,
        frame=frame,
        grow_loads=grow_loads,
        load_top_noise=load_top_noise,
        load_top_noise_std=load_top_noise_std,
        loss=loss,
        edge_weight=edge_weight,
        lr=lr,
        seed=seed,
        device=device,
        save_every=save_every,
        log_every=log_every,
        fp16_checkpoint=fp16_checkpoint,
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
