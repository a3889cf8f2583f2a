#!/usr/bin/env bash
# The GPU benchmark, on the lent GPU host, in one call of the device tool (see README.md here).
#   bash benchmarks/gpu/run_gpu.sh --probe          # what the host has and lacks (seconds)
#   bash benchmarks/gpu/run_gpu.sh [bench_gpu.py options, e.g. --variants naive,fused]
# Needs benchmarks/gpu/carry/ from prepare.sh (carried). Writes into $OUT (the device tool's
# folder that comes back), else runs/gpu.
set -euo pipefail
cd "$(dirname "$0")/../.."
carry=${CARRY:-benchmarks/gpu/carry}
out=${OUT:-runs/gpu}
host_python=${HOST_PYTHON:-/opt/torch/.venv/bin/python}
work=${GPU_WORK:-/tmp/loadcheck-gpu}
mkdir -p "$out" "$work"
start=$SECONDS
say() { echo "[$((SECONDS - start)) s] $*"; }

[ -x "$host_python" ] || { echo "no $host_python (HOST_PYTHON): the host's PyTorch" >&2; exit 2; }
[ -f "$carry/triton.tar.xz" ] || { echo "no $carry/triton.tar.xz: run prepare.sh, carry $carry" >&2; exit 2; }

# 1. The server bundle.
if [ ! -x "$work/ts/bin/tritonserver" ]; then
  mkdir -p "$work/ts" && tar xJf "$carry/triton.tar.xz" -C "$work/ts"
fi
say "tritonserver bundle in $work/ts"

# 2. A venv first on PATH for the Python backend's stub: the carried wheels (numpy < 2 first on
#    sys.path), then the host's PyTorch environment (a .pth line), then loadcheck's src/.
venv=$work/venv
if [ ! -x "$venv/bin/python" ]; then
  "$host_python" -m venv --without-pip "$venv" 2>/dev/null || "$host_python" -m venv "$venv"
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
host_site=$("$host_python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
if compgen -G "$carry/wheels/*.whl" >/dev/null; then
  "$host_python" -m pip install --quiet --no-index --no-deps --target "$site" "$carry"/wheels/*.whl
fi
echo "$host_site" >"$site/zz_host_torch.pth"
echo "$PWD/src" >"$site/loadcheck_src.pth"
export PATH="$venv/bin:$PATH"
say "environment $venv over $host_site"

# 3. The probe: every module the server's models and the driver import, perf_analyzer (not for
#    the --cpu dry run, which this script also runs on a development machine), and the GPU.
export NEED_PERF=1
for arg in "$@"; do [ "$arg" = --cpu ] && NEED_PERF=0; done
set +e
"$venv/bin/python" - <<'EOF' | tee "$out/probe.txt"
import importlib, os, platform, shutil, sys
mods = ["numpy", "torch", "cv2", "xgboost", "segment_anything", "yolov6", "tritonclient.http",
        "tritonclient.grpc", "google.protobuf", "loadcheck.serving.repository",
        "loadcheck.pipeline.registry", "loadcheck.synth"]
missing = []
for name in mods:
    try:
        module = importlib.import_module(name)
        print(f"ok      {name} {getattr(module, '__version__', '')}")
    except Exception as exc:
        missing.append(name)
        print(f"MISSING {name}: {type(exc).__name__}: {exc}")
import numpy
print("python", platform.python_version(), "numpy", numpy.__version__)
if numpy.__version__.startswith("2"):
    missing.append("numpy<2")
try:
    import torch
    print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
except Exception as exc:
    print("torch:", exc)
perf = shutil.which("perf_analyzer")
print("perf_analyzer", perf or "MISSING")
if perf is None and os.environ.get("NEED_PERF") != "0":
    missing.append("perf_analyzer")
sys.exit(3 if missing else 0)
EOF
probe=${PIPESTATUS[0]}
set -e
say "probe exit $probe"
if [ "${1:-}" = "--probe" ]; then exit "$probe"; fi
[ "$probe" = 0 ] || { echo "the host lacks modules (above); nothing measured" >&2; exit "$probe"; }

# 4. The benchmark.
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
named=()
[ -n "$gpu" ] && named=(--device-name "$gpu")
set +e
TRITONSERVER=$work/ts/bin/tritonserver "$venv/bin/python" benchmarks/gpu/bench_gpu.py \
  --out "$work/run" --results "$out" --perf-analyzer "$(command -v perf_analyzer || echo perf_analyzer)" "${named[@]}" "$@" \
  2>&1 | tee "$out/bench.log"
status=${PIPESTATUS[0]}
set -e
say "benchmark exit $status; results in $out"
exit "$status"
