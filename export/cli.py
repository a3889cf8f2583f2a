"""``loadcheck export sam|yolov6|tensorrt|tiny``: thin Typer commands over the exporters.

Defaults come from the settings classes (:class:`NmsSettings`, :class:`ProfileSettings`); the
choices are enums from the registries. Heavy libraries (torch, onnx, onnxruntime) are imported
inside the commands. Any export failure prints ``error: ...`` to stderr and exits with status 1;
usage errors exit with status 2.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from loadcheck.cli_options import SamModelType, choices
from loadcheck.export.onnx_utils import DEFAULT_OPSET, ExportError
from loadcheck.export.trt_plan import ProfileSettings
from loadcheck.export.yolov6_onnx import NMS_MODES, NmsSettings

export_app = typer.Typer(
    name="export",
    help="Export SAM and YOLOv6 to ONNX (with model cards) and build TensorRT plans.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NmsMode = choices("NmsMode", NMS_MODES)
_NMS = NmsSettings()
_PROFILE = ProfileSettings()


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@contextlib.contextmanager
def _working(text: str) -> Iterator[None]:
    """A spinner with elapsed time on stderr while a long export runs (minutes for vit_h)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        progress.add_task(text, total=None)
        yield


@export_app.command("sam")
def sam_command(
    checkpoint: Path = typer.Option(
        ..., "--checkpoint", exists=True, dir_okay=False, help="SAM .pth (plain state dict)."
    ),
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    model_type: SamModelType | None = typer.Option(  # type: ignore[valid-type]
        None, "--model-type", help="Checked against the checkpoint (default: detect)."
    ),
    img_size: int | None = typer.Option(
        None,
        "--img-size",
        help="Encoder input side S, a multiple of 16 (default: the checkpoint's, 1024 for the "
        "official files). Another size resizes the position embeddings once at load time.",
    ),
    fp16: bool = typer.Option(False, "--fp16", help="fp16 weights and compute (I/O unchanged)."),
    int8_encoder: bool = typer.Option(
        False,
        "--int8-encoder",
        help="int8 MatMul weights in the encoder (ONNX Runtime dynamic quantisation): about "
        "twice as fast on a CPU with VNNI; judge the verdicts before serving it.",
    ),
    int8_decoder: bool = typer.Option(
        False,
        "--int8-decoder",
        help="int8 MatMul weights in the mask decoder too (the same quantisation; saves ~15 % "
        "of the decoder's time); judge the verdicts before serving it.",
    ),
    opset: int = typer.Option(DEFAULT_OPSET, "--opset", help="ONNX opset."),
) -> None:
    """Write OUT/sam_encoder.onnx and OUT/sam_decoder.onnx, each with <file>.card.json."""
    from loadcheck.export.sam_onnx import export_sam

    kind = None if model_type is None else str(model_type)
    try:
        with _working(f"exporting SAM from {checkpoint.name}"):
            result = export_sam(
                checkpoint,
                out,
                kind,
                img_size,
                fp16=fp16,
                int8_encoder=int8_encoder,
                int8_decoder=int8_decoder,
                opset=opset,
            )
    except ExportError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{result.model_type} at {result.img_size} px:")
    for path in (result.encoder, result.encoder_card, result.decoder, result.decoder_card):
        typer.echo(f"  {path}")


