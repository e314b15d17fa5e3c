"""Reading the Kubernetes manifests the way the tests need them: rendered overlays, the
NetworkPolicy semantics of the Kubernetes API reference, and the arrows ARCHITECTURE.md draws."""

import ipaddress
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from tests.deploy.compose_model import REPO

K8S_DIR = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
ARCHITECTURE = REPO / "ARCHITECTURE.md"

Manifest = dict[str, Any]


@cache
def rendered(overlay: str) -> tuple[Manifest, ...]:
    """What `kubectl kustomize` makes of an overlay (the same command `make lint` runs)."""
    output = subprocess.run(
        ["kubectl", "kustomize", str(K8S_DIR / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


def of_kind(overlay: str, kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in rendered(overlay) if m["kind"] == kind}


def namespace(overlay: str) -> str:
    [name] = of_kind(overlay, "Namespace")
    return name


def pod_spec(deployment: Manifest) -> Manifest:
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def containers(deployment: Manifest) -> list[Manifest]:
    spec = pod_spec(deployment)
    return [*spec.get("initContainers", []), *spec["containers"]]


def main_container(deployment: Manifest) -> Manifest:
    name = deployment["metadata"]["name"]
    container: Manifest = next(c for c in pod_spec(deployment)["containers"] if c["name"] == name)
    return container


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {item["name"]: item for item in container.get("env", [])}


def selects(selector: Manifest | None, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector: matchLabels and matchExpressions; {} matches everything."""
    if selector is None:
        return False
    match_labels = selector.get("matchLabels") or {}
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    return all(_expression(expr, labels) for expr in selector.get("matchExpressions") or [])


def _expression(expr: Manifest, labels: dict[str, str]) -> bool:
    key, operator, values = expr["key"], expr["operator"], expr.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown selector operator {operator}")


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str = "TCP"
    name: str = ""


@dataclass(frozen=True)
class Endpoint:
    """Something that sends or receives traffic: pods of one kind, or an outside address."""

    name: str
    namespace: str | None  # None: outside the cluster, reached by address
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    ports: tuple[Port, ...] = ()
    address: str | None = None

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace} if self.namespace else {}


class PolicySet:
    """The NetworkPolicies of one namespace, evaluated as the API reference defines them."""

    def __init__(self, policies: Iterable[Manifest], policy_namespace: str) -> None:
        self.policies = list(policies)
        self.namespace = policy_namespace

    def allows(self, source: Endpoint, target: Endpoint, port: Port) -> bool:
        return self._egress(source, target, port) and self._ingress(source, target, port)

    def _governing(self, endpoint: Endpoint, direction: str) -> list[Manifest]:
        if endpoint.namespace != self.namespace:
            return []
        return [
            policy
            for policy in self.policies
            if direction in _policy_types(policy)
            and selects(policy["spec"]["podSelector"], endpoint.labels)
        ]

    def _egress(self, source: Endpoint, target: Endpoint, port: Port) -> bool:
        governing = self._governing(source, "Egress")
        if not governing:
            return True
        rules = (rule for policy in governing for rule in policy["spec"].get("egress") or [])
        return any(self._rule(rule, "to", target, target, port) for rule in rules)

    def _ingress(self, source: Endpoint, target: Endpoint, port: Port) -> bool:
        governing = self._governing(target, "Ingress")
        if not governing:
            return True
        rules = (rule for policy in governing for rule in policy["spec"].get("ingress") or [])
        return any(self._rule(rule, "from", source, target, port) for rule in rules)

    def _rule(
        self, rule: Manifest, side: str, peer: Endpoint, target: Endpoint, port: Port
    ) -> bool:
        peers = rule.get(side) or []
        ports = rule.get("ports") or []
        peer_ok = not peers or any(self._peer(entry, peer) for entry in peers)
        port_ok = not ports or any(_port(entry, target, port) for entry in ports)
        return peer_ok and port_ok

    def _peer(self, entry: Manifest, endpoint: Endpoint) -> bool:
        if "ipBlock" in entry:
            return endpoint.address is not None and _in_block(entry["ipBlock"], endpoint.address)
        if endpoint.namespace is None:
            return False
        namespace_selector = entry.get("namespaceSelector")
        if namespace_selector is None:
            in_namespace = endpoint.namespace == self.namespace
        else:
            in_namespace = selects(namespace_selector, endpoint.namespace_labels)
        pod_selector = entry.get("podSelector")
        return in_namespace and (pod_selector is None or selects(pod_selector, endpoint.labels))


def _policy_types(policy: Manifest) -> list[str]:
    spec = policy["spec"]
    default = ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]
    types: list[str] = spec.get("policyTypes") or default
    return types


def _in_block(block: Manifest, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    excepted = any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except") or [])
    return ip in ipaddress.ip_network(block["cidr"]) and not excepted


def _port(entry: Manifest, target: Endpoint, port: Port) -> bool:
    if entry.get("protocol", "TCP") != port.protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return port.name == wanted and port in target.ports
    return int(wanted) <= port.number <= int(entry.get("endPort") or wanted)


# --- the arrows ARCHITECTURE.md declares -------------------------------------------------------

Arrow = tuple[str, str, int, str]
_TABLE_HEADING = "## Who talks to whom"
_PORT = re.compile(r"(\d+)(?:/(tcp|udp))?", re.IGNORECASE)


def declared_arrows(pods: Iterable[str]) -> set[Arrow]:
    """Rows of the table under "Who talks to whom": `| from | to | ports | why |`.

    `every pod` in the first column stands for every pod of the namespace."""
    arrows: set[Arrow] = set()
    pods = list(pods)
    for source, target, ports in _table_rows():
        sources = pods if source == "every pod" else [source]
        for name in sources:
            arrows |= {(name, target, number, protocol) for number, protocol in ports}
    return arrows


def _table_rows() -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    text = ARCHITECTURE.read_text()
    section = text.split(_TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not _PORT.match(cells[2]):
            continue
        ports = [
            (int(number), (protocol or "tcp").upper())
            for number, protocol in _PORT.findall(cells[2])
        ]
        yield cells[0], cells[1], ports
