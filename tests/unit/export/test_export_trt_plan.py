"""TensorRT plan building: optimisation profiles from cards, and the missing-TensorRT error."""

from __future__ import annotations

import hashlib
import re
import sys
import types
from pathlib import Path

import pytest

from loadcheck import tensor_names as tn
from loadcheck.export.onnx_utils import ExportError
from loadcheck.export.trt_plan import (
    InputProfile,
    ProfileSettings,
    TensorRTUnavailableError,
    build_plan,
    input_profiles,
    trtexec_command,
)
from loadcheck.pipeline.cards import ModelCard, card_path_for


@pytest.mark.torch  # the tiny export's cards
def test_encoder_profile_varies_only_the_batch(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["sam_encoder"])
    (profile,) = input_profiles(card, ProfileSettings(min_batch=1, opt_batch=2, max_batch=4))
    assert profile == InputProfile(
        tn.SAM_ENCODER_INPUT, (1, 256, 256, 3), (2, 256, 256, 3), (4, 256, 256, 3)
    )


@pytest.mark.torch  # the tiny export's cards
def test_decoder_profile_varies_only_the_boxes(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["sam_decoder"])
    embeddings, boxes, coords, labels = input_profiles(
        card, ProfileSettings(max_batch=8, max_boxes=32)
    )
    assert embeddings.min_shape == embeddings.max_shape == (1, 256, 16, 16)
    assert boxes == InputProfile(tn.SAM_DECODER_BOXES, (1, 4), (16, 4), (32, 4))
    assert coords == InputProfile(tn.SAM_DECODER_POINT_COORDS, (1, 1, 2), (16, 1, 2), (32, 1, 2))
    assert labels == InputProfile(tn.SAM_DECODER_POINT_LABELS, (1, 1), (16, 1), (32, 1))


@pytest.mark.torch  # the tiny export's cards
def test_detector_profile_uses_the_batch_range(tiny) -> None:  # type: ignore[no-untyped-def]
    card = ModelCard.load(tiny.cards["detector"])
    (profile,) = input_profiles(card, ProfileSettings(min_batch=2, opt_batch=4, max_batch=16))
    assert profile.min_shape == (2, 320, 320, 3)
    assert profile.opt_shape == (4, 320, 320, 3)
    assert profile.max_shape == (16, 320, 320, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_batch": 0},
        {"min_batch": 4, "opt_batch": 2},
        {"opt_batch": 9, "max_batch": 8},
        {"max_boxes": 0},
        {"max_boxes": 4, "opt_boxes": 5},
    ],
)
def test_inconsistent_profile_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ExportError):
        ProfileSettings(**kwargs)


@pytest.mark.torch  # the tiny export's cards
def test_unknown_dynamic_axis_cannot_be_profiled(tiny) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    card = ModelCard.load(tiny.cards["detector"])
    spec = dataclasses.replace(card.inputs[0], dim_names=("X", "S", "S", "3"))
    with pytest.raises(ExportError, match="dynamic axis 'X'"):
        input_profiles(dataclasses.replace(card, inputs=(spec,)), ProfileSettings())


@pytest.mark.torch  # the tiny export's cards
def test_missing_tensorrt_error_prints_the_trtexec_command(tiny, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    onnx_path = tiny.root / "sam_decoder.onnx"
    with pytest.raises(TensorRTUnavailableError) as info:
        build_plan(onnx_path, tmp_path / "dec.plan", ProfileSettings(max_boxes=64), fp16=True)
    message = str(info.value)
    assert "not installed" in message
    assert f"--onnx={onnx_path}" in message
    assert "--minShapes=image_embeddings:1x256x16x16,boxes_xyxy:1x4" in message
    assert "--maxShapes=image_embeddings:1x256x16x16,boxes_xyxy:64x4" in message
    assert message.rstrip().endswith("--fp16")
    assert not (tmp_path / "dec.plan").exists()


def test_trtexec_command_omits_shapes_for_a_static_model(tmp_path: Path) -> None:
    profile = InputProfile("x", (1, 3), (1, 3), (1, 3))
    command = trtexec_command(tmp_path / "m.onnx", tmp_path / "m.plan", [profile], fp16=False)
    assert "--minShapes" not in command and "--fp16" not in command
    assert command.startswith("/usr/src/tensorrt/bin/trtexec --onnx=")


def test_plan_needs_the_model_card_of_the_onnx_file(tmp_path: Path) -> None:
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"")
    with pytest.raises(ExportError, match="model card not found"):
        build_plan(lone, tmp_path / "lone.plan")


# -- the TensorRT path, against a stand-in ``tensorrt`` module ------------------------------------
PLAN_BYTES = b"fake serialized engine \x00\x01\x02"


