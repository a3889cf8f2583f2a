"""``loadcheck integrator ...``: create, list, show, set, add-data, clear-data, fit, versions,
doctor, rollback, predict, delete. Errors print one message to stderr and exit non-zero
(2 for invalid arguments, 1 for operations that failed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from loadcheck.cli_options import choices, home_option, repository_option, triton_url_option
from loadcheck.integrators.errors import IntegratorError, NotFoundError
from loadcheck.scoring.model_types import DEFAULT_MODEL_TYPE, MODEL_TYPES, HyperParameterError
from loadcheck.scoring.settings import FeatureSetting, SettingsError

#: The score model types (keys of :data:`loadcheck.scoring.model_types.MODEL_TYPES`).
ScoreModelType = choices("ScoreModelType", MODEL_TYPES)

integrator_app = typer.Typer(
    name="integrator",
    help="Manage integrators: named scoring setups fitted per site.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_STATE: dict[str, Path | str | None] = {"home": None, "repository": None}


@integrator_app.callback()
def _options(
    home: Path = home_option(),
    repository: str = repository_option(
        "Model repository the integrators are deployed to (a folder, where they are also "
        "fitted into, or s3://bucket/prefix: fitted into the workspace)."
    ),
) -> None:
    _STATE["home"], _STATE["repository"] = home, repository


def _store() -> Any:
    from loadcheck.integrators.store import IntegratorStore

    return IntegratorStore(_STATE["home"], _STATE["repository"])


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


@contextmanager
def _errors() -> Iterator[None]:
    from loadcheck.payloads import PayloadError
    from loadcheck.scoring.fit import FitError
    from loadcheck.scoring.model import ScoreModelError

    try:
        yield
    except (HyperParameterError, SettingsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except NotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (IntegratorError, FitError, ScoreModelError, PayloadError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _check_name(name: str) -> str:
    from loadcheck.integrators.errors import validate_name

    try:
        return validate_name(name)
    except IntegratorError as exc:
        raise typer.BadParameter(str(exc), param_hint="NAME") from None


def _confirm(yes: bool, what: str) -> None:
    if not yes:
        typer.echo(f"error: {what} cannot be undone; pass --yes to confirm", err=True)
        raise typer.Exit(2)


@integrator_app.command("create")
def create_command(
    name: str = typer.Argument(..., help="Integrator name: lowercase letters, digits, _ or -."),
    description: str = typer.Option("", "--description", help="Free text."),
    model_type: ScoreModelType = typer.Option(  # type: ignore[valid-type]
        DEFAULT_MODEL_TYPE, "--model-type", help="Score model type."
    ),
) -> None:
    """Create an integrator with default settings."""
    _check_name(name)
    with _errors():
        _echo_json(_store().create(name, description, str(model_type)).to_dict())


@integrator_app.command("list")
def list_command() -> None:
    """List integrators with their sample counts and served version (JSON)."""
    with _errors():
        _echo_json(_store().list_all())


@integrator_app.command("show")
def show_command(name: str = typer.Argument(..., help="Integrator name.")) -> None:
    """Show an integrator's settings, fitting data and versions (JSON)."""
    from loadcheck.integrators.fitting import list_versions

    _check_name(name)
    with _errors():
        store = _store()
        _echo_json(
            {
                **store.get(name).to_dict(),
                "samples": store.sample_counts(name),
                "versions": list_versions(store, name),
            }
        )


@integrator_app.command("set")
def set_command(
    name: str = typer.Argument(..., help="Integrator name."),
    param: list[str] = typer.Option(
        [],
        "--param",
        help="Hyper-parameter KEY=VALUE (repeatable), e.g. max_depth=3; KEY=default resets it.",
    ),
    feature: list[str] = typer.Option(
        [],
        "--feature",
        help="NAME:weight=W,monotone=M,enabled=B (repeatable; any subset of the keys).",
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Decision threshold in [0, 1]."
    ),
    review: list[str] = typer.Option(
        [],
        "--review",
        help='"Needs review" setting KEY=VALUE (repeatable), e.g. min_mask_iou=0.75, '
        "several_trucks=false or min_unusual_features=0 (off); applies from the next fit.",
    ),
    model_type: ScoreModelType | None = typer.Option(  # type: ignore[valid-type]
        None, "--model-type", help="Score model type."
    ),
    description: str | None = typer.Option(None, "--description", help="Free text."),
) -> None:
    """Update settings (validated; unknown keys are rejected)."""
    from loadcheck.scoring.model_types import parse_param_assignments
    from loadcheck.scoring.review import parse_review_assignment
    from loadcheck.scoring.settings import parse_feature_assignment

    _check_name(name)
    with _errors():
        store = _store()
        current = store.get(name).features
        features: dict[str, FeatureSetting] = {}
        for item in feature:
            fname, setting = parse_feature_assignment(item, {**current, **features})
            features[fname] = setting
        cfg = store.update(
            name,
            description=description,
            model_type=None if model_type is None else str(model_type),
            params=parse_param_assignments(param),
            features=features,
            threshold=threshold,
            review=dict(parse_review_assignment(item) for item in review),
        )
        _echo_json(cfg.to_dict())


