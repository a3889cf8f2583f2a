"""The gateway's resources under abuse: memory of concurrent large uploads, slow connections.

    python benchmarks/gateway_resources.py                    # 32 x 19 MB uploads, 200 slow clients
    python benchmarks/gateway_resources.py --uploads 8 --slow 20 --slow-secs 30

Starts the gateway as a subprocess (its real server, a fake inference backend that holds each
image ``--hold-secs``), then

* sends ``--uploads`` concurrent multipart uploads of one ``--image-mb`` MB JPEG (``--bursts``
  times) and samples the server's resident memory every 20 ms (peak), then again after
  ``--idle-secs`` without requests;
* opens ``--slow`` connections that send a request byte every ``--slow-every`` seconds for
  ``--slow-secs`` seconds (headers for half of them, a body for the other half) and records how
  long the server kept each one open.

Prints one JSON object. With ``PYTHONPATH`` pointing at an older ``src`` it measures that code
(before ``loadcheck.gateway.server`` existed it runs ``uvicorn.run`` as the gateway did).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

BOUNDARY = "gatewayresourcesboundary"


def _rss_mb(pid: int) -> float:
    with Path(f"/proc/{pid}/status").open() as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for {pid}")


def _jpeg_of(megabytes: float) -> bytes:
    """A noise JPEG of about ``megabytes`` MB (noise does not compress)."""
    rng = np.random.default_rng(0)
    bytes_per_pixel = 2.0
    for _ in range(3):
        pixels = int(megabytes * 1e6 / bytes_per_pixel)
        h = int((pixels * 3 / 4) ** 0.5)
        w = pixels // h
        noise = rng.integers(0, 256, (h, w, 3), np.uint8)
        data = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes()
        bytes_per_pixel = len(data) / (h * w)
    return data


def _multipart(image: bytes) -> bytes:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="image"; filename="truck.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + image + f"\r\n--{BOUNDARY}--\r\n".encode()


def _request_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def _upload(port: int, path: str, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request_head(path, len(body)))
        writer.write(body)
        await writer.drain()
        status_line = await reader.readline()
        return int(status_line.split()[1]) if status_line else 0
    except (ConnectionError, OSError):
        return 0
    finally:
        writer.close()


async def _uploads(port: int, path: str, body: bytes, n: int) -> list[int]:
    return list(await asyncio.gather(*(_upload(port, path, body) for _ in range(n))))


async def _slow_client(port: int, path: str, in_body: bool, every_s: float, for_s: float) -> float:
    """Seconds until the server closed the connection (``for_s`` if it never did)."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = _request_head(path, 10_000_000) if in_body else b""
    writer.write(payload)
    to_send = b"x" * 10_000 if in_body else b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
    try:
        for byte in to_send:
            if time.monotonic() - start >= for_s:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(65536), every_s)
            except TimeoutError:
                continue
            if not data:
                return time.monotonic() - start
            while data:  # an answer (408, 503): read on until the server closes
                data = await asyncio.wait_for(reader.read(65536), for_s)
            return time.monotonic() - start
    except (ConnectionError, OSError, TimeoutError):
        return time.monotonic() - start
    finally:
        writer.close()
    return for_s


async def _slow_clients(port: int, path: str, n: int, every_s: float, for_s: float) -> list[float]:
    tasks = [_slow_client(port, path, i % 2 == 1, every_s, for_s) for i in range(n)]
    return list(await asyncio.gather(*tasks))


