"""The demo's report: confusion matrix, accuracy, counts, summary text and files."""

from __future__ import annotations

import json

import pytest

from loadcheck.demo.report import (
    PLACEHOLDER_WARNING,
    SWAP_INSTRUCTIONS,
    VERDICTS,
    DemoReport,
    ImageOutcome,
    accuracy,
    accuracy_by_style,
    chance_accuracy,
    confusion_matrix,
    markdown_summary,
    summary_text,
    verdict_counts,
    write_report,
)

Q, U, N = VERDICTS

OUTCOMES = (
    ImageOutcome("a.jpg", Q, Q, 0.9),
    ImageOutcome("b.jpg", Q, U, 0.2),
    ImageOutcome("c.jpg", U, U, 0.1),
    ImageOutcome("d.jpg", N, N, 0.0),
    ImageOutcome("e.jpg", U, None, error="server down"),
)


STYLED = (
    ImageOutcome("s2_000000.jpg", Q, Q, 0.9, style="night"),
    ImageOutcome("s2_000001.jpg", Q, U, 0.2, style="dust"),
    ImageOutcome("s2_000002.jpg", U, U, 0.1, style="night"),
    ImageOutcome("s2_000003.jpg", U, None, error="server down", style="dust"),
)


def report(
    placeholder: bool = False,
    outcomes: tuple[ImageOutcome, ...] = OUTCOMES,
    styles: tuple[str, ...] = ("classic",),
) -> DemoReport:
    return DemoReport(
        placeholder_models=placeholder,
        models_dir="models/demo/onnx",
        models={"detector": {"model_type": "yolov6n"}},
        fit={"seed": 1, "count": 24, "mode": "the served segmentator", "summary": {}},
        test_seed=2,
        outcomes=outcomes,
        inspect_seconds=2.0,
        step_seconds={"fit": 3.0},
        out_dir="/runs/demo",
        overlays_dir="/runs/demo/overlays",
        styles=styles,
    )


def test_verdict_order_is_the_public_contract():
    assert VERDICTS == ("Qualified", "Unqualified", "No Mine Detected")


def test_confusion_matrix_counts_truth_rows_against_predicted_columns_without_failures():
    assert confusion_matrix(OUTCOMES) == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_verdict_counts_include_every_verdict_and_the_failures():
    assert verdict_counts(OUTCOMES) == {Q: 1, U: 2, N: 1, "failed": 1}


def test_accuracy_counts_a_failed_image_as_wrong():
    assert accuracy(OUTCOMES) == pytest.approx(3 / 5)


def test_accuracy_of_no_images_is_none():
    assert accuracy(()) is None


@pytest.mark.parametrize(
    ("counts", "expected"),
    [({Q: 3, U: 1, N: 0}, 0.75), ({Q: 1, U: 1, N: 2}, 0.5), ({Q: 0, U: 0, N: 0}, None)],
)
def test_chance_accuracy_is_the_share_of_the_most_frequent_verdict(counts, expected):
    assert chance_accuracy(counts) == expected


def test_images_per_second_divides_images_by_inspection_time():
    assert report().images_per_s == pytest.approx(2.5)


def test_report_dict_holds_counts_accuracy_confusion_and_every_image():
    data = report().to_dict()
    assert data["test"] == {"seed": 2, "count": 5, "truth": {Q: 2, U: 2, N: 1}}
    assert data["verdict_counts"]["failed"] == 1
    assert data["confusion"]["labels"] == list(VERDICTS)
    assert data["accuracy"] == pytest.approx(0.6)
    assert [r["image"] for r in data["results"]] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    assert data["warning"] is None
    json.dumps(data)


def test_summary_names_the_verdict_counts_accuracy_rate_and_swap_instructions():
    text = summary_text(report())
    assert "1 Qualified, 2 Unqualified, 1 No Mine Detected, 1 failed" in text
    assert "60.0 %" in text
    assert "2.50 images/s" in text
    assert "/runs/demo/overlays" in text
    assert SWAP_INSTRUCTIONS in text
    assert PLACEHOLDER_WARNING not in text


def test_placeholder_models_are_flagged_loudly_in_summary_json_and_markdown():
    r = report(placeholder=True)
    assert summary_text(r).count(PLACEHOLDER_WARNING) == 2
    assert r.to_dict()["warning"] == PLACEHOLDER_WARNING
    assert PLACEHOLDER_WARNING in markdown_summary(r)


def test_markdown_has_the_confusion_matrix_as_a_table():
    md = markdown_summary(report())
    assert "| truth \\ predicted | Qualified | Unqualified | No Mine Detected |" in md
    assert "| Qualified | 1 | 1 | 0 |" in md


def test_write_report_writes_json_and_markdown(tmp_path):
    json_path, md_path = write_report(report(), tmp_path / "out")
    assert json.loads(json_path.read_text())["test"]["count"] == 5
    assert md_path.read_text().startswith("# loadcheck demo report")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.json", "report.md"]


def test_confusion_lines_align_truth_rows_under_predicted_columns():
    from loadcheck.demo.report import confusion_lines

    lines = confusion_lines([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert lines[0].split() == [
        "truth",
        "\\",
        "predicted",
        "Qualified",
        "Unqualified",
        "No",
        "Mine",
        "Detected",
    ]
    assert lines[3].split()[-3:] == ["7", "8", "9"]
    assert len({len(line) for line in lines}) == 1


def test_accuracy_by_style_splits_the_images_by_their_style_in_style_order():
    assert accuracy_by_style(STYLED, ("night", "dust", "quarry")) == {
        "night": {"count": 2, "accuracy": 1.0},
        "dust": {"count": 2, "accuracy": 0.0},
        "quarry": {"count": 0, "accuracy": None},
    }


def test_report_names_the_styles_and_their_accuracies():
    data = report(outcomes=STYLED, styles=("night", "dust")).to_dict()
    assert data["styles"] == ["night", "dust"]
    assert data["accuracy"] == pytest.approx(0.5)
    assert data["accuracy_by_style"]["night"] == {"count": 2, "accuracy": 1.0}
    assert [r["style"] for r in data["results"]] == ["night", "dust", "night", "dust"]
    json.dumps(data)


def test_summary_and_markdown_give_per_style_accuracy_only_with_several_styles():
    several = report(outcomes=STYLED, styles=("night", "dust"))
    text = summary_text(several)
    assert "styles night, dust" in text
    assert "Accuracy per style:" in text
    assert "night  100.0 % of 2 scenes" in text
    assert "dust   0.0 % of 2 scenes" in text
    assert "| dust | 2 | 0.0 % |" in markdown_summary(several)
    single = report()
    assert "style classic" in summary_text(single)
    assert "Accuracy per style" not in summary_text(single)
    assert "| style |" not in markdown_summary(single)
