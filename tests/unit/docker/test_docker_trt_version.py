"""docker/trt_version.py: decoding TensorRT's getInferLibVersion() (no TensorRT needed)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from deploy_files import DOCKER


def load_trt_version() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "loadcheck_trt_version", DOCKER / "trt_version.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


trt_version = load_trt_version()


@pytest.mark.parametrize(
    ("encoded", "version"),
    [
        (100700, "10.7.0"),  # TensorRT 10: MAJOR*10000 + MINOR*100 + PATCH
        (101303, "10.13.3"),
        (8601, "8.6.1"),  # TensorRT 8: MAJOR*1000 + MINOR*100 + PATCH
        (9300, "9.3.0"),
    ],
)
def test_decode_version_reads_both_tensorrt_encodings(encoded: int, version: str) -> None:
    assert trt_version.decode_version(encoded) == version


def test_decode_version_refuses_a_non_positive_number() -> None:
    with pytest.raises(ValueError, match="expected a positive number"):
        trt_version.decode_version(0)


def test_tensorrt_tools_stage_pins_the_package_to_the_detected_version() -> None:
    dockerfile = (DOCKER / "triton.Dockerfile").read_text()
    assert 'trt_version="$(python3 /usr/local/bin/loadcheck-trt-version)"' in dockerfile
    assert '"tensorrt-cu${cuda_major}==${trt_version}.*"' in dockerfile
