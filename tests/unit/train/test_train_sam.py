"""``train_sam``: small SAM from scratch and decoder-only fine-tuning, checkpoints, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from loadcheck.payloads import BED_CLASS_ID, LOAD_CLASS_ID
from loadcheck.train.common import TrainError
from loadcheck.train.sam import CHECKPOINT_NAME, SamTrainSettings, train_sam
from loadcheck.train.sam_data import (
    grow_towards,
    jitter_boxes,
    jitter_points,
    load_seg_dataset,
    make_example,
    noisy_top_edges,
    with_empty_loads,
)

pytestmark = pytest.mark.torch


def _settings(data: Path, out: Path, **overrides: object) -> SamTrainSettings:
    base: dict[str, object] = {
        "data": data,
        "out": out,
        "img_size": 64,
        "steps": 3,
        "batch_size": 2,
        "max_boxes": 4,
        "log_every": 1,
        "progress": False,
    }
    base.update(overrides)
    return SamTrainSettings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    out = tmp_path_factory.mktemp("seg")
    log = train_sam(_settings(synth_dir, out, steps=16, lr=1e-3, seed=2))
    return out, [e["loss"] for e in log.epochs]


def test_sam_loss_decreases_over_a_few_steps(trained: tuple[Path, list[float]]) -> None:
    _, losses = trained
    assert len(losses) == 16
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert last < 0.8 * first, losses


def test_sam_checkpoint_exports_through_export_sam(
    trained: tuple[Path, list[float]], tmp_path: Path
) -> None:
    from loadcheck.export.sam_onnx import export_sam

    out, _ = trained
    result = export_sam(out / CHECKPOINT_NAME, tmp_path)
    assert result.model_type == "vit_tiny"
    assert result.img_size == 64
    assert result.encoder.is_file() and result.decoder.is_file()


def test_from_sam_trains_only_the_mask_decoder(synth_dir: Path, tmp_path: Path) -> None:
    import torch

    from loadcheck.export.tiny import build_tiny_sam_checkpoint

    source = build_tiny_sam_checkpoint(tmp_path / "sam.pth", img_size=64)
    train_sam(_settings(synth_dir, tmp_path / "out", from_sam=source, frame="crop"))
    before = torch.load(source, weights_only=True)
    after = torch.load(tmp_path / "out" / CHECKPOINT_NAME, weights_only=True)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed
    assert all(k.startswith("mask_decoder.") for k in changed), sorted(changed)[:5]


def test_init_trains_every_part_at_a_new_size(synth_dir: Path, tmp_path: Path) -> None:
    import torch

    from loadcheck.export.tiny import build_tiny_sam_checkpoint

    source = build_tiny_sam_checkpoint(tmp_path / "sam.pth", img_size=64)
    train_sam(_settings(synth_dir, tmp_path / "out", init=source, img_size=96))
    before = torch.load(source, weights_only=True)
    after = torch.load(tmp_path / "out" / CHECKPOINT_NAME, weights_only=True)
    assert after["image_encoder.pos_embed"].shape[1:3] == (6, 6)  # 96 px / 16
    changed = {
        k.split(".")[0]
        for k in before
        if k in after and before[k].shape == after[k].shape and not torch.equal(before[k], after[k])
    }
    assert {"image_encoder", "mask_decoder"} <= changed


def test_init_and_from_sam_together_is_a_clear_error(synth_dir: Path, tmp_path: Path) -> None:
    from loadcheck.export.tiny import build_tiny_sam_checkpoint

    source = build_tiny_sam_checkpoint(tmp_path / "sam.pth", img_size=64)
    with pytest.raises(TrainError, match="init and from-sam exclude each other"):
        train_sam(_settings(synth_dir, tmp_path / "o", init=source, from_sam=source))


def test_instances_come_from_mask_components_without_labels_json(
    synth_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(synth_dir / "images", data / "images")
    shutil.copytree(synth_dir / "masks", data / "masks")
    with_labels = load_seg_dataset(synth_dir)
    without = load_seg_dataset(data)
    assert [len(s.xyxy) > 0 for s in without] == [len(s.xyxy) > 0 for s in with_labels]


def test_example_targets_lie_inside_their_prompt_boxes(synth_dir: Path) -> None:
    sample = next(s for s in load_seg_dataset(synth_dir) if len(s.xyxy))
    example = make_example(sample, 128, "crop", (124, 116, 104))
    assert example.image.shape == (128, 128, 3)
    assert example.targets.shape[0] >= len(sample.xyxy)  # + a load prompt per empty bed
    assert example.targets.shape[1:] == (32, 32)
    assert len(example.class_ids) == len(example.bed_boxes) == len(example.targets)
    for box, target in zip(example.boxes_xyxy, example.targets, strict=True):
        ys, xs = np.nonzero(target > 127)
        if not len(xs):
            continue
        assert xs.min() * 4 >= box[0] - 4 and (xs.max() + 1) * 4 <= box[2] + 4
        assert ys.min() * 4 >= box[1] - 4 and (ys.max() + 1) * 4 <= box[3] + 4


def test_every_empty_bed_gets_a_load_prompt_and_loads_know_their_bed() -> None:
    xyxy = np.array(
        [[0, 0, 100, 50], [200, 0, 300, 50], [10, 30, 90, 50]], np.float32
    )  # bed A, bed B (empty), load in A
    ids = np.array([BED_CLASS_ID, BED_CLASS_ID, LOAD_CLASS_ID], np.int32)
    boxes, out_ids, beds = with_empty_loads(xyxy, ids)
    assert out_ids.tolist() == [BED_CLASS_ID, BED_CLASS_ID, LOAD_CLASS_ID, LOAD_CLASS_ID]
    np.testing.assert_array_equal(boxes[3], xyxy[1])  # the empty bed's load prompt
    np.testing.assert_array_equal(beds[2], xyxy[0])  # the load's bed
    np.testing.assert_array_equal(beds[:2], xyxy[:2])


def test_grown_boxes_lie_between_the_box_and_its_bed_and_points_stay_inside() -> None:
    rng = np.random.default_rng(0)
    load = np.tile(np.array([[10, 30, 90, 50]], np.float32), (200, 1))
    bed = np.tile(np.array([[0, 0, 100, 50]], np.float32), (200, 1))
    grown = grow_towards(load, bed, rng, share=0.5)
    assert np.all(grown[:, :2] <= load[:, :2]) and np.all(grown[:, :2] >= bed[:, :2])
    moved = np.any(grown != load, axis=1).mean()
    assert 0.3 < moved < 0.7
    points = jitter_points(np.full((200, 1, 2), 50.0, np.float32), grown, rng)
    assert np.all(points[:, 0] >= grown[:, :2]) and np.all(points[:, 0] <= grown[:, 2:])


def test_jittered_boxes_stay_valid_and_inside_the_frame() -> None:
    boxes = np.array([[10, 10, 50, 40], [0, 0, 64, 64]], np.float32)
    out = jitter_boxes(boxes, 64, np.random.default_rng(0))
    assert out.shape == boxes.shape
    assert np.all(out >= 0) and np.all(out <= 64)
    assert np.all(out[:, 2:] > out[:, :2])
    assert not np.array_equal(out, boxes)


def test_noisy_top_edges_move_only_the_top_of_a_share_of_boxes_within_the_limit() -> None:
    rng = np.random.default_rng(0)
    boxes = np.tile(np.array([[100, 200, 300, 300]], np.float32), (4000, 1))  # 100 px tall
    out = noisy_top_edges(boxes, rng, share=0.25, std=0.18)
    np.testing.assert_array_equal(out[:, [0, 2, 3]], boxes[:, [0, 2, 3]])  # sides, bottom kept
    moved = out[:, 1] != boxes[:, 1]
    assert 0.22 < moved.mean() < 0.28
    shift = (out[moved, 1] - 200) / 100  # in box heights
    assert np.abs(shift).max() <= 0.4 + 1e-6  # TOP_NOISE_LIMIT
    assert np.quantile(np.abs(shift), 0.9) > 0.2  # the tail jitter_boxes never reaches
    assert np.mean(shift > 0) == pytest.approx(0.5, abs=0.06)  # up and down alike
    flat = np.array([[10, 5, 50, 8]], np.float32)  # a 3-px box near the frame top
    for seed in range(50):
        top = noisy_top_edges(flat, np.random.default_rng(seed), 1.0, 1.0)
        assert 0 <= top[0, 1] <= flat[0, 3] - 2  # inside the frame, above the bottom
    assert noisy_top_edges(np.zeros((0, 4), np.float32), rng, 1.0, 0.2).shape == (0, 4)


def test_load_top_noise_trains_and_out_of_range_values_are_clear_errors(
    synth_dir: Path, tmp_path: Path
) -> None:
    log = train_sam(_settings(synth_dir, tmp_path / "ok", steps=1, load_top_noise=0.5))
    assert log.settings["load_top_noise"] == 0.5 and np.isfinite(log.epochs[-1]["loss"])
    with pytest.raises(TrainError, match="load-top-noise: expected a share"):
        train_sam(_settings(synth_dir, tmp_path / "a", load_top_noise=1.5))
    with pytest.raises(TrainError, match="load-top-noise-std"):
        train_sam(_settings(synth_dir, tmp_path / "b", load_top_noise_std=0.0))


def test_data_without_masks_is_a_clear_error(synth_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(synth_dir / "images", data / "images")
    with pytest.raises(TrainError, match="have no masks"):
        train_sam(_settings(data, tmp_path / "out"))


def test_missing_data_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="not an existing folder"):
        train_sam(_settings(tmp_path / "nope", tmp_path / "out"))


def test_unknown_model_type_is_a_clear_error(synth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="vit_q"):
        train_sam(_settings(synth_dir, tmp_path, model_type="vit_q"))


def test_fp16_checkpoint_is_half_the_size_and_still_exports(
    synth_dir: Path, tmp_path: Path
) -> None:
    from loadcheck.export.sam_onnx import export_sam

    train_sam(_settings(synth_dir, tmp_path / "a", steps=1, batch_size=1))
    train_sam(_settings(synth_dir, tmp_path / "b", steps=1, batch_size=1, fp16_checkpoint=True))
    full = (tmp_path / "a" / CHECKPOINT_NAME).stat().st_size
    half = (tmp_path / "b" / CHECKPOINT_NAME).stat().st_size
    assert half < 0.55 * full
    result = export_sam(tmp_path / "b" / CHECKPOINT_NAME, tmp_path / "onnx")
    assert result.model_type == "vit_tiny"


def test_same_seed_gives_the_same_losses(synth_dir: Path, tmp_path: Path) -> None:
    runs = [
        train_sam(_settings(synth_dir, tmp_path / name, steps=2, seed=5)) for name in ("a", "b")
    ]
    assert [e["loss"] for e in runs[0].epochs] == [e["loss"] for e in runs[1].epochs]


def test_edge_band_marks_pixels_next_to_a_mask_edge_only() -> None:
    import torch

    from loadcheck.train.sam import edge_band

    target = torch.zeros(1, 12, 12)
    target[0, 3:9, 3:9] = 1.0
    band = edge_band(target, width=1)[0]
    assert band[2:10, 2:10].sum() == 8 * 8 - 4 * 4  # a 2-px ring around the square's edge
    assert band[5:7, 5:7].sum() == 0  # the interior
    assert band[0, :].sum() == 0  # far background
    assert edge_band(torch.ones(1, 6, 6)).sum() == 0  # no edge, no band


def test_edge_weight_makes_a_mistake_on_the_edge_cost_more() -> None:
    import torch

    from loadcheck.train.sam import mask_losses

    target = torch.zeros(1, 16, 16)
    target[0, 4:12, 4:12] = 1.0
    perfect = torch.where(target > 0.5, 8.0, -8.0)
    on_edge, inside = perfect.clone(), perfect.clone()
    on_edge[0, 4, 6] = -8.0  # a missed pixel on the mask's edge
    inside[0, 15, 15] = 8.0  # the same mistake far from any edge
    iou = torch.ones(1)

    def bce(logits: torch.Tensor, weight: float) -> float:
        return float(mask_losses(logits, target, iou, "bce", weight)["mask"])

    assert bce(on_edge, 0.0) == pytest.approx(bce(inside, 0.0), rel=1e-4)
    assert bce(on_edge, 10.0) > 2.0 * bce(inside, 10.0)
    for kind in ("bce", "focal"):  # a weighted mean: a perfect mask still costs ~0
        assert float(mask_losses(perfect, target, iou, kind, 10.0)["mask"]) < 1e-3


def test_edge_weight_out_of_range_is_a_clear_error(synth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="edge-weight"):
        train_sam(_settings(synth_dir, tmp_path, edge_weight=-1.0))


class _InterruptedError(Exception):
    """Stands for a killed process in the resume tests."""


def _losses(log_epochs: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in e.items() if k != "elapsed_s"} for e in log_epochs]


def test_resume_after_an_interruption_gives_the_uninterrupted_run(
    synth_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from loadcheck.train import sam as trainer

    # saves after steps 2 and 4; log records after steps 3 and 5 (a save holds pending losses)
    run = {"steps": 5, "save_every": 2, "log_every": 3, "seed": 4, "lr": 1e-3}
    whole = train_sam(_settings(synth_dir, tmp_path / "whole", **run))

    step_losses, calls = trainer._step_losses, []

    def dies_at_the_fourth_step(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 4:
            raise _InterruptedError
        return step_losses(*args, **kwargs)  # type: ignore[arg-type]

    out = tmp_path / "cut"
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "_step_losses", dies_at_the_fourth_step)
        with pytest.raises(_InterruptedError):
            train_sam(_settings(synth_dir, out, **run))
    torch.manual_seed(123)  # the resumed run must not depend on the process's RNG state
    np.random.seed(123)
    resumed = train_sam(_settings(synth_dir, out, resume=out / trainer.RESUME_NAME, **run))

    assert resumed.steps == whole.steps == 5
    assert _losses(resumed.epochs) == _losses(whole.epochs)
    weights = [torch.load(d / CHECKPOINT_NAME) for d in (tmp_path / "whole", out)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_resume_refuses_other_settings_and_a_plain_checkpoint(
    synth_dir: Path, tmp_path: Path
) -> None:
    from loadcheck.train.sam import RESUME_NAME

    out = tmp_path / "out"
    train_sam(_settings(synth_dir, out, steps=2))
    with pytest.raises(TrainError, match=r"other settings \(edge-weight 0.0, now 2.0\)"):
        train_sam(_settings(synth_dir, out, steps=4, edge_weight=2.0, resume=out / RESUME_NAME))
    with pytest.raises(TrainError, match="has done 2 steps already"):
        train_sam(_settings(synth_dir, out, steps=2, resume=out / RESUME_NAME))
    with pytest.raises(TrainError, match="not a resumable checkpoint"):
        train_sam(_settings(synth_dir, out, steps=4, resume=out / CHECKPOINT_NAME))
