"""The client's TLS: URLs and files checked before anything is sent, the options tritonclient gets,
and real handshakes (HTTP and gRPC) with TLS servers on 127.0.0.1 signed by a throwaway CA."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from tls_servers import Pki, grpcs_server, https_server, plain_http_server

from loadcheck.client import InspectionError, TlsError, TransientError
from loadcheck.client.tls import TlsConfigError, TlsSettings, resolve_url
from loadcheck.client.transport import TritonTransport


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


def ready(url: str, protocol: str = "http", **tls: Any) -> bool:
    async def ask() -> bool:
        transport = TritonTransport(url, protocol=protocol, timeout_s=10, **tls)  # type: ignore[arg-type]
        try:
            return await transport.server_ready()
        finally:
            await transport.close()

    return asyncio.run(ask())


def refusal(url: str, protocol: str = "http", **tls: Any) -> InspectionError:
    """The error of a call that does not swallow connection errors (``server_ready`` does)."""

    async def ask() -> None:
        transport = TritonTransport(url, protocol=protocol, timeout_s=10, **tls)  # type: ignore[arg-type]
        try:
            await transport.model_ready("integrator_x")
        finally:
            await transport.close()

    with pytest.raises(InspectionError) as caught:
        asyncio.run(ask())
    return caught.value


# -- URLs and files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address", "enabled"),
    [
        ("h:8000", "h:8000", False),
        ("http://h:8000/", "h:8000", False),
        ("grpc://h:8001", "h:8001", False),
        ("https://h:8443", "h:8443", True),
        ("grpcs://h:8443/", "h:8443", True),
    ],
)
def test_the_url_scheme_says_whether_tls_is_used(url: str, address: str, enabled: bool) -> None:
    assert resolve_url(url) == (address, TlsSettings(enabled=enabled))


def test_a_ca_file_turns_tls_on_for_a_bare_host_and_port(pki: Pki) -> None:
    address, tls = resolve_url("h:8443", ca_file=pki.ca_file)
    assert address == "h:8443"
    assert tls == TlsSettings(enabled=True, ca_file=pki.ca_file)


def test_tls_files_with_an_explicit_plain_url_are_refused(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match=r"plain http.*use https://"):
        resolve_url("http://h:8000", ca_file=pki.ca_file)


@pytest.mark.parametrize("url", ["", "https://h:8443/v2/models", "ftp://h:21"])
def test_urls_with_a_path_or_another_scheme_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        resolve_url(url)


def test_a_missing_tls_file_is_named(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsConfigError, match=rf"--ca-file {missing}: no such file"):
        TritonTransport("https://127.0.0.1:1", ca_file=missing)
    with pytest.raises(TlsConfigError, match=rf"--key-file {missing}: no such file"):
        TritonTransport("https://127.0.0.1:1", cert_file=pki.client_cert_file, key_file=missing)


def test_a_folder_or_a_file_that_is_not_pem_is_named(tmp_path: Path) -> None:
    with pytest.raises(TlsConfigError, match=rf"--ca-file {tmp_path}: a folder"):
        resolve_url("https://h:1", ca_file=tmp_path)
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a binary")
    with pytest.raises(TlsConfigError, match=rf"--ca-file {der}: not a PEM file"):
        resolve_url("https://h:1", ca_file=der)


def test_an_unreadable_file_is_named(pki: Pki, tmp_path: Path) -> None:
    locked = tmp_path / "locked.pem"
    locked.write_bytes(pki.ca_file.read_bytes())
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        pytest.skip("running as root: every file is readable")
    with pytest.raises(TlsConfigError, match=rf"--ca-file {locked}: cannot be read"):
        resolve_url("https://h:1", ca_file=locked)


def test_a_certificate_without_its_key_and_a_mismatched_key_are_refused(
    pki: Pki, tmp_path: Path
) -> None:
    with pytest.raises(TlsConfigError, match="--cert-file needs --key-file"):
        resolve_url("https://h:1", cert_file=pki.client_cert_file)
    with pytest.raises(TlsConfigError, match="--key-file needs --cert-file"):
        resolve_url("https://h:1", key_file=pki.client_key_file)
    other = Pki.create(tmp_path)
    with pytest.raises(TlsConfigError, match="not a PEM certificate and its matching"):
        resolve_url("https://h:1", cert_file=pki.client_cert_file, key_file=other.client_key_file)


def test_a_pem_file_that_holds_no_certificate_is_refused_as_a_ca_bundle(
    pki: Pki,
) -> None:
    with pytest.raises(TlsConfigError, match=r"--ca-file .*not a PEM bundle of CA certificates"):
        resolve_url("https://h:1", ca_file=pki.client_key_file)


def test_grpc_options_reach_tritonclient(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    import tritonclient.grpc.aio as grpcclient

    seen: dict[str, Any] = {}

    class Capture:
        def __init__(self, url: str, **kwargs: Any) -> None:
            seen.update(kwargs, url=url)

    monkeypatch.setattr(grpcclient, "InferenceServerClient", Capture)
    transport = TritonTransport(
        "grpcs://triton.site:8443",
        protocol="grpc",
        ca_file=pki.ca_file,
        cert_file=pki.client_cert_file,
        key_file=pki.client_key_file,
    )
    transport._get_client()
    assert seen == {
        "url": "triton.site:8443",
        "ssl": True,
        "root_certificates": str(pki.ca_file),
        "private_key": str(pki.client_key_file),
        "certificate_chain": str(pki.client_cert_file),
    }
    assert transport.url == "grpcs://triton.site:8443"


def test_http_options_reach_tritonclient(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    import tritonclient.http.aio as httpclient

    seen: dict[str, Any] = {}

    class Capture:
        def __init__(self, url: str, **kwargs: Any) -> None:
            seen.update(kwargs, url=url)

    monkeypatch.setattr(httpclient, "InferenceServerClient", Capture)
    TritonTransport("https://triton.site:8443", ca_file=pki.ca_file)._get_client()
    assert seen["url"] == "triton.site:8443"
    assert seen["ssl"] is True
    context = seen["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    seen.clear()
    TritonTransport("triton.site:8000")._get_client()
    assert "ssl" not in seen


# -- real handshakes -----------------------------------------------------------------------------


def test_https_with_the_servers_ca_works(pki: Pki) -> None:
    with https_server(pki) as address:
        assert ready(f"https://{address}", ca_file=pki.ca_file)


def test_https_without_the_servers_ca_fails_naming_the_url_and_the_ca(pki: Pki) -> None:
    with https_server(pki) as address:
        for tls in ({}, {"ca_file": pki.other_ca_file}):
            with pytest.raises(TlsError) as caught:
                ready(f"https://{address}", **tls)
            message = str(caught.value)
            assert f"TLS handshake with https://{address} failed" in message
            assert "not signed by a CA the client trusts" in message
            assert "--ca-file" in message and "CERTIFICATE_VERIFY_FAILED" in message


def test_a_certificate_for_another_host_fails_naming_the_mismatch(pki: Pki, tmp_path: Path) -> None:
    elsewhere = Pki.create(tmp_path, server_names=("triton.example.com",))
    with https_server(elsewhere) as address, pytest.raises(TlsError) as caught:
        ready(f"https://{address}", ca_file=elsewhere.ca_file)
    assert "does not name the host of the URL" in str(caught.value)


def test_https_against_a_plain_http_port_says_so() -> None:
    with plain_http_server() as address:
        assert ready(address)
        with pytest.raises(TlsError, match="does not speak TLS on this port"):
            ready(f"https://{address}")


def test_mutual_tls_with_the_client_certificate_works_and_without_it_fails(pki: Pki) -> None:
    with https_server(pki, require_client_cert=True) as address:
        url = f"https://{address}"
        assert ready(
            url,
            ca_file=pki.ca_file,
            cert_file=pki.client_cert_file,
            key_file=pki.client_key_file,
        )
        # TLS 1.3: the server refuses after the handshake; the client sees its certificate-required
        # alert (TlsError) or, when the socket closed first, a disconnect (TransientError):
        # both name the URL and the missing client certificate.
        error = refusal(url, ca_file=pki.ca_file)
    assert isinstance(error, TlsError | TransientError)
    assert url in str(error)
    assert "give --cert-file and --key-file" in str(error)


def test_grpc_tls_with_the_servers_ca_works_and_without_it_fails(pki: Pki) -> None:
    with grpcs_server(pki) as address:
        assert ready(f"grpcs://{address}", "grpc", ca_file=pki.ca_file)
        with pytest.raises(TlsError) as caught:
            ready(f"grpcs://{address}", "grpc", ca_file=pki.other_ca_file)
    message = str(caught.value)
    assert f"TLS handshake with grpcs://{address} failed" in message
    assert "not signed by a CA the client trusts (TLS trusting CA file" in message


def test_grpc_mutual_tls_with_the_client_certificate_works(pki: Pki) -> None:
    with grpcs_server(pki, require_client_cert=True) as address:
        url = f"grpcs://{address}"
        assert ready(
            url,
            "grpc",
            ca_file=pki.ca_file,
            cert_file=pki.client_cert_file,
            key_file=pki.client_key_file,
        )
        # gRPC sees the refusal as a closed socket: the error hints at the client certificate
        error = refusal(url, "grpc", ca_file=pki.ca_file)
    assert isinstance(error, TransientError)
    assert f"{url}: unavailable" in str(error)
    assert "give --cert-file and --key-file" in str(error)
