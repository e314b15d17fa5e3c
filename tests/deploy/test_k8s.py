"""The Kubernetes manifests match the code: settings, probes, hardening, scaling, the topic,
secrets, and NetworkPolicies that allow exactly the arrows of ARCHITECTURE.md."""

import importlib
import re
import secrets
from functools import cache
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.deploy.compose_model import (
    APP_SERVICES,
    IMAGE_VARIABLES,
    REPO,
    required_env_names,
    setting_env_names,
    settings_class,
)
from tests.deploy.k8s_model import (
    OVERLAYS,
    Endpoint,
    Manifest,
    PolicySet,
    Port,
    containers,
    declared_arrows,
    env_of,
    main_container,
    namespace,
    of_kind,
    pod_spec,
    selects,
)

OVERLAY_SERVICES = [(overlay, name) for overlay in OVERLAYS for name in APP_SERVICES]
# wip/edge adds the gateway's ops listener (GATEWAY_OPS_PORT, CONTRACT.md) and trusted proxies.
# Until its settings exist these are allowed; once `ops_port` is a field, all must match.
AWAITING_WIP_EDGE = frozenset({"GATEWAY_OPS_PORT", "GATEWAY_OPS_HOST", "GATEWAY_TRUSTED_PROXIES"})


def deployment(overlay: str, name: str) -> Manifest:
    return of_kind(overlay, "Deployment")[name]


def known_env_names(name: str) -> set[str]:
    settings = settings_class(name)
    known = setting_env_names(settings) | IMAGE_VARIABLES
    if name == "gateway" and "ops_port" not in settings.model_fields:
        known |= AWAITING_WIP_EDGE
    return known


def test_every_overlay_has_the_four_services_and_nothing_else() -> None:
    for overlay in OVERLAYS:
        assert set(of_kind(overlay, "Deployment")) == set(APP_SERVICES)


@pytest.mark.parametrize(("overlay", "name"), OVERLAY_SERVICES)
def test_every_variable_a_deployment_sets_is_a_setting_the_service_reads(
    overlay: str, name: str
) -> None:
    declared = set(env_of(main_container(deployment(overlay, name))))

    unknown = declared - known_env_names(name)

    assert not unknown, f"{overlay}/{name} would ignore {sorted(unknown)}"


@pytest.mark.parametrize(("overlay", "name"), OVERLAY_SERVICES)
def test_every_required_setting_is_set_and_secrets_come_from_secrets(
    overlay: str, name: str
) -> None:
    env = env_of(main_container(deployment(overlay, name)))

    assert required_env_names(settings_class(name)) <= set(env)
    assert env["SERVICE"]["value"] == name
    for secret in ("INTERNAL_SIGNING_SECRET", "REDIS_URL", "MONGODB_URL"):
        if secret in env:
            assert "secretKeyRef" in env[secret]["valueFrom"], f"{name}: {secret} is a literal"


@cache
def ops_client(name: str) -> TestClient:
    """The service's app as create_app builds it; the lifespan (store clients) is not entered."""
    settings = settings_class(name)(INTERNAL_SIGNING_SECRET=secrets.token_urlsafe(48))
    main = importlib.import_module(f"services.{name}.app.main")
    return TestClient(main.create_app(settings))


def answers_as_probe(name: str, path: str) -> bool:
    """The path is the ops endpoint itself, not a catch-all (the web app answers unknown paths)."""
    response = ops_client(name).get(path)
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    return response.status_code == 200 and body.get("status") in {"ok", "ready"}


@pytest.mark.parametrize(("overlay", "name"), OVERLAY_SERVICES)
def test_probes_are_health_ready_and_paths_the_app_serves(overlay: str, name: str) -> None:
    container = main_container(deployment(overlay, name))
    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("liveness", "readiness")}
    startup = container["startupProbe"]["httpGet"]
    port_names = {port["name"] for port in container["ports"]}

    assert probes["liveness"]["path"] == "/health"
    assert probes["readiness"]["path"] == "/ready"
    # Search is live long before it has caught up with the topic; /ready says when it has.
    assert startup["path"] == ("/ready" if name == "search" else "/health")
    for probe in (*probes.values(), startup):
        assert answers_as_probe(name, probe["path"])
        assert probe["port"] == "http"
        assert probe["port"] in port_names


