"""CLI: ``loadcheck repository build``, ``serve``, ``deploy`` and ``undeploy`` (``--wait``: until
every Triton replica follows, :mod:`loadcheck.serving.replicas`).

Every option of ``repository build`` defaults to :class:`RepositorySettings`' value; the choices
are the :class:`Runtime`, :class:`Device` and :class:`SamFrame` enums. ``--repository`` is
``$LOADCHECK_REPOSITORY`` everywhere, ``--api-key`` ``$LOADCHECK_API_KEY``. Heavy imports
(protobuf, tritonclient, onnxruntime) happen inside the commands.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from loadcheck.cli_options import api_key_option, host_option, repository_option
from loadcheck.cli_options import fail as _fail
from loadcheck.deploy_constants import TRITON_GRPC_PORT, TRITON_HTTP_PORT, TRITON_METRICS_PORT
from loadcheck.environment import POLL_SECS, REPOSITORY
from loadcheck.pipeline.prompts import SamFrame
from loadcheck.serving.config import Device
from loadcheck.serving.replicas import DEFAULT_WAIT_TIMEOUT_S, ReplicaTarget
from loadcheck.serving.repository import NETWORKS, RepositorySettings
from loadcheck.serving.runtimes import Runtime

LOGGER = logging.getLogger(__name__)
#: What ``repository build`` does without options.
DEFAULTS = RepositorySettings()

repository_app = typer.Typer(
    help="Build the Triton model repository from exported models.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _overrides(items: list[str], flag: str, allowed: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in NETWORKS or value not in allowed:
            raise typer.BadParameter(
                f"{item!r}: expected NETWORK=VALUE with NETWORK in {NETWORKS} and VALUE in "
                f"{allowed}",
                param_hint=flag,
            )
        out[name] = value
    return out


@repository_app.command("build")
def build_command(
    models: Path = typer.Option(..., "--models", help="Folder of exported models + model cards."),
    repository: str = repository_option(
        "Model repository to write: a folder or s3://bucket/prefix."
    ),
    runtime: Runtime = typer.Option(
        DEFAULTS.runtime[NETWORKS[0]],  # the same for every network
        "--runtime",
        help="Runtime of detector, sam_encoder and sam_decoder.",
    ),
    sam_img_size: int | None = typer.Option(
        DEFAULTS.sam_img_size,
        "--sam-img-size",
        help="SAM encoder side S in px (must match the export; default: the model card's).",
    ),
    sam_frame: SamFrame = typer.Option(
        DEFAULTS.sam_frame,
        "--sam-frame",
        help="What SAM encodes: the detected trucks' region (crop) or the whole frame.",
    ),
    conf_thres: float = typer.Option(
        DEFAULTS.detector.conf_thres, "--conf-thres", help="Detector confidence threshold."
    ),
    iou_thres: float = typer.Option(
        DEFAULTS.detector.iou_thres, "--iou-thres", help="NMS IoU threshold."
    ),
    max_det: int = typer.Option(
        DEFAULTS.detector.max_det, "--max-det", help="Max detections per image."
    ),
    device: Device = typer.Option(
        DEFAULTS.device[NETWORKS[0]],  # the same for every network
        "--device",
        help="Where the networks run (the Python steps always run on the CPU).",
    ),
    instances: int = typer.Option(DEFAULTS.instances, "--instances", help="Instances per model."),
    max_pixels: int = typer.Option(
        DEFAULTS.max_pixels, "--max-pixels", help="Refuse larger images."
    ),
    queue_delay_us: int = typer.Option(
        DEFAULTS.queue_delay_us,
        "--queue-delay-us",
        help="Batcher queue delay in us (0: batch what is queued, never wait).",
    ),
    detector_max_batch: int = typer.Option(
        DEFAULTS.detector_max_batch,
        "--detector-max-batch",
        help="Dynamic batching limit of the detector (0: off).",
    ),
    encoder_max_batch: int = typer.Option(
        DEFAULTS.encoder_max_batch,
        "--encoder-max-batch",
        help="Dynamic batching limit of sam_encoder (0: off).",
    ),
    intra_op_threads: int = typer.Option(
        DEFAULTS.intra_op_threads,
        "--intra-op-threads",
        help="ONNX Runtime threads per instance (0: its default).",
    ),
    mask_refine_radius: float = typer.Option(
        DEFAULTS.mask_refine.radius,
        "--mask-refine-radius",
        help="Guided-filter radius refining SAM's masks, in SAM low-res mask px (0: off).",
    ),
    mask_refine_eps: float = typer.Option(
        DEFAULTS.mask_refine.eps,
        "--mask-refine-eps",
        help="Guided-filter regulariser (grey levels 0..1 squared): photo edges it keeps.",
    ),
    fuse_sam: bool = typer.Option(
        DEFAULTS.fuse_sam,
        "--fuse-sam",
        help="python-torch: SAM's encoder and decoder as one model (embeddings stay on the GPU).",
    ),
    fused_attention: bool = typer.Option(
        DEFAULTS.fused_attention,
        "--fused-attention/--eager-attention",
        help="python-torch: SAM encoder attention through PyTorch's fused SDPA, or SAM's own.",
    ),
    bf16: bool = typer.Option(
        DEFAULTS.bf16, "--bf16/--fp32", help="python-torch on a GPU: bfloat16 autocast or float32."
    ),
    warmup: bool = typer.Option(
        DEFAULTS.warmup, "--warmup", help="Triton runs zeros through each network at load."
    ),
    encoder_preferred_batch: list[int] = typer.Option(
        [], "--encoder-preferred-batch", help="Preferred batch size of the encoder (repeatable)."
    ),
    cuda_graphs: bool = typer.Option(
        DEFAULTS.cuda_graphs, "--cuda-graphs", help="CUDA graphs of TensorRT plans."
    ),
    scorer_instances: int = typer.Option(
        DEFAULTS.scorer_instances, "--scorer-instances", help="Instances of each scorer_<name>."
    ),
    network_runtime: list[str] = typer.Option(
        [], "--network-runtime", help="Per-network override, e.g. sam_encoder=tensorrt."
    ),
    network_device: list[str] = typer.Option(
        [], "--network-device", help="Per-network override, e.g. detector=gpu."
    ),
) -> None:
    """Write a complete Triton model repository (segmentator and its models)."""
    from loadcheck.pipeline.masks import MaskRefinement
    from loadcheck.pipeline.prompts import DetectorSettings
    from loadcheck.serving.repository import RepositoryError, build_repository

    runtimes = _overrides(network_runtime, "--network-runtime", tuple(Runtime))
    devices = _overrides(network_device, "--network-device", tuple(Device))
    try:
        settings = RepositorySettings(
            runtime={n: runtimes.get(n, runtime) for n in NETWORKS},
            device={n: Device(devices.get(n, device)) for n in NETWORKS},
            sam_img_size=sam_img_size,
            sam_frame=sam_frame,
            detector=DetectorSettings(conf_thres, iou_thres, max_det),
            instances=instances,
            max_pixels=max_pixels,
            queue_delay_us=queue_delay_us,
            detector_max_batch=detector_max_batch,
            encoder_max_batch=encoder_max_batch,
            intra_op_threads=intra_op_threads,
            mask_refine=MaskRefinement(mask_refine_radius, mask_refine_eps),
            fuse_sam=fuse_sam,
            fused_attention=fused_attention,
            warmup=warmup,
            bf16=bf16,
            encoder_preferred_batch=tuple(encoder_preferred_batch),
            cuda_graphs=cuda_graphs,
            scorer_instances=scorer_instances,
        )
        notes = build_repository(models, repository, settings)
    except (RepositoryError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"wrote {repository}")
    for note in notes:
        typer.echo(f"note: {note}")


def serve_command(
    repository: str = typer.Option(
        REPOSITORY.get_default(),
        "--repository",
        envvar=REPOSITORY.name,
        help="Model repository to serve: a folder, or with --poll-secs also s3://...",
    ),
    http_port: int = typer.Option(TRITON_HTTP_PORT, "--http-port", help="HTTP port."),
    grpc_port: int = typer.Option(TRITON_GRPC_PORT, "--grpc-port", help="gRPC port."),
    metrics_port: int = typer.Option(
        TRITON_METRICS_PORT, "--metrics-port", help="Prometheus metrics port."
    ),
    api_key: str | None = api_key_option(
        "Key of the restricted APIs (model repository and config, statistics, logging, trace, "
        "shared memory; header loadcheck-api-key)."
    ),
    host: str = host_option(),
    poll_secs: int | None = typer.Option(
        None,
        "--poll-secs",
        min=1,
        envvar=POLL_SECS.name,
        help="Poll the repository every N s and load what it holds (cluster replicas), instead "
        "of loading the deployed models and waiting for deploy/undeploy.",
    ),
) -> None:
    """Run tritonserver on the repository until SIGINT/SIGTERM."""
    from loadcheck.serving.server import TritonServer, TritonStartError

    server = TritonServer(
        repository,
        http_port=http_port,
        grpc_port=grpc_port,
        metrics_port=metrics_port,
        api_key=api_key,
        startup_timeout_s=600.0,
        host=host,
        poll_secs=poll_secs,
    )

    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        LOGGER.info("signal %d: stopping tritonserver", signum)
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.start()
    except TritonStartError as exc:
        raise _fail(str(exc)) from exc
    LOGGER.info("serving %s; Ctrl-C to stop", repository)
    code = server.wait(stopping)
    server.stop()
    if stopping.is_set():
        LOGGER.info("tritonserver stopped")
        code = 0
    raise typer.Exit(code)


def _wait_option() -> Any:
    return typer.Option(
        False,
        "--wait",
        help="Wait until every replica (--replica, --replicas-from, else --url) serves it.",
    )


def _replica_option() -> Any:
    return typer.Option(
        [], "--replica", help="A Triton replica's HTTP host:port to wait for (repeatable)."
    )


def _replicas_from_option() -> Any:
    return typer.Option(
        None,
        "--replicas-from",
        help="A headless Service's host:port: every address it resolves to is a replica.",
    )


def _wait_timeout_option() -> Any:
    return typer.Option(
        DEFAULT_WAIT_TIMEOUT_S,
        "--wait-timeout",
        min=0.0,
        help="Seconds to wait for the replicas (exit 1 naming those that did not follow).",
    )


def _wait(
    target: ReplicaTarget, replica: list[str], replicas_from: str | None, url: str | None, t: float
) -> None:
    """Wait for every replica to serve ``target``, printing each one's progress."""
    from loadcheck.serving.replicas import ReplicaError, resolve_replicas, wait_for_replicas

    try:
        urls = list(replica)
        if not urls and not replicas_from and url:
            urls = [url]
        if not urls and not replicas_from:
            raise ReplicaError("--wait needs --replica, --replicas-from or --url")
        discover: Callable[[], list[str]] | None = None
        shown = list(urls)
        if replicas_from:
            name = replicas_from
            discover = lambda: resolve_replicas(name)  # noqa: E731 - asked again every round
            shown.append(f"every address of {name}")
        typer.echo(f"waiting for the replicas: {', '.join(shown)}")
        wait_for_replicas(urls, target, t, discover=discover, report=typer.echo)
    except ReplicaError as exc:
        raise _fail(str(exc), 1) from exc
    typer.echo(f"every replica: {target.description}")


