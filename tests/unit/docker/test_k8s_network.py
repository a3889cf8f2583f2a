"""The Ingress (TLS for the gateway) and the NetworkPolicies agree with the Deployments and
Services they name: selected pods exist, named ports are ports of those pods, only the gateway and
the console reach Triton's inference ports, and only the console holds the key of the restricted
APIs that share those ports. (Their schemas: test_docker_schemas.py and docker/validate.sh.)"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_files import k8s_resource, k8s_resources

from loadcheck import deploy_constants as dc


def pod_labels(deployment: str) -> dict[str, str]:
    labels: dict[str, str] = k8s_resource("Deployment", deployment)["spec"]["template"]["metadata"][
        "labels"
    ]
    return labels


def container_ports(deployment: str) -> dict[str, int]:
    spec = k8s_resource("Deployment", deployment)["spec"]["template"]["spec"]
    return {p["name"]: p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}


def deployments_selected(selector: dict[str, Any]) -> set[str]:
    labels = selector.get("matchLabels", {})
    return {
        r["metadata"]["name"]
        for r in k8s_resources()
        if r["kind"] == "Deployment" and labels.items() <= pod_labels(r["metadata"]["name"]).items()
    }


def port_numbers(rule: dict[str, Any], deployment: str) -> set[int]:
    named = container_ports(deployment)
    out = set()
    for port in rule["ports"]:
        assert port["protocol"] == "TCP"
        value = port["port"]
        assert isinstance(value, int) or value in named, f"{deployment} has no port {value}"
        out.add(value if isinstance(value, int) else named[value])
    return out


def pod_sources(rule: dict[str, Any]) -> set[str]:
    """Deployments of this namespace a rule admits (namespaceSelector entries are not pods)."""
    out: set[str] = set()
    for peer in rule["from"]:
        if "podSelector" in peer and "namespaceSelector" not in peer:
            selected = deployments_selected(peer["podSelector"])
            assert selected, f"podSelector {peer['podSelector']} selects no Deployment"
            out |= selected
    return out


@pytest.mark.parametrize("name", ["loadcheck-triton", "loadcheck-gateway"])
def test_each_network_policy_selects_the_pods_of_its_deployment_and_restricts_ingress(
    name: str,
) -> None:
    policy = k8s_resource("NetworkPolicy", name)["spec"]
    assert deployments_selected(policy["podSelector"]) == {name}
    assert policy["policyTypes"] == ["Ingress"]


def test_only_the_gateway_and_the_console_reach_tritons_inference_ports() -> None:
    rules = k8s_resource("NetworkPolicy", "loadcheck-triton")["spec"]["ingress"]
    inference = {dc.TRITON_HTTP_PORT, dc.TRITON_GRPC_PORT}
    admitted: dict[int, set[str]] = {}
    for rule in rules:
        for port in port_numbers(rule, "loadcheck-triton"):
            admitted.setdefault(port, set()).update(pod_sources(rule))
            if port in inference:
                assert all("namespaceSelector" not in peer for peer in rule["from"]), rule
    assert admitted[dc.TRITON_HTTP_PORT] == {"loadcheck-gateway", "loadcheck-console"}
    assert admitted[dc.TRITON_GRPC_PORT] == {"loadcheck-gateway", "loadcheck-console"}
    # Prometheus from its namespace, on the metrics port only
    assert set(admitted) == inference | {dc.TRITON_METRICS_PORT}
    assert admitted[dc.TRITON_METRICS_PORT] == set()


def mounts_api_key(deployment: str) -> bool:
    spec = k8s_resource("Deployment", deployment)["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    env_from = {
        e["secretRef"]["name"]
        for c in spec["containers"]
        for e in c.get("envFrom", [])
        if "secretRef" in e
    }
    return "loadcheck-api-key" in secrets | env_from


def test_of_the_pods_that_reach_triton_only_the_console_holds_the_restricted_api_key() -> None:
    # NetworkPolicy is L3/L4: the restricted APIs share the inference ports, so the key is what
    # keeps the gateway (which reaches the port) out of them.
    assert mounts_api_key("loadcheck-console")
    assert not mounts_api_key("loadcheck-gateway")
    assert mounts_api_key("loadcheck-triton")  # the server that checks it


def test_the_gateway_is_reached_on_its_port_from_the_ingress_controller_and_prometheus() -> None:
    (rule,) = k8s_resource("NetworkPolicy", "loadcheck-gateway")["spec"]["ingress"]
    assert port_numbers(rule, "loadcheck-gateway") == {dc.GATEWAY_PORT}
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
    }
    assert namespaces == {"ingress-nginx", "monitoring"}


def test_the_ingress_terminates_tls_with_a_secret_for_its_host_and_routes_to_the_gateway() -> None:
    ingress = k8s_resource("Ingress", "loadcheck-gateway")["spec"]
    (tls,) = ingress["tls"]
    assert tls["secretName"]
    (rule,) = ingress["rules"]
    assert tls["hosts"] == [rule["host"]]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    service = k8s_resource("Service", backend["name"])
    names = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    assert backend["port"]["name"] in names
    assert names[backend["port"]["name"]] == dc.GATEWAY_PORT
    assert service["spec"]["selector"].items() <= pod_labels("loadcheck-gateway").items()


def test_the_ingress_body_limit_is_above_the_gateways_own() -> None:
    from loadcheck.environment import GATEWAY_MAX_BODY_MB

    annotations = k8s_resource("Ingress", "loadcheck-gateway")["metadata"]["annotations"]
    limit = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert limit.endswith("m")
    assert int(limit[:-1]) > int(GATEWAY_MAX_BODY_MB.get_default())
