"""The README's quick start and test command are the ones CI and the scripts really run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loadcheck.payloads import VERDICTS

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the quick start has no bash block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def test_quick_start_is_exactly_two_commands_setup_and_demo_then_tests() -> None:
    assert _quick_start_commands() == ["bash scripts/demo.sh", "bash scripts/test.sh"]


@pytest.mark.parametrize("script", ["scripts/demo.sh", "scripts/test.sh", "scripts/setup.sh"])
def test_quick_start_scripts_exist_and_stop_on_the_first_error(script: str) -> None:
    text = (REPO / script).read_text(encoding="utf-8")
    assert "set -euo pipefail" in text


def test_ci_runs_the_readme_test_command_in_a_fresh_environment() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "rm -rf .venv" in ci
    assert "\nbash scripts/test.sh" in ci
    assert "loadcheck demo" in (REPO / "scripts" / "demo.sh").read_text(encoding="utf-8")


def test_readme_states_the_three_verdict_strings_exactly() -> None:
    for verdict in VERDICTS:
        assert f'"{verdict}"' in README


def test_readme_links_only_to_docs_that_exist() -> None:
    for target in re.findall(r"\]\(((?:docs|benchmarks|scripts)/[^)#]+)\)", README):
        assert (REPO / target).exists(), f"README links to missing {target}"


def test_readme_is_a_front_door_not_a_results_page() -> None:
    lines = README.splitlines()
    assert len(lines) <= 180, f"README has {len(lines)} lines; results and history go to docs/"
    assert "passed" not in README, "test-run figures belong to CI's log, not the README"
