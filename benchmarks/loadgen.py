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
import statistics
import threading
import time
from pathlib import Path

import numpy as np


def _images(folder: Path | None, synthetic: int, size_wh: tuple[int, int]) -> list[bytes]:
    if folder is not None:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
        if not files:
            raise SystemExit(f"--images: no JPEG/PNG files in {folder}")
        return [p.read_bytes() for p in files]
    from loadcheck.synth import render_scene

    return [render_scene(11, i, size_wh=size_wh).encode_jpeg() for i in range(synthetic)]


def _model_stats(url: str, model: str) -> dict[str, dict[str, float]]:
    """Cumulative ``{model: {count, compute_ms_total, queue_ms_total}}`` for ``model``'s steps."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    stats = client.get_inference_statistics()["model_stats"]
    client.close()
    out = {}
    for entry in stats:
        inf = entry["inference_stats"]
        count = float(entry.get("inference_count", 0))
        out[entry["name"]] = {
            "count": count,
            "execution_count": float(entry.get("execution_count", 0)),
            "compute_ms": sum(
                float(inf[k]["ns"]) for k in ("compute_input", "compute_infer", "compute_output")
            )
            / 1e6,
            "queue_ms": float(inf["queue"]["ns"]) / 1e6,
        }
    return out


def run_level(
    url: str, model: str, images: list[bytes], concurrency: int, requests: int
) -> dict[str, object]:
    import tritonclient.http as httpclient

    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal failures
        client = httpclient.InferenceServerClient(url, network_timeout=600.0)
        for i in counter:
            inp = httpclient.InferInput("IMAGE", [1], "BYTES")
            inp.set_data_from_numpy(np.array([images[i % len(images)]], np.object_))
            start = time.perf_counter()
            try:
                client.infer(model, [inp])
                ok = True
            except Exception:  # counted and reported
                ok = False
            elapsed = time.perf_counter() - start
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    failures += 1
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    q = np.percentile(latencies, [50, 90, 99]) if latencies else [float("nan")] * 3
    return {
        "model": model,
        "concurrency": concurrency,
        "requests": requests,
        "failures": failures,
        "throughput_img_s": round(len(latencies) / wall, 3),
        "p50_s": round(float(q[0]), 4),
        "p90_s": round(float(q[1]), 4),
        "p99_s": round(float(q[2]), 4),
        "mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
    }


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
            before = _model_stats(url, args.model)
            result = run_level(url, args.model, images, level, args.requests)
            after = _model_stats(url, args.model)
            compute = {}
            for name, stats in after.items():
                done = stats["count"] - before.get(name, {}).get("count", 0.0)
                if done > 0 and name != args.model:
                    ms = stats["compute_ms"] - before.get(name, {}).get("compute_ms", 0.0)
                    runs = stats["execution_count"] - before.get(name, {}).get(
                        "execution_count", 0.0
                    )
                    compute[name] = {
                        "compute_ms_per_request": round(ms / done, 2),
                        "requests_per_execution": round(done / max(runs, 1.0), 2),
                    }
            result["per_model"] = compute
            print(json.dumps(result), flush=True)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
