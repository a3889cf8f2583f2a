#!/usr/bin/env bash
# Prepare benchmarks/gpu/carry/ on the development machine (it has the network): the trimmed
# tritonserver bundle for Python 3.12 and the cp312 wheels the GPU host lacks. The device tool
# carries ignored paths of at most 64 MiB in all, so the wheels are only those named in
# benchmarks/gpu/host_wheels.txt (edit it after `run_gpu.sh --probe` says what is missing there).
#   bash benchmarks/gpu/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
carry=benchmarks/gpu/carry
limit_mib=${CARRY_LIMIT_MIB:-60}  # of the tool's 64 MiB; the tracked tree travels too
mkdir -p "$carry/wheels"
if [ ! -f "$carry/triton.tar.xz" ]; then
  bash ../shared/gpu/make_triton_bundle.sh .venv/bin/python 3.12 "$carry/triton.tar.xz"
fi
mapfile -t wanted < <(grep -v '^\s*#' benchmarks/gpu/host_wheels.txt | sed '/^\s*$/d')
rm -f "$carry"/wheels/*.whl
for req in "${wanted[@]}"; do
  # a cp312 / py3 binary wheel; else (pure-Python sdists: yolov6detect) a wheel built here
  .venv/bin/python -m pip download --quiet --only-binary=:all: --no-deps \
    --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
    --platform manylinux_2_39_x86_64 --platform manylinux_2_38_x86_64 \
    --platform manylinux_2_35_x86_64 --platform manylinux_2_34_x86_64 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any \
    --dest "$carry/wheels" "$req" 2>/dev/null ||
    .venv/bin/python -m pip wheel --quiet --no-deps --wheel-dir "$carry/wheels" "$req"
done
ls -l "$carry"/triton.tar.xz "$carry"/wheels/ | awk 'NF > 5 {printf "%8.1f MiB  %s\n", $5 / 1048576, $NF}'
total=$(du -sm "$carry" | cut -f1)
echo "carry: ${total} MiB (limit ${limit_mib} MiB)"
if [ "$total" -gt "$limit_mib" ]; then
  echo "too large for the device tool's carry: drop a wheel from host_wheels.txt" >&2
  exit 1
fi
