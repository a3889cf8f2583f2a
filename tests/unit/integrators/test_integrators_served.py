"""ServedSegmentator: the segmentator's answer -> per-truck masks, retries, cache key, fitting."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from integrator_files import dataset

from loadcheck import tensor_names as tn
from loadcheck.client.errors import RejectedInputError, TransientError
from loadcheck.client.retry import RetryPolicy
from loadcheck.integrators.errors import IntegratorError
from loadcheck.integrators.fitting import fit, predict
from loadcheck.integrators.served import ServedSegmentator, segmentator_config_key
from loadcheck.serving.repository import MANIFEST
from loadcheck.workspace.images import sha256_hex

Responder = Callable[[str, bytes], Mapping[str, np.ndarray]]


class FakeTransport:
    """Answers ``infer`` from Python; ``failures`` errors are raised before the first answer."""

    url = "fake:8000"

    def __init__(self, respond: Responder, failures: Sequence[Exception] = ()) -> None:
        self.respond = respond
        self.failures = list(failures)
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.closed = False

    async def infer(
        self, model: str, image: bytes, outputs: Sequence[str]
    ) -> Mapping[str, np.ndarray | None]:
        self.calls.append((model, tuple(outputs)))
        await asyncio.sleep(0)
        if self.failures:
            raise self.failures.pop(0)
        answer = self.respond(model, image)
        return {name: answer.get(name) for name in outputs}

    async def server_ready(self) -> bool:
        return True

    async def model_ready(self, model: str) -> bool:
        return True

    async def models(self) -> list[str]:
        return [tn.SEGMENTATOR_ENSEMBLE]

    async def close(self) -> None:
        self.closed = True


def outputs_from_masks(bed: np.ndarray, load: np.ndarray) -> dict[str, np.ndarray]:
    """Segmentator outputs for one truck: detection 0 = bed, 1 = load (boxes from the masks)."""

    def box(mask: np.ndarray) -> list[float]:
        ys, xs = np.nonzero(mask)
        return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]

    return {
        tn.BOXES_XYXY: np.array([box(bed), box(load)], np.float32),
        tn.CLASS_IDS: np.array([0, 1], np.int32),
        tn.SCORES: np.array([0.9, 0.8], np.float32),
        tn.MASKS: np.stack([bed, load]).astype(np.uint8),
        tn.MASK_IOU: np.array([0.95, 0.9], np.float32),
    }


def rectangle_outputs(image: bytes) -> dict[str, np.ndarray]:
    rgb = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    h, w = rgb.shape[:2]
    bed = np.zeros((h, w), bool)
    bed[h // 2 :, 4 : w - 4] = True
    load = np.zeros((h, w), bool)
    load[3 * h // 4 :, 4 : w - 4] = True
    return outputs_from_masks(bed, load)


def jpeg(size_hw: tuple[int, int] = (48, 64)) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((*size_hw, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


def make_repository(root: Path, conf_thres: float = 0.25, weights: bytes = b"onnx") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    settings = {"detector": {"conf_thres": conf_thres}, "sam_frame": "crop"}
    (root / MANIFEST).write_text(json.dumps({"export_dir": str(root), "settings": settings}))
    for model in (tn.DETECTOR_MODEL, tn.SAM_ENCODER_MODEL, tn.SAM_DECODER_MODEL):
        (root / model / "1").mkdir(parents=True, exist_ok=True)
        (root / model / "1" / "model.onnx").write_bytes(weights + model.encode())
    return root


def segmentator(tmp_path: Path, respond: Responder, **kwargs: object) -> ServedSegmentator:
    transport = FakeTransport(respond, **kwargs)  # type: ignore[arg-type]
    return ServedSegmentator(
        "unused:1",
        repository=make_repository(tmp_path / "repo"),
        transport=transport,
        retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.0, jitter=0.0),
    )


def test_segment_asks_the_segmentator_and_pairs_the_load_with_its_bed(tmp_path):
    with segmentator(tmp_path, lambda model, image: rectangle_outputs(image)) as seg:
        trucks = seg.segment(jpeg())
        calls = seg._transport.calls  # type: ignore[attr-defined]
    assert calls[0][0] == tn.SEGMENTATOR_ENSEMBLE
    assert set(calls[0][1]) == {tn.BOXES_XYXY, tn.CLASS_IDS, tn.SCORES, tn.MASKS, tn.MASK_IOU}
    assert len(trucks) == 1
    assert trucks[0].resolution_wh == (64, 48)
    assert trucks[0].load_mask.sum() == pytest.approx(trucks[0].bed_mask.sum() / 2, abs=64)


def test_segment_accepts_outputs_with_a_leading_batch_axis(tmp_path):
    def batched(model: str, image: bytes) -> dict[str, np.ndarray]:
        return {k: v[np.newaxis] for k, v in rectangle_outputs(image).items()}

    with segmentator(tmp_path, batched) as seg:
        assert len(seg.segment(jpeg())) == 1


def test_an_image_without_a_bed_gives_no_trucks(tmp_path):
    def nothing(model: str, image: bytes) -> dict[str, np.ndarray]:
        return {
            tn.BOXES_XYXY: np.zeros((0, 4), np.float32),
            tn.CLASS_IDS: np.zeros(0, np.int32),
            tn.SCORES: np.zeros(0, np.float32),
            tn.MASKS: np.zeros((0, 48, 64), np.uint8),
            tn.MASK_IOU: np.zeros(0, np.float32),
        }

    with segmentator(tmp_path, nothing) as seg:
        assert seg.segment(jpeg()) == []


def test_a_transient_failure_is_retried(tmp_path):
    respond = lambda model, image: rectangle_outputs(image)  # noqa: E731
    with segmentator(tmp_path, respond, failures=[TransientError("busy")]) as seg:
        assert len(seg.segment(jpeg())) == 1
        assert len(seg._transport.calls) == 2  # type: ignore[attr-defined]


def test_a_refused_image_raises_an_error_naming_the_server(tmp_path):
    respond = lambda model, image: rectangle_outputs(image)  # noqa: E731
    refused = [RejectedInputError("not an image")]
    pattern = r"segmentator at fake:8000 failed.*not an image"
    with (
        segmentator(tmp_path, respond, failures=refused) as seg,
        pytest.raises(IntegratorError, match=pattern),
    ):
        seg.segment(b"junk")


def test_masks_that_do_not_match_the_detections_are_rejected(tmp_path):
    def one_mask_short(model: str, image: bytes) -> dict[str, np.ndarray]:
        out = rectangle_outputs(image)
        out[tn.MASKS] = out[tn.MASKS][:1]
        out[tn.MASK_IOU] = out[tn.MASK_IOU][:1]
        return out

    with (
        segmentator(tmp_path, one_mask_short) as seg,
        pytest.raises(IntegratorError, match="1 masks for 2 detections"),
    ):
        seg.segment(jpeg())


def test_a_missing_output_is_reported_by_name(tmp_path):
    def no_masks(model: str, image: bytes) -> dict[str, np.ndarray]:
        out = rectangle_outputs(image)
        del out[tn.MASKS]
        return out

    with segmentator(tmp_path, no_masks) as seg, pytest.raises(IntegratorError, match=tn.MASKS):
        seg.segment(jpeg())


def test_close_closes_the_transport(tmp_path):
    seg = segmentator(tmp_path, lambda model, image: rectangle_outputs(image))
    transport = seg._transport
    seg.close()
    assert transport.closed  # type: ignore[attr-defined]


def test_config_key_changes_with_the_settings_and_the_served_networks(tmp_path):
    base = segmentator_config_key(make_repository(tmp_path / "a"))
    assert base.startswith("segmentator:")
    assert segmentator_config_key(make_repository(tmp_path / "b")) == base
    assert segmentator_config_key(make_repository(tmp_path / "c", conf_thres=0.5)) != base
    assert segmentator_config_key(make_repository(tmp_path / "d", weights=b"other")) != base


def test_a_repository_without_a_manifest_is_refused_with_the_fix(tmp_path):
    with pytest.raises(IntegratorError, match="loadcheck repository build"):
        ServedSegmentator("x:1", repository=tmp_path, transport=FakeTransport(lambda m, i: {}))


def test_an_explicit_config_key_needs_no_repository():
    seg = ServedSegmentator("x:1", config_key="segmentator:abc", transport=FakeTransport(dict))
    assert seg.config_key == "segmentator:abc"
    seg.close()


def masks_responder(zips: Sequence[Path], masks_dir: Path) -> Responder:
    """Answer for each fitting image with the masks written for it (found by content hash)."""
    stems: dict[str, str] = {}
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                stems[sha256_hex(zf.read(name))] = Path(name).stem

    def respond(model: str, image: bytes) -> dict[str, np.ndarray]:
        stem = stems[sha256_hex(image)]
        bed = cv2.imread(str(masks_dir / f"{stem}_bed.png"), cv2.IMREAD_GRAYSCALE) > 0
        load = cv2.imread(str(masks_dir / f"{stem}_load.png"), cv2.IMREAD_GRAYSCALE) > 0
        return outputs_from_masks(bed, load)

    return respond


def test_fitting_through_the_served_segmentator_keys_the_cache_by_its_config(store, tmp_path):
    q, u, masks = dataset(tmp_path, 6)
    store.create("a")
    store.update("a", params={"n_estimators": 20})
    store.add_data("a", q, u)
    with segmentator(tmp_path, masks_responder([q, u], masks)) as seg:
        first = fit(store, "a", mask_source=seg, cv_folds=3)
        second = fit(store, "a", mask_source=seg, cv_folds=0)
        calls = len(seg._transport.calls)  # type: ignore[attr-defined]
    assert first["cv_accuracy"] == pytest.approx(1.0)
    assert (first["features_computed"], second["features_cached"]) == (12, 12)
    assert calls == 12
    meta = json.loads((store.model_dir("a") / "2" / "scorer.json").read_text())
    assert meta["mask_source"] == seg.config_key


def test_predict_through_the_served_segmentator_scores_each_image(store, tmp_path):
    q, u, masks = dataset(tmp_path, 6)
    store.create("a")
    store.update("a", params={"n_estimators": 20})
    store.add_data("a", q, u)
    respond = masks_responder([q, u], masks)
    with zipfile.ZipFile(q) as zf:
        name = zf.namelist()[0]
        image = tmp_path / name
        image.write_bytes(zf.read(name))
    with segmentator(tmp_path, respond) as seg:
        fit(store, "a", mask_source=seg, cv_folds=0)
        (result,) = predict(store, "a", [image], mask_source=seg)
    assert result["score_result"] == "Qualified"
