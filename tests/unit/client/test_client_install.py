from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "torchvision", "xgboost", "onnxruntime", "onnx", "segment_anything", "yolov6")

SCRIPT = f"""
import sys
for name in {HEAVY!r}:
    sys.modules[name] = None  # importing any of them now raises ImportError
import loadcheck.client
from loadcheck.client import AsyncInspectionClient, InspectionClient, render_overlay
import loadcheck.client.cli, loadcheck.client.batch, loadcheck.client.transport
import loadcheck.gateway.app, loadcheck.gateway.cli, loadcheck.gateway.tokens
import tritonclient.http.aio, tritonclient.grpc.aio
print("ok")
"""


def test_client_and_gateway_import_without_torch_sam_xgboost_or_onnxruntime() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
