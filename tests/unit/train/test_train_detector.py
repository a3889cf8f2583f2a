"""``train_detector``: YOLOv6's own model and loss on a tiny YOLO dataset, checkpoints, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loadcheck.train.common import TrainError
from loadcheck.train.detector import (
    CHECKPOINT_NAME,
    RESUME_NAME,
    DetectorTrainSettings,
    train_detector,
)

pytestmark = pytest.mark.torch


def _settings(data: Path, out: Path, **overrides: object) -> DetectorTrainSettings:
    base: dict[str, object] = {
        "data": data,
        "out": out,
        "width": 0.125,
        "depth": 0.33,
        "img_size": 96,
        "epochs": 2,
        "batch_size": 8,
        "progress": False,
    }
    base.update(overrides)
    return DetectorTrainSettings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """One batch (every train image) overfitted for 14 steps without augmentation."""
    out = tmp_path_factory.mktemp("det")
    log = train_detector(_settings(synth_dir, out, epochs=14, augment=False, lr=0.004, seed=1))
    return out, [e["loss"] for e in log.epochs]


def test_detector_loss_decreases_when_overfitting_one_batch(
    trained: tuple[Path, list[float]],
) -> None:
    _, losses = trained
    assert len(losses) == 14
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.9 * first, losses


def test_detector_checkpoint_exports_through_export_yolov6(
    trained: tuple[Path, list[float]], tmp_path: Path
) -> None:
    from loadcheck.export.yolov6_onnx import export_yolov6

    out, _ = trained
    result = export_yolov6(out / CHECKPOINT_NAME, tmp_path, 96)
    assert result.model.is_file()
    assert result.num_classes == 2
    assert (out / "training_log.json").is_file()


def test_resume_continues_the_run_to_the_total_epoch_count(synth_dir: Path, tmp_path: Path) -> None:
    first = train_detector(_settings(synth_dir, tmp_path, epochs=1))
    resumed = train_detector(
        _settings(synth_dir, tmp_path, epochs=2, resume=tmp_path / RESUME_NAME)
    )
    assert [e["epoch"] for e in resumed.epochs] == [1, 2]
    assert resumed.steps == 2 * first.steps
    assert resumed.epochs[0] == first.epochs[0]


def test_fine_tuning_from_weights_copies_the_checkpoint_tensors(
    trained: tuple[Path, list[float]], synth_dir: Path, tmp_path: Path
) -> None:
    out, _ = trained
    log = train_detector(
        _settings(synth_dir, tmp_path, epochs=1, weights=out / CHECKPOINT_NAME, lr=1e-6)
    )
    # starting from the overfitted weights, the first loss is near the end of that run
    assert log.epochs[0]["loss"] < trained[1][0]


def test_fine_tuning_from_a_checkpoint_of_another_width_is_refused(
    trained: tuple[Path, list[float]], synth_dir: Path, tmp_path: Path
) -> None:
    out, _ = trained
    with pytest.raises(TrainError, match="--width"):
        train_detector(_settings(synth_dir, tmp_path, width=0.25, weights=out / CHECKPOINT_NAME))


def test_missing_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="not an existing folder"):
        train_detector(_settings(tmp_path / "nope", tmp_path / "out"))


def test_folder_without_data_yaml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match=r"no data\.yaml"):
        train_detector(_settings(tmp_path, tmp_path / "out"))


def test_unknown_config_is_a_clear_error(synth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="yolov6x"):
        train_detector(_settings(synth_dir, tmp_path, config="yolov6x"))


def test_malformed_label_line_names_the_file_and_line(synth_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(synth_dir / "yolo", data / "yolo")
    text = (synth_dir / "data.yaml").read_text().replace(str(synth_dir), str(data))
    (data / "data.yaml").write_text(text)
    label = sorted((data / "yolo" / "labels" / "train").glob("*.txt"))[0]
    label.write_text("0 0.5 0.5 0.2\n")
    with pytest.raises(TrainError, match=rf"{label.name}:1: expected 'class cx cy w h'"):
        train_detector(_settings(data, tmp_path / "out"))
