"""config.pbtxt generation: the declaration -> typed configs -> protobuf text, checked against
golden files.

Regenerate the golden files after an intended change with ``LOADCHECK_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from network_cards import synthetic_networks

from loadcheck import tensor_names as tn
from loadcheck.pipeline.cards import ModelCard
from loadcheck.pipeline.declaration import NetworkStage, Segmentator, SegmentatorSettings
from loadcheck.pipeline.registry import step_from_config
from loadcheck.pipeline.tensors import TensorSpec
from loadcheck.serving import layout
from loadcheck.serving.config import Device, InstanceGroup, ModelConfig, parse_config, render_config
from loadcheck.serving.runtimes import (
    RUNTIMES,
    NetworkPlacement,
    Runtime,
    RuntimeSettingsError,
)

GOLDEN = Path(__file__).parent / "golden"
CPU = InstanceGroup(1, Device.CPU)
GPU_PLACEMENT = NetworkPlacement(8, 2000, InstanceGroup(2, Device.GPU), intra_op_threads=2)


def _segmentator() -> Segmentator:
    return Segmentator.from_networks(synthetic_networks(), SegmentatorSettings())


def _plan(card: ModelCard, tensor: str, max_shape: tuple[int, ...]) -> ModelCard:
    profile = {"name": tensor, "min_shape": [1], "opt_shape": [1], "max_shape": list(max_shape)}
    return dataclasses.replace(
        card,
        format="tensorrt_plan",
        file=card.file.replace(".onnx", ".plan"),
        extra={"tensorrt_profiles": [profile]},
    )


def _plans(tmp: Path, seg: Segmentator) -> dict[str, ModelCard]:
    plans = {
        tn.DETECTOR_MODEL: _plan(seg.detector.card, tn.DETECTOR_INPUT, (8, 640, 640, 3)),
        tn.SAM_DECODER_MODEL: _plan(seg.sam_decoder.card, tn.SAM_DECODER_BOXES, (16, 4)),
    }
    for plan in plans.values():
        (tmp / plan.file).write_bytes(b"plan")
    return plans


def _stage(stage: NetworkStage, folder: Path) -> NetworkStage:
    return dataclasses.replace(stage, path=folder / stage.path.name)


def _configs(tmp: Path) -> dict[str, ModelConfig]:
    seg = _segmentator()
    configs = {
        step.name: layout.python_step_config(step, CPU)
        for step in (seg.preprocess, seg.prompts, seg.masks)
    }
    configs["segmentator"] = layout.segmentator_config(seg)
    configs["scorer_site_a"] = layout.scorer_config("site_a", CPU, (3,))
    configs["integrator_site_a"] = layout.integrator_config("site_a")
    plans = _plans(tmp, seg)
    placement = dataclasses.replace(GPU_PLACEMENT, max_boxes=16)
    for runtime, make in RUNTIMES.items():
        if runtime is Runtime.PYTHON_TORCH:  # needs checkpoints; tested in tests/functional
            continue
        for stage in (seg.detector, seg.sam_decoder):
            out = make(_stage(stage, tmp), placement, plans.get(stage.name))
            configs[f"{stage.name}.{runtime.value}"] = out.config
    tuned = dataclasses.replace(
        placement, queue_delay_us=0, preferred_batch_sizes=(4, 8), warmup=True
    )
    make = RUNTIMES[Runtime.PYTHON_ONNXRUNTIME]
    configs["sam_encoder.tuned"] = make(_stage(seg.sam_encoder, tmp), tuned, None).config
    configs["sam_decoder.tuned"] = make(_stage(seg.sam_decoder, tmp), tuned, None).config
    graphs = dataclasses.replace(tuned, cuda_graphs=True)
    detector = _stage(seg.detector, tmp)
    configs["detector.tensorrt.tuned"] = RUNTIMES[Runtime.TENSORRT](
        detector, graphs, plans[tn.DETECTOR_MODEL]
    ).config
    configs["scorer_site_a.instances"] = layout.scorer_config("site_a", InstanceGroup(3), (3,))
    return configs


NAMES = (
    "preprocess",
    "prompts",
    "masks",
    "segmentator",
    "scorer_site_a",
    "integrator_site_a",
    *(
        f"{n}.{r.value}"
        for n in ("detector", "sam_decoder")
        for r in Runtime
        if r is not Runtime.PYTHON_TORCH
    ),
    "sam_encoder.tuned",
    "sam_decoder.tuned",
    "detector.tensorrt.tuned",
    "scorer_site_a.instances",
)


@pytest.mark.parametrize("name", NAMES)
def test_generated_config_matches_its_golden_file(name: str, tmp_path: Path) -> None:
    text = render_config(_configs(tmp_path)[name])
    golden = GOLDEN / f"{name}.pbtxt"
    if os.environ.get("LOADCHECK_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"missing golden file {golden}; run with LOADCHECK_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_every_golden_file_is_still_generated(tmp_path: Path) -> None:
    generated = set(_configs(tmp_path))
    assert generated == set(NAMES)
    stale = {p.stem for p in GOLDEN.glob("*.pbtxt")} - generated
    assert not stale, f"golden files no config generates any more: {sorted(stale)}"


def test_a_python_steps_config_builds_the_same_step_back(tmp_path: Path) -> None:
    for step in (_segmentator().preprocess, _segmentator().prompts, _segmentator().masks):
        config = parse_config(render_config(layout.python_step_config(step, CPU)))
        rebuilt = step_from_config(config, tmp_path)
        assert type(rebuilt) is type(step)
        assert rebuilt.settings == step.settings
        assert rebuilt.inputs == step.inputs and rebuilt.outputs == step.outputs


def test_max_batch_size_zero_is_written_explicitly_and_parses_back() -> None:
    text = render_config(layout.python_step_config(_segmentator().masks, CPU))
    assert "max_batch_size: 0\n" in text
    assert parse_config(text)["name"] == tn.MASKS_MODEL


def test_a_batching_network_has_no_batch_axis_in_its_dims() -> None:
    stage = _segmentator().detector
    config = RUNTIMES[Runtime.ONNXRUNTIME](stage, NetworkPlacement(4, 100, CPU), None).config
    parsed = parse_config(render_config(config))
    assert parsed["max_batch_size"] == 4
    assert [int(d) for d in parsed["input"][0]["dims"]] == [640, 640, 3]
    assert parsed["platform"] == "onnxruntime_onnx"


def test_a_network_without_batch_axis_never_batches() -> None:
    stage = _segmentator().sam_decoder
    config = RUNTIMES[Runtime.ONNXRUNTIME](stage, NetworkPlacement(8, 100, CPU), None).config
    assert config.max_batch_size == 0 and config.dynamic_batching is None


def test_the_integrator_nests_the_segmentator_and_returns_its_masks() -> None:
    config = layout.integrator_config("x")
    assert [s.model_name for s in config.ensemble_steps] == ["segmentator", "scorer_x"]
    names = {t.name for t in config.outputs}
    assert {tn.SCORE_RESULT, tn.MASKS, tn.MASK_IOU, tn.BOXES_XYXY} <= names


def test_ensemble_steps_consume_only_tensors_produced_earlier() -> None:
    for config in (layout.integrator_config("x"), layout.segmentator_config(_segmentator())):
        available = {t.name for t in config.inputs}
        for step in config.ensemble_steps:
            missing = set(step.input_map.values()) - available
            assert not missing, f"{step.model_name} reads {missing} before any step produces it"
            available |= set(step.output_map.values())
        assert {t.name for t in config.outputs} <= available


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "python", "platform": "ensemble"}, "exactly one"),
        ({"backend": "python", "max_batch_size": -1}, "max_batch_size"),
        ({"platform": "ensemble"}, "at least one step"),
    ],
)
def test_invalid_configs_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(name="m", inputs=[TensorSpec("a", "float32", (1,))], outputs=[], **kwargs)  # type: ignore[arg-type]


def test_unknown_fields_are_refused_by_protobuf() -> None:
    from google.protobuf import json_format
    from google.protobuf.json_format import ParseError
    from tritonclient.grpc import model_config_pb2

    config = ModelConfig(name="m", backend="python", inputs=[], outputs=[])
    with pytest.raises(ParseError):
        json_format.ParseDict(
            config.to_dict() | {"no_such_field": 1}, model_config_pb2.ModelConfig()
        )


def test_tensorrt_without_a_plan_is_refused_with_what_to_run(tmp_path: Path) -> None:
    stage = _stage(_segmentator().sam_decoder, tmp_path)
    with pytest.raises(RuntimeSettingsError, match="loadcheck export tensorrt"):
        RUNTIMES[Runtime.TENSORRT](stage, NetworkPlacement(0, 100, CPU), None)


def test_tensorrt_serves_the_plan_of_the_export_folder(tmp_path: Path) -> None:
    seg = _segmentator()
    plan = _plans(tmp_path, seg)[tn.SAM_DECODER_MODEL]
    stage = _stage(seg.sam_decoder, tmp_path)
    out = RUNTIMES[Runtime.TENSORRT](stage, NetworkPlacement(0, 100, CPU, max_boxes=16), plan)
    assert out.files == {"model.plan": tmp_path / plan.file}


@pytest.mark.parametrize(
    ("network", "placement", "message"),
    [
        (tn.SAM_DECODER_MODEL, NetworkPlacement(0, 100, CPU, max_boxes=1000), "--max-det 1000"),
        (tn.DETECTOR_MODEL, NetworkPlacement(32, 100, CPU), "max batch 32"),
    ],
)
def test_tensorrt_refuses_settings_beyond_the_plans_profile(
    tmp_path: Path, network: str, placement: NetworkPlacement, message: str
) -> None:
    seg = _segmentator()
    stage = {tn.SAM_DECODER_MODEL: seg.sam_decoder, tn.DETECTOR_MODEL: seg.detector}[network]
    with pytest.raises(RuntimeSettingsError, match=message):
        RUNTIMES[Runtime.TENSORRT](
            _stage(stage, tmp_path), placement, _plans(tmp_path, seg)[network]
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"preferred_batch_sizes": (16,)}, "must not exceed the max batch 8"),
        ({"cuda_graphs": True}, "TensorRT plans"),
    ],
)
def test_batcher_and_optimization_settings_a_runtime_cannot_honour_are_refused(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    placement = dataclasses.replace(GPU_PLACEMENT, **change)  # type: ignore[arg-type]
    stage = _stage(_segmentator().sam_encoder, tmp_path)
    with pytest.raises(RuntimeSettingsError, match=message):
        RUNTIMES[Runtime.PYTHON_ONNXRUNTIME](stage, placement, None)


def test_warmup_runs_the_max_batch_and_a_non_batching_model_at_batch_one(tmp_path: Path) -> None:
    seg = _segmentator()
    warm = dataclasses.replace(GPU_PLACEMENT, warmup=True)
    make = RUNTIMES[Runtime.PYTHON_ONNXRUNTIME]
    encoder = parse_config(render_config(make(_stage(seg.sam_encoder, tmp_path), warm).config))
    decoder = parse_config(render_config(make(_stage(seg.sam_decoder, tmp_path), warm).config))
    assert [w["batch_size"] for w in encoder["model_warmup"]] == [1, 8]
    assert [w["batch_size"] for w in decoder["model_warmup"]] == [1]
    boxes = decoder["model_warmup"][0]["inputs"][tn.SAM_DECODER_BOXES]
    assert [int(d) for d in boxes["dims"]] == [1, 4] and boxes["zero_data"]


def test_repository_settings_place_the_encoder_with_its_preferred_batches() -> None:
    from loadcheck.serving.repository import RepositoryError, RepositorySettings

    settings = RepositorySettings(encoder_preferred_batch=(2, 4), warmup=True)
    assert settings.placement(tn.SAM_ENCODER_MODEL).preferred_batch_sizes == (2, 4)
    assert settings.placement(tn.DETECTOR_MODEL).preferred_batch_sizes == ()
    assert RepositorySettings.from_json(settings.to_json()) == settings
    assert RepositorySettings().queue_delay_us == 0
    with pytest.raises(RepositoryError, match="scorer_instances"):
        RepositorySettings(scorer_instances=0)
