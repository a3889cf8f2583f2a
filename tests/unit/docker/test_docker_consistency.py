"""The image tag, ports, paths, model names and variables agree across docker/ and the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from deploy_files import (
    ADAPTER_VALUES,
    COMPOSE,
    CONSOLE_DOCKERFILE,
    DOCKER,
    DOCS,
    K8S,
    TRITON_DOCKERFILE,
    compose,
    compose_published_ports,
    deploy_text_files,
    dockerfile_instructions,
    exposed_ports,
    final_stage,
    k8s_container,
    k8s_resource,
    k8s_resources,
    triton_tag,
)

from loadcheck import deploy_constants as dc
from loadcheck import environment as env
from loadcheck import tensor_names as tn

TRITON_PORTS = {dc.TRITON_HTTP_PORT, dc.TRITON_GRPC_PORT, dc.TRITON_METRICS_PORT}
FIXED_MODELS = {
    tn.PREPROCESS_MODEL,
    tn.DETECTOR_MODEL,
    tn.PROMPTS_MODEL,
    tn.SAM_ENCODER_MODEL,
    tn.SAM_DECODER_MODEL,
    tn.SEGMENTATOR_ENSEMBLE,
}


def test_triton_tag_is_a_yy_mm_release_used_by_every_triton_from_line() -> None:
    tag = triton_tag()
    assert re.fullmatch(r"\d\d\.\d\d", tag), f"TRITON_TAG={tag!r}; expected YY.MM"
    froms = [i.args for i in dockerfile_instructions(TRITON_DOCKERFILE) if i.keyword == "FROM"]
    base_froms = [f for f in froms if "tritonserver" in f]
    assert base_froms, "triton.Dockerfile has no FROM nvcr.io/nvidia/tritonserver line"
    for line in base_froms:
        assert line.startswith("nvcr.io/nvidia/tritonserver:${TRITON_TAG}-py3"), line


def test_triton_tag_ships_python_3_11_or_newer_for_the_python_backend() -> None:
    # 24.12 and later run Ubuntu 24.04 (Python 3.12); 24.10 and earlier ship Python 3.10.
    year, month = (int(part) for part in triton_tag().split("."))
    assert (year, month) >= (24, 12), (
        "Triton tags before 24.12 ship Python 3.10; loadcheck needs 3.11+"
    )


def test_every_tritonserver_reference_names_the_dockerfile_tag() -> None:
    tag = triton_tag()
    pattern = re.compile(r"tritonserver:(\d\d\.\d\d)")
    wrong = {
        f"{path.relative_to(DOCKER.parent)}: {found}"
        for path in deploy_text_files()
        for found in pattern.findall(path.read_text())
        if found != tag
    }
    assert not wrong, f"tag {tag} is set in triton.Dockerfile; these disagree: {sorted(wrong)}"


@pytest.mark.parametrize(
    "path",
    [DOCS, COMPOSE, K8S / "triton-deployment.yaml"],
    ids=["docs", "compose", "k8s"],
)
def test_operator_facing_files_name_the_triton_image_with_its_tag(path: Path) -> None:
    assert f"nvcr.io/nvidia/tritonserver:{triton_tag()}-py3" in path.read_text()


def test_triton_ports_agree_across_dockerfile_compose_k8s_and_serve_script() -> None:
    assert exposed_ports(TRITON_DOCKERFILE) == TRITON_PORTS
    assert compose_published_ports("triton") == {(p, p) for p in TRITON_PORTS}
    container = k8s_container("loadcheck-triton", "triton")
    assert {p["containerPort"] for p in container["ports"]} == TRITON_PORTS
    service = k8s_resource("Service", "loadcheck-triton")
    assert {p["port"] for p in service["spec"]["ports"]} == TRITON_PORTS
    serve = (DOCKER / "serve.sh").read_text()
    assert f"HTTP_PORT={dc.TRITON_HTTP_PORT}\n" in serve
    assert f"GRPC_PORT={dc.TRITON_GRPC_PORT}\n" in serve
    assert f"METRICS_PORT={dc.TRITON_METRICS_PORT}\n" in serve


def test_console_and_gateway_ports_agree_across_dockerfile_compose_and_k8s() -> None:
    assert exposed_ports(CONSOLE_DOCKERFILE) == {dc.CONSOLE_PORT, dc.GATEWAY_PORT}
    services = compose()["services"]
    assert compose_published_ports("console") == {(dc.CONSOLE_PORT, dc.CONSOLE_PORT)}
    assert compose_published_ports("gateway") == {(dc.GATEWAY_PORT, dc.GATEWAY_PORT)}
    assert services["console"]["command"][-2:] == ["--port", str(dc.CONSOLE_PORT)]
    assert services["gateway"]["command"][-2:] == ["--port", str(dc.GATEWAY_PORT)]
    console = k8s_container("loadcheck-console", "console")
    gateway = k8s_container("loadcheck-gateway", "gateway")
    assert console["args"][-2:] == ["--port", str(dc.CONSOLE_PORT)]
    assert gateway["args"][-2:] == ["--port", str(dc.GATEWAY_PORT)]
    assert [p["containerPort"] for p in console["ports"]] == [
        dc.CONSOLE_PORT,
        dc.CONSOLE_METRICS_PORT,
    ]
    assert [p["containerPort"] for p in gateway["ports"]] == [dc.GATEWAY_PORT]
    service = k8s_resource("Service", "loadcheck-console")
    assert {p["port"] for p in service["spec"]["ports"]} == {
        dc.CONSOLE_PORT,
        dc.CONSOLE_METRICS_PORT,
    }
    service = k8s_resource("Service", "loadcheck-gateway")
    assert {p["port"] for p in service["spec"]["ports"]} == {dc.GATEWAY_PORT}


def test_health_checks_use_triton_and_streamlit_health_endpoints() -> None:
    ready = f"http://127.0.0.1:{dc.TRITON_HTTP_PORT}{dc.TRITON_READY_PATH}"
    triton_final = final_stage(dockerfile_instructions(TRITON_DOCKERFILE))
    assert any(i.keyword == "HEALTHCHECK" and ready in i.args for i in triton_final)
    assert ready in compose()["services"]["triton"]["healthcheck"]["test"]
    console_health = f"http://127.0.0.1:{dc.CONSOLE_PORT}{dc.CONSOLE_HEALTH_PATH}"
    assert console_health in compose()["services"]["console"]["healthcheck"]["test"]
    gateway_health = f"http://127.0.0.1:{dc.GATEWAY_PORT}{dc.GATEWAY_HEALTH_PATH}"
    assert gateway_health in compose()["services"]["gateway"]["healthcheck"]["test"]
    gateway = k8s_container("loadcheck-gateway", "gateway")
    assert gateway["livenessProbe"]["httpGet"]["path"] == dc.GATEWAY_HEALTH_PATH
    assert gateway["readinessProbe"]["httpGet"]["path"] == dc.GATEWAY_READY_PATH
    console = k8s_container("loadcheck-console", "console")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert console[probe]["httpGet"]["path"] == dc.CONSOLE_HEALTH_PATH, probe
    container = k8s_container("loadcheck-triton", "triton")
    assert container["livenessProbe"]["httpGet"]["path"] == dc.TRITON_LIVE_PATH
    assert container["startupProbe"]["httpGet"]["path"] == dc.TRITON_LIVE_PATH
    ready_model = f"/v2/models/{tn.SEGMENTATOR_ENSEMBLE}/ready"
    assert container["readinessProbe"]["httpGet"]["path"] == ready_model


def test_console_and_gateway_wait_for_a_healthy_triton() -> None:
    services = compose()["services"]
    for name in ("console", "gateway"):
        assert services[name]["depends_on"]["triton"]["condition"] == "service_healthy", name


def deploy_variables() -> set[str]:
    """Every LOADCHECK_* name written in docker/."""
    return {
        name
        for path in deploy_text_files()
        for name in re.findall(r"\bLOADCHECK_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())
    }


def test_every_loadcheck_variable_in_deploy_files_is_a_known_name() -> None:
    unknown = deploy_variables() - set(env.BY_NAME)
    assert not unknown, f"not in loadcheck.environment: {sorted(unknown)}"


def test_deploy_files_use_variables_of_processes_containers_compose_and_builds_only() -> None:
    wrong = {n for n in deploy_variables() if env.BY_NAME[n].scope is env.Scope.TESTS}
    assert not wrong, sorted(wrong)


def test_containers_point_the_variables_at_the_mounted_paths() -> None:
    services = compose()["services"]
    for name in ("triton", "console"):
        variables = services[name]["environment"]
        assert variables[env.REPOSITORY.name] == dc.CONTAINER_REPOSITORY_DIR
        assert variables[env.HOME.name] == dc.CONTAINER_WORKSPACE_DIR
        assert variables[env.API_KEY_FILE.name] == dc.CONTAINER_API_KEY_FILE
        # "${VAR:-default}:/target:ro": drop the interpolation before splitting on ":".
        targets = {
            re.sub(r"\$\{[^}]*\}", "HOST", volume).split(":")[1]
            for volume in services[name]["volumes"]
        }
        assert {dc.CONTAINER_REPOSITORY_DIR, dc.CONTAINER_WORKSPACE_DIR} <= targets
        assert dc.CONTAINER_EXPORT_DIR in targets
    triton_url = f"triton:{dc.TRITON_HTTP_PORT}"
    assert services["console"]["environment"][env.TRITON_URL.name] == triton_url
    assert services["gateway"]["command"][3] == triton_url
    for dockerfile in (TRITON_DOCKERFILE, CONSOLE_DOCKERFILE):
        text = dockerfile.read_text()
        assert f"{env.REPOSITORY.name}={dc.CONTAINER_REPOSITORY_DIR}" in text
        assert f"{env.HOME.name}={dc.CONTAINER_WORKSPACE_DIR}" in text


def test_console_and_gateway_find_triton_through_the_one_triton_url_variable() -> None:
    services = compose()["services"]
    for name in ("console", "gateway"):
        assert services[name]["environment"][env.TRITON_URL.name] == f"triton:{dc.TRITON_HTTP_PORT}"
    for deployment, container in (
        ("loadcheck-console", "console"),
        ("loadcheck-gateway", "gateway"),
    ):
        variables = {e["name"]: e.get("value") for e in k8s_container(deployment, container)["env"]}
        assert variables[env.TRITON_URL.name] == f"loadcheck-triton:{dc.TRITON_HTTP_PORT}"
    # the gateway's --triton repeats the variable (both name the same address)
    gateway = k8s_container("loadcheck-gateway", "gateway")["args"]
    assert gateway[gateway.index("--triton") + 1] == f"loadcheck-triton:{dc.TRITON_HTTP_PORT}"


def test_api_key_is_never_written_in_compose_or_the_manifests() -> None:
    data = compose()
    for name, service in data["services"].items():
        assert env.API_KEY.name not in service.get("environment", {}), name
    assert set(data["secrets"]["loadcheck_api_key"]) == {"file"}
    for resource in k8s_resources():
        if resource["kind"] != "Deployment":
            continue
        for container in resource["spec"]["template"]["spec"]["containers"]:
            names = {e["name"] for e in container.get("env", [])}
            assert env.API_KEY.name not in names, container["name"]
    for path in (COMPOSE, *K8S.glob("*.yaml")):
        assert "kind: Secret\n" not in path.read_text(), f"{path.name} defines a Secret"


def test_serve_script_puts_the_api_key_on_no_command_line() -> None:
    serve = (DOCKER / "serve.sh").read_text()
    commands = "\n".join(line for line in serve.splitlines() if not line.lstrip().startswith("#"))
    assert "--api-key" not in commands  # loadcheck serve reads $LOADCHECK_API_KEY itself
    assert "restricted-api" not in commands  # no tritonserver started by the shell
    assert "exec loadcheck serve" in commands
    assert f"`{dc.API_KEY_HEADER}`" in DOCS.read_text()


def test_every_restricted_api_category_is_named_in_the_serving_docs() -> None:
    serving = (DOCS.parent / "serving.md").read_text()
    for category in (*dc.RESTRICTED_API_CATEGORIES, *dc.OPEN_API_CATEGORIES):
        assert f"`{category}`" in serving, category


def test_containers_listen_on_every_interface_explicitly() -> None:
    services = compose()["services"]
    for name in ("console", "gateway"):
        command = services[name]["command"]
        assert command[command.index("--host") + 1] == "0.0.0.0", name
        args = k8s_container(f"loadcheck-{name}", name)["args"]
        assert args[args.index("--host") + 1] == "0.0.0.0", name
    assert "--host 0.0.0.0" in (DOCKER / "serve.sh").read_text()
    cmd = [i.args for i in dockerfile_instructions(CONSOLE_DOCKERFILE) if i.keyword == "CMD"][-1]
    assert '"--host", "0.0.0.0"' in cmd


def test_both_images_run_as_the_same_non_root_uid_as_the_k8s_pods() -> None:
    uid = dc.CONTAINER_UID
    for dockerfile in (TRITON_DOCKERFILE, CONSOLE_DOCKERFILE):
        final = final_stage(dockerfile_instructions(dockerfile))
        users = [i.args for i in final if i.keyword == "USER"]
        if not users:  # inherited from the stage it is built FROM
            users = [i.args for i in dockerfile_instructions(dockerfile) if i.keyword == "USER"]
        assert users[-1] == f"{uid}:{uid}", f"{dockerfile.name}: last USER is {users[-1]}"
        assert f"--uid {uid}" in dockerfile.read_text() or '--uid "${LOADCHECK_UID}"' in (
            dockerfile.read_text()
        )
    assert f"ARG LOADCHECK_UID={uid}" in TRITON_DOCKERFILE.read_text()
    for deployment in ("loadcheck-triton", "loadcheck-console"):
        spec = k8s_resource("Deployment", deployment)["spec"]["template"]["spec"]
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid,) * 3


def test_triton_gets_a_gpu_and_enough_shared_memory_everywhere() -> None:
    triton = compose()["services"]["triton"]
    devices = triton["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert triton["shm_size"].endswith("gb") and int(triton["shm_size"][:-2]) >= 1
    container = k8s_container("loadcheck-triton", "triton")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert any(m["mountPath"] == "/dev/shm" for m in container["volumeMounts"])


def test_queue_metric_agrees_between_adapter_rules_hpa_and_constants() -> None:
    values = yaml.safe_load(ADAPTER_VALUES.read_text())
    (rule,) = [r for r in values["rules"]["custom"] if r["name"]["as"] == dc.QUEUE_METRIC_NAME]
    assert rule["name"]["as"] == dc.QUEUE_METRIC_NAME
    assert dc.TRITON_QUEUE_COUNTER in rule["seriesQuery"]
    query = rule["metricsQuery"]
    assert f"rate({dc.TRITON_QUEUE_COUNTER}{{" in query
    assert f"rate({dc.TRITON_SUCCESS_COUNTER}{{" in query
    assert set(re.findall(r'model="([^"]+)"', query)) == {dc.QUEUE_METRIC_MODEL}
    hpa = k8s_resource("HorizontalPodAutoscaler", "loadcheck-triton")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == dc.QUEUE_METRIC_NAME
    assert hpa["spec"]["scaleTargetRef"]["name"] == "loadcheck-triton"
    replicas = k8s_resource("Deployment", "loadcheck-triton")["spec"]["replicas"]
    assert hpa["spec"]["minReplicas"] <= replicas <= hpa["spec"]["maxReplicas"]
    docs = DOCS.read_text()
    assert dc.QUEUE_METRIC_NAME in docs
    assert f'rate({dc.TRITON_QUEUE_COUNTER}{{model="{dc.QUEUE_METRIC_MODEL}"}}[1m])' in docs
    assert f'rate({dc.TRITON_SUCCESS_COUNTER}{{model="{dc.QUEUE_METRIC_MODEL}"}}[1m])' in docs


def test_model_names_in_deploy_files_are_repository_models() -> None:
    named = set()
    for path in deploy_text_files():
        text = path.read_text()
        named |= set(re.findall(r'model="([a-z0-9_]+)"', text))
        named |= set(re.findall(r"/v2/models/([a-z0-9_]+)/", text))
    assert named, "expected model names in the HPA rules and the readiness probe"
    assert named <= FIXED_MODELS, f"unknown models: {sorted(named - FIXED_MODELS)}"


def test_docs_list_every_model_of_the_repository() -> None:
    docs = DOCS.read_text()
    for name in sorted(FIXED_MODELS):
        assert f"`{name}`" in docs, name
    assert f"`{tn.SCORER_PREFIX}NAME`" in docs
    assert f"`{tn.INTEGRATOR_PREFIX}NAME`" in docs


def test_docs_state_every_port_and_variable() -> None:
    docs = DOCS.read_text()
    for port in (*TRITON_PORTS, dc.CONSOLE_PORT, dc.CONSOLE_METRICS_PORT, dc.GATEWAY_PORT):
        assert f"| {port} |" in docs, port
    for name in sorted(deploy_variables() - set(env.names(env.Scope.BUILD))):
        assert f"| `{name}` |" in docs, name


def test_the_gateway_deployment_is_stateless_and_reads_the_published_tokens() -> None:
    deployment = k8s_resource("Deployment", "loadcheck-gateway")
    pod = deployment["spec"]["template"]["spec"]
    assert "volumes" not in pod
    (container,) = pod["containers"]
    assert "volumeMounts" not in container
    variables = {e["name"]: e for e in container["env"]}
    assert variables[env.GATEWAY_TOKENS_FROM.name]["value"] == "repository"
    assert float(variables[env.GATEWAY_TOKENS_MAX_AGE.name]["value"]) <= 5
    repository = variables[env.REPOSITORY.name]["valueFrom"]["configMapKeyRef"]
    config = k8s_resource("ConfigMap", repository["name"])
    assert config["data"][repository["key"]].startswith("s3://")
    assert deployment["spec"]["replicas"] >= 2
    console = k8s_resource("Deployment", "loadcheck-console")["spec"]["template"]["spec"]
    assert [c["name"] for c in console["containers"]] == ["console"]


def test_the_gateway_hpa_scales_on_the_adapters_request_rate_of_a_counter_the_gateway_exports() -> (
    None
):
    from loadcheck.gateway.app import LEGACY_ROUTE
    from loadcheck.gateway.metrics import REQUESTS_TOTAL

    values = yaml.safe_load(ADAPTER_VALUES.read_text())
    (rule,) = [r for r in values["rules"]["custom"] if REQUESTS_TOTAL in r["seriesQuery"]]
    hpa = k8s_resource("HorizontalPodAutoscaler", "loadcheck-gateway")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == rule["name"]["as"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "loadcheck-gateway"
    assert f"rate({REQUESTS_TOTAL}{{" in rule["metricsQuery"]
    (route,) = re.findall(r'route=~"([^"]+)"', rule["metricsQuery"])
    assert re.fullmatch(route, LEGACY_ROUTE) and re.fullmatch(route, LEGACY_ROUTE.rstrip("/"))
    replicas = k8s_resource("Deployment", "loadcheck-gateway")["spec"]["replicas"]
    assert hpa["spec"]["minReplicas"] <= replicas <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("name", ["loadcheck-gateway", "loadcheck-triton"])
def test_each_pdb_selects_the_pods_of_its_deployment(name: str) -> None:
    pdb = k8s_resource("PodDisruptionBudget", name)
    labels = k8s_resource("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] >= 1


def test_the_headless_service_resolves_to_every_triton_pod_on_the_http_port() -> None:
    service = k8s_resource("Service", "loadcheck-triton-headless")
    labels = k8s_resource("Deployment", "loadcheck-triton")["spec"]["template"]["metadata"]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= labels["labels"].items()
    assert [p["port"] for p in service["spec"]["ports"]] == [dc.TRITON_HTTP_PORT]


def test_compose_gateway_reads_the_published_tokens_from_the_repository_volume() -> None:
    services = compose()["services"]
    gateway = services["gateway"]
    assert gateway["environment"][env.GATEWAY_TOKENS_FROM.name] == "repository"
    repository = gateway["environment"][env.REPOSITORY.name]
    assert repository == services["console"]["environment"][env.REPOSITORY.name]
    assert gateway["volumes"] == [f"model_repository:{repository}:ro"]
