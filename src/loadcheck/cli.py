"""The ``loadcheck`` command: one Typer application, one sub-command module per component.

Sub-command modules keep their top-level imports light (no torch, no onnxruntime): heavy
libraries are imported inside the command functions, so ``loadcheck --help`` stays fast and a
plant's client install works without the export extras.
"""

from __future__ import annotations

import logging

import typer

from loadcheck import __version__
from loadcheck.client.cli import inspect_command
from loadcheck.console.cli import console_app
from loadcheck.demo.cli import demo_command
from loadcheck.environment import LOG_FORMAT
from loadcheck.export.cli import export_app
from loadcheck.gateway.cli import gateway_app
from loadcheck.integrators.cli import integrator_app
from loadcheck.logs import configure_logging
from loadcheck.records.cli import records_app
from loadcheck.records.report_cli import report_command
from loadcheck.serving import cli as serving_cli
from loadcheck.synth.cli import synth_command
from loadcheck.train.cli import train_app
from loadcheck.workspace.camera_cli import camera_app

app = typer.Typer(
    name="loadcheck",
    help="Truck-load quality inspection for mines, served on NVIDIA Triton Inference Server.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loadcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    log_format: str = typer.Option(
        LOG_FORMAT.get_default(),
        "--log-format",
        envvar=LOG_FORMAT.name,
        help="Log lines on stderr: 'text', or 'json' (one object per line, with request ids).",
    ),
) -> None:
    try:
        configure_logging(level=logging.DEBUG if verbose else logging.INFO, log_format=log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-format") from None


# In the order of the workflow: data, networks, serving, integrators, plants, operators.
app.command("demo")(demo_command)
app.command("synth")(synth_command)
app.add_typer(export_app, name="export")
app.add_typer(train_app, name="train")
app.add_typer(serving_cli.repository_app, name="repository")
app.command("serve")(serving_cli.serve_command)
app.command("deploy")(serving_cli.deploy_command)
app.command("undeploy")(serving_cli.undeploy_command)
app.add_typer(integrator_app, name="integrator")
app.command("inspect")(inspect_command)
app.add_typer(records_app, name="records")
app.command("report")(report_command)
app.add_typer(gateway_app, name="gateway")
app.add_typer(camera_app, name="camera")
app.add_typer(console_app, name="console")


def main() -> None:
    app()
