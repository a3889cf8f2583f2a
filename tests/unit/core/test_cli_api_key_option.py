"""--api-key on the command line warns that ps shows it; the variable does not."""

from __future__ import annotations

import sys

import typer
from typer.testing import CliRunner

from loadcheck.cli_options import api_key_option

app = typer.Typer()


@app.command()
def show(api_key: str | None = api_key_option()) -> None:
    typer.echo(f"key={api_key}")


def test_a_key_given_as_a_flag_works_and_warns_that_every_local_user_sees_it(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["loadcheck", "--api-key", "k3y"])
    result = CliRunner().invoke(app, ["--api-key", "k3y"])
    assert result.exit_code == 0 and "key=k3y" in result.stdout
    assert "visible to every local user (ps); set $LOADCHECK_API_KEY instead" in result.stderr


def test_a_key_from_the_environment_does_not_warn(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["loadcheck"])
    monkeypatch.setenv("LOADCHECK_API_KEY", "k3y")
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0 and "key=k3y" in result.stdout
    assert "warning" not in result.stderr
