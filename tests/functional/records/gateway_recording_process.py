"""A gateway process that records its verdicts, as ``loadcheck gateway --record on`` builds it
(:func:`open_gateway_recorder`, :func:`create_app`, the server's configuration), in front of a
backend that needs no Triton: the verdict follows from the photo (its mean pixel value / 255 is
the probability of Qualified, threshold 0.5; below it the verdict is also flagged for review).

    python gateway_recording_process.py PORT HOME DATABASE_URL

Prints ``ready`` once listening; SIGTERM shuts it down (the recorder writes what is queued).
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import cv2
import numpy as np
import uvicorn

from loadcheck.gateway.app import create_app
from loadcheck.gateway.limits import GatewayLimits
from loadcheck.gateway.recording import open_gateway_recorder
from loadcheck.gateway.server import gateway_config
from loadcheck.gateway.tokens import TokenStore
from loadcheck.logs import configure_logging
from loadcheck.payloads import InspectionResult, ReviewFlag, ReviewReason, Verdict
from loadcheck.workspace import Workspace


def expected(value: int) -> tuple[Verdict, float, bool]:
    """The verdict, probability and review flag of a photo of mean pixel ``value``."""
    probability = value / 255
    verdict = Verdict.QUALIFIED if probability >= 0.5 else Verdict.UNQUALIFIED
    return verdict, probability, verdict is Verdict.UNQUALIFIED


class PhotoBackend:
    async def inspect(
        self, image: bytes, integrator: str, *, request_id: str | None = None
    ) -> InspectionResult:
        pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
        verdict, probability, review = expected(round(float(pixels.mean())))
        reasons = (ReviewReason("near_threshold", "low"),) if review else ()
        return InspectionResult(verdict, probability, 0.5, review=ReviewFlag(reasons))

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def main() -> None:
    port, home, database = sys.argv[1:4]
    configure_logging(log_format="json")
    limits = GatewayLimits()
    recorder = open_gateway_recorder("on", database, Path(home))
    app = create_app(PhotoBackend(), TokenStore(Workspace(Path(home))), recorder=recorder)
    server = uvicorn.Server(gateway_config(app, "127.0.0.1", int(port), limits))
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(port)))
    sock.listen(128)
    print("ready", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
