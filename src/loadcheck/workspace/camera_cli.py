"""``loadcheck camera``: add, list, show, edit and delete the cameras of the workspace
(``--home``, ``$LOADCHECK_HOME``; :mod:`loadcheck.workspace.cameras`).

``add`` prints the camera's own legacy URL once (only its hash is kept). Every change publishes
the token document (hashes and the cameras' regions) into ``--repository`` when it is an existing
folder or ``s3://``, as ``loadcheck gateway rotate`` does, for gateways started with
``--tokens-from repository``. A region of interest is given as ``--roi "x1,y1 x2,y2 x3,y3 ..."``
(image pixels of the camera's photos).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from loadcheck.cli_options import fail as _fail
from loadcheck.cli_options import home_option, repository_option

if TYPE_CHECKING:
    from loadcheck.workspace.cameras import Camera, CameraStore

camera_app = typer.Typer(
    help="Cameras: named sources of an integrator with their own URL and region of interest.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _store(home: Path) -> CameraStore:
    from loadcheck.workspace import Workspace
    from loadcheck.workspace.cameras import CameraStore

    return CameraStore(Workspace(home))


def _roi(text: str | None) -> tuple[tuple[float, float], ...] | None:
    from loadcheck.features.roi import RoiError, parse_roi

    if text is None:
        return None
    try:
        return parse_roi(text)
    except RoiError as exc:
        raise _fail(f"--roi: {exc}") from exc


def _line(camera: Camera) -> str:
    from loadcheck.features.roi import format_roi

    roi = format_roi(camera.roi) if camera.roi is not None else "whole photo"
    return f"{camera.name}\t{camera.integrator}\troi: {roi}\tupdated {camera.updated_at}"


def _publish(store: CameraStore, repository: str) -> None:
    from loadcheck.gateway.cli import _publish as publish_tokens

    publish_tokens(store.tokens, repository)


@camera_app.command("add")
def add_command(
    name: str = typer.Argument(..., help="Camera name (lowercase letters, digits, '_', '-')."),
    integrator: str = typer.Option(..., "--integrator", help="The integrator judging its photos."),
    roi: str | None = typer.Option(
        None, "--roi", help='Region of interest: "x1,y1 x2,y2 x3,y3 ..." in image pixels.'
    ),
    home: Path = home_option(),
    repository: str = repository_option(),
) -> None:
    """Add a camera and print its legacy URL, once (only its hash is kept)."""
    from loadcheck.workspace.cameras import CameraError

    polygon = _roi(roi)
    try:
        camera, token = _store(home).add(name, integrator, polygon)
    except CameraError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(_line(camera))
    typer.echo(f"{token.binding}\t{token.path}\t(new: shown once, copy it now)")
    _publish(_store(home), repository)


@camera_app.command("list")
def list_command(
    integrator: str | None = typer.Option(None, "--integrator", help="Only this integrator's."),
    home: Path = home_option(),
) -> None:
    """List the cameras: name, integrator, region of interest, last change."""
    cameras = _store(home).list(integrator)
    if not cameras:
        typer.echo("no cameras yet: `loadcheck camera add NAME --integrator I`")
        return
    for camera in cameras:
        typer.echo(_line(camera))


@camera_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="Camera name."), home: Path = home_option()
) -> None:
    """One camera as JSON (its token is stored as a hash and never shown again)."""
    from loadcheck.workspace.cameras import CameraError

    try:
        camera = _store(home).require(name)
    except CameraError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(camera.to_dict(), indent=2))


@camera_app.command("edit")
def edit_command(
    name: str = typer.Argument(..., help="Camera name."),
    roi: str | None = typer.Option(None, "--roi", help='New region: "x1,y1 x2,y2 x3,y3 ...".'),
    no_roi: bool = typer.Option(False, "--no-roi", help="Judge the whole photo again."),
    integrator: str | None = typer.Option(
        None, "--integrator", help="Move the camera (and its URL) to this integrator."
    ),
    home: Path = home_option(),
    repository: str = repository_option(),
) -> None:
    """Change a camera's region of interest or integrator (its URL stays)."""
    from loadcheck.workspace.cameras import CameraError

    polygon = _roi(roi)
    store = _store(home)
    try:
        camera = store.edit(name, roi=polygon, clear_roi=no_roi, integrator=integrator)
    except CameraError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(_line(camera))
    _publish(store, repository)


@camera_app.command("delete")
def delete_command(
    name: str = typer.Argument(..., help="Camera name."),
    home: Path = home_option(),
    repository: str = repository_option(),
) -> None:
    """Delete a camera and revoke its URL (it answers 404 from then on)."""
    from loadcheck.workspace.cameras import CameraError

    store = _store(home)
    try:
        camera = store.delete(name)
    except CameraError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"deleted camera {camera.name} of {camera.integrator}; its URL is revoked")
    _publish(store, repository)
