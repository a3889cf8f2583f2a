"""Requests against a running Triton: a concurrency level's throughput and latency, and the
per-model compute time from Triton's statistics API (``benchmarks/loadgen.py``,
``benchmarks/cpu_speed.py``)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from loadcheck import tensor_names as tn


def model_stats(url: str) -> dict[str, dict[str, float]]:
    """Cumulative ``{model: {count, execution_count, compute_ms, queue_ms}}`` of every model."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url)
    try:
        stats = client.get_inference_statistics()["model_stats"]
    finally:
        client.close()
    out = {}
    for entry in stats:
        inf = entry["inference_stats"]
        out[entry["name"]] = {
            "count": float(entry.get("inference_count", 0)),
            "execution_count": float(entry.get("execution_count", 0)),
            "compute_ms": sum(
                float(inf[k]["ns"]) for k in ("compute_input", "compute_infer", "compute_output")
            )
            / 1e6,
            "queue_ms": float(inf["queue"]["ns"]) / 1e6,
        }
    return out


def compute_per_request(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], ensemble: str
) -> dict[str, dict[str, float]]:
    """Per composing model between two :func:`model_stats`: compute and queue ms per request,
    and requests per execution (how much dynamic batching merged). Ensembles (``ensemble``
    itself, the nested ``segmentator``) are left out: their time is their steps'."""
    out = {}
    for name, stats in after.items():
        old = before.get(name, {})
        done = stats["count"] - old.get("count", 0.0)
        if done <= 0 or name in (ensemble, tn.SEGMENTATOR_ENSEMBLE):
            continue
        runs = stats["execution_count"] - old.get("execution_count", 0.0)
        out[name] = {
            "compute_ms_per_request": round(
                (stats["compute_ms"] - old.get("compute_ms", 0.0)) / done, 2
            ),
            "queue_ms_per_request": round((stats["queue_ms"] - old.get("queue_ms", 0.0)) / done, 2),
            "requests_per_execution": round(done / max(runs, 1.0), 2),
        }
    return out


def run_level(
    url: str, model: str, images: Sequence[bytes], concurrency: int, requests: int
) -> dict[str, Any]:
    """``requests`` inferences of ``model`` (one photo each, cycling through ``images``) from
    ``concurrency`` client threads; failures are counted, not raised."""
    import tritonclient.http as httpclient

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        client = httpclient.InferenceServerClient(url, network_timeout=600.0)
        try:
            for i in counter:
                inp = httpclient.InferInput(tn.IMAGE_BYTES, [1], "BYTES")
                inp.set_data_from_numpy(np.array([images[i % len(images)]], np.object_))
                start = time.perf_counter()
                try:
                    client.infer(model, [inp])
                except Exception as exc:  # counted and reported
                    with lock:
                        failures.append(str(exc)[:200])
                    continue
                with lock:
                    latencies.append(time.perf_counter() - start)
        finally:
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
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
        "throughput_img_s": round(len(latencies) / wall, 3),
        "p50_s": round(float(q[0]), 4),
        "p90_s": round(float(q[1]), 4),
        "p99_s": round(float(q[2]), 4),
        "mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
    }