def serve(port: int, home: Path, hold_s: float, max_in_flight: int, tune_malloc: bool) -> None:
    """The gateway with a fake backend (this process; the parent measures it)."""
    from loadcheck.gateway.app import create_app
    from loadcheck.gateway.tokens import TokenStore
    from loadcheck.payloads import InspectionResult, Verdict
    from loadcheck.workspace import Workspace

    class HoldingBackend:
        async def inspect(
            self, image: bytes, integrator: str, *, request_id: str | None = None
        ) -> InspectionResult:
            await asyncio.sleep(hold_s)
            return InspectionResult(Verdict.QUALIFIED, 0.9, 0.5, None)

        async def ready(self) -> bool:
            return True

        async def close(self) -> None:
            return None

    store = TokenStore(Workspace(home))
    try:
        from loadcheck.gateway.limits import GatewayLimits
        from loadcheck.gateway.server import run_gateway
    except ImportError:  # the gateway before its limits: plain uvicorn.run
        import uvicorn

        app = create_app(HoldingBackend(), store, max_body_bytes=20 * 1024 * 1024)
        uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
        return
    if not tune_malloc:
        import loadcheck.gateway.server as server

        server.tune_malloc = lambda *a, **k: False
    limits = GatewayLimits(max_in_flight=max_in_flight)
    app = create_app(HoldingBackend(), store, max_body_bytes=20 * 1024 * 1024, limits=limits)
    run_gateway(app, "127.0.0.1", port, limits, log_level="warning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=32)
    parser.add_argument("--bursts", type=int, default=1, help="upload bursts, 2 s apart")
    parser.add_argument("--image-mb", type=float, default=19.0)
    parser.add_argument("--hold-secs", type=float, default=0.5)
    parser.add_argument("--max-in-flight", type=int, default=16, help="the gateway's cap")
    parser.add_argument(
        "--no-malloc-tuning", action="store_true", help="leave glibc's mmap threshold dynamic"
    )
    parser.add_argument("--idle-secs", type=float, default=10.0)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--slow-every", type=float, default=5.0)
    parser.add_argument("--slow-secs", type=float, default=70.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.home, args.hold_secs, args.max_in_flight, not args.no_malloc_tuning)
        return

    import httpx

    image = _jpeg_of(args.image_mb)
    body = _multipart(image)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        from loadcheck.gateway.tokens import TokenStore, legacy_path
        from loadcheck.workspace import Workspace

        path = legacy_path(TokenStore(Workspace(home)).issue("site_a").token)
        port = _free_port()
        cmd = [sys.executable, __file__, "--serve", str(port), "--home", str(home)]
        cmd += ["--hold-secs", str(args.hold_secs), "--max-in-flight", str(args.max_in_flight)]
        cmd += ["--no-malloc-tuning"] if args.no_malloc_tuning else []
        proc = subprocess.Popen(cmd, env=dict(os.environ))
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the gateway did not start") from None
                    time.sleep(0.2)
            started_mb = _rss_mb(proc.pid)
            peak = [started_mb]
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], _rss_mb(proc.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            start = time.monotonic()
            statuses = []
            for burst in range(args.bursts):
                if burst:
                    time.sleep(2.0)
                statuses += asyncio.run(_uploads(port, path, body, args.uploads))
            uploads_s = time.monotonic() - start
            time.sleep(0.5)
            stop.set()
            sampler.join()
            time.sleep(args.idle_secs)
            idle_mb = _rss_mb(proc.pid)
            open_s = asyncio.run(
                _slow_clients(port, path, args.slow, args.slow_every, args.slow_secs)
            ) or [0.0]
            report = {
                "image_mb": round(len(image) / 1e6, 1),
                "uploads": args.uploads,
                "bursts": args.bursts,
                "max_in_flight": args.max_in_flight,
                "malloc_tuning": not args.no_malloc_tuning,
                "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
                "uploads_s": round(uploads_s, 1),
                "rss_started_mb": round(started_mb),
                "rss_peak_mb": round(peak[0]),
                f"rss_idle_{args.idle_secs:g}s_mb": round(idle_mb),
                "slow_clients": args.slow,
                "slow_open_s_median": round(float(np.median(open_s)), 1),
                "slow_open_s_max": round(max(open_s), 1),
                "slow_still_open_at_end": sum(s >= args.slow_secs for s in open_s),
            }
            print(json.dumps(report))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
