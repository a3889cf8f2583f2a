"""Ports, paths and metric names shared by the code and ``docker/`` (variables:
:mod:`loadcheck.environment`).

The Dockerfiles, ``docker/compose.yaml``, the Kubernetes manifests in ``docker/k8s/`` and
``docs/deploying.md`` repeat these values (they are not Python); ``tests/unit/docker`` checks that
every copy agrees with this module. Change a value here first, then in those files.
"""

from __future__ import annotations

from typing import Final

from loadcheck.tensor_names import SAM_ENCODER_MODEL

# --- Network ports (TCP) -------------------------------------------------------------------------
TRITON_HTTP_PORT: Final = 8000
TRITON_GRPC_PORT: Final = 8001
TRITON_METRICS_PORT: Final = 8002
CONSOLE_PORT: Final = 8501
#: The console process's Prometheus metrics port in the containers (loadcheck.console.metrics).
CONSOLE_METRICS_PORT: Final = 9101
GATEWAY_PORT: Final = 8080

# --- Triton endpoints used by health checks and probes (not restricted by the API key) ----------
TRITON_READY_PATH: Final = "/v2/health/ready"
TRITON_LIVE_PATH: Final = "/v2/health/live"
TRITON_METRICS_PATH: Final = "/metrics"
# Streamlit's own health endpoint (Streamlit >= 1.18).
CONSOLE_HEALTH_PATH: Final = "/_stcore/health"
# The gateway: 200 while the process runs / 200 only while Triton is ready (else 503).
GATEWAY_HEALTH_PATH: Final = "/healthz"
GATEWAY_READY_PATH: Final = "/readyz"

# --- Restricted APIs ------------------------------------------------------------------------------
# HTTP header (gRPC metadata key) that carries the API key for Triton's restricted APIs:
# ``--http-restricted-api=<categories>:<header>=<key>`` (the same for --grpc-restricted-protocol).
API_KEY_HEADER: Final = "loadcheck-api-key"
# The gRPC metadata key for it: Triton (2.51) prefixes restricted gRPC protocols' keys.
GRPC_API_KEY_HEADER: Final = f"triton-grpc-protocol-{API_KEY_HEADER}"
# Every Triton 2.51 API category that changes or reveals server state needs the key: loading and
# listing models, their configs (file paths, parameters), per-model statistics (they name every
# loaded integrator), log and trace settings (silence errors, turn on verbose logs or traces) and
# shared-memory registration (maps client memory into the server). docs/serving.md has the table.
RESTRICTED_API_CATEGORIES: Final = (
    "model-repository",
    "model-config",
    "statistics",
    "logging",
    "trace",
    "shared-memory",
)
# Open: inference and health (plants and probes), and metadata (the client reads an
# integrator's input shape from it; it tells nothing that inference and model readiness on the
# same name do not). With RESTRICTED_API_CATEGORIES: every category `tritonserver --help` lists.
OPEN_API_CATEGORIES: Final = ("inference", "health", "metadata")

# --- Environment variables ------------------------------------------------------------------------
# Declared once, with their meaning and default, in loadcheck.environment; tests/unit/docker
# checks that docker/ uses no other name.

# --- Paths inside the images ----------------------------------------------------------------------
CONTAINER_REPOSITORY_DIR: Final = "/models"
CONTAINER_WORKSPACE_DIR: Final = "/workspace"
CONTAINER_EXPORT_DIR: Final = "/exports"
CONTAINER_API_KEY_FILE: Final = "/run/secrets/loadcheck_api_key"
# Non-root user of both images; shared volumes are written by the same numeric UID/GID.
CONTAINER_USER: Final = "loadcheck"
CONTAINER_UID: Final = 10001

# --- Autoscaling metric ---------------------------------------------------------------------------
# Triton's cumulative counters (Prometheus, port 8002): queue time in microseconds and successful
# requests, per model. The autoscaler uses their ratio over one minute = mean queue time per
# request of ``QUEUE_METRIC_MODEL``, exposed by the Prometheus adapter as ``QUEUE_METRIC_NAME``.
TRITON_QUEUE_COUNTER: Final = "nv_inference_queue_duration_us"
TRITON_SUCCESS_COUNTER: Final = "nv_inference_request_success"
QUEUE_METRIC_NAME: Final = "loadcheck_triton_queue_us_per_request"
QUEUE_METRIC_MODEL: Final = SAM_ENCODER_MODEL
