# syntax=docker/dockerfile:1
# loadcheck on NVIDIA Triton Inference Server (GPU).
#
# Build from the repository root:
#   docker build -f docker/triton.Dockerfile -t loadcheck-triton:local .
# or `docker compose -f docker/compose.yaml build`.
#
# TRITON_TAG is the ONE place the Triton container release is written; tests/unit/docker reads this
# default and checks that docker/compose.yaml, docker/k8s/ and the docs agree with it.
# 24.12 (Triton 2.53) runs on Ubuntu 24.04, whose system Python is 3.12: the Python backend stub
# embeds that interpreter, and loadcheck needs Python >= 3.11 (24.10 and earlier ship Python 3.10).
# See docs/deploying.md for the reasons and for moving to a newer tag.
ARG TRITON_TAG=24.12
# The digest of nvcr.io/nvidia/tritonserver:${TRITON_TAG}-py3 (its multi-platform index), with its
# "@": a tag can be re-pushed, a digest cannot. Written by `python3 docker/pin_triton_image.py`,
# which asks the registry (docker buildx imagetools inspect); it MUST be filled at every release
# and whenever TRITON_TAG changes. Empty (as committed until then): the tag alone.
ARG TRITON_DIGEST=

# --- wheel: build the loadcheck wheel with the container's own Python ---------------------------
FROM nvcr.io/nvidia/tritonserver:${TRITON_TAG}-py3${TRITON_DIGEST} AS wheel
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# The package sources; src/loadcheck/{export,client,console} are symlinks to these folders.
COPY pyproject.toml README.md ./
COPY src/ src/
COPY export/ export/
COPY client/ client/
COPY console/ console/
RUN python3 -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && ls /dist/loadcheck-*.whl

# --- base: Triton + loadcheck installed into the Python that the Python backend embeds ------------
FROM nvcr.io/nvidia/tritonserver:${TRITON_TAG}-py3${TRITON_DIGEST} AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Extras of the loadcheck package to install. `serve` covers the runtimes onnxruntime, tensorrt and
# python-onnxruntime; add `export` (PyTorch) for the python-torch runtime: serve,export.
ARG LOADCHECK_EXTRAS=serve
ARG LOADCHECK_UID=10001
# The Python backend stub runs the system python3 (3.12), so loadcheck goes into its site-packages;
# Ubuntu marks that environment as externally managed, hence --break-system-packages (this image
# has no other Python user). numpy stays < 2 (pinned by the serve extra).
# The dependencies come from the lock of the extras, docker/requirements/triton-<extras>.txt (","
# as "-"), every file checked against its sha256 (--require-hashes); then the wheel without them.
# scripts/lock_images.sh writes the locks (serve is committed; others: run it with the extras).
COPY --from=wheel /dist/ /tmp/dist/
COPY docker/requirements/ /tmp/requirements/
# DL3013: the wheel is this repository's own build; its dependencies are pinned by the lock.
# hadolint ignore=DL3013
RUN python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version' \
    && wheel="$(ls /tmp/dist/loadcheck-*.whl)" \
    && lock="/tmp/requirements/triton-$(echo "${LOADCHECK_EXTRAS}" | tr , -).txt" \
    && if [ ! -f "${lock}" ]; then \
         echo "no lock for LOADCHECK_EXTRAS=${LOADCHECK_EXTRAS}: bash scripts/lock_images.sh ${LOADCHECK_EXTRAS}" >&2; \
         exit 1; \
       fi \
    && python3 -m pip install --no-cache-dir --break-system-packages --require-hashes -r "${lock}" \
    && python3 -m pip install --no-cache-dir --break-system-packages --no-deps "${wheel}" \
    && rm -rf /tmp/dist /tmp/requirements \
    && python3 -c 'import loadcheck, numpy; assert int(numpy.__version__.split(".")[0]) < 2'

# A non-root user that owns the repository, workspace and export folders. The same UID/GID is
# used by docker/console.Dockerfile so that the shared volumes are writable by both.
RUN groupadd --system --gid "${LOADCHECK_UID}" loadcheck \
    && useradd --system --uid "${LOADCHECK_UID}" --gid loadcheck --create-home \
       --home-dir /home/loadcheck --shell /usr/sbin/nologin loadcheck \
    && mkdir -p /models /workspace /exports \
    && chown loadcheck:loadcheck /models /workspace /exports

COPY docker/entrypoint.sh /usr/local/bin/loadcheck-entrypoint
COPY docker/serve.sh /usr/local/bin/loadcheck-serve
COPY docker/healthcheck.py /usr/local/bin/loadcheck-healthcheck
RUN chmod 0755 /usr/local/bin/loadcheck-entrypoint /usr/local/bin/loadcheck-serve \
       /usr/local/bin/loadcheck-healthcheck

# Model repository sources (whatever `loadcheck repository build` left in model_repository/):
# they seed the named volume mounted at /models the first time it is created.
COPY --chown=loadcheck:loadcheck model_repository/ /models/

ENV LOADCHECK_REPOSITORY=/models \
    LOADCHECK_HOME=/workspace \
    TRITONSERVER=/opt/tritonserver/bin/tritonserver \
    PYTHONUNBUFFERED=1

EXPOSE 8000 8001 8002
ENTRYPOINT ["/opt/nvidia/nvidia_entrypoint.sh", "/usr/local/bin/loadcheck-entrypoint"]
CMD ["/usr/local/bin/loadcheck-serve"]

# --- tensorrt-tools: base + TensorRT's Python API, for `loadcheck export tensorrt` ----------------
# A plan only runs on the TensorRT version that built it, so the Python package is pinned to the
# version of the libnvinfer that Triton's TensorRT backend in this image uses (CUDA_VERSION is set by
# the NGC base image).
FROM base AS tensorrt-tools
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0
COPY docker/trt_version.py /usr/local/bin/loadcheck-trt-version
RUN trt_version="$(python3 /usr/local/bin/loadcheck-trt-version)" \
    && cuda_major="${CUDA_VERSION%%.*}" \
    && test -n "${cuda_major}" \
    && echo "TensorRT ${trt_version}, CUDA ${cuda_major}" \
    && python3 -m pip install --no-cache-dir --break-system-packages \
       "tensorrt-cu${cuda_major}==${trt_version}.*" \
    && python3 -c 'import tensorrt; print("tensorrt", tensorrt.__version__)'
USER 10001:10001
WORKDIR /exports

# --- serve (default target): the production Triton image ----------------------------------------
FROM base AS serve
USER 10001:10001
WORKDIR /home/loadcheck
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
    CMD ["/usr/local/bin/loadcheck-healthcheck", "http://127.0.0.1:8000/v2/health/ready"]
