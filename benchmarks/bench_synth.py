"""Throughput of ``loadcheck synth`` on one core: prints images per second.

    python benchmarks/bench_synth.py [--count 200] [--size 960x540] [--threads 1]

Measures (1) rendering alone (``render_scene`` + JPEG encoding) and (2) the full
``write_dataset`` (render, JPEG, two PNG masks, YOLO labels, zips, labels.json) into a temporary
folder. OpenCV is limited to ``--threads`` threads (1 = one core).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import cv2

from loadcheck.synth.cli import parse_size
from loadcheck.synth.dataset import write_dataset
from loadcheck.synth.render import render_scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="scenes per measurement")
    parser.add_argument("--size", default="960x540", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = one core)")
    args = parser.parse_args()
    size_wh = parse_size(args.size)
    cv2.setNumThreads(args.threads)
    render_scene(args.seed, 0, size_wh)  # builds the noise bank once

    start, cpu = time.perf_counter(), time.process_time()
    for index in range(args.count):
        render_scene(args.seed, index, size_wh).encode_jpeg()
    render_wall = args.count / (time.perf_counter() - start)
    render_cpu = args.count / (time.process_time() - cpu)

    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        write_dataset(Path(tmp) / "ds", args.count, args.seed, size_wh, progress=False)
        write_wall = args.count / (time.perf_counter() - start)
        write_cpu = args.count / (time.process_time() - cpu)

    print(f"machine: {platform.processor() or platform.machine()}, OpenCV threads: {args.threads}")
    print(f"size {size_wh[0]}x{size_wh[1]}, {args.count} scenes, seed {args.seed}")
    # Wall-clock rates suffer when other processes share the core; CPU-time rates do not.
    print(f"render + JPEG:  {render_wall:.1f} images/s wall, {render_cpu:.1f} images/s CPU time")
    print(f"write_dataset:  {write_wall:.1f} images/s wall, {write_cpu:.1f} images/s CPU time")


if __name__ == "__main__":
    main()
