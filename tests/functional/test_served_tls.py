"""The client over TLS against a real Triton: a TLS-terminating proxy on 127.0.0.1 (tls_proxy)
in front of the ``triton`` fixture's HTTP and gRPC ports, with a throwaway CA (trustme).

Shows that an inspection over ``https://`` (and ``grpcs://``) with the CA gives the same answer
as over plain HTTP, that without the CA it fails with an error naming the URL and the CA, and
that mutual TLS works with the client's certificate.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from tls_proxy import tls_proxy

from loadcheck.client import InspectionClient, TlsError, TransientError

# torch: the tiny test models (the triton fixture's) are exported with PyTorch.
pytestmark = [pytest.mark.triton, pytest.mark.torch]


@dataclass(frozen=True)
class Certificates:
    ca: trustme.CA
    server: trustme.LeafCert
    ca_file: Path
    client_cert_file: Path
    client_key_file: Path

    def server_context(self, *, mutual: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        if mutual:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client = ca.issue_cert("plant-7@example.com")
    client.cert_chain_pems[0].write_to_path(str(folder / "client.crt"))
    client.private_key_pem.write_to_path(str(folder / "client.key"))
    return Certificates(
        ca,
        ca.issue_cert("127.0.0.1", "localhost"),
        folder / "ca.pem",
        folder / "client.crt",
        folder / "client.key",
    )


@pytest.fixture(scope="module")
def https_url(triton: Any, certs: Certificates) -> Iterator[str]:
    with tls_proxy(certs.server_context(), triton.http_url) as address:
        yield f"https://{address}"


def inspect(url: str, image: bytes, integrator: str, **options: Any) -> Any:
    with InspectionClient(url, timeout=120, **options) as client:
        return client.inspect(image, integrator)


def test_an_inspection_over_https_with_the_ca_matches_plain_http(
    triton: Any, certs: Certificates, https_url: str, scene_jpegs: list[bytes]
) -> None:
    over_tls = inspect(https_url, scene_jpegs[0], triton.integrator, ca_file=certs.ca_file)
    plain = inspect(triton.http_url, scene_jpegs[0], triton.integrator)
    assert over_tls.score_result == plain.score_result
    assert over_tls.probability == pytest.approx(plain.probability)
    assert over_tls.features == plain.features


def test_https_without_the_ca_fails_naming_the_url_and_the_ca(
    triton: Any, https_url: str, scene_jpegs: list[bytes]
) -> None:
    with pytest.raises(TlsError) as caught:
        inspect(https_url, scene_jpegs[0], triton.integrator)
    assert f"TLS handshake with {https_url} failed" in str(caught.value)
    assert "give the CA that signed it with --ca-file" in str(caught.value)


def test_grpc_over_tls_with_the_ca_matches_plain_grpc(
    triton: Any, certs: Certificates, scene_jpegs: list[bytes]
) -> None:
    with tls_proxy(certs.server_context(), triton.grpc_url) as address:
        over_tls = inspect(
            f"grpcs://{address}",
            scene_jpegs[1],
            triton.integrator,
            protocol="grpc",
            ca_file=certs.ca_file,
        )
        with pytest.raises(TlsError, match=f"TLS handshake with grpcs://{address} failed"):
            inspect(f"grpcs://{address}", scene_jpegs[1], triton.integrator, protocol="grpc")
    plain = inspect(triton.grpc_url, scene_jpegs[1], triton.integrator, protocol="grpc")
    assert over_tls.score_result == plain.score_result
    assert over_tls.features == plain.features


def test_mutual_tls_serves_the_client_with_its_certificate_only(
    triton: Any, certs: Certificates, scene_jpegs: list[bytes]
) -> None:
    mine = {
        "ca_file": certs.ca_file,
        "cert_file": certs.client_cert_file,
        "key_file": certs.client_key_file,
    }
    for protocol, backend, scheme in (
        ("http", triton.http_url, "https"),
        ("grpc", triton.grpc_url, "grpcs"),
    ):
        with tls_proxy(certs.server_context(mutual=True), backend) as address:
            url = f"{scheme}://{address}"
            result = inspect(url, scene_jpegs[2], triton.integrator, protocol=protocol, **mine)
            assert result.score_result is not None
            with pytest.raises((TlsError, TransientError)) as caught:
                inspect(
                    url, scene_jpegs[2], triton.integrator, protocol=protocol, ca_file=certs.ca_file
                )
            assert "give --cert-file and --key-file" in str(caught.value)


def test_loadcheck_inspect_over_https_with_the_ca_variable(
    triton: Any, certs: Certificates, https_url: str, scene_jpegs: list[bytes], tmp_path: Path
) -> None:
    photo = tmp_path / "truck.jpg"
    photo.write_bytes(scene_jpegs[3])
    command = [
        sys.executable, "-c", "from loadcheck.cli import main; main()",
        "inspect", str(photo), "-i", triton.integrator, "--url", https_url, "--format", "json",
        "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "LOADCHECK_CA_FILE": str(certs.ca_file)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert '"score_result"' in done.stdout
    env.pop("LOADCHECK_CA_FILE")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1
    assert f"error: TLS handshake with {https_url} failed" in done.stderr


def test_loadcheck_inspect_over_grpc_tls_with_mutual_certificates(
    triton: Any, certs: Certificates, scene_jpegs: list[bytes], tmp_path: Path
) -> None:
    photo = tmp_path / "truck.jpg"
    photo.write_bytes(scene_jpegs[0])
    with tls_proxy(certs.server_context(mutual=True), triton.grpc_url) as address:
        command = [
            sys.executable, "-c", "from loadcheck.cli import main; main()",
            "inspect", str(photo), "-i", triton.integrator, "--grpc", "--url", f"grpcs://{address}",
            "--ca-file", str(certs.ca_file), "--cert-file", str(certs.client_cert_file),
            "--key-file", str(certs.client_key_file), "--format", "json", "--no-progress",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert '"score_result"' in done.stdout