def deploy_command(
    name: str = typer.Argument(..., help="Integrator name."),
    repository: str = repository_option(),
    version: int | None = typer.Option(
        None,
        "--version",
        help="Scorer version (default: the workspace's served version, else the latest fitted).",
    ),
    url: str | None = typer.Option(
        None, "--url", help="Running server's HTTP host:port; load the integrator there."
    ),
    api_key: str | None = api_key_option("Key of the model-repository API."),
    wait: bool = _wait_option(),
    replica: list[str] = _replica_option(),
    replicas_from: str | None = _replicas_from_option(),
    wait_timeout: float = _wait_timeout_option(),
) -> None:
    """Write integrator NAME's scorer and ensemble into the repository and load it (a roll back
    is a deploy of an earlier --version); --wait: until every replica serves it."""
    from loadcheck.serving.deploy import DeployError, ModelControl, deploy, scorer_versions
    from loadcheck.serving.replicas import deployed_target
    from loadcheck.serving.storage import StorageError

    control = ModelControl(url, api_key) if url else None
    try:
        chosen = deploy(repository, name, version, control)
        versions = scorer_versions(repository, name) if wait else []
    except (DeployError, StorageError) as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:  # tritonclient raises InferenceServerException
        raise _fail(f"the server refused to load {name}: {exc}") from exc
    typer.echo(f"deployed {name} (scorer version {chosen})" + (f" on {url}" if url else ""))
    if wait:
        _wait(deployed_target(name, chosen, versions), replica, replicas_from, url, wait_timeout)


def undeploy_command(
    name: str = typer.Argument(..., help="Integrator name, or 'segmentator'."),
    repository: str = repository_option(),
    url: str | None = typer.Option(None, "--url", help="Running server's HTTP host:port."),
    api_key: str | None = api_key_option("Key of the model-repository API."),
    force: bool = typer.Option(
        False, "--force", help="Unload the segmentator even while integrators use it."
    ),
    wait: bool = _wait_option(),
    replica: list[str] = _replica_option(),
    replicas_from: str | None = _replicas_from_option(),
    wait_timeout: float = _wait_timeout_option(),
) -> None:
    """Unload integrator NAME (or the segmentator) and stop loading it at start; --wait: until
    no replica serves it."""
    from loadcheck.serving.deploy import DeployError, ModelControl, undeploy
    from loadcheck.serving.replicas import undeployed_target
    from loadcheck.serving.storage import StorageError

    control = ModelControl(url, api_key) if url else None
    try:
        models = undeploy(repository, name, control, force=force)
    except (DeployError, StorageError) as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _fail(f"the server refused to unload {name}: {exc}") from exc
    typer.echo(f"unloaded {', '.join(models)}")
    if wait:
        _wait(undeployed_target(name), replica, replicas_from, url, wait_timeout)
