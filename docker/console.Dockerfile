# syntax=docker/dockerfile:1
# loadcheck admin console (Streamlit) and legacy-compatible HTTP gateway: one slim CPU image,
# two services in docker/compose.yaml (`loadcheck console`, `loadcheck gateway`). No GPU, no
# PyTorch: the networks run in the Triton image (docker/triton.Dockerfile).
#
# Build from the repository root:
#   docker build -f docker/console.Dockerfile -t loadcheck-console:local .
ARG PYTHON_TAG=3.12-slim-bookworm

# --- wheel: build the loadcheck wheel -----------------------------------------------------------
FROM python:${PYTHON_TAG} AS wheel
WORKDIR /src
# The package sources; src/loadcheck/{export,client,console} are symlinks to these folders.
COPY pyproject.toml README.md ./
COPY src/ src/
COPY export/ export/
COPY client/ client/
COPY console/ console/
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && ls /dist/loadcheck-*.whl

# --- runtime ------------------------------------------------------------------------------------
FROM python:${PYTHON_TAG}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY --from=wheel /dist/ /tmp/dist/
# The console and gateway extras' dependencies from their lock (sha256 of every file checked;
# scripts/lock_images.sh writes it), then the wheel without them.
COPY docker/requirements/console.txt /tmp/requirements/console.txt
# DL3013: the wheel is this repository's own build; its dependencies are pinned by the lock.
# hadolint ignore=DL3013
RUN wheel="$(ls /tmp/dist/loadcheck-*.whl)" \
    && python -m pip install --no-cache-dir --require-hashes -r /tmp/requirements/console.txt \
    && python -m pip install --no-cache-dir --no-deps "${wheel}" \
    && rm -rf /tmp/dist /tmp/requirements \
    && python -c 'import importlib.util as u, loadcheck.console.cli; assert not u.find_spec("pytriton") and not u.find_spec("onnxruntime")'

# Same non-root UID/GID as the Triton image: both write the shared volumes.
RUN groupadd --system --gid 10001 loadcheck \
    && useradd --system --uid 10001 --gid loadcheck --create-home \
       --home-dir /home/loadcheck --shell /usr/sbin/nologin loadcheck \
    && mkdir -p /models /workspace /exports \
    && chown loadcheck:loadcheck /models /workspace /exports

COPY docker/entrypoint.sh /usr/local/bin/loadcheck-entrypoint
COPY docker/healthcheck.py /usr/local/bin/loadcheck-healthcheck
RUN chmod 0755 /usr/local/bin/loadcheck-entrypoint /usr/local/bin/loadcheck-healthcheck

ENV LOADCHECK_REPOSITORY=/models \
    LOADCHECK_HOME=/workspace \
    LOADCHECK_TRITON_URL=triton:8000 \
    PYTHONUNBUFFERED=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true

USER 10001:10001
WORKDIR /home/loadcheck
EXPOSE 8501 8080
ENTRYPOINT ["/usr/local/bin/loadcheck-entrypoint"]
CMD ["loadcheck", "console", "--host", "0.0.0.0", "--port", "8501"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/loadcheck-healthcheck", "http://127.0.0.1:8501/_stcore/health"]
