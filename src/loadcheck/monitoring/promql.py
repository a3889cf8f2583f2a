"""The metric names a PromQL expression reads, and the expressions of loadcheck's alert rules and
Grafana dashboard (``docker/monitoring/``), so tests can check them against a live scrape.

:func:`metric_names` is a small lexer, not a PromQL parser: it drops strings, label matchers
``{...}``, ranges ``[...]``, grouping clauses (``by (...)``, ``on (...)``...), function calls'
names, keywords and numbers; what is left are metric names. It is exact for the expressions
loadcheck writes (checked by ``promtool`` where installed).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring", "atan2"}
    | {"group_left", "group_right", "inf", "nan", "Inf", "NaN"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` reads (``rate(x_total{a="b"}[5m]) / y`` -> ``{x_total, y}``)."""
    text = _STRING.sub(" ", expr)
    text = _BRACES.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _NAME.finditer(text):
        name = match.group(0)
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end() :].lstrip()[:1]
        if name in _KEYWORDS or after == "(" or before.isdigit() or before == ".":
            continue  # a function, a keyword, or part of a number (1e-9)
        names.add(name)
    return names


def rule_expressions(path: Path) -> dict[str, str]:
    """``{alert name: expr}`` of a Prometheus rule file."""
    data = yaml.safe_load(path.read_text())
    return {
        str(rule.get("alert") or rule.get("record")): str(rule["expr"])
        for group in data["groups"]
        for rule in group["rules"]
    }


def dashboard_expressions(path: Path) -> dict[str, str]:
    """``{panel title / refId: expr}`` of a Grafana dashboard's panels and query variables."""
    data = json.loads(path.read_text())
    found: dict[str, str] = {}

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                if "expr" in target:
                    found[f"{panel.get('title')} / {target.get('refId')}"] = target["expr"]
            walk(panel.get("panels", []))

    walk(data.get("panels", []))
    for variable in data.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if variable.get("type") == "query" and text:
            found[f"${variable['name']}"] = re.sub(r"^label_values\((.*?),[^,()]*\)$", r"\1", text)
    return found
