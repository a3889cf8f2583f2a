"""Load generator for the served pipeline: concurrency sweep, throughput, latency percentiles,
and per-model compute time from Triton's statistics API.

    # against a running server
    python benchmarks/loadgen.py --url 127.0.0.1:8000 --model integrator_site_a --images DIR
    # or start the bundled tritonserver on a repository for the run
    python benchmarks/loadgen.py --repository model_repository --model segmentator

Images: every JPEG/PNG in ``--images``, or ``--synthetic N`` scenes from ``loadcheck.synth``.
Prints one JSON line per concurrency level and a per-model compute table (ms per request).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from loadcheck.evaluation.triton_load import compute_per_request, model_stats, run_level
from loadcheck.imageio import is_image_name


def _images(folder: Path | None, synthetic: int, size_wh: tuple[int, int]) -> list[bytes]:
    if folder is not None:
        files = sorted(p for p in folder.iterdir() if is_image_name(p.name))
        if not files:
            raise SystemExit(f"--images: no image files in {folder}")
        return [p.read_bytes() for p in files]
    from loadcheck.synth import render_scene

    return [render_scene(11, i, size_wh=size_wh).encode_jpeg() for i in range(synthetic)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="HTTP host:port of a running server")
    parser.add_argument("--repository", type=Path, help="start the bundled server on this")
    parser.add_argument("--model", default="segmentator")
    parser.add_argument("--images", type=Path)
    parser.add_argument("--synthetic", type=int, default=8)
    parser.add_argument("--size", default="960x540", help="synthetic scene size WxH")
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--requests", type=int, default=32, help="requests per level")
    parser.add_argument("--warmup", type=int, default=4)
    args = parser.parse_args()
    if (args.url is None) == (args.repository is None):
        raise SystemExit("give exactly one of --url and --repository")
    w, h = (int(v) for v in args.size.lower().split("x"))
    images = _images(args.images, args.synthetic, (w, h))
    server = None
    url = args.url
    if args.repository is not None:
        from loadcheck.serving.server import TritonServer

        server = TritonServer(
            args.repository,
            http_port=0,
            grpc_port=0,
            metrics_port=0,
            log_path=Path("/tmp/loadgen-tritonserver.log"),
            startup_timeout_s=600,
        ).start()
        url = server.http_url
    try:
        run_level(url, args.model, images, 1, args.warmup)
        for level in args.concurrency or [1, 2, 4]:
            before = model_stats(url)
            result = run_level(url, args.model, images, level, args.requests)
            result["per_model"] = compute_per_request(before, model_stats(url), args.model)
            print(json.dumps(result), flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
