"""The repository builder: exported networks + model cards -> a complete Triton model repository.

``build_repository(export_dir, repository, settings)`` writes ``preprocess``, ``detector``,
``prompts``, ``sam_encoder``, ``sam_decoder``, ``masks`` and the ``segmentator`` ensemble, each
model folder atomically (written beside, then renamed), and ``loadcheck_repository.json`` with
the settings used. ``scorer_*`` folders written by ``loadcheck deploy`` are kept; their
``integrator_*`` ensembles are rewritten, since they repeat the segmentator's steps.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loadcheck import tensor_names as tn
from loadcheck.atomic import atomic_write_text
from loadcheck.serving import layout
from loadcheck.serving.config import DataType, Device, InstanceGroup, ModelConfig, render_config
from loadcheck.serving.images import DEFAULT_MAX_PIXELS
from loadcheck.serving.masks import MaskRefinement
from loadcheck.serving.prompts import DetectorSettings, SamFrame, format_class_map
from loadcheck.serving.runtimes import (
    DEFAULT_RUNTIME,
    RUNTIMES,
    NetworkPlacement,
    NetworkSpec,
    RuntimeOutput,
)

LOGGER = logging.getLogger(__name__)
MANIFEST = "loadcheck_repository.json"
NETWORKS = (tn.DETECTOR_MODEL, tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL)
PLAN_SUFFIX = ".plan"  # key of a TensorRT plan's card in load_cards' result


class RepositoryError(ValueError):
    """The exported models or the settings cannot make a repository; the message says why."""


@dataclass(frozen=True)
class RepositorySettings:
    """Everything ``loadcheck repository build`` lets a site choose (no hand-edited configs).

    Attributes:
        runtime: runtime name per network (keys of :data:`NETWORKS`), see ``RUNTIMES``.
        device: ``cpu`` or ``gpu`` per network; Python steps always run on the CPU.
        sam_img_size: S of the SAM encoder (must match the exported encoder); ``None``: the card's.
        sam_frame: ``crop`` (SAM on the detected trucks' region) or ``whole`` (whole frame).
        detector: confidence / IoU thresholds and max detections.
        max_pixels: decoded images above this many pixels are refused.
        detector_max_batch / encoder_max_batch: dynamic batching limits (0 disables).
        queue_delay_us: dynamic batcher's max queue delay in microseconds.
        instances: instances per model (same count for every model).
        intra_op_threads: ONNX Runtime threads per ``python-onnxruntime`` instance (0 = default).
        mask_refine: guided-filter refinement of SAM's masks with the photo's edges (radius 0 =
            SAM's plain upsampled masks), see :class:`~loadcheck.serving.masks.MaskRefinement`.
    """

    runtime: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(NETWORKS, DEFAULT_RUNTIME)
    )
    device: Mapping[str, Device] = field(
        default_factory=lambda: dict.fromkeys(NETWORKS, Device.CPU)
    )
    sam_img_size: int | None = None
    sam_frame: SamFrame = SamFrame.CROP
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    max_pixels: int = DEFAULT_MAX_PIXELS
    detector_max_batch: int = 8
    encoder_max_batch: int = 4
    queue_delay_us: int = 2000
    instances: int = 1
    intra_op_threads: int = 0
    mask_refine: MaskRefinement = field(default_factory=MaskRefinement)

    def __post_init__(self) -> None:
        for net in NETWORKS:
            runtime = self.runtime.get(net, DEFAULT_RUNTIME)
            if runtime not in RUNTIMES:
                raise RepositoryError(
                    f"runtime for {net}: {runtime!r} is not one of {sorted(RUNTIMES)}"
                )

    @classmethod
    def uniform(cls, runtime: str, device: Device, **kwargs: object) -> RepositorySettings:
        return cls(
            runtime=dict.fromkeys(NETWORKS, runtime),
            device=dict.fromkeys(NETWORKS, device),
            **kwargs,  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["runtime"] = dict(self.runtime)
        data["device"] = {k: Device(v).value for k, v in self.device.items()}
        data["sam_frame"] = self.sam_frame.value
        return data


def load_cards(export_dir: Path) -> dict[str, object]:
    """``{kind: ModelCard}`` for every ONNX card in ``export_dir`` (all three networks needed),
    plus ``{kind + ".plan": ModelCard}`` for plans from ``loadcheck export tensorrt``."""
    from loadcheck.export.card import CARD_SUFFIX, CardError, ModelCard

    cards: dict[str, object] = {}
    if not export_dir.is_dir():
        raise RepositoryError(f"--models: {export_dir} is not a folder")
    for path in sorted(export_dir.glob(f"*{CARD_SUFFIX}")):
        try:
            card = ModelCard.load(path)
        except CardError as exc:
            raise RepositoryError(f"{path}: {exc}") from exc
        key = card.kind if card.format != "tensorrt_plan" else f"{card.kind}{PLAN_SUFFIX}"
        if key in cards:
            raise RepositoryError(f"{export_dir}: two model cards for {key!r}")
        cards[key] = card
    missing = [k for k in NETWORKS if k not in cards]
    if missing:
        raise RepositoryError(
            f"{export_dir}: no model card for {missing}; expected *{CARD_SUFFIX} files written by "
            "`loadcheck export` beside detector, sam_encoder and sam_decoder"
        )
    return cards


def network_spec(
    name: str,
    card: object,
    export_dir: Path,
    with_checkpoint: bool = False,
    plan_card: object | None = None,
) -> NetworkSpec:
    def tensors(specs: object) -> list[tuple[str, str, tuple[int, ...]]]:
        return [(t.name, t.dtype, tuple(t.shape)) for t in specs]  # type: ignore[attr-defined]

    inputs = tensors(card.inputs)  # type: ignore[attr-defined]
    first = card.inputs[0]  # type: ignore[attr-defined]
    return NetworkSpec(
        name=name,
        source=export_dir / card.file,  # type: ignore[attr-defined]
        inputs=inputs,
        outputs=tensors(card.outputs),  # type: ignore[attr-defined]
        batch_axis=bool(first.dim_names and first.dim_names[0] == "B"),
        checkpoint=_checkpoint(card, export_dir) if with_checkpoint else None,
        plan=export_dir / plan_card.file if plan_card is not None else None,  # type: ignore[attr-defined]
        model_type=str(card.model_type),  # type: ignore[attr-defined]
        image_size=int(card.image_size),  # type: ignore[attr-defined]
    )


def _checkpoint(card: object, export_dir: Path) -> Path:
    from loadcheck.serving.torch_models import TorchRuntimeError, find_checkpoint

    try:
        return find_checkpoint(
            export_dir,
            str(card.source_checkpoint),  # type: ignore[attr-defined]
            str(card.source_sha256),  # type: ignore[attr-defined]
        )
    except TorchRuntimeError as exc:
        raise RepositoryError(str(exc)) from exc


def write_model(
    repository: Path,
    config: ModelConfig,
    files: Mapping[str, Path] | None = None,
    model_py: str | None = None,
    version: int = 1,
) -> Path:
    """Write ``<repository>/<name>/`` atomically: config.pbtxt + ``<version>/`` files."""
    repository.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config.name}.", dir=repository))
    try:
        atomic_write_text(staging / "config.pbtxt", render_config(config))
        version_dir = staging / str(version)
        version_dir.mkdir()
        for target, source in (files or {}).items():
            _link_or_copy(source, version_dir / target)
            data = source.with_name(source.name + ".data")
            if data.is_file():
                _link_or_copy(data, version_dir / data.name)
        if model_py is not None:
            atomic_write_text(version_dir / "model.py", layout.model_py(model_py))
        final = repository / config.name
        old = repository / f".{config.name}.old"
        if old.exists():
            shutil.rmtree(old)
        if final.exists():
            final.replace(old)
        staging.replace(final)
        shutil.rmtree(old, ignore_errors=True)
        return final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _link_or_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise RepositoryError(f"model file not found: {source}")
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _integrator_ensembles(repository: Path) -> list[str]:
    """Names of the integrators written into ``repository`` by ``loadcheck deploy`` (an
    ``integrator_<name>`` ensemble beside its ``scorer_<name>``), loaded or not, sorted."""
    names = []
    for folder in sorted(Path(repository).glob(f"{tn.INTEGRATOR_PREFIX}*")):
        name = folder.name[len(tn.INTEGRATOR_PREFIX) :]
        scorer = Path(repository) / tn.scorer_model_name(name)
        if (folder / "config.pbtxt").is_file() and (scorer / "config.pbtxt").is_file():
            names.append(name)
    return names


def build_repository(export_dir: Path, repository: Path, settings: RepositorySettings) -> list[str]:
    """Write the segmentator's models into ``repository``; returns notes (e.g. plans to build)."""
    cards = load_cards(export_dir)
    det, enc = cards[tn.DETECTOR_MODEL], cards[tn.SAM_ENCODER_MODEL]
    if det.nms != "none":  # type: ignore[attr-defined]
        raise RepositoryError(
            f"detector: in-graph NMS ({det.nms!r}) is not served yet; export with raw output"  # type: ignore[attr-defined]
        )
    side = int(enc.image_size)  # type: ignore[attr-defined]
    if settings.sam_img_size is not None and settings.sam_img_size != side:
        raise RepositoryError(
            f"--sam-img-size {settings.sam_img_size} differs from the exported encoder's S={side}; "
            "re-export the encoder at that size"
        )
    notes: list[str] = []
    specs = {
        name: network_spec(
            name,
            cards[name],
            export_dir,
            settings.runtime.get(name) == "python-torch",
            cards.get(f"{name}{PLAN_SUFFIX}"),
        )
        for name in NETWORKS
    }
    max_batch = {
        tn.DETECTOR_MODEL: settings.detector_max_batch,
        tn.SAM_ENCODER_MODEL: settings.encoder_max_batch,
        tn.SAM_DECODER_MODEL: 0,
    }
    for name in NETWORKS:
        placement = NetworkPlacement(
            max_batch_size=max_batch[name],
            queue_delay_us=settings.queue_delay_us,
            instances=InstanceGroup(settings.instances, Device(settings.device.get(name, "cpu"))),
            intra_op_threads=settings.intra_op_threads,
        )
        out: RuntimeOutput = RUNTIMES[settings.runtime.get(name, DEFAULT_RUNTIME)](
            specs[name], placement
        )
        try:
            write_model(repository, out.config, out.files, out.model_py)
        finally:
            if out.staging is not None:
                shutil.rmtree(out.staging, ignore_errors=True)
        if out.notes:
            notes.append(out.notes)

    det_in = specs[tn.DETECTOR_MODEL].inputs[0]
    raw = specs[tn.DETECTOR_MODEL].outputs[0]
    low = dict((n, s) for n, _, s in specs[tn.SAM_DECODER_MODEL].outputs)[tn.SAM_LOW_RES_MASKS]
    shapes = layout.NetworkShapes(
        detector_input=(1, *det_in[2][1:]),
        detector_input_dtype=DataType.UINT8 if det_in[1] == "uint8" else DataType.FP32,
        raw_detections=(1, *raw[2][1:]),
        sam_side=side,
        low_res_side=int(low[-1]),
    )
    cpu = InstanceGroup(settings.instances, Device.CPU)
    det_size = int(det.image_size)  # type: ignore[attr-defined]
    python_models = [
        layout.preprocess_config(
            shapes,
            cpu,
            {
                "detector_height": str(det_size),
                "detector_width": str(det_size),
                "detector_pad": str(det.pad_rgb[0]),  # type: ignore[attr-defined]
                "detector_input": det.input_contract,  # type: ignore[attr-defined]
                "max_pixels": str(settings.max_pixels),
            },
        ),
        layout.prompts_config(
            shapes,
            cpu,
            {
                "conf_thres": str(settings.detector.conf_thres),
                "iou_thres": str(settings.detector.iou_thres),
                "max_det": str(settings.detector.max_det),
                "sam_img_size": str(side),
                "sam_frame": settings.sam_frame.value,
                "sam_pad_rgb": ",".join(str(v) for v in enc.pad_rgb),  # type: ignore[attr-defined]
                "class_map": format_class_map(dict(det.class_map)),  # type: ignore[attr-defined]
            },
        ),
        layout.masks_config(
            shapes, cpu, {"sam_img_size": str(side), **settings.mask_refine.to_params()}
        ),
    ]
    for config in python_models:
        write_model(repository, config, model_py=layout.PYTHON_STEPS[config.name])
    write_model(repository, layout.segmentator_config())
    for name in _integrator_ensembles(repository):
        # an integrator's ensemble repeats the segmentator's steps: keep it in step with them
        write_model(repository, layout.integrator_config(name))
    manifest = {"export_dir": str(export_dir.resolve()), "settings": settings.to_json()}
    atomic_write_text(repository / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    for note in notes:
        LOGGER.warning("%s", note)
    return notes
