"""``loadcheck.environment`` declares every ``LOADCHECK_*`` variable, and only used ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadcheck import environment as env

ROOT = Path(__file__).resolve().parents[3]
#: Where variables are read or set: the package (client, console and export are linked into it),
#: the container files, the scripts, the docs and the tests.
SEARCHED = ("src/loadcheck", "client", "console", "export", "docker", "scripts", "docs", "tests")
NAME = re.compile(r"\bLOADCHECK_[A-Z0-9_]*[A-Z0-9]\b")
TEXT_SUFFIXES = {".py", ".sh", ".md", ".yaml", ".yml", ".toml", ".txt", ".Dockerfile", ""}


def searched_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in SEARCHED:
        files += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and (p.suffix in TEXT_SUFFIXES or p.name.endswith(".Dockerfile"))
        ]
    return files


def used_names() -> dict[str, set[str]]:
    """LOADCHECK_* name -> files (relative) that write it."""
    found: dict[str, set[str]] = {}
    for path in searched_files():
        for name in NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_loadcheck_variable_used_anywhere_is_declared_in_the_environment_module() -> None:
    undeclared = {
        name: sorted(files) for name, files in used_names().items() if name not in env.BY_NAME
    }
    assert not undeclared, f"declare these in loadcheck/environment.py: {undeclared}"


def test_every_declared_variable_is_used_outside_its_declaration() -> None:
    declaration = "src/loadcheck/environment.py"
    used = {name for name, files in used_names().items() if files - {declaration}}
    unused = sorted(set(env.BY_NAME) - used)
    assert not unused, f"declared but never used: {unused}"


def test_each_variable_is_declared_once_with_a_meaning() -> None:
    assert len(env.BY_NAME) == len(env.ALL)
    for variable in env.ALL:
        assert NAME.fullmatch(variable.name), variable.name
        assert len(variable.meaning) > 20, variable.name


SHARED = [env.HOME, env.REPOSITORY, env.TRITON_URL]


@pytest.mark.parametrize("variable", SHARED, ids=lambda v: v.name)
def test_a_shared_variable_has_a_default_and_an_empty_value_counts_as_unset(
    variable: env.EnvVar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable.name, "")
    assert variable.get() == variable.get_default()
    monkeypatch.setenv(variable.name, "elsewhere")
    assert variable.get_text() == "elsewhere"


def test_a_variable_without_a_default_says_so() -> None:
    with pytest.raises(LookupError, match="LOADCHECK_API_KEY has no default"):
        env.API_KEY.get_default()


def test_the_workspace_paths_module_repeats_no_variable_name() -> None:
    text = (ROOT / "src/loadcheck/workspace/paths.py").read_text()
    assert '= "LOADCHECK_' not in text
    deploy_constants = (ROOT / "src/loadcheck/deploy_constants.py").read_text()
    assert not NAME.search(deploy_constants)
