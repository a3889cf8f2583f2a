"""The gateway's real server in this process, with a backend that holds each image for a while
(tests measure this process from outside).

    python gateway_process.py PORT HOME HOLD_SECS MAX_IN_FLIGHT

Prints ``ready`` once listening; the URL token of ``site_a`` is in ``HOME``'s workspace.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import uvicorn

from loadcheck.gateway.app import create_app
from loadcheck.gateway.limits import GatewayLimits
from loadcheck.gateway.server import gateway_config, tune_malloc
from loadcheck.gateway.tokens import TokenStore
from loadcheck.payloads import InspectionResult, Verdict
from loadcheck.workspace import Workspace


class HoldingBackend:
    """Answers Qualified after ``hold_s`` seconds, keeping the image meanwhile (as inference
    does)."""

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s

    async def inspect(
        self, image: bytes, integrator: str, *, request_id: str | None = None
    ) -> InspectionResult:
        await asyncio.sleep(self.hold_s)
        return InspectionResult(Verdict.QUALIFIED, 0.9, 0.5, None)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def main() -> None:
    port, home, hold_s, max_in_flight = sys.argv[1:5]
    limits = GatewayLimits(max_in_flight=int(max_in_flight))
    app = create_app(
        HoldingBackend(float(hold_s)),
        TokenStore(Workspace(Path(home))),
        max_body_bytes=20 * 1024 * 1024,
        limits=limits,
    )
    tune_malloc()
    server = uvicorn.Server(gateway_config(app, "127.0.0.1", int(port), limits))
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(port)))
    sock.listen(128)
    print("ready", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
