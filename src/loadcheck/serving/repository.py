"""The repository builder: exported networks + model cards -> a complete Triton model repository.

``build_repository(export_dir, repository, settings)`` declares the
:class:`~loadcheck.pipeline.declaration.Segmentator` of the export folder's networks and writes
what it generates: each Python step (``preprocess``, ``prompts``, ``masks``) served by the one
adapter, each network through its runtime (:mod:`loadcheck.serving.runtimes`), then the
``segmentator`` ensemble, each model folder atomically (written beside, then renamed), and
``loadcheck_repository.json`` with the settings used. Integrators already deployed into the
repository (``scorer_*`` + ``integrator_*``) are kept and brought up to this loadcheck's
generated configs (their ensembles reference the ``segmentator`` by name).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from loadcheck import tensor_names as tn
from loadcheck.atomic import atomic_write_text
from loadcheck.imageio import DEFAULT_MAX_PIXELS
from loadcheck.pipeline.cards import NETWORK_KINDS, CardError, ExportedNetworks, load_cards
from loadcheck.pipeline.declaration import (
    DeclarationError,
    FusedSamStage,
    NetworkStage,
    Segmentator,
    SegmentatorSettings,
)
from loadcheck.pipeline.masks import MaskRefinement
from loadcheck.pipeline.prompts import DetectorSettings, SamFrame
from loadcheck.pipeline.step import Step
from loadcheck.serving import layout
from loadcheck.serving.build_info import BUILD_KEY, BuildInfo, BuildInfoError, card_hashes
from loadcheck.serving.config import Device, InstanceGroup, ModelConfig, render_config
from loadcheck.serving.runtimes import (
    DEFAULT_RUNTIME,
    RUNTIMES,
    NetworkPlacement,
    Runtime,
    python_torch,
)
from loadcheck.serving.storage import ModelRepository, open_repository

LOGGER = logging.getLogger(__name__)
MANIFEST = "loadcheck_repository.json"
NETWORKS = NETWORK_KINDS


class RepositoryError(ValueError):
    """The exported models or the settings cannot make a repository; the message says why."""


@dataclass(frozen=True)
class RepositorySettings:
    """Everything ``loadcheck repository build`` lets a site choose (no hand-edited configs).

    Attributes:
        runtime: :class:`~loadcheck.serving.runtimes.Runtime` per network (keys of
            :data:`NETWORKS`).
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
            SAM's plain upsampled masks), see :class:`~loadcheck.pipeline.masks.MaskRefinement`.
        fuse_sam: SAM's encoder and decoder as one ``sam`` model, the embeddings kept on the
            device (``python-torch`` for both SAM networks only).
        fused_attention: ``python-torch``: SAM's encoder attention through PyTorch's fused
            ``scaled_dot_product_attention`` (off: segment-anything's own).
        warmup: Triton runs zeros through each network at load (batch 1 and the max batch).
        encoder_preferred_batch: the encoder's (or ``sam``'s) preferred batch sizes.
        cuda_graphs: ``optimization.cuda.graphs`` for TensorRT plans.
        scorer_instances: instances of each ``scorer_<name>``.
        bf16: ``python-torch`` on a GPU: bfloat16 autocast (off: float32).
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
    queue_delay_us: int = 0
    instances: int = 1
    intra_op_threads: int = 0
    mask_refine: MaskRefinement = field(default_factory=MaskRefinement)
    fuse_sam: bool = False
    fused_attention: bool = True
    warmup: bool = False
    encoder_preferred_batch: tuple[int, ...] = ()
    cuda_graphs: bool = False
    scorer_instances: int = 1
    bf16: bool = True

    def __post_init__(self) -> None:
        runtimes = {}
        for net in NETWORKS:
            value = self.runtime.get(net, DEFAULT_RUNTIME)
            try:
                runtimes[net] = Runtime(value)
            except ValueError:
                raise RepositoryError(
                    f"runtime for {net}: {value!r} is not one of {[r.value for r in Runtime]}"
                ) from None
        object.__setattr__(self, "runtime", runtimes)
        object.__setattr__(
            self, "device", {n: Device(self.device.get(n, Device.CPU)) for n in NETWORKS}
        )
        for name in (
            "detector_max_batch",
            "encoder_max_batch",
            "queue_delay_us",
            "intra_op_threads",
        ):
            if getattr(self, name) < 0:
                raise RepositoryError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.instances < 1 or self.scorer_instances < 1:
            raise RepositoryError(
                f"instances, scorer_instances: expected >= 1, got {self.instances}, "
                f"{self.scorer_instances}"
            )
        sam = (tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL)
        if self.fuse_sam and any(runtimes[n] is not Runtime.PYTHON_TORCH for n in sam):
            raise RepositoryError(
                "fuse_sam: SAM's encoder and decoder as one model needs --runtime python-torch "
                f"for both (got {runtimes[sam[0]].value} and {runtimes[sam[1]].value})"
            )
        if self.fuse_sam and self.device[sam[0]] != self.device[sam[1]]:
            raise RepositoryError("fuse_sam: sam_encoder and sam_decoder need the same --device")
        if any(n < 1 for n in self.encoder_preferred_batch):
            raise RepositoryError(
                f"encoder_preferred_batch: expected sizes >= 1, got {self.encoder_preferred_batch}"
            )

    @classmethod
    def uniform(cls, runtime: str, device: Device, **kwargs: object) -> RepositorySettings:
        return cls(
            runtime=dict.fromkeys(NETWORKS, Runtime(runtime)),
            device=dict.fromkeys(NETWORKS, device),
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def segmentator(self) -> SegmentatorSettings:
        """The settings of the segmentator's Python steps."""
        return SegmentatorSettings(
            detector=self.detector,
            sam_frame=self.sam_frame,
            sam_img_size=self.sam_img_size,
            max_pixels=self.max_pixels,
            mask_refine=self.mask_refine,
            fuse_sam=self.fuse_sam,
        )

    def placement(self, network: str) -> NetworkPlacement:
        """How ``network`` is served (``sam``: the fused encoder + decoder, placed like the
        encoder; Triton does not batch it: its prompts have no batch axis)."""
        max_batch = {
            tn.DETECTOR_MODEL: self.detector_max_batch,
            tn.SAM_ENCODER_MODEL: self.encoder_max_batch,
            tn.SAM_DECODER_MODEL: 0,
            tn.SAM_MODEL: 0,
        }[network]
        device = self.device[tn.SAM_ENCODER_MODEL if network == tn.SAM_MODEL else network]
        preferred = self.encoder_preferred_batch if network == tn.SAM_ENCODER_MODEL else ()
        return NetworkPlacement(
            max_batch_size=max_batch,
            queue_delay_us=self.queue_delay_us,
            instances=InstanceGroup(self.instances, device),
            intra_op_threads=self.intra_op_threads,
            max_boxes=self.detector.max_det,
            preferred_batch_sizes=preferred,
            warmup=self.warmup,
            cuda_graphs=self.cuda_graphs,
            fused_attention=self.fused_attention,
            bf16=self.bf16,
        )

    def runtime_of(self, network: str) -> Runtime:
        """The runtime serving ``network`` (``sam``: python-torch, checked at construction)."""
        return Runtime(self.runtime[tn.SAM_ENCODER_MODEL if network == tn.SAM_MODEL else network])

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["runtime"] = {k: Runtime(v).value for k, v in self.runtime.items()}
        data["device"] = {k: Device(v).value for k, v in self.device.items()}
        data["sam_frame"] = self.sam_frame.value
        data["encoder_preferred_batch"] = list(self.encoder_preferred_batch)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RepositorySettings:
        """Inverse of :meth:`to_json`; fields an older manifest lacks take their defaults
        (except the mask refinement, which such a repository did not have)."""
        try:
            refine = data.get("mask_refine") or {"radius": 0.0}
            return cls(
                runtime=dict(data.get("runtime", {})),
                device={k: Device(v) for k, v in dict(data.get("device", {})).items()},
                sam_img_size=data.get("sam_img_size"),
                sam_frame=SamFrame(data.get("sam_frame", SamFrame.CROP.value)),
                detector=DetectorSettings(**dict(data.get("detector", {}))),
                max_pixels=int(data.get("max_pixels", DEFAULT_MAX_PIXELS)),
                detector_max_batch=int(data.get("detector_max_batch", 8)),
                encoder_max_batch=int(data.get("encoder_max_batch", 4)),
                queue_delay_us=int(data.get("queue_delay_us", 2000)),
                instances=int(data.get("instances", 1)),
                intra_op_threads=int(data.get("intra_op_threads", 0)),
                mask_refine=MaskRefinement(**dict(refine)),
                fuse_sam=bool(data.get("fuse_sam", False)),
                fused_attention=bool(data.get("fused_attention", True)),
                warmup=bool(data.get("warmup", False)),
                encoder_preferred_batch=tuple(
                    int(n) for n in data.get("encoder_preferred_batch", ())
                ),
                cuda_graphs=bool(data.get("cuda_graphs", False)),
                scorer_instances=int(data.get("scorer_instances", 1)),
                bf16=bool(data.get("bf16", True)),
            )
        except (TypeError, ValueError) as exc:
            raise RepositoryError(f"{MANIFEST}: malformed settings: {exc}") from exc


@dataclass(frozen=True)
class Manifest:
    """What ``loadcheck repository build`` recorded: the export folder, the settings and the
    build (``None`` for a repository built before builds had ids)."""

    export_dir: Path | None
    settings: RepositorySettings
    raw_settings: dict[str, Any]
    build: BuildInfo | None = None


def read_manifest(repository: ModelRepository | Path | str) -> Manifest:
    """The repository's ``loadcheck_repository.json`` (a folder or ``s3://``).

    Raises:
        RepositoryError: the repository was never built, or the file is not what the builder
            writes.
    """
    repo = open_repository(repository)
    text = repo.read_text(MANIFEST)
    if text is None:
        raise RepositoryError(
            f"{repo.url} has no {MANIFEST}; build it once with `loadcheck repository build`"
        )
    try:
        data = json.loads(text)
        raw = dict(data["settings"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RepositoryError(
            f"{repo.url}/{MANIFEST}: not a manifest written by loadcheck ({exc})"
        ) from exc
    export = data.get("export_dir")
    try:
        build = BuildInfo.from_json(data[BUILD_KEY]) if data.get(BUILD_KEY) else None
    except BuildInfoError as exc:
        raise RepositoryError(f"{repo.url}/{MANIFEST}: {exc}") from exc
    return Manifest(Path(export) if export else None, RepositorySettings.from_json(raw), raw, build)


def write_model(
    repository: Path,
    config: ModelConfig,
    files: Mapping[str, Path] | None = None,
    *,
    model_py: bool = False,
    version: int = 1,
) -> Path:
    """Write ``<repository>/<name>/`` atomically: config.pbtxt + ``<version>/`` files (and
    the adapter's ``model.py`` for a Python-backend model)."""
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
        if model_py:
            atomic_write_text(version_dir / "model.py", layout.model_py())
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


def deployed_integrators_in(repository: ModelRepository | Path | str) -> list[str]:
    """Names of the integrators written into ``repository`` by ``loadcheck deploy`` (an
    ``integrator_<name>`` ensemble beside its ``scorer_<name>``), loaded or not, sorted."""
    models = set(open_repository(repository).models())
    return [
        model[len(tn.INTEGRATOR_PREFIX) :]
        for model in sorted(models)
        if model.startswith(tn.INTEGRATOR_PREFIX)
        and tn.scorer_model_name(model[len(tn.INTEGRATOR_PREFIX) :]) in models
    ]


def declare_segmentator(
    export_dir: Path, settings: RepositorySettings
) -> tuple[ExportedNetworks, Segmentator]:
    """The export folder's networks and their segmentator; :class:`RepositoryError` says why
    they cannot make one."""
    try:
        networks = load_cards(export_dir)
        return networks, Segmentator.from_networks(networks, settings.segmentator)
    except CardError as exc:
        raise RepositoryError(f"--models: {exc}") from exc
    except DeclarationError as exc:
        raise RepositoryError(str(exc)) from exc


def build_repository(
    export_dir: Path, repository: ModelRepository | Path | str, settings: RepositorySettings
) -> list[str]:
    """Write the segmentator's models into ``repository`` (a folder or ``s3://``) as one
    publish: every model's version files, then the configs, then the manifest; returns notes
    for the operator."""
    repo = open_repository(repository)
    with repo.staging() as staged:
        notes = _stage_repository(Path(export_dir), staged, settings, repo)
        repo.publish(staged)
        if repo.local_folder is None:
            _prune_versions(repo, staged)
    for note in notes:
        LOGGER.warning("%s", note)
    return notes


def next_version(target: ModelRepository, config: ModelConfig) -> tuple[ModelConfig, int]:
    """The version a rebuild writes ``config``'s model as.

    A folder is rebuilt in place (version ``1``; the model folder is swapped by a rename). On
    object storage, which has no rename, a model the bucket already holds gets the next version
    number and a config that serves exactly that version: a replica that polls while the new
    version's files are uploading keeps serving the version its config names.
    """
    if target.local_folder is not None:
        return config, 1
    existing = _versions_of(target, config.name)
    if not existing:
        return config, 1
    version = existing[-1] + 1
    return replace(config, versions=(version,)), version


def _versions_of(target: ModelRepository, model: str) -> list[int]:
    return sorted(
        {int(k.split("/")[1]) for k in target.list_keys(model) if k.split("/")[1].isdigit()}
    )


def _prune_versions(target: ModelRepository, staged: Path) -> None:
    """After a rebuild on object storage: each rebuilt model keeps its new version and the one
    before it (a replica may still be loading that one); older versions go."""
    for folder in sorted(p for p in staged.iterdir() if p.is_dir()):
        versions = _versions_of(target, folder.name)
        built = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
        if not built or folder.name.startswith(tn.SCORER_PREFIX):
            continue
        for old in versions:
            if old < max(built) - 1:
                target.delete_version(folder.name, old)


def _stage_repository(
    export_dir: Path, repository: Path, settings: RepositorySettings, target: ModelRepository
) -> list[str]:
    """Write the models into the staging folder ``repository``, with the deployed integrators
    of ``target`` brought up to date."""
    networks, segmentator = declare_segmentator(Path(export_dir), settings)
    cpu = InstanceGroup(settings.instances, Device.CPU)
    notes: list[str] = []
    for stage in segmentator.stages:
        if isinstance(stage, Step):
            config, version = next_version(target, layout.python_step_config(stage, cpu))
            write_model(repository, config, model_py=True, version=version)
            continue
        assert isinstance(stage, NetworkStage | FusedSamStage)
        placement = settings.placement(stage.name)
        try:
            if isinstance(stage, FusedSamStage):
                out = python_torch(stage, placement)
            else:
                out = RUNTIMES[settings.runtime_of(stage.name)](
                    stage, placement, networks.plans.get(stage.name)
                )
        except ValueError as exc:  # the runtime refuses the files or the settings
            raise RepositoryError(str(exc)) from exc
        try:
            config, version = next_version(target, out.config)
            write_model(
                repository, config, out.files, model_py=config.backend == "python", version=version
            )
        finally:
            if out.staging is not None:
                shutil.rmtree(out.staging, ignore_errors=True)
        notes.extend(out.notes)
    write_model(repository, layout.segmentator_config(segmentator))
    build = BuildInfo.new(card_hashes(networks), settings.to_json())
    _upgrade_integrators(target, repository, settings.scorer_instances, build)
    manifest = {
        "export_dir": str(networks.folder.resolve()),
        "settings": settings.to_json(),
        BUILD_KEY: build.to_json(),
    }
    atomic_write_text(repository / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return notes


def _upgrade_integrators(
    target: ModelRepository, staged: Path, instances: int, build: BuildInfo
) -> None:
    """Stage the deployed integrators' generated files (the ensemble, and the scorer's config
    and ``model.py`` of its served version, read from ``target``) so that a repository written
    by an older loadcheck keeps serving them, and their answers name this ``build``."""
    from loadcheck.serving.deploy import served_scorer_version, stage_integrator

    for name in deployed_integrators_in(target):
        version = served_scorer_version(target, name)
        if version is not None:
            stage_integrator(staged, target, name, version, instances, build)
        else:
            write_model(staged, layout.integrator_config(name))