@integrator_app.command("add-data")
def add_data_command(
    name: str = typer.Argument(..., help="Integrator name."),
    qualified: Path = typer.Option(..., "--qualified", help="Zip of Qualified images (at root)."),
    unqualified: Path = typer.Option(
        ..., "--unqualified", help="Zip of Unqualified images (at root)."
    ),
) -> None:
    """Add fitting images from the legacy pair of zips (validated before anything is stored)."""
    _check_name(name)
    with _errors():
        update, stop = _progress_bar("checking images")
        try:
            report = _store().add_data(name, qualified, unqualified, progress=update)
        finally:
            stop()
        for entry, reason in report.skipped:
            typer.echo(f"skipped {entry}: {reason}", err=True)
        _echo_json(report.to_dict())


@integrator_app.command("clear-data")
def clear_data_command(
    name: str = typer.Argument(..., help="Integrator name."),
    yes: bool = typer.Option(False, "--yes", help="Confirm."),
) -> None:
    """Remove all fitting images of an integrator."""
    _check_name(name)
    _confirm(yes, "clearing the fitting data")
    with _errors():
        _echo_json({"integrator": name, "removed": _store().clear_data(name)})


def _progress_bar(description: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(transient=True, console=Console(stderr=True))  # stdout carries the JSON
    task = bar.add_task(description, total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


_TRITON = (
    "Triton HOST:PORT whose `segmentator` computes the masks (when --masks is not given); "
    "the model repository (--repository) must be the one that server runs."
)


@contextmanager
def _served_segmentator(triton: str | None, grpc: bool, masks: Path | None) -> Iterator[Any]:
    """A :class:`ServedSegmentator` on ``--triton`` (closed afterwards), or None without it."""
    if triton is None or masks is not None:
        yield None
        return
    from loadcheck.integrators.served import ServedSegmentator
    from loadcheck.workspace.paths import repository_location

    served = ServedSegmentator(
        triton,
        repository=_STATE["repository"] or repository_location(),
        protocol="grpc" if grpc else "http",
    )
    with served:
        yield served


@integrator_app.command("fit")
def fit_command(
    name: str = typer.Argument(..., help="Integrator name."),
    masks: Path | None = typer.Option(
        None, "--masks", help="Folder with <stem>_bed.png and <stem>_load.png per image."
    ),
    cv: int = typer.Option(5, "--cv", min=0, help="Folds for cross-validation (0 = none)."),
    triton: str | None = triton_url_option("--triton", _TRITON),
    grpc: bool = typer.Option(False, "--grpc", help="Reach --triton over gRPC, not HTTP."),
) -> None:
    """Fit a new version; prints a JSON summary with version and cv_accuracy."""
    from loadcheck.integrators.fitting import fit

    _check_name(name)
    with _errors(), _served_segmentator(triton, grpc, masks) as served:
        update, stop = _progress_bar("features")
        try:
            summary = fit(
                _store(), name, masks_dir=masks, mask_source=served, cv_folds=cv, progress=update
            )
        finally:
            stop()
        _echo_json(summary)


@integrator_app.command("versions")
def versions_command(name: str = typer.Argument(..., help="Integrator name.")) -> None:
    """List fitted versions (JSON); ``served`` marks the one to serve."""
    from loadcheck.integrators.fitting import list_versions

    _check_name(name)
    with _errors():
        _echo_json(list_versions(_store(), name))


@integrator_app.command("doctor")
def doctor_command(
    name: str = typer.Argument(..., help="Integrator name."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only report what would be removed or adopted."
    ),
) -> None:
    """Put right what an interrupted fit left: remove its temp folders, adopt its complete
    version (recorded, not served); report versions whose folder is gone (JSON)."""
    from loadcheck.atomic import file_lock
    from loadcheck.integrators.recovery import recover_versions

    _check_name(name)
    with _errors():
        store = _store()
        with file_lock(store.ws.lock_path(name)):
            report = recover_versions(store, name, dry_run=dry_run)
        _echo_json(report.to_dict())


@integrator_app.command("rollback")
def rollback_command(
    name: str = typer.Argument(..., help="Integrator name."),
    version: int = typer.Argument(..., min=1, help="An existing fitted version."),
) -> None:
    """Serve an earlier fitted version."""
    from loadcheck.integrators.fitting import rollback

    _check_name(name)
    with _errors():
        rollback(_store(), name, version)
        _echo_json({"integrator": name, "served_version": version})


@integrator_app.command("predict")
def predict_command(
    name: str = typer.Argument(..., help="Integrator name."),
    images: list[Path] = typer.Argument(..., help="Image files."),
    masks: Path | None = typer.Option(
        None, "--masks", help="Folder with <stem>_bed.png and <stem>_load.png per image."
    ),
    triton: str | None = triton_url_option("--triton", _TRITON),
    grpc: bool = typer.Option(False, "--grpc", help="Reach --triton over gRPC, not HTTP."),
) -> None:
    """Score images with the served version (JSON verdicts)."""
    from loadcheck.integrators.fitting import predict

    _check_name(name)
    with _errors(), _served_segmentator(triton, grpc, masks) as served:
        _echo_json(predict(_store(), name, images, masks_dir=masks, mask_source=served))


@integrator_app.command("delete")
def delete_command(
    name: str = typer.Argument(..., help="Integrator name."),
    yes: bool = typer.Option(False, "--yes", help="Confirm."),
) -> None:
    """Delete an integrator, its fitting data and its fitted versions."""
    _check_name(name)
    _confirm(yes, f"deleting integrator {name!r}")
    with _errors():
        _store().delete(name)
        _echo_json({"deleted": name})
