"""``benchmarks/gpu/bench_gpu.py`` resizes the template cards to the GPU run's networks (SAM
ViT-L at 1024 and 512, YOLOv6-s at 640), and the segmentator declares from them: the cards the
GPU host will serve, checked here without building a ViT-L."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import load_cards
from loadcheck.pipeline.declaration import Segmentator

GPU_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_gpu_under_test", GPU_DIR / "bench_gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("side", [1024, 512])
def test_resized_cards_declare_the_segmentator_at_the_gpu_runs_sizes(
    bench: ModuleType, side: int, tmp_path: Path
) -> None:
    for name in ("detector", "sam_encoder", "sam_decoder"):
        template = json.loads((GPU_DIR / "cards" / f"{name}.onnx.card.json").read_text())
        if name == "detector":
            card = bench.resized_card(template, 640, model_type="yolov6")
        else:
            card = bench.resized_card(template, side, model_type="vit_l")
        (tmp_path / f"{name}.onnx.card.json").write_text(json.dumps(card))
    networks = load_cards(tmp_path)
    assert networks.sam_encoder.output(tn.SAM_EMBEDDINGS).shape == (-1, 256, side // 16, side // 16)
    assert networks.sam_decoder.output(tn.SAM_LOW_RES_MASKS).shape == (-1, 1, side // 4, side // 4)
    assert networks.detector.output(tn.DETECTOR_RAW_OUTPUT).shape == (-1, 8400, 7)
    assert networks.sam_encoder.extra["embedding_hw"] == [side // 16, side // 16]
    segmentator = Segmentator.from_networks(networks)
    assert segmentator.prompts.settings.sam_img_size == side


def test_the_gpu_runs_repositories_differ_as_the_readme_says(bench: ModuleType) -> None:
    naive = bench.variant_settings("naive", "whole", bench.GPU)
    fused = bench.variant_settings("fused", "whole", bench.GPU)
    batched = bench.variant_settings("batched", "crop", bench.GPU)
    assert (naive.bf16, naive.fused_attention, naive.fuse_sam) == (False, False, False)
    assert naive.encoder_max_batch == naive.detector_max_batch == 0
    assert (fused.bf16, fused.fused_attention, fused.fuse_sam, fused.warmup) == (True,) * 4
    assert fused.instances == 2 and fused.device[tn.SAM_ENCODER_MODEL] == "gpu"
    assert batched.encoder_max_batch == 8 and batched.encoder_preferred_batch == (4, 8)
    assert not batched.fuse_sam and batched.sam_frame == "crop"
