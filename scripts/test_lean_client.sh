#!/usr/bin/env bash
# A plant's install: `pip install "loadcheck[client]"` in a virtual environment of its own, with
# numpy 2 and current OpenCV, then the client's tests that need nothing more (CI runs this after
# the main setup; see docs/client.md "Installing").
#
#   bash scripts/test_lean_client.sh [VENV_DIR]      (default: a temporary folder, removed after)
#
# Fails when the client extra pulls numpy < 2, OpenCV < 4.12, a server package (nvidia-pytriton,
# onnxruntime, xgboost, torch), or when a selected test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

venv="${1:-}"
if [ -z "${venv}" ]; then
    venv="$(mktemp -d)/lean-client"
    trap 'rm -rf "$(dirname "${venv}")"' EXIT
fi
python="${PYTHON:-python3}"

echo "== lean client venv: ${venv}"
"${python}" -m venv "${venv}"
# shellcheck disable=SC1091
source "${venv}/bin/activate"
python -m pip install --quiet --upgrade pip
# The test tools only; everything else comes from the client extra's own requirements.
python -m pip install --quiet "${root}[client]" "numpy>=2" "opencv-python-headless>=4.12" \
    "pytest>=8" "pytest-timeout>=2.3" "trustme>=1.1"

python - <<'EOF'
import importlib.metadata as md
import importlib.util

import cv2
import numpy

print(f"numpy {numpy.__version__}, opencv {cv2.__version__}")
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
assert tuple(int(p) for p in cv2.__version__.split(".")[:2]) >= (4, 12), cv2.__version__
server_side = ("nvidia-pytriton", "onnxruntime", "xgboost", "torch", "boto3", "streamlit")
installed = []
for name in server_side:
    try:
        md.version(name)
        installed.append(name)
    except md.PackageNotFoundError:
        pass
assert not installed, f"the client extra pulled server packages: {installed}"
assert importlib.util.find_spec("tritonclient") is not None
EOF

echo "== loadcheck inspect --help"
loadcheck inspect --help >/dev/null

echo "== client tests (need only the client extra)"
# The selection leaves out test_inspect_record.py (records extra), test_client_install.py (gateway
# extra) and test_decode_review.py (imports the gateway); -p no:cacheprovider keeps the tree clean.
python -m pytest -q -p no:cacheprovider --timeout 300 -o addopts="" \
    tests/unit/client/test_client_tls.py \
    tests/unit/client/test_transport.py \
    tests/unit/client/test_clients.py \
    tests/unit/client/test_decode.py \
    tests/unit/client/test_retry.py \
    tests/unit/client/test_overlay.py \
    tests/unit/client/test_client_images.py \
    tests/unit/client/test_inspect_cli.py
echo "lean client: ok"
