"""``run_demo``: the main job end to end, every step through the library's own code.

1. scenes: :func:`loadcheck.synth.dataset.write_dataset` (fitting seed, held-out seed + 1; both
   drawn in the chosen scene styles, scene ``i`` in ``styles[i % n]``);
2. networks: ``models/demo`` or the tiny placeholders (:mod:`loadcheck.demo.data`);
3. repository: :func:`loadcheck.serving.repository.build_repository`;
4. Triton: :class:`loadcheck.serving.server.TritonServer`;
5. integrator ``demo``: :class:`loadcheck.integrators.store.IntegratorStore` create + add-data;
6. fit through the served segmentator (:class:`loadcheck.integrators.served.ServedSegmentator`),
   or with the true masks (``masks_fit``);
7. deploy: :func:`loadcheck.serving.deploy.deploy` (loads it on the running server);
8. inspect the held-out scenes: :meth:`loadcheck.client.InspectionClient.inspect_many`;
9. overlays (:func:`loadcheck.client.overlay.render_overlay`, the integrator's masks) and
   the report (:mod:`loadcheck.demo.report`).

Triton is always stopped on the way out (Ctrl-C and SIGTERM included), unless
``keep_serving``, where it serves until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from loadcheck.demo.data import (
    DemoModels,
    SceneSet,
    ensure_scenes,
    resolve_models,
    scene_set_dir,
)
from loadcheck.demo.report import DemoReport, ImageOutcome, write_report
from loadcheck.synth.styles import DEFAULT_STYLE, STYLE_NAMES

LOG = logging.getLogger(__name__)
INTEGRATOR = "demo"
DEFAULT_OUT = Path("runs/demo")
#: Fitting scenes: accuracy on served masks grows up to about 800 labelled photos, then levels
#: off (``benchmarks/verdict_oracles.py --fit-curve``, docs/quality.md).
DEFAULT_FIT_COUNT = 800
#: Held-out scenes: an accuracy on 300 is +-3.5 points at 95 % (on 100 it would be +-6).
DEFAULT_TEST_COUNT = 300
QUICK_FIT_COUNT = 24
QUICK_TEST_COUNT = 12
DEFAULT_SIZE_WH = (960, 540)  # the size scripts/train_demo_models.sh trains the networks on
#: Detector settings for the random-weight placeholders (as the functional tests): a low
#: threshold and few detections, so that masks and the scorer run on every image.
PLACEHOLDER_DETECTOR = (0.3, 0.45, 8)
Notify = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    """What ``loadcheck demo`` lets a user choose (see ``loadcheck demo --help``)."""

    out_dir: Path = DEFAULT_OUT
    models: Path | None = None
    fit_count: int = DEFAULT_FIT_COUNT
    test_count: int = DEFAULT_TEST_COUNT
    seed: int = 1
    size_wh: tuple[int, int] = DEFAULT_SIZE_WH
    masks_fit: bool = False
    keep_serving: bool = False
    http_port: int = 0
    grpc_port: int = 0
    cv_folds: int = 5
    concurrency: int = 2
    progress: bool = True
    styles: tuple[str, ...] = (DEFAULT_STYLE,)

    def __post_init__(self) -> None:
        unknown = [name for name in self.styles if name not in STYLE_NAMES]
        if not self.styles or unknown:
            raise ValueError(
                f"styles: got {list(self.styles)}, expected names from {list(STYLE_NAMES)}"
            )
        if self.fit_count < 4:
            raise ValueError(f"fit count: expected >= 4 scenes, got {self.fit_count}")
        if self.test_count < 1:
            raise ValueError(f"test count: expected >= 1 scene, got {self.test_count}")
        if not 0 <= self.seed < 2**62:
            raise ValueError(f"seed: expected an integer in [0, 2**62), got {self.seed}")


class _Steps:
    """Times each step and tells the user what is happening."""

    def __init__(self, notify: Notify) -> None:
        self.notify = notify
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str, message: str) -> Iterator[None]:
        self.notify(f"[{len(self.seconds) + 1}] {message}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - start


def _progress(enabled: bool, description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn(f"[bold]{description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, so the ``finally`` that stops Triton runs
    (also where SIGINT was inherited as ignored, e.g. a background job of a script)."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous_term = signal.signal(signal.SIGTERM, raise_interrupt)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def stop_server(server: Any) -> None:
    """Stop ``server`` and kill anything left in its process group (Python-backend stubs),
    with Ctrl-C ignored meanwhile so a second Ctrl-C cannot leave processes behind."""
    process = server.process
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server.stop()
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # start_new_session: pgid == pid
    finally:
        signal.signal(signal.SIGINT, previous)


def _build_repository(models: DemoModels, repository: Path) -> None:
    from loadcheck.pipeline.prompts import DetectorSettings
    from loadcheck.serving.repository import RepositorySettings, build_repository

    detector = DetectorSettings(*PLACEHOLDER_DETECTOR) if models.placeholder else DetectorSettings()
    build_repository(models.export_dir, repository, RepositorySettings(detector=detector))


def _prepare_integrator(store: Any, scenes: SceneSet, progress: bool) -> dict[str, Any]:
    from loadcheck.integrators.errors import NotFoundError

    try:
        store.get(INTEGRATOR)
        store.clear_data(INTEGRATOR)
    except NotFoundError:
        store.create(INTEGRATOR, "loadcheck demo: fitted on synthetic scenes")
    with _progress(progress, "adding fitting images") as bar:
        task = bar.add_task("add", total=None)
        report = store.add_data(
            INTEGRATOR,
            scenes.qualified_zip,
            scenes.unqualified_zip,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    return dict(report.to_dict())


def _fit(store: Any, scenes: SceneSet, served: Any, options: DemoOptions) -> dict[str, Any]:
    from loadcheck.integrators.fitting import fit

    with _progress(options.progress, "segmenting + features") as bar:
        task = bar.add_task("fit", total=None)
        return fit(
            store,
            INTEGRATOR,
            masks_dir=scenes.masks_dir if options.masks_fit else None,
            mask_source=None if options.masks_fit else served,
            cv_folds=options.cv_folds,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _inspect(url: str, test: SceneSet, options: DemoOptions) -> tuple[list[Any], float]:
    from loadcheck.client import InspectionClient

    images = sorted(test.images_dir.glob("*.jpg"))
    start = time.perf_counter()
    with InspectionClient(url, timeout=120.0) as client:
        items = list(
            client.inspect_many(
                images,
                INTEGRATOR,
                concurrency=options.concurrency,
                masks=True,  # the integrator returns its masks with the verdict: the overlays
                progress=options.progress,
            )
        )
    return sorted(items, key=lambda i: i.index), time.perf_counter() - start


def _outcomes_and_overlays(
    items: list[Any], test: SceneSet, overlays: Path, progress: bool
) -> list[ImageOutcome]:
    """One outcome per image; an overlay (the masks the integrator returned) per inspected
    image."""
    from loadcheck.client.overlay import render_overlay, write_overlay

    overlays.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with _progress(progress, "overlays") as bar:
        task = bar.add_task("overlays", total=len(items))
        for item in items:
            name = Path(item.source.label).name
            truth = test.truth[name].value
            style = test.style_of.get(name)
            if item.result is None:
                outcomes.append(ImageOutcome(name, truth, None, error=item.error, style=style))
                bar.advance(task)
                continue
            data = (test.images_dir / name).read_bytes()
            result = item.result
            target = overlays / f"{Path(name).stem}.jpg"
            write_overlay(str(target), render_overlay(data, result))
            outcomes.append(
                ImageOutcome(
                    name,
                    truth,
                    result.score_result.value,
                    float(result.probability),
                    overlay=str(target),
                    style=style,
                )
            )
            bar.advance(task)
    return outcomes


def run_demo(
    options: DemoOptions,
    notify: Notify,
    on_report: Callable[[DemoReport], None] | None = None,
) -> DemoReport:
    """Run the demo (see the module docstring); ``notify`` receives one line per step and
    ``on_report`` the report as soon as it is written (before ``keep_serving`` waits).

    Raises:
        DemoError, RepositoryError, TritonStartError, IntegratorError, FitError, DeployError: a step
            failed; Triton is stopped before the error propagates.
        KeyboardInterrupt: Ctrl-C (or SIGTERM); Triton is stopped first.
    """
    from loadcheck.serving.server import TritonServer

    out = options.out_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    repository = out / "model_repository"
    steps = _Steps(notify)
    with _interruptible():
        styles = ", ".join(options.styles)
        with steps.step("scenes", f"synthetic scenes, style {styles} (rendered once, then reused)"):
            fit_set = ensure_scenes(
                scene_set_dir(out / "data", "fit", options.seed, options.styles),
                options.seed,
                options.fit_count,
                options.size_wh,
                options.progress,
                options.styles,
            )
            test_set = ensure_scenes(
                scene_set_dir(out / "data", "test", options.seed + 1, options.styles),
                options.seed + 1,
                options.test_count,
                options.size_wh,
                options.progress,
                options.styles,
            )
        with steps.step("models", "networks to serve"):
            models = resolve_models(options.models, out / "placeholder_models")
        if models.placeholder:
            from loadcheck.demo.report import PLACEHOLDER_WARNING

            notify(PLACEHOLDER_WARNING)
        with steps.step("repository", f"model repository from {models.export_dir}"):
            _build_repository(models, repository)
        server = TritonServer(
            repository,
            http_port=options.http_port,
            grpc_port=options.grpc_port,
            metrics_port=0,
            log_path=out / "tritonserver.log",
            startup_timeout_s=600.0,
        )
        try:
            with steps.step("start_triton", "starting Triton (log: tritonserver.log)"):
                server.start()
            notify(f"Triton ready: HTTP {server.http_url}, gRPC {server.grpc_url}")
            report = _serve_and_measure(server, fit_set, test_set, models, options, steps, notify)
            if on_report is not None:
                on_report(report)
            if options.keep_serving:
                notify(
                    f"--keep-serving: Triton keeps serving integrator '{INTEGRATOR}' at "
                    f"HTTP {server.http_url}, gRPC {server.grpc_url}; Ctrl-C to stop it"
                )
                try:
                    server.wait()
                except KeyboardInterrupt:
                    notify("stopping Triton")
            return report
        finally:
            stop_server(server)


def _serve_and_measure(
    server: Any,
    fit_set: SceneSet,
    test_set: SceneSet,
    models: DemoModels,
    options: DemoOptions,
    steps: _Steps,
    notify: Notify,
) -> DemoReport:
    from loadcheck.integrators.served import ServedSegmentator
    from loadcheck.integrators.store import IntegratorStore
    from loadcheck.serving.deploy import ModelControl, deploy

    out = options.out_dir.resolve()
    repository, home = out / "model_repository", out / "workspace"
    store = IntegratorStore(home, repository)
    with ServedSegmentator(server.http_url, repository=repository) as served:
        with steps.step("add_data", f"integrator '{INTEGRATOR}': adding the fitting zips"):
            added = _prepare_integrator(store, fit_set, options.progress)
        mode = "the true synthetic masks" if options.masks_fit else "the served segmentator"
        with steps.step("fit", f"fitting '{INTEGRATOR}' with {mode}"):
            summary = _fit(store, fit_set, served, options)
        notify(
            f"fitted version {summary['version']}: CV accuracy "
            + ("n/a" if summary["cv_accuracy"] is None else f"{summary['cv_accuracy']:.3f}")
        )
        with steps.step("deploy", f"deploying '{INTEGRATOR}' on Triton"):
            deploy(repository, INTEGRATOR, control=ModelControl(server.http_url), home=home)
        with steps.step("inspect", f"inspecting {test_set.count} held-out scenes"):
            items, inspect_s = _inspect(server.http_url, test_set, options)
        with steps.step("overlays", "overlays"):
            outcomes = _outcomes_and_overlays(items, test_set, out / "overlays", options.progress)
    report = DemoReport(
        placeholder_models=models.placeholder,
        models_dir=str(models.export_dir),
        models=models.cards,
        fit={
            "seed": fit_set.seed,
            "count": fit_set.count,
            "styles": list(fit_set.styles),
            "truth": fit_set.label_counts(),
            "mode": mode,
            "added": added,
            "summary": summary,
        },
        test_seed=test_set.seed,
        outcomes=tuple(outcomes),
        inspect_seconds=inspect_s,
        step_seconds=dict(steps.seconds),
        out_dir=str(out),
        overlays_dir=str(out / "overlays"),
        serving={"http": server.http_url, "grpc": server.grpc_url},
        styles=test_set.styles,
    )
    write_report(report, out)
    return report
