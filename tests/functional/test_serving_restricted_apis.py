"""Every Triton API that changes or reveals server state needs the key; inference, health and
metadata stay open; the key is not on tritonserver's command line (issue 23, item 4)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from loadcheck import tensor_names as tn
from loadcheck.deploy_constants import OPEN_API_CATEGORIES, RESTRICTED_API_CATEGORIES

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]

#: One HTTP request per restricted category: (category, method, path, JSON body).
RESTRICTED_HTTP = [
    ("logging", "GET", "/v2/logging", None),
    ("logging", "POST", "/v2/logging", {"log_verbose_level": 0}),  # as it is: harmless
    ("trace", "GET", "/v2/trace/setting", None),
    ("trace", "POST", "/v2/trace/setting", {"trace_level": ["OFF"]}),
    ("shared-memory", "GET", "/v2/systemsharedmemory/status", None),
    ("shared-memory", "POST", "/v2/systemsharedmemory/unregister", {}),
    ("shared-memory", "GET", "/v2/cudasharedmemory/status", None),
    ("statistics", "GET", "/v2/models/stats", None),
    ("statistics", "GET", f"/v2/models/{tn.SEGMENTATOR_ENSEMBLE}/stats", None),
    ("model-config", "GET", f"/v2/models/{tn.SEGMENTATOR_ENSEMBLE}/config", None),
    ("model-repository", "POST", "/v2/repository/index", {}),
]
OPEN_HTTP = [
    ("health", "/v2/health/live"),
    ("health", "/v2/health/ready"),
    ("health", f"/v2/models/{tn.SEGMENTATOR_ENSEMBLE}/ready"),
    ("metadata", "/v2"),
    ("metadata", f"/v2/models/{tn.SEGMENTATOR_ENSEMBLE}"),
]


def _call(url: str, method: str, path: str, body: object, headers: dict[str, str]) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://{url}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_tables_cover_every_category_tritonserver_accepts():
    covered = {c for c, *_ in RESTRICTED_HTTP} | {c for c, _ in OPEN_HTTP} | {"inference"}
    assert covered == set(RESTRICTED_API_CATEGORIES) | set(OPEN_API_CATEGORIES)


@pytest.mark.parametrize(("category", "method", "path", "body"), RESTRICTED_HTTP)
def test_a_restricted_http_api_answers_403_without_the_key_and_works_with_it(
    triton, category, method, path, body
):
    for headers in ({}, {triton.api_key_header: "wrong-key"}):
        assert _call(triton.http_url, method, path, body, headers) == 403, headers
    with_key = {triton.api_key_header: triton.api_key}
    assert _call(triton.http_url, method, path, body, with_key) == 200


def test_logging_settings_cannot_be_changed_without_the_key(triton):
    verbose = {"log_verbose_level": 1, "log_error": False}
    assert _call(triton.http_url, "POST", "/v2/logging", verbose, {}) == 403
    key = {triton.api_key_header: triton.api_key}
    request = urllib.request.Request(f"http://{triton.http_url}/v2/logging", headers=key)
    with urllib.request.urlopen(request, timeout=30) as response:
        settings = json.loads(response.read())
    assert (settings["log_verbose_level"], settings["log_error"]) == (0, True)


@pytest.mark.parametrize(("category", "path"), OPEN_HTTP)
def test_health_and_metadata_stay_open(triton, category, path):
    assert _call(triton.http_url, "GET", path, None, {}) == 200


def test_inference_stays_open(triton, scene_jpegs):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(triton.http_url)
    try:
        tensor = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
        tensor.set_data_from_numpy(np.array([scene_jpegs[0]], np.object_))
        result = client.infer(tn.SEGMENTATOR_ENSEMBLE, [tensor])
        assert result.as_numpy(tn.BOXES_XYXY) is not None
    finally:
        client.close()


GRPC_CALLS = {
    "logging": lambda c, h: c.get_log_settings(headers=h),
    "logging-update": lambda c, h: c.update_log_settings({"log_verbose_level": 0}, headers=h),
    "trace": lambda c, h: c.get_trace_settings(headers=h),
    "shared-memory": lambda c, h: c.get_system_shared_memory_status(headers=h),
    "cuda-shared-memory": lambda c, h: c.get_cuda_shared_memory_status(headers=h),
    "statistics": lambda c, h: c.get_inference_statistics(headers=h),
    "model-config": lambda c, h: c.get_model_config(tn.SEGMENTATOR_ENSEMBLE, headers=h),
    "model-repository": lambda c, h: c.get_model_repository_index(headers=h),
}


@pytest.mark.parametrize("call", sorted(GRPC_CALLS))
def test_a_restricted_grpc_protocol_is_refused_without_the_key_and_works_with_it(triton, call):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(triton.grpc_url)
    try:
        for headers in (None, {triton.grpc_api_key_header: "wrong-key"}):
            with pytest.raises(InferenceServerException, match="restricted"):
                GRPC_CALLS[call](client, headers)
        GRPC_CALLS[call](client, {triton.grpc_api_key_header: triton.api_key})
        assert client.is_server_live() and client.get_server_metadata()  # open
    finally:
        client.close()


def test_the_api_key_is_not_on_tritonservers_command_line(triton):
    pid = triton.server.process.pid
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"tritonserver" in cmdline and b"--http-restricted-api" in cmdline
    assert triton.api_key.encode() not in cmdline
    assert b"loadcheck-api-key=" + b"*" * len(triton.api_key) in cmdline
    shown = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    assert shown.returncode == 0 and triton.api_key not in shown.stdout


def test_the_api_key_is_not_in_tritonservers_environment(triton):
    environ = Path(f"/proc/{triton.server.process.pid}/environ").read_bytes()
    assert triton.api_key.encode() not in environ
    assert b"LOADCHECK_API_KEY=" not in environ
