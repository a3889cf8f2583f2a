#!/usr/bin/env bash
# The images' lock files: every package the Triton and console images install, pinned with its
# sha256 hashes (docker/requirements/*.txt; the Dockerfiles install them with --require-hashes,
# then the loadcheck wheel with --no-deps). Run after changing a requirement in pyproject.toml,
# and at release to take newer versions. Needs PyPI (uv is installed in a throwaway venv unless on
# PATH).
#
#   bash scripts/lock_images.sh                  # triton-serve.txt and console.txt
#   bash scripts/lock_images.sh serve,export     # also triton-serve-export.txt (LOADCHECK_EXTRAS)
#
# The locks are universal (markers for other platforms kept) for Python 3.12, the Python of both
# images (Triton 24.12's Ubuntu 24.04, python:3.12-slim-bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=3.12
out=docker/requirements
mkdir -p "${out}"

uv_bin="$(command -v uv || true)"
if [ -z "${uv_bin}" ]; then
    tools="$(mktemp -d)"
    trap 'rm -rf "${tools}"' EXIT
    python3 -m venv "${tools}/venv"
    "${tools}/venv/bin/python" -m pip install --quiet uv
    uv_bin="${tools}/venv/bin/uv"
fi

lock() {  # lock FILE EXTRA...
    local file="$1"
    shift
    local args=()
    for extra in "$@"; do
        args+=(--extra "${extra}")
    done
    echo "== ${file}: extras $*"
    "${uv_bin}" pip compile pyproject.toml "${args[@]}" \
        --python-version "${PYTHON_VERSION}" --universal --generate-hashes \
        --custom-compile-command "bash scripts/lock_images.sh" \
        --quiet -o "${file}"
}

# docker/triton.Dockerfile: LOADCHECK_EXTRAS (default serve) -> triton-<extras, "," as "-">.txt
extras_sets=(serve "$@")
for extras in "${extras_sets[@]}"; do
    IFS=, read -r -a names <<<"${extras}"
    lock "${out}/triton-${extras//,/-}.txt" "${names[@]}"
done
# docker/console.Dockerfile installs the console and gateway extras.
lock "${out}/console.txt" console gateway
