#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install loadcheck with the
# given extras (default: all). Idempotent: a second run only installs what is missing.
#   bash scripts/setup.sh            # everything needed to run the demo
#   bash scripts/setup.sh dev        # + test and lint tools
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "loadcheck needs Python >= 3.11; $python is $("$python" --version 2>&1)." >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $("$python" --version 2>&1)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# PyTorch first, at the release this machine class has on disk (the CPU run of the CUDA build).
.venv/bin/python -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
echo "Environment ready: source .venv/bin/activate"