@export_app.command("yolov6")
def yolov6_command(
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        exists=True,
        dir_okay=False,
        help="YOLOv6 training checkpoint (best_ckpt.pt). It is a pickle: loading it runs code, "
        "so export ONLY checkpoints you trust (your own training runs), never uploaded files.",
    ),
    from_onnx: Path | None = typer.Option(
        None,
        "--from-onnx",
        exists=True,
        dir_okay=False,
        help="Instead of --checkpoint: an ONNX file from YOLOv6's own exporter (float NCHW "
        "'images', 'outputs' [B, N, 5+C], no --end2end). Needs no PyTorch.",
    ),
    img_size: int = typer.Option(640, "--img-size", help="Square input side (multiple of 32)."),
    nms: NmsMode = typer.Option(  # type: ignore[valid-type]
        _NMS.mode, "--nms", help="none: raw [B, N, 5+C]; onnx: NonMaxSuppression; tensorrt: plugin."
    ),
    classes: str | None = typer.Option(
        None,
        "--classes",
        help="Detector class names in class-id order, mapped to bed/load with '=', e.g. "
        "'truck=bed,mine=load' (default 'bed,load' for a 2-class detector).",
    ),
    max_detections: int = typer.Option(
        _NMS.max_detections, "--max-detections", help="M kept per image (NMS)."
    ),
    iou_threshold: float = typer.Option(
        _NMS.iou_threshold, "--iou-threshold", help="NMS IoU threshold."
    ),
    score_threshold: float = typer.Option(
        _NMS.score_threshold, "--score-threshold", help="NMS score threshold."
    ),
    fp16: bool = typer.Option(False, "--fp16", help="fp16 weights and compute (I/O unchanged)."),
    opset: int = typer.Option(DEFAULT_OPSET, "--opset", help="ONNX opset."),
) -> None:
    """Write OUT/detector.onnx and OUT/detector.onnx.card.json."""
    if (checkpoint is None) == (from_onnx is None):
        raise typer.BadParameter("give exactly one of --checkpoint and --from-onnx")
    from loadcheck.export.yolov6_onnx import export_yolov6, import_yolov6_onnx

    try:
        settings = NmsSettings(str(nms), max_detections, iou_threshold, score_threshold)
        with _working("exporting the YOLOv6 detector"):
            if checkpoint is not None:
                result = export_yolov6(
                    checkpoint, out, img_size, nms=settings, classes=classes, fp16=fp16, opset=opset
                )
            else:
                assert from_onnx is not None
                result = import_yolov6_onnx(from_onnx, out, nms=settings, classes=classes)
    except ExportError as exc:
        raise _fail(exc) from exc
    typer.echo(f"detector ({result.num_classes} classes, {result.img_size} px):")
    typer.echo(f"  {result.model}\n  {result.card}")


@export_app.command("tensorrt")
def tensorrt_command(
    onnx_file: Path = typer.Option(
        ..., "--onnx", exists=True, dir_okay=False, help="An ONNX file written by this tool."
    ),
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Plan file to write (.plan)."),
    fp16: bool = typer.Option(False, "--fp16", help="Allow fp16 kernels."),
    min_batch: int = typer.Option(
        _PROFILE.min_batch, "--min-batch", help="Smallest batch of the profile."
    ),
    opt_batch: int = typer.Option(
        _PROFILE.opt_batch, "--opt-batch", help="Batch TensorRT tunes for."
    ),
    max_batch: int = typer.Option(
        _PROFILE.max_batch, "--max-batch", help="Largest batch of the profile."
    ),
    max_boxes: int = typer.Option(
        _PROFILE.max_boxes, "--max-boxes", help="Most box prompts (SAM decoder K)."
    ),
) -> None:
    """Build a TensorRT plan (and <plan>.card.json) with profiles from the ONNX model card.

    Without the tensorrt Python package, prints the equivalent trtexec command and exits 1.
    """
    from loadcheck.export.trt_plan import build_plan

    try:
        settings = ProfileSettings(min_batch, opt_batch, max_batch, max_boxes)
        with _working(f"building a TensorRT plan from {onnx_file.name}"):
            plan = build_plan(onnx_file, out, settings, fp16=fp16)
    except ExportError as exc:
        raise _fail(exc) from exc
    typer.echo(f"  {plan}")


@export_app.command("tiny")
def tiny_command(
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the weights."),
    nms: NmsMode = typer.Option(  # type: ignore[valid-type]
        _NMS.mode, "--nms", help="Detector NMS."
    ),
) -> None:
    """Export tiny random SAM (vit_tiny, 256 px) and YOLOv6 (320 px, bed/load) for demos/tests."""
    from loadcheck.export.tiny import export_tiny_models

    try:
        with _working("exporting tiny models"):
            cards = export_tiny_models(out, seed=seed, detector_nms=str(nms))
    except ExportError as exc:
        raise _fail(exc) from exc
    for name, card in cards.items():
        typer.echo(f"  {name}: {card}")
