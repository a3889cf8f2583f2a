"""The tritonserver command line and binary lookup (no server started)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from network_cards import synthetic_networks

from loadcheck import tensor_names as tn
from loadcheck.deploy_constants import API_KEY_HEADER, RESTRICTED_API_CATEGORIES
from loadcheck.pipeline.declaration import Segmentator
from loadcheck.serving import layout
from loadcheck.serving.repository import write_model
from loadcheck.serving.server import (
    ServerBinary,
    TritonServer,
    TritonStartError,
    find_tritonserver,
)
from loadcheck.serving.state import save_deployed


def test_command_is_explicit_mode_with_restricted_apis_and_the_deployed_models(tmp_path: Path):
    write_model(
        tmp_path, layout.segmentator_config(Segmentator.from_networks(synthetic_networks()))
    )
    write_model(tmp_path, layout.integrator_config("site_a"))
    save_deployed(tmp_path, ["site_a", "gone"])  # "gone" has no folder: not loaded
    server = TritonServer(tmp_path, http_port=1, grpc_port=2, metrics_port=3, api_key="s3cret")
    args = server.command(ServerBinary(Path("/bin/tritonserver"), Path("/b")))
    assert "--model-control-mode=explicit" in args
    assert [a for a in args if a.startswith("--load-model")] == [
        f"--load-model={tn.SEGMENTATOR_ENSEMBLE}",
        "--load-model=integrator_site_a",
    ]
    rule = f"{','.join(RESTRICTED_API_CATEGORIES)}:{API_KEY_HEADER}=s3cret"
    assert f"--http-restricted-api={rule}" in args
    assert f"--grpc-restricted-protocol={rule}" in args
    assert "--backend-directory=/b" in args
    assert {"--http-port=1", "--grpc-port=2", "--metrics-port=3"} <= set(args)


def test_without_an_api_key_nothing_is_restricted(tmp_path: Path):
    args = TritonServer(tmp_path).command(ServerBinary(Path("/bin/tritonserver")))
    assert not [a for a in args if "restricted" in a]
    assert not [a for a in args if a.startswith("--backend-directory")]


def test_port_zero_picks_distinct_free_ports(tmp_path: Path):
    server = TritonServer(tmp_path, http_port=0, grpc_port=0, metrics_port=0)
    assert len({server.http_port, server.grpc_port, server.metrics_port}) == 3
    assert server.http_url.startswith("127.0.0.1:")


def test_all_interfaces_are_reached_through_loopback(tmp_path: Path):
    server = TritonServer(tmp_path, host="0.0.0.0", http_port=8000)
    assert server.http_url == "127.0.0.1:8000"
    assert "--http-address=0.0.0.0" in server.command(ServerBinary(Path("t")))


def test_tritonserver_env_var_wins_and_must_exist(tmp_path: Path, monkeypatch):
    fake = tmp_path / "tritonserver"
    fake.write_text("")
    monkeypatch.setenv("TRITONSERVER", str(fake))
    assert find_tritonserver().executable == fake
    monkeypatch.setenv("TRITONSERVER", str(tmp_path / "missing"))
    with pytest.raises(TritonStartError, match="not a file"):
        find_tritonserver()


def test_an_unpacked_gpu_bundle_serves_with_its_own_backends_and_libraries(
    tmp_path: Path, monkeypatch
):
    """The layout of ../shared/gpu/make_triton_bundle.sh: bin/, backends/python/ with the stub,
    libs/."""
    for folder in ("bin", "backends/python", "libs"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "bin" / "tritonserver").write_text("")
    (tmp_path / "backends" / "python" / "triton_python_backend_stub").write_text("")
    monkeypatch.setenv("TRITONSERVER", str(tmp_path / "bin" / "tritonserver"))
    binary = find_tritonserver()
    assert binary.backend_dir == tmp_path / "backends"
    assert binary.library_path == (tmp_path / "libs",)
    assert f"--backend-directory={tmp_path / 'backends'}" in TritonServer(tmp_path).command(binary)


def test_starting_on_a_missing_repository_fails_clearly(tmp_path: Path):
    with pytest.raises(TritonStartError, match="is not a folder"):
        TritonServer(tmp_path / "nope").start()


def test_tritonserver_runs_with_this_interpreter_first_on_path_and_its_libraries() -> None:
    import os
    import sys

    from loadcheck.serving.server import ServerBinary, server_env

    binary = ServerBinary(Path("/opt/triton/bin/tritonserver"), None, (Path("/opt/libs"),))
    env = server_env(binary, {"PATH": "/usr/bin", "LD_LIBRARY_PATH": "/usr/lib", "HOME": "/h"})
    # the Python stub resolves site-packages through the first python3 on PATH
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin"]
    assert env["LD_LIBRARY_PATH"].split(os.pathsep) == ["/opt/libs", "/usr/lib"]
    assert env["HOME"] == "/h"
    bare = server_env(ServerBinary(Path("/t")), {})
    assert bare["PATH"] == str(Path(sys.executable).parent) and "LD_LIBRARY_PATH" not in bare


def test_poll_mode_loads_what_the_repository_holds_and_stays_ready_when_one_model_fails(
    tmp_path: Path,
):
    server = TritonServer(tmp_path, poll_secs=30)
    args = server.command(ServerBinary(Path("/bin/tritonserver")))
    assert {
        "--model-control-mode=poll",
        "--repository-poll-secs=30",
        "--strict-readiness=false",
        "--exit-on-error=false",
    } <= set(args)
    assert not [a for a in args if a.startswith("--load-model")]


def test_an_object_store_repository_is_kept_as_a_url_and_needs_poll_mode():
    url = "s3://bucket/model_repository"
    server = TritonServer(url, poll_secs=30)
    assert f"--model-repository={url}" in server.command(ServerBinary(Path("/t")))
    with pytest.raises(TritonStartError, match="needs --poll-secs"):
        TritonServer(url).start()


def test_an_s3_repository_with_the_endpoint_variable_reaches_triton_in_its_url_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOADCHECK_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    server = TritonServer("s3://models/site/repository", poll_secs=5)
    args = server.command(ServerBinary(Path("/t")))
    assert "--model-repository=s3://127.0.0.1:9000/models/site/repository" in args


def test_tritonserver_gets_neither_the_api_key_nor_its_file_in_its_environment(
    tmp_path: Path, monkeypatch
):
    dump = tmp_path / "environment"
    fake = tmp_path / "tritonserver"
    fake.write_text(f"#!/bin/sh\nenv > {dump}\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("TRITONSERVER", str(fake))
    monkeypatch.setenv("LOADCHECK_API_KEY", "from-the-environment")
    monkeypatch.setenv("LOADCHECK_API_KEY_FILE", "/run/secrets/key")
    server = TritonServer(tmp_path, http_port=0, grpc_port=0, metrics_port=0, api_key="k3y")
    with pytest.raises(TritonStartError, match="exited with code 3"):
        server.start()
    environment = dump.read_text()
    assert "LOADCHECK_API_KEY" not in environment and "from-the-environment" not in environment


class _AnswersEverything(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_start_up_check_fails_when_a_restricted_api_answers_without_the_key(tmp_path: Path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _AnswersEverything)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        server = TritonServer(tmp_path, http_port=httpd.server_address[1], api_key="k3y")
        with pytest.raises(TritonStartError, match="200 without the key and 200 with it"):
            server.check_restricted()
    finally:
        httpd.shutdown()
