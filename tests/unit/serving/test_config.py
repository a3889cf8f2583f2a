"""config.pbtxt generation: typed objects -> protobuf text, checked against golden files.

Regenerate the golden files after an intended change with ``LOADCHECK_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loadcheck import tensor_names as tn
from loadcheck.serving import layout
from loadcheck.serving.config import (
    DataType,
    Device,
    InstanceGroup,
    ModelConfig,
    TensorSpec,
    parse_config,
    render_config,
)
from loadcheck.serving.masks import MaskRefinement
from loadcheck.serving.runtimes import RUNTIMES, NetworkPlacement, NetworkSpec

GOLDEN = Path(__file__).parent / "golden"
SHAPES = layout.NetworkShapes(
    detector_input=(1, 640, 640, 3),
    detector_input_dtype=DataType.UINT8,
    raw_detections=(1, -1, 7),
    sam_side=1024,
    low_res_side=256,
)
CPU = InstanceGroup(1, Device.CPU)
DETECTOR = NetworkSpec(
    tn.DETECTOR_MODEL,
    Path("detector.onnx"),
    [(tn.DETECTOR_INPUT, "uint8", (-1, 640, 640, 3))],
    [(tn.DETECTOR_RAW_OUTPUT, "float32", (-1, 8400, 7))],
    batch_axis=True,
)
DECODER = NetworkSpec(
    tn.SAM_DECODER_MODEL,
    Path("sam_decoder.onnx"),
    [
        (tn.SAM_DECODER_EMBEDDINGS, "float32", (1, 256, 64, 64)),
        (tn.SAM_DECODER_BOXES, "float32", (-1, 4)),
        (tn.SAM_DECODER_POINT_COORDS, "float32", (-1, 1, 2)),
        (tn.SAM_DECODER_POINT_LABELS, "float32", (-1, 1)),
    ],
    [
        (tn.SAM_LOW_RES_MASKS, "float32", (-1, 1, 256, 256)),
        (tn.SAM_IOU_PREDICTIONS, "float32", (-1, 1)),
    ],
    batch_axis=False,
)


def _configs() -> dict[str, ModelConfig]:
    configs = {
        "preprocess": layout.preprocess_config(SHAPES, CPU, {"detector_height": "640"}),
        "prompts": layout.prompts_config(SHAPES, CPU, {"sam_frame": "crop"}),
        "masks": layout.masks_config(
            SHAPES, CPU, {"sam_img_size": "1024", **MaskRefinement().to_params()}
        ),
        "segmentator": layout.segmentator_config(),
        "scorer_site_a": layout.scorer_config("site_a", CPU, {}),
        "integrator_site_a": layout.integrator_config("site_a"),
    }
    gpu = NetworkPlacement(8, 2000, InstanceGroup(2, Device.GPU), intra_op_threads=2)
    for runtime, make in RUNTIMES.items():
        if runtime == "python-torch":  # needs checkpoints; tested in tests/functional
            continue
        configs[f"detector.{runtime}"] = make(DETECTOR, gpu).config
        configs[f"sam_decoder.{runtime}"] = make(DECODER, gpu).config
    return configs


@pytest.mark.parametrize("name", sorted(_configs()))
def test_generated_config_matches_its_golden_file(name):
    text = render_config(_configs()[name])
    golden = GOLDEN / f"{name}.pbtxt"
    if os.environ.get("LOADCHECK_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"missing golden file {golden}; run with LOADCHECK_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_max_batch_size_zero_is_written_explicitly_and_parses_back():
    text = render_config(layout.masks_config(SHAPES, CPU, {}))
    assert "max_batch_size: 0\n" in text
    assert parse_config(text)["name"] == tn.MASKS_MODEL


def test_a_batching_network_has_no_batch_axis_in_its_dims():
    config = RUNTIMES["onnxruntime"](DETECTOR, NetworkPlacement(4, 100, CPU)).config
    parsed = parse_config(render_config(config))
    assert parsed["max_batch_size"] == 4
    assert [int(d) for d in parsed["input"][0]["dims"]] == [640, 640, 3]
    assert parsed["platform"] == "onnxruntime_onnx"


def test_a_network_without_batch_axis_never_batches():
    config = RUNTIMES["tensorrt"](DECODER, NetworkPlacement(8, 100, CPU)).config
    assert config.max_batch_size == 0 and config.dynamic_batching is None


def test_ensemble_steps_consume_only_tensors_produced_earlier():
    config = layout.integrator_config("x")
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
def test_invalid_configs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(name="m", inputs=[TensorSpec("a", DataType.FP32, (1,))], outputs=[], **kwargs)


def test_unknown_fields_are_refused_by_protobuf():
    from google.protobuf.json_format import ParseError

    config = ModelConfig(name="m", backend="python", inputs=[], outputs=[])
    bad = config.to_dict() | {"no_such_field": 1}
    from google.protobuf import json_format
    from tritonclient.grpc import model_config_pb2

    with pytest.raises(ParseError):
        json_format.ParseDict(bad, model_config_pb2.ModelConfig())


def test_tensorrt_uses_the_plan_from_the_export_and_otherwise_says_how_to_build_it(tmp_path):
    import dataclasses

    place = NetworkPlacement(0, 100, CPU)
    missing = RUNTIMES["tensorrt"](DECODER, place)
    assert set(missing.files) == {"model.onnx"} and "loadcheck export tensorrt" in missing.notes
    plan = tmp_path / "decoder_fp16.plan"
    plan.write_bytes(b"plan")
    found = RUNTIMES["tensorrt"](dataclasses.replace(DECODER, plan=plan), place)
    assert found.files == {"model.plan": plan} and found.notes is None
