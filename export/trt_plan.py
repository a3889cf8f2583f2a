"""Build TensorRT plans from exported ONNX files, with optimisation profiles from model cards.

The profile of every input comes from its card's shape: fixed dims stay fixed; the dynamic batch
axis ``B`` gets ``(min_batch, opt_batch, max_batch)``; the dynamic box axis ``K`` of the SAM
decoder gets ``(1, opt_boxes, max_boxes)``. When the ``tensorrt`` Python package is missing,
:func:`build_plan` raises :class:`TensorRTUnavailableError` whose message holds the equivalent
``trtexec`` command to run inside the Triton container (plans must be built with the TensorRT
version of the Triton that serves them, on the same GPU model).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from loadcheck.export.onnx_utils import ExportError, require_file, utc_now
from loadcheck.imageio import sha256_file
from loadcheck.pipeline.cards import CardError, ModelCard, card_path_for

logger = logging.getLogger(__name__)

BATCH_DIM = "B"
BOXES_DIM = "K"
TRTEXEC = "/usr/src/tensorrt/bin/trtexec"


class TensorRTUnavailableError(ExportError):
    """TensorRT's Python API is not installed here; the message says what to run instead."""


@dataclass(frozen=True)
class ProfileSettings:
    """Dynamic-axis ranges of an optimisation profile (1 <= min <= opt <= max)."""

    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 8
    max_boxes: int = 16
    opt_boxes: int | None = None  # None: max(1, max_boxes // 2)

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ExportError(
                "batch sizes must satisfy 1 <= --min-batch <= --opt-batch <= --max-batch, got "
                f"{self.min_batch}, {self.opt_batch}, {self.max_batch}"
            )
        if self.max_boxes < 1:
            raise ExportError(f"--max-boxes must be >= 1, got {self.max_boxes}")
        if self.opt_boxes is not None and not 1 <= self.opt_boxes <= self.max_boxes:
            raise ExportError(f"opt boxes must be in [1, {self.max_boxes}], got {self.opt_boxes}")

    @property
    def boxes(self) -> tuple[int, int, int]:
        opt = self.opt_boxes if self.opt_boxes is not None else max(1, self.max_boxes // 2)
        return (1, opt, self.max_boxes)


@dataclass(frozen=True)
class InputProfile:
    """min/opt/max shapes of one input tensor."""

    name: str
    min_shape: tuple[int, ...]
    opt_shape: tuple[int, ...]
    max_shape: tuple[int, ...]


def input_profiles(card: ModelCard, settings: ProfileSettings) -> list[InputProfile]:
    """One :class:`InputProfile` per input of ``card``.

    Raises :class:`ExportError` for a dynamic axis that is neither ``B`` nor ``K``.
    """
    profiles = []
    for spec in card.inputs:
        lows, opts, highs = [], [], []
        for dim, dim_name in zip(spec.shape, spec.dim_names, strict=True):
            if dim > 0:
                low = opt = high = dim
            elif dim_name == BATCH_DIM:
                low, opt, high = settings.min_batch, settings.opt_batch, settings.max_batch
            elif dim_name == BOXES_DIM:
                low, opt, high = settings.boxes
            else:
                raise ExportError(
                    f"input {spec.name!r} of {card.file} has a dynamic axis {dim_name!r}; only "
                    f"{BATCH_DIM!r} (batch) and {BOXES_DIM!r} (boxes) can be profiled"
                )
            lows.append(low)
            opts.append(opt)
            highs.append(high)
        profiles.append(InputProfile(spec.name, tuple(lows), tuple(opts), tuple(highs)))
    return profiles


def trtexec_command(
    onnx_path: Path, plan_path: Path, profiles: list[InputProfile], *, fp16: bool
) -> str:
    """The ``trtexec`` command line equivalent to :func:`build_plan`."""

    def shapes(which: str) -> str:
        return ",".join(f"{p.name}:{'x'.join(str(d) for d in getattr(p, which))}" for p in profiles)

    args = [TRTEXEC, f"--onnx={onnx_path}", f"--saveEngine={plan_path}"]
    if any(p.min_shape != p.max_shape for p in profiles):
        args += [
            f"--minShapes={shapes('min_shape')}",
            f"--optShapes={shapes('opt_shape')}",
            f"--maxShapes={shapes('max_shape')}",
        ]
    if fp16:
        args.append("--fp16")
    return shlex.join(args)


def build_plan(
    onnx_path: str | os.PathLike[str],
    plan_path: str | os.PathLike[str],
    settings: ProfileSettings | None = None,
    *,
    fp16: bool = False,
    workspace_mib: int = 4096,
) -> Path:
    """Build a TensorRT plan from an exported ONNX file and write its card
    (``<plan>.card.json``; ``format: "tensorrt_plan"``, profiles under ``extra``).

    Raises:
        ExportError: missing ONNX file or card, bad profile settings, a failed parse or build.
        TensorRTUnavailableError: ``tensorrt`` is not importable (message has the trtexec line).
    """
    source = require_file(onnx_path, "ONNX file")
    target = Path(plan_path)
    try:
        card = ModelCard.for_model(source)
    except CardError as exc:
        raise ExportError(
            f"{exc}; export {source.name} with 'loadcheck export' first (the card gives the "
            "dynamic axes)"
        ) from exc
    settings = settings or ProfileSettings()
    profiles = input_profiles(card, settings)
    try:
        import tensorrt as trt
    except ImportError:
        raise TensorRTUnavailableError(
            "TensorRT's Python API (the 'tensorrt' package) is not installed here. Build the plan "
            "inside the Triton container that will serve it (same TensorRT version, same GPU):\n"
            + trtexec_command(source, target, profiles, fp16=fp16)
        ) from None
    card_path_for(target).unlink(missing_ok=True)
    serialized = _build_with_tensorrt(trt, source, profiles, fp16=fp16, workspace_mib=workspace_mib)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(serialized)
    plan_card = dataclasses.replace(
        card,
        file=target.name,
        format="tensorrt_plan",
        dtype="fp16" if fp16 or card.dtype == "fp16" else "fp32",
        source_checkpoint=source.name,
        source_sha256=sha256_file(source),
        library_versions={**card.library_versions, "tensorrt": str(trt.__version__)},
        created_utc=utc_now(),
        external_data=False,
        extra={
            **card.extra,
            "onnx_source_checkpoint": card.source_checkpoint,
            "onnx_source_sha256": card.source_sha256,
            "tensorrt_profiles": [dataclasses.asdict(p) for p in profiles],
            "max_batch": settings.max_batch,
        },
    )
    plan_card.save(card_path_for(target))
    logger.info("wrote TensorRT plan %s", target)
    return target


def _build_with_tensorrt(
    trt: object, onnx_path: Path, profiles: list[InputProfile], *, fp16: bool, workspace_mib: int
) -> bytes:  # tested against a stand-in tensorrt module (tests/unit/export)
    t = trt  # the tensorrt module (untyped)
    trt_logger = t.Logger(t.Logger.WARNING)  # type: ignore[attr-defined]
    t.init_libnvinfer_plugins(trt_logger, "")  # type: ignore[attr-defined]
    builder = t.Builder(trt_logger)  # type: ignore[attr-defined]
    network = builder.create_network(0)
    parser = t.OnnxParser(network, trt_logger)  # type: ignore[attr-defined]
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT could not parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(t.MemoryPoolType.WORKSPACE, workspace_mib << 20)  # type: ignore[attr-defined]
    if fp16:
        config.set_flag(t.BuilderFlag.FP16)  # type: ignore[attr-defined]
    profile = builder.create_optimization_profile()
    for p in profiles:
        profile.set_shape(p.name, p.min_shape, p.opt_shape, p.max_shape)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT failed to build a plan from {onnx_path.name}")
    return bytes(serialized)
