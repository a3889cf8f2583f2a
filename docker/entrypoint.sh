#!/bin/sh
# Entrypoint of the loadcheck images: turns LOADCHECK_API_KEY_FILE (a Docker or Kubernetes
# secret mounted as a file) into LOADCHECK_API_KEY, then runs the command. The key is never
# written in docker/compose.yaml or in the manifests.
set -eu

if [ -n "${LOADCHECK_API_KEY_FILE:-}" ]; then
    if [ ! -r "${LOADCHECK_API_KEY_FILE}" ]; then
        echo "loadcheck-entrypoint: LOADCHECK_API_KEY_FILE=${LOADCHECK_API_KEY_FILE} is not a readable file;" \
            "create the secret (see docs/deploying.md) or unset the variable" >&2
        exit 2
    fi
    # $(...) drops trailing newlines, so a key file written by `echo` works.
    LOADCHECK_API_KEY="$(cat "${LOADCHECK_API_KEY_FILE}")"
    if [ -z "${LOADCHECK_API_KEY}" ]; then
        echo "loadcheck-entrypoint: ${LOADCHECK_API_KEY_FILE} is empty; expected the API key" >&2
        exit 2
    fi
    export LOADCHECK_API_KEY
fi

if [ "$#" -eq 0 ]; then
    echo "loadcheck-entrypoint: no command given; expected e.g. loadcheck-serve or loadcheck --help" >&2
    exit 2
fi
exec "$@"
