"""The demo's report: verdict counts, accuracy against the synthetic truth (overall and, with
several scene styles, per style), the confusion matrix, throughput and where things were written.
Pure functions and one dataclass; no server.

Files written by :func:`write_report` under the output folder:

* ``report.json`` — :meth:`DemoReport.to_dict` (per-image results included);
* ``report.md`` — a short human summary (:func:`markdown_summary`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadcheck.atomic import atomic_write_text
from loadcheck.payloads import Verdict

VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
PLACEHOLDER_WARNING = (
    "WARNING: models/demo does not exist yet, so this demo served the tiny RANDOM-WEIGHT "
    "placeholder networks. Every step ran for real, but the detector and SAM are untrained: "
    "the verdicts and the accuracy below are MEANINGLESS until the trained demo models ship "
    "in models/demo (scripts/train_demo_models.sh)."
)
SWAP_INSTRUCTIONS = (
    "To use real SAM and YOLOv6 weights: export them with\n"
    "  loadcheck export sam --checkpoint sam_vit_b.pth --model-type vit_b --out my_models\n"
    "  loadcheck export yolov6 --checkpoint yolov6s_site.pt --out my_models\n"
    "then run: loadcheck demo --models my_models"
)


@dataclass(frozen=True)
class ImageOutcome:
    """One held-out image: its truth and what the served integrator answered.

    ``predicted`` is None when the request failed (``error`` says why); ``style`` is the scene
    style that drew the image.
    """

    image: str
    truth: str
    predicted: str | None
    probability: float | None = None
    error: str | None = None
    overlay: str | None = None
    style: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "truth": self.truth,
            "predicted": self.predicted,
            "probability": None if self.probability is None else round(self.probability, 4),
            "error": self.error,
            "overlay": self.overlay,
            "style": self.style,
        }


def confusion_matrix(outcomes: Iterable[ImageOutcome]) -> list[list[int]]:
    """``[3][3]`` counts, rows = true verdict, columns = predicted verdict, both in the order of
    :data:`VERDICTS`; failed images are left out."""
    index = {v: i for i, v in enumerate(VERDICTS)}
    matrix = [[0] * len(VERDICTS) for _ in VERDICTS]
    for o in outcomes:
        if o.predicted is not None:
            matrix[index[o.truth]][index[o.predicted]] += 1
    return matrix


def verdict_counts(outcomes: Iterable[ImageOutcome]) -> dict[str, int]:
    """Predicted verdict -> count (all three keys), plus ``failed``."""
    counts = dict.fromkeys(VERDICTS, 0)
    counts["failed"] = 0
    for o in outcomes:
        counts[o.predicted if o.predicted is not None else "failed"] += 1
    return counts


def accuracy(outcomes: Sequence[ImageOutcome]) -> float | None:
    """Share of images whose predicted verdict equals the truth (failed images count as wrong);
    None without images."""
    if not outcomes:
        return None
    return sum(o.predicted == o.truth for o in outcomes) / len(outcomes)


def accuracy_by_style(
    outcomes: Sequence[ImageOutcome], styles: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Style -> ``{"count", "accuracy"}`` of its images (failed images count as wrong), in the
    order of ``styles``; a style without images has accuracy None."""
    split: dict[str, dict[str, Any]] = {}
    for style in styles:
        mine = [o for o in outcomes if o.style == style]
        split[style] = {"count": len(mine), "accuracy": accuracy(mine)}
    return split


def chance_accuracy(truth_counts: Mapping[str, int]) -> float | None:
    """Accuracy of always answering the most frequent true verdict (the baseline to beat)."""
    total = sum(truth_counts.values())
    return max(truth_counts.values()) / total if total else None


