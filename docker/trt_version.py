#!/usr/bin/env python3
"""Print the TensorRT version (``MAJOR.MINOR.PATCH``) of the libnvinfer in this image.

Used by docker/triton.Dockerfile (stage ``tensorrt-tools``) to pin TensorRT's Python package to
the library that Triton's TensorRT backend uses: a plan only runs on the version that built it.
Asks the library itself (``getInferLibVersion``), so it does not depend on file names.
Exit status 1, with the reason on stderr, when no libnvinfer can be loaded.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# Shared-object names tried in order; find_library("nvinfer") asks ldconfig first.
SONAMES = ("libnvinfer.so.11", "libnvinfer.so.10", "libnvinfer.so.9", "libnvinfer.so.8")


def decode_version(encoded: int) -> str:
    """Decode ``getInferLibVersion()``: MAJOR*10000 + MINOR*100 + PATCH from TensorRT 10 on,
    MAJOR*1000 + MINOR*100 + PATCH before (``NV_TENSORRT_VERSION`` in ``NvInferVersion.h``)."""
    if encoded <= 0:
        raise ValueError(f"getInferLibVersion returned {encoded}; expected a positive number")
    if encoded >= 100_000:
        major, rest = divmod(encoded, 10_000)
    else:
        major, rest = divmod(encoded, 1_000)
    minor, patch = divmod(rest, 100)
    return f"{major}.{minor}.{patch}"


def load_nvinfer() -> ctypes.CDLL:
    names = [name for name in (ctypes.util.find_library("nvinfer"),) if name] + list(SONAMES)
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as error:
            errors.append(f"{name}: {error}")
    raise OSError("no libnvinfer could be loaded: " + "; ".join(errors))


def main() -> int:
    try:
        library = load_nvinfer()
        library.getInferLibVersion.restype = ctypes.c_int32
        sys.stdout.write(decode_version(int(library.getInferLibVersion())) + "\n")
    except (OSError, AttributeError, ValueError) as error:
        sys.stderr.write(f"trt_version: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