class FakeTensorRT(types.ModuleType):
    """The part of TensorRT's Python API that ``build_plan`` uses; records what it is asked.

    ``parse_errors``: the parser fails with these messages; ``build_fails``: the builder returns
    ``None`` (as TensorRT does when no engine can be built).
    """

    def __init__(self, *, parse_errors: tuple[str, ...] = (), build_fails: bool = False) -> None:
        super().__init__("tensorrt")
        self.__version__ = "10.3.0-fake"
        self.parsed: list[str] = []
        self.shapes: list[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = []
        self.flags: list[str] = []
        self.pools: dict[str, int] = {}
        self.plugins_initialised = False
        fake = self

        class Logger:
            WARNING = "warning"

            def __init__(self, severity: str) -> None:
                self.severity = severity

        class OnnxParser:
            def __init__(self, network: object, logger: Logger) -> None:
                self.num_errors = len(parse_errors)

            def parse_from_file(self, path: str) -> bool:
                fake.parsed.append(path)
                return not parse_errors

            def get_error(self, index: int) -> str:
                return parse_errors[index]

        class Profile:
            def set_shape(self, name: str, low: tuple, opt: tuple, high: tuple) -> None:  # type: ignore[type-arg]
                fake.shapes.append((name, tuple(low), tuple(opt), tuple(high)))

        class Config:
            def __init__(self) -> None:
                self.profiles: list[Profile] = []

            def set_memory_pool_limit(self, pool: str, size: int) -> None:
                fake.pools[pool] = size

            def set_flag(self, flag: str) -> None:
                fake.flags.append(flag)

            def add_optimization_profile(self, profile: Profile) -> None:
                self.profiles.append(profile)

        class Builder:
            def __init__(self, logger: Logger) -> None:
                assert logger.severity == Logger.WARNING

            def create_network(self, flags: int) -> object:
                return object()

            def create_builder_config(self) -> Config:
                return Config()

            def create_optimization_profile(self) -> Profile:
                return Profile()

            def build_serialized_network(self, network: object, config: Config) -> bytes | None:
                assert len(config.profiles) == 1
                return None if build_fails else bytearray(PLAN_BYTES)  # IHostMemory: a buffer

        def init_libnvinfer_plugins(logger: Logger, namespace: str) -> None:
            fake.plugins_initialised = True

        self.Logger = Logger
        self.OnnxParser = OnnxParser
        self.Builder = Builder
        self.init_libnvinfer_plugins = init_libnvinfer_plugins
        self.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
        self.BuilderFlag = types.SimpleNamespace(FP16="fp16")


@pytest.fixture
def decoder_onnx(tmp_path: Path) -> Path:
    """A stand-in ``sam_decoder.onnx`` (the fake parser does not read it) with a decoder card."""
    from network_cards import decoder_card

    path = tmp_path / "onnx" / "sam_decoder.onnx"
    path.parent.mkdir()
    path.write_bytes(b"not really onnx, but hashed like one")
    decoder_card(side=256).save(card_path_for(path))
    return path


def test_plan_and_its_card_are_written_from_the_tensorrt_build(
    decoder_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTensorRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    settings = ProfileSettings(max_batch=4, max_boxes=32)
    plan = build_plan(decoder_onnx, tmp_path / "plans" / "sam_decoder.plan", settings, fp16=True)

    assert plan == tmp_path / "plans" / "sam_decoder.plan"
    assert plan.read_bytes() == PLAN_BYTES
    assert fake.parsed == [str(decoder_onnx)] and fake.plugins_initialised
    assert fake.flags == ["fp16"]
    assert fake.pools == {"workspace": 4096 << 20}
    onnx_card = ModelCard.for_model(decoder_onnx)
    profiles = input_profiles(onnx_card, settings)
    assert fake.shapes == [(p.name, p.min_shape, p.opt_shape, p.max_shape) for p in profiles]
    assert (tn.SAM_DECODER_BOXES, (1, 4), (16, 4), (32, 4)) in fake.shapes

    card = ModelCard.for_model(plan)
    assert card.format == "tensorrt_plan"
    assert card.file == "sam_decoder.plan"
    assert card.dtype == "fp16"
    assert card.external_data is False
    assert card.source_checkpoint == "sam_decoder.onnx"
    assert card.source_sha256 == hashlib.sha256(decoder_onnx.read_bytes()).hexdigest()
    assert card.library_versions["tensorrt"] == "10.3.0-fake"
    assert card.inputs == onnx_card.inputs and card.outputs == onnx_card.outputs
    assert card.extra["onnx_source_checkpoint"] == onnx_card.source_checkpoint
    assert card.extra["onnx_source_sha256"] == onnx_card.source_sha256
    assert card.extra["max_batch"] == 4
    assert card.extra["tensorrt_profiles"] == [
        {
            "name": p.name,
            "min_shape": list(p.min_shape),  # JSON lists
            "opt_shape": list(p.opt_shape),
            "max_shape": list(p.max_shape),
        }
        for p in profiles
    ]


def test_a_plan_without_fp16_keeps_the_onnx_precision_and_sets_no_flag(
    decoder_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTensorRT()
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    plan = build_plan(decoder_onnx, tmp_path / "dec.plan", workspace_mib=256)
    assert fake.flags == [] and fake.pools == {"workspace": 256 << 20}
    assert ModelCard.for_model(plan).dtype == "fp32"


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        (
            FakeTensorRT(parse_errors=("node 3: unsupported op Foo", "node 9: bad shape")),
            "could not parse sam_decoder.onnx: node 3: unsupported op Foo; node 9: bad shape",
        ),
        (FakeTensorRT(build_fails=True), "failed to build a plan from sam_decoder.onnx"),
    ],
    ids=["parser fails", "builder fails"],
)
def test_a_failed_tensorrt_build_raises_and_leaves_no_plan_nor_stale_card(
    fake: FakeTensorRT,
    message: str,
    decoder_onnx: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    plan = tmp_path / "dec.plan"
    ModelCard.for_model(decoder_onnx).save(card_path_for(plan))  # a card left by an older build
    with pytest.raises(ExportError, match=re.escape(message)):
        build_plan(decoder_onnx, plan)
    assert not plan.exists()
    assert not card_path_for(plan).exists()