@dataclass(frozen=True)
class DemoReport:
    """Everything the demo measured.

    Attributes:
        placeholder_models: the networks were the untrained placeholders.
        models_dir: the exported models served; models: kind -> card facts.
        fit: fitting facts (scene seed/count, mode, the fit summary with CV metrics).
        test_seed: seed of the held-out scenes; outcomes: one per held-out image.
        inspect_seconds: wall time of inspecting the held-out set (excludes overlays).
        step_seconds: step name -> wall seconds.
        out_dir / overlays_dir: where the report and the overlays are.
        serving: Triton URLs (HTTP, gRPC).
        styles: the scene styles of the fitting and held-out scenes (scene ``i`` in
            ``styles[i % n]``).
    """

    placeholder_models: bool
    models_dir: str
    models: dict[str, dict[str, object]]
    fit: dict[str, Any]
    test_seed: int
    outcomes: tuple[ImageOutcome, ...]
    inspect_seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    out_dir: str = ""
    overlays_dir: str = ""
    serving: dict[str, str] = field(default_factory=dict)
    styles: tuple[str, ...] = ("classic",)

    @property
    def images_per_s(self) -> float:
        return len(self.outcomes) / self.inspect_seconds if self.inspect_seconds > 0 else 0.0

    def truth_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for o in self.outcomes:
            counts[o.truth] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        truth = self.truth_counts()
        return {
            "placeholder_models": self.placeholder_models,
            "warning": PLACEHOLDER_WARNING if self.placeholder_models else None,
            "models_dir": self.models_dir,
            "models": self.models,
            "styles": list(self.styles),
            "fit": self.fit,
            "test": {"seed": self.test_seed, "count": len(self.outcomes), "truth": truth},
            "verdict_counts": verdict_counts(self.outcomes),
            "accuracy": accuracy(self.outcomes),
            "accuracy_by_style": accuracy_by_style(self.outcomes, self.styles),
            "chance_accuracy": chance_accuracy(truth),
            "confusion": {
                "rows": "true verdict",
                "columns": "predicted verdict",
                "labels": list(VERDICTS),
                "matrix": confusion_matrix(self.outcomes),
            },
            "images_per_s": round(self.images_per_s, 3),
            "inspect_seconds": round(self.inspect_seconds, 3),
            "step_seconds": {k: round(v, 2) for k, v in self.step_seconds.items()},
            "out_dir": self.out_dir,
            "overlays_dir": self.overlays_dir,
            "serving": self.serving,
            "results": [o.to_dict() for o in self.outcomes],
        }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _styles_phrase(styles: Sequence[str]) -> str:
    return ("style " if len(styles) == 1 else "styles ") + ", ".join(styles)


def style_accuracy_lines(report: DemoReport) -> list[str]:
    """One line per style (``  night  50.0 % of 6 scenes``) when the report has several styles,
    else none (the overall accuracy is that style's)."""
    if len(report.styles) < 2:
        return []
    width = max(len(s) for s in report.styles)
    return [
        f"  {style:<{width}}  {_pct(row['accuracy'])} of {row['count']} scenes"
        for style, row in accuracy_by_style(report.outcomes, report.styles).items()
    ]


def confusion_lines(matrix: Sequence[Sequence[int]]) -> list[str]:
    """The confusion matrix as aligned text lines (rows: truth, columns: predicted)."""
    corner = "truth \\ predicted"
    first = max(len(corner), *(len(v) for v in VERDICTS)) + 2
    width = max(len(v) for v in VERDICTS)
    lines = ["  " + f"{corner:<{first}}" + "  ".join(f"{v:>{width}}" for v in VERDICTS)]
    for name, row in zip(VERDICTS, matrix, strict=True):
        lines.append("  " + f"{name:<{first}}" + "  ".join(f"{n:>{width}}" for n in row))
    return lines


