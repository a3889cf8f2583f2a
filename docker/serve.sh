#!/bin/sh
# Starts Triton for loadcheck inside the Triton image (the default command).
#
# * A local repository (a folder, the compose setup): `loadcheck serve` -- explicit model control,
#   the deployed integrators loaded at start, `loadcheck deploy` loads new ones live.
# * LOADCHECK_POLL_SECS set (the cluster setup, usually with LOADCHECK_REPOSITORY=s3://...):
#   tritonserver polls the repository every LOADCHECK_POLL_SECS seconds, so every replica picks up
#   what the console publishes; a model is undeployed by removing it from the repository.
# In both modes the model-repository and model-config APIs need the `loadcheck-api-key` header.
# Extra arguments are passed on to `loadcheck serve` / `tritonserver`.
set -eu

: "${LOADCHECK_REPOSITORY:?LOADCHECK_REPOSITORY must name the model repository (a folder or s3://...)}"
: "${LOADCHECK_API_KEY:?LOADCHECK_API_KEY (or LOADCHECK_API_KEY_FILE) must hold the API key for the restricted APIs}"

HTTP_PORT=8000
GRPC_PORT=8001
METRICS_PORT=8002
API_KEY_HEADER=loadcheck-api-key

if [ -n "${LOADCHECK_POLL_SECS:-}" ]; then
    case "${LOADCHECK_POLL_SECS}" in
        ''|*[!0-9]*|0)
            echo "loadcheck-serve: LOADCHECK_POLL_SECS=${LOADCHECK_POLL_SECS}; expected a whole number of seconds >= 1" >&2
            exit 2
            ;;
    esac
    # --strict-readiness=false: one integrator that fails to load must not take every replica out
    # of the Service; the Kubernetes readiness probe asks for the segmentator ensemble instead.
    exec "${TRITONSERVER:-tritonserver}" \
        --model-repository="${LOADCHECK_REPOSITORY}" \
        --model-control-mode=poll \
        --repository-poll-secs="${LOADCHECK_POLL_SECS}" \
        --strict-readiness=false \
        --exit-on-error=false \
        --http-port="${HTTP_PORT}" \
        --grpc-port="${GRPC_PORT}" \
        --metrics-port="${METRICS_PORT}" \
        --http-restricted-api="model-repository,model-config:${API_KEY_HEADER}=${LOADCHECK_API_KEY}" \
        --grpc-restricted-protocol="model-repository,model-config:${API_KEY_HEADER}=${LOADCHECK_API_KEY}" \
        "$@"
fi

exec loadcheck serve \
    --repository "${LOADCHECK_REPOSITORY}" \
    --http-port "${HTTP_PORT}" \
    --grpc-port "${GRPC_PORT}" \
    --metrics-port "${METRICS_PORT}" \
    --api-key "${LOADCHECK_API_KEY}" \
    "$@"
