"""TLS endpoints on 127.0.0.1 for the client's TLS tests, with a throwaway CA made by ``trustme``.

* :class:`Pki`: a CA, a server certificate for ``127.0.0.1`` and ``localhost``, a client
  certificate signed by the same CA, and an unrelated CA, written as PEM files.
* :func:`https_server`: a TLS HTTP server answering Triton's ``/v2/health/ready`` with 200.
* :func:`grpcs_server`: a TLS gRPC server implementing Triton's ``ServerReady`` (tritonclient's
  own service definition).

Both take ``require_client_cert`` (mutual TLS: the CA's client certificates only).
"""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme


@dataclass(frozen=True)
class Pki:
    """PEM files of a throwaway CA and the certificates it signed."""

    ca: trustme.CA
    ca_file: Path
    other_ca_file: Path
    server_cert: trustme.LeafCert
    client_cert_file: Path
    client_key_file: Path

    @classmethod
    def create(
        cls, folder: Path, *, server_names: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> Pki:
        ca = trustme.CA()
        ca_file = folder / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        other_ca_file = folder / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other_ca_file))
        client = ca.issue_cert("plant-7@example.com")
        client_cert_file = folder / "client.crt"
        client_key_file = folder / "client.key"
        client_cert_file.write_bytes(b"".join(p.bytes() for p in client.cert_chain_pems))
        client.private_key_pem.write_to_path(str(client_key_file))
        server_cert = ca.issue_cert(*server_names)
        return cls(ca, ca_file, other_ca_file, server_cert, client_cert_file, client_key_file)

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            self.ca.configure_trust(context)
        return context


class _ReadyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/v2/health/ready" else 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes are what some tests make happen


@contextmanager
def https_server(pki: Pki, *, require_client_cert: bool = False) -> Iterator[str]:
    """A TLS HTTP server on 127.0.0.1; yields ``127.0.0.1:PORT``."""
    server = _QuietServer(("127.0.0.1", 0), _ReadyHandler)
    context = pki.server_context(require_client_cert=require_client_cert)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="https-ready", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def plain_http_server() -> Iterator[str]:
    """The same server without TLS; yields ``127.0.0.1:PORT``."""
    server = _QuietServer(("127.0.0.1", 0), _ReadyHandler)
    thread = threading.Thread(target=server.serve_forever, name="http-ready", daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def grpcs_server(pki: Pki, *, require_client_cert: bool = False) -> Iterator[str]:
    """A TLS gRPC server answering Triton's ``ServerReady`` with ready; yields
    ``127.0.0.1:PORT``."""
    import grpc
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    class Ready(service_pb2_grpc.GRPCInferenceServiceServicer):
        def ServerReady(self, request: Any, context: Any) -> Any:
            return service_pb2.ServerReadyResponse(ready=True)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(Ready(), server)
    credentials = grpc.ssl_server_credentials(
        [(pki.server_cert.private_key_pem.bytes(), pki.server_cert.cert_chain_pems[0].bytes())],
        root_certificates=pki.ca.cert_pem.bytes() if require_client_cert else None,
        require_client_auth=require_client_cert,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait(10)
