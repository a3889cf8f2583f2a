"""A TLS-terminating TCP proxy on 127.0.0.1 for the client's TLS tests (importable as
``tls_proxy`` from this folder): what an Ingress or a load balancer does in front of Triton.

Each accepted TLS connection is forwarded byte for byte to a plain ``host:port`` (Triton's HTTP
or gRPC port). ALPN offers ``h2`` and ``http/1.1`` so that gRPC (which insists on ``h2``) and
HTTP/1.1 clients both connect. With ``client_ca`` the proxy requires a client certificate signed
by it (mutual TLS).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextmanager
def tls_proxy(context: ssl.SSLContext, backend: str) -> Iterator[str]:
    """Serve TLS with ``context`` on a free port of 127.0.0.1, forwarding to ``backend``
    (``host:port``); yields ``127.0.0.1:PORT``. Stops the proxy and its connections on exit."""
    host, port = backend.rsplit(":", 1)
    context.set_alpn_protocols(["h2", "http/1.1"])
    loop = asyncio.new_event_loop()
    started = threading.Event()
    address: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def start() -> asyncio.Server:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        address.append(f"127.0.0.1:{server.sockets[0].getsockname()[1]}")
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()

    thread = threading.Thread(target=run, name=f"tls-proxy-{backend}", daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the TLS proxy did not start within 30 s")
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
