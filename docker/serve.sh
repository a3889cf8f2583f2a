#!/bin/sh
# Starts Triton for loadcheck inside the Triton image (the default command): `loadcheck serve`,
# listening on every interface of the container (--host 0.0.0.0; outside a container, serve
# listens on 127.0.0.1 unless told otherwise).
#
# * A local repository (a folder, the compose setup): explicit model control, the deployed
#   integrators loaded at start, `loadcheck deploy` loads new ones live.
# * LOADCHECK_POLL_SECS set (the cluster setup, usually with LOADCHECK_REPOSITORY=s3://...):
#   `loadcheck serve` reads it (--poll-secs) and Triton polls the repository every
#   LOADCHECK_POLL_SECS seconds, so every replica picks up what the console publishes; a model is
#   undeployed by removing it from the repository. Triton then runs with --strict-readiness=false.
# In both modes every API that changes or reveals server state (model repository and config,
# statistics, logging, trace, shared memory) needs the `loadcheck-api-key` header. The key stays
# in the environment (LOADCHECK_API_KEY, from the secret file via the entrypoint): `loadcheck
# serve` hides it from tritonserver's command line once Triton has read it (docs/serving.md).
# Extra arguments are passed on to `loadcheck serve`.
set -eu

: "${LOADCHECK_REPOSITORY:?LOADCHECK_REPOSITORY must name the model repository (a folder or s3://...)}"
: "${LOADCHECK_API_KEY:?LOADCHECK_API_KEY (or LOADCHECK_API_KEY_FILE) must hold the API key for the restricted APIs}"

HTTP_PORT=8000
GRPC_PORT=8001
METRICS_PORT=8002

if [ -n "${LOADCHECK_POLL_SECS:-}" ]; then
    case "${LOADCHECK_POLL_SECS}" in
        ''|*[!0-9]*|0)
            echo "loadcheck-serve: LOADCHECK_POLL_SECS=${LOADCHECK_POLL_SECS}; expected a whole number of seconds >= 1" >&2
            exit 2
            ;;
    esac
fi

exec loadcheck serve \
    --host 0.0.0.0 \
    --http-port "${HTTP_PORT}" \
    --grpc-port "${GRPC_PORT}" \
    --metrics-port "${METRICS_PORT}" \
    "$@"
