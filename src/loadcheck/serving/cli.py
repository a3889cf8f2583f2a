"""CLI: ``loadcheck repository build``, ``serve``, ``deploy`` and ``undeploy``.

Heavy imports (protobuf, tritonclient, onnxruntime) happen inside the commands.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import typer

LOGGER = logging.getLogger(__name__)
RUNTIME_CHOICES = ("python-onnxruntime", "onnxruntime", "tensorrt", "python-torch")

repository_app = typer.Typer(
    help="Build the Triton model repository from exported models.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _overrides(items: list[str], flag: str, allowed: tuple[str, ...]) -> dict[str, str]:
    networks = ("detector", "sam_encoder", "sam_decoder")
    out: dict[str, str] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in networks or value not in allowed:
            raise typer.BadParameter(
                f"{item!r}: expected NETWORK=VALUE with NETWORK in {networks} and VALUE in "
                f"{allowed}",
                param_hint=flag,
            )
        out[name] = value
    return out


@repository_app.command("build")
def build_command(
    models: Path = typer.Option(..., "--models", help="Folder of exported models + model cards."),
    repository: Path = typer.Option(
        Path("model_repository"), "--repository", help="Model repository folder to write."
    ),
    runtime: str = typer.Option(
        "python-onnxruntime",
        "--runtime",
        help=f"Runtime of detector, sam_encoder and sam_decoder: {', '.join(RUNTIME_CHOICES)}.",
    ),
    sam_img_size: int | None = typer.Option(
        None, "--sam-img-size", help="SAM encoder side S in px (must match the export)."
    ),
    sam_frame: str = typer.Option(
        "crop", "--sam-frame", help="'crop': SAM on the detected trucks' region; 'whole': frame."
    ),
    conf_thres: float = typer.Option(0.25, "--conf-thres", help="Detector confidence threshold."),
    iou_thres: float = typer.Option(0.45, "--iou-thres", help="NMS IoU threshold."),
    max_det: int = typer.Option(1000, "--max-det", help="Max detections per image."),
    device: str = typer.Option("cpu", "--device", help="cpu or gpu for the networks."),
    instances: int = typer.Option(1, "--instances", help="Instances per model."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Refuse larger images."),
    queue_delay_us: int = typer.Option(2000, "--queue-delay-us", help="Batcher queue delay."),
    detector_max_batch: int = typer.Option(
        8, "--detector-max-batch", help="Dynamic batching limit of the detector (0: off)."
    ),
    encoder_max_batch: int = typer.Option(
        4, "--encoder-max-batch", help="Dynamic batching limit of sam_encoder (0: off)."
    ),
    intra_op_threads: int = typer.Option(
        0, "--intra-op-threads", help="ONNX Runtime threads per instance (0: its default)."
    ),
    mask_refine_radius: float = typer.Option(
        3.0,  # MaskRefinement's defaults (a test keeps them equal)
        "--mask-refine-radius",
        help="Guided-filter radius refining SAM's masks, in SAM low-res mask px (0: off).",
    ),
    mask_refine_eps: float = typer.Option(
        0.1,
        "--mask-refine-eps",
        help="Guided-filter regulariser (grey levels 0..1 squared): photo edges it keeps.",
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
    from loadcheck.pipeline.prompts import DetectorSettings, SamFrame
    from loadcheck.serving.config import Device
    from loadcheck.serving.repository import (
        NETWORKS,
        RepositoryError,
        RepositorySettings,
        build_repository,
    )

    if runtime not in RUNTIME_CHOICES:
        raise typer.BadParameter(f"expected one of {RUNTIME_CHOICES}", param_hint="--runtime")
    if device not in ("cpu", "gpu"):
        raise typer.BadParameter("expected cpu or gpu", param_hint="--device")
    if sam_frame not in ("crop", "whole"):
        raise typer.BadParameter("expected crop or whole", param_hint="--sam-frame")
    runtimes = _overrides(network_runtime, "--network-runtime", RUNTIME_CHOICES)
    devices = _overrides(network_device, "--network-device", ("cpu", "gpu"))
    try:
        settings = RepositorySettings(
            runtime={n: runtimes.get(n, runtime) for n in NETWORKS},
            device={n: Device(devices.get(n, device)) for n in NETWORKS},
            sam_img_size=sam_img_size,
            sam_frame=SamFrame(sam_frame),
            detector=DetectorSettings(conf_thres, iou_thres, max_det),
            instances=instances,
            max_pixels=max_pixels,
            queue_delay_us=queue_delay_us,
            detector_max_batch=detector_max_batch,
            encoder_max_batch=encoder_max_batch,
            intra_op_threads=intra_op_threads,
            mask_refine=MaskRefinement(mask_refine_radius, mask_refine_eps),
        )
        notes = build_repository(models, repository, settings)
    except (RepositoryError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"wrote {repository}")
    for note in notes:
        typer.echo(f"note: {note}")


def serve_command(
    repository: Path = typer.Option(
        Path("model_repository"), "--repository", help="Model repository to serve."
    ),
    http_port: int = typer.Option(8000, "--http-port", help="HTTP port."),
    grpc_port: int = typer.Option(8001, "--grpc-port", help="gRPC port."),
    metrics_port: int = typer.Option(8002, "--metrics-port", help="Prometheus metrics port."),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="LOADCHECK_API_KEY",
        help="Key for the model-repository and model-config APIs (header loadcheck-api-key).",
    ),
    host: str = typer.Option("0.0.0.0", "--host", help="Address the server listens on."),
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


def deploy_command(
    name: str = typer.Argument(..., help="Integrator name."),
    repository: Path = typer.Option(
        Path("model_repository"), "--repository", help="Model repository folder."
    ),
    version: int | None = typer.Option(
        None,
        "--version",
        help="Scorer version (default: the workspace's served version, else the latest fitted).",
    ),
    url: str | None = typer.Option(
        None, "--url", help="Running server's HTTP host:port; load the integrator there."
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="LOADCHECK_API_KEY", help="Key of the model-repository API."
    ),
) -> None:
    """Write integrator NAME's scorer and ensemble into the repository and load it."""
    from loadcheck.serving.deploy import DeployError, ModelControl, deploy

    control = ModelControl(url, api_key) if url else None
    try:
        chosen = deploy(repository, name, version, control)
    except DeployError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:  # tritonclient raises InferenceServerException
        raise _fail(f"the server refused to load {name}: {exc}") from exc
    typer.echo(f"deployed {name} (scorer version {chosen})" + (f" on {url}" if url else ""))


def undeploy_command(
    name: str = typer.Argument(..., help="Integrator name, or 'segmentator'."),
    repository: Path = typer.Option(
        Path("model_repository"), "--repository", help="Model repository folder."
    ),
    url: str | None = typer.Option(None, "--url", help="Running server's HTTP host:port."),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="LOADCHECK_API_KEY", help="Key of the model-repository API."
    ),
    force: bool = typer.Option(
        False, "--force", help="Unload the segmentator even while integrators use it."
    ),
) -> None:
    """Unload integrator NAME (or the segmentator) and stop loading it at start."""
    from loadcheck.serving.deploy import DeployError, ModelControl, undeploy

    control = ModelControl(url, api_key) if url else None
    try:
        models = undeploy(repository, name, control, force=force)
    except DeployError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _fail(f"the server refused to unload {name}: {exc}") from exc
    typer.echo(f"unloaded {', '.join(models)}")
