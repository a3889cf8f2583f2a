"""Latency figures of the speed benchmarks: percentiles of per-image times and the in-process
runner's per-step medians."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from loadcheck.pipeline.runner import PipelineRunner


def latency_summary(latencies_s: Sequence[float], wall_s: float) -> dict[str, Any]:
    """Images, throughput (images per second of ``wall_s``) and p50 / p90 / p99 in seconds."""
    q = np.percentile(latencies_s, [50, 90, 99])
    return {
        "images": len(latencies_s),
        "throughput_img_s": round(len(latencies_s) / wall_s, 3),
        "p50_s": round(float(q[0]), 4),
        "p90_s": round(float(q[1]), 4),
        "p99_s": round(float(q[2]), 4),
    }


def time_calls(
    call: Callable[[bytes], Any], images: Sequence[bytes], rounds: int
) -> dict[str, Any]:
    """:func:`latency_summary` of ``call`` on every image, ``rounds`` times, after one warm-up
    call."""
    import time

    call(images[0])
    latencies = []
    start = time.perf_counter()
    for _ in range(rounds):
        for data in images:
            began = time.perf_counter()
            call(data)
            latencies.append(time.perf_counter() - began)
    return latency_summary(latencies, time.perf_counter() - start)


def step_medians(runner: PipelineRunner, images: Sequence[bytes], rounds: int) -> dict[str, Any]:
    """Median milliseconds per step and in total of ``runner`` on every image, ``rounds`` times,
    after one warm-up run."""
    runner(images[0])
    steps: dict[str, list[float]] = {}
    totals = []
    for _ in range(rounds):
        for data in images:
            timings = runner(data).timings_ms
            for name, ms in timings.items():
                steps.setdefault(name, []).append(ms)
            totals.append(sum(timings.values()))
    return {
        "images": len(totals),
        "median_total_ms": round(statistics.median(totals), 1),
        "median_stage_ms": {k: round(statistics.median(v), 1) for k, v in steps.items()},
    }