def test_search_allows_a_long_replay_before_liveness_counts() -> None:
    probe = main_container(deployment("prod", "search"))["startupProbe"]

    assert probe["periodSeconds"] * probe["failureThreshold"] >= 600


@pytest.mark.parametrize(("overlay", "name"), OVERLAY_SERVICES)
def test_every_container_is_hardened_and_bounded(overlay: str, name: str) -> None:
    manifest = deployment(overlay, name)
    pod = pod_spec(manifest)["securityContext"]

    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == 10001
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec(manifest)["automountServiceAccountToken"] is False
    for container in containers(manifest):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), container["name"]


@pytest.mark.parametrize(("overlay", "name"), OVERLAY_SERVICES)
def test_every_deployment_has_a_service_a_budget_and_a_cpu_autoscaler(
    overlay: str, name: str
) -> None:
    labels = deployment(overlay, name)["spec"]["template"]["metadata"]["labels"]
    service = of_kind(overlay, "Service")[name]
    budget = of_kind(overlay, "PodDisruptionBudget")[name]
    scaler = of_kind(overlay, "HorizontalPodAutoscaler")[name]

    assert all(labels.get(key) == value for key, value in service["spec"]["selector"].items())
    assert selects(budget["spec"]["selector"], labels)
    assert scaler["apiVersion"] == "autoscaling/v2"
    assert scaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    [metric] = scaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert 1 <= scaler["spec"]["minReplicas"] < scaler["spec"]["maxReplicas"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_production_keeps_two_replicas_through_a_disruption(name: str) -> None:
    scaler = of_kind("prod", "HorizontalPodAutoscaler")[name]
    budget = of_kind("prod", "PodDisruptionBudget")[name]

    assert scaler["spec"]["minReplicas"] >= 2
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_search_keeps_its_index_in_an_empty_dir(overlay: str) -> None:
    manifest = deployment(overlay, "search")
    env = env_of(main_container(manifest))
    mounts = {m["name"]: Path(m["mountPath"]) for m in main_container(manifest)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(manifest)["volumes"]}
    index_dir = Path(env["SEARCH_INDEX_DIR"]["value"])
    storage_dir = Path(env["SEARCH_INDEX_STORAGE_DIR"]["value"])

    [volume] = [name for name, path in mounts.items() if index_dir.is_relative_to(path)]
    assert storage_dir.is_relative_to(mounts[volume])
    assert volumes[volume]["emptyDir"]["sizeLimit"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_tasks_service_would_create_the_topic_as_declared(overlay: str) -> None:
    env = {
        key: item["value"]
        for key, item in env_of(main_container(deployment(overlay, "tasks"))).items()
        if "value" in item
    }
    topic = of_kind(overlay, "KafkaTopic")[env["KAFKA_TASK_EVENTS_TOPIC"]]["spec"]

    assert topic["config"]["cleanup.policy"] == "compact"
    assert int(env["TASKS_TOPIC_PARTITIONS"]) == topic["partitions"]
    assert int(env["TASKS_TOPIC_REPLICATION_FACTOR"]) == topic["replicas"]
    assert int(env["TASKS_TOPIC_MIN_INSYNC_REPLICAS"]) == topic["config"]["min.insync.replicas"]


def test_production_replicates_events_three_times_and_acknowledges_at_two() -> None:
    topic = of_kind("prod", "KafkaTopic")["task-events"]["spec"]
    [pool] = of_kind("prod", "KafkaNodePool").values()
    [mongodb] = of_kind("prod", "MongoDBCommunity").values()

    assert (topic["replicas"], topic["config"]["min.insync.replicas"]) == (3, 2)
    assert pool["spec"]["replicas"] >= 3
    assert mongodb["spec"]["members"] == 3


def secret_refs(overlay: str) -> set[str]:
    refs = set()
    for manifest in of_kind(overlay, "Deployment").values():
        for container in containers(manifest):
            for item in container.get("env", []):
                if "secretKeyRef" in item.get("valueFrom", {}):
                    refs.add(item["valueFrom"]["secretKeyRef"]["name"])
        for volume in pod_spec(manifest).get("volumes", []):
            if "secret" in volume:
                refs.add(volume["secret"]["secretName"])
    return refs


def test_production_secrets_all_come_from_the_external_secrets_operator() -> None:
    [mongodb] = of_kind("prod", "MongoDBCommunity").values()
    # The operator writes <name>-<user db>-<user> for each user it manages.
    operator_made = {
        f"{mongodb['metadata']['name']}-{user['db']}-{user['name']}"
        for user in mongodb["spec"]["users"]
    }
    external = {m["spec"]["target"]["name"] for m in of_kind("prod", "ExternalSecret").values()}
    password_refs = {user["passwordSecretRef"]["name"] for user in mongodb["spec"]["users"]}

    assert secret_refs("prod") <= external | operator_made
    assert password_refs <= external


# --- NetworkPolicies --------------------------------------------------------------------------

STRIMZI = {"strimzi.io/cluster": "taskstream"}
MANAGED_REDIS = "10.20.0.10"  # an address in the prod overlay's example Redis subnet


def endpoints(overlay: str) -> list[Endpoint]:
    ns = namespace(overlay)
    found = [app_endpoint(ns, manifest) for manifest in of_kind(overlay, "Deployment").values()]
    found += [
        Endpoint(
            "kafka",
            ns,
            {**STRIMZI, "strimzi.io/name": "taskstream-kafka", "strimzi.io/kind": "Kafka"},
            (Port(9090), Port(9091), Port(9092), Port(8443)),
        ),
        Endpoint(
            "kafka-entity-operator",
            ns,
            {**STRIMZI, "strimzi.io/name": "taskstream-entity-operator"},
            (Port(8080),),
        ),
        Endpoint("mongodb", ns, {"app": "taskstream-mongodb-svc"}, (Port(27017),)),
        Endpoint("ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
        Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, (Port(53, "UDP"), Port(53))),
        Endpoint("strimzi-operator", "strimzi", {"strimzi.io/kind": "cluster-operator"}),
        Endpoint("kubernetes-api", None, ports=(Port(443),), address="172.20.0.1"),
    ]
    if overlay == "prod":
        found.append(Endpoint("redis", None, ports=(Port(6379),), address=MANAGED_REDIS))
    else:
        found.append(Endpoint("redis", ns, {"app.kubernetes.io/name": "redis"}, (Port(6379),)))
    return found


def app_endpoint(ns: str, manifest: Manifest) -> Endpoint:
    ports = tuple(
        Port(port["containerPort"], port.get("protocol", "TCP"), port["name"])
        for port in main_container(manifest)["ports"]
    )
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    return Endpoint(manifest["metadata"]["name"], ns, labels, ports)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_arrows_of_the_architecture(overlay: str) -> None:
    ns = namespace(overlay)
    everything = endpoints(overlay)
    policies = PolicySet(of_kind(overlay, "NetworkPolicy").values(), ns)
    in_namespace = [endpoint.name for endpoint in everything if endpoint.namespace == ns]

    # Traffic between two things outside the namespace is not these policies' business.
    allowed = {
        (source.name, target.name, port.number, port.protocol)
        for source in everything
        for target in everything
        for port in target.ports
        if ns in (source.namespace, target.namespace) and policies.allows(source, target, port)
    }

    expected = declared_arrows(in_namespace)
    assert allowed - expected == set(), "allowed but not in ARCHITECTURE.md"
    assert expected - allowed == set(), "in ARCHITECTURE.md but not allowed"


def test_the_namespace_denies_everything_by_default() -> None:
    for overlay in OVERLAYS:
        deny = of_kind(overlay, "NetworkPolicy")["default-deny"]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


STORE_USE = {
    "mongodb": re.compile(r"\bopen_mongo\("),
    "redis": re.compile(r"\bopen_redis\("),
    "kafka": re.compile(r"\b(connect_producer|kafka_metadata_check|AIOKafkaConsumer)\b"),
}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_architecture_table_names_the_stores_each_service_opens(name: str) -> None:
    code = "\n".join(p.read_text() for p in (REPO / "services" / name / "app").rglob("*.py"))
    opened = {store for store, pattern in STORE_USE.items() if pattern.search(code)}

    declared = {target for source, target, _, _ in declared_arrows([]) if source == name}

    assert opened == declared & set(STORE_USE)