def summary_text(report: DemoReport) -> str:
    """The summary the demo prints at the end (plain text)."""
    data = report.to_dict()
    counts = data["verdict_counts"]
    lines = []
    if report.placeholder_models:
        lines += [PLACEHOLDER_WARNING, ""]
    fit = report.fit
    cv = fit.get("summary", {}).get("cv_accuracy")
    styles = _styles_phrase(report.styles)
    per_style = style_accuracy_lines(report)
    lines += [
        f"Fitted integrator 'demo' on {fit.get('count')} scenes (seed {fit.get('seed')}, "
        f"{styles}) with {fit.get('mode')}: cross-validated accuracy {_pct(cv)}",
        f"Inspected {len(report.outcomes)} held-out scenes (seed {report.test_seed}, {styles}) "
        f"through Triton: {counts['Qualified']} Qualified, {counts['Unqualified']} Unqualified, "
        f"{counts['No Mine Detected']} No Mine Detected, {counts['failed']} failed",
        f"Accuracy against the synthetic truth: {_pct(data['accuracy'])} "
        f"(always answering the most frequent verdict: {_pct(data['chance_accuracy'])})",
        *(["Accuracy per style:", *per_style] if per_style else []),
        *confusion_lines(data["confusion"]["matrix"]),
        f"Throughput: {report.images_per_s:.2f} images/s "
        f"({len(report.outcomes)} images in {report.inspect_seconds:.1f} s)",
        f"Overlays: {report.overlays_dir}",
        f"Report:   {Path(report.out_dir) / 'report.json'} and report.md",
    ]
    if report.placeholder_models:
        lines += ["", PLACEHOLDER_WARNING]
    lines += ["", SWAP_INSTRUCTIONS]
    return "\n".join(lines)


def markdown_summary(report: DemoReport) -> str:
    """``report.md``: the summary as Markdown, with the confusion matrix as a table."""
    data = report.to_dict()
    counts = data["verdict_counts"]
    out = ["# loadcheck demo report", ""]
    if report.placeholder_models:
        out += [f"> **{PLACEHOLDER_WARNING}**", ""]
    fit = report.fit
    out += [
        f"* Models: `{report.models_dir}`"
        + (" (untrained placeholders)" if report.placeholder_models else ""),
        f"* Fitting: {fit.get('count')} scenes, seed {fit.get('seed')}, {fit.get('mode')}; "
        f"CV accuracy {_pct(fit.get('summary', {}).get('cv_accuracy'))}",
        f"* Held-out: {len(report.outcomes)} scenes, seed {report.test_seed}",
        f"* Scene {_styles_phrase(report.styles)}"
        + (" (scene i in styles[i mod n])" if len(report.styles) > 1 else ""),
        f"* Verdicts: {counts['Qualified']} Qualified, {counts['Unqualified']} Unqualified, "
        f"{counts['No Mine Detected']} No Mine Detected, {counts['failed']} failed",
        f"* Accuracy: **{_pct(data['accuracy'])}** "
        f"(most-frequent-verdict baseline {_pct(data['chance_accuracy'])})",
        f"* Throughput: {report.images_per_s:.2f} images/s",
        f"* Overlays: `{report.overlays_dir}`",
        "",
        "| truth \\ predicted | " + " | ".join(VERDICTS) + " |",
        "|---|" + "---|" * len(VERDICTS),
    ]
    for name, row in zip(VERDICTS, data["confusion"]["matrix"], strict=True):
        out.append(f"| {name} | " + " | ".join(str(n) for n in row) + " |")
    if len(report.styles) > 1:
        out += ["", "| style | scenes | accuracy |", "|---|---|---|"]
        out += [
            f"| {style} | {row['count']} | {_pct(row['accuracy'])} |"
            for style, row in data["accuracy_by_style"].items()
        ]
    out += ["", "| step | seconds |", "|---|---|"]
    out += [f"| {k} | {v:.1f} |" for k, v in report.step_seconds.items()]
    out += ["", "```", SWAP_INSTRUCTIONS, "```", ""]
    return "\n".join(out)


def write_report(report: DemoReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` (atomically); returns both."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    atomic_write_text(json_path, json.dumps(report.to_dict(), indent=2) + "\n")
    atomic_write_text(md_path, markdown_summary(report))
    return json_path, md_path
