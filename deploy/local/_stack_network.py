"""A private network for a Kafka cluster: one network namespace per broker, joined by a bridge.

Each broker of ``KAFKA_BROKERS=3`` runs in its own namespace with its own address (the
bridge's /24), so cutting one off is a real partition: its end of the bridge goes down and it
can reach neither the clients nor the other brokers until it comes back up. Only addresses
this machine makes itself; nothing is routed beyond the bridge. Needs root (``ip netns``).
"""

import os
import subprocess

from deploy.local._stack_config import StackConfig
from deploy.local._stack_install import StackError, require


def _ip(*args: str, check: bool = True) -> bool:
    done = subprocess.run(
        [require("ip", "iproute2 (apt-get install iproute2)"), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise StackError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.returncode == 0


def _exists(kind: str, name: str) -> bool:
    if kind == "netns":
        return (
            name
            in subprocess.run(
                ["ip", "netns", "list"], capture_output=True, text=True, check=False
            ).stdout.split()
        )
    return _ip("link", "show", name, check=False)


def ensure_broker_network(config: StackConfig) -> None:
    """Create the bridge and each broker's namespace and link once; later calls do nothing."""
    if os.geteuid() != 0:
        raise StackError("KAFKA_BROKERS > 1 needs root: each broker gets a network namespace")
    bridge = config.kafka_bridge
    if not _exists("link", bridge):
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"{config.kafka_subnet}.1/24", "dev", bridge)
    _ip("link", "set", bridge, "up")
    for node in range(1, config.kafka_brokers + 1):
        _ensure_broker_namespace(config, node)


def _ensure_broker_namespace(config: StackConfig, node: int) -> None:
    namespace, link = config.kafka_netns(node), config.kafka_link(node)
    if not _exists("netns", namespace):
        _ip("netns", "add", namespace)
    if not _exists("link", link):
        peer = f"{link}p"
        _ip("link", "add", link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", namespace)
        inside = ("netns", "exec", namespace, "ip")
        _ip(*inside, "link", "set", peer, "name", "eth0")
        _ip(*inside, "addr", "add", f"{config.kafka_host(node)}/24", "dev", "eth0")
        _ip(*inside, "link", "set", "eth0", "up")
        _ip(*inside, "link", "set", "lo", "up")
        _ip("link", "set", link, "master", config.kafka_bridge)
    _ip("link", "set", link, "up")


def cut_off(config: StackConfig, node: int) -> None:
    """Partition one broker: its link to the bridge goes down (clients and peers lose it)."""
    _ip("link", "set", config.kafka_link(node), "down")


def reconnect(config: StackConfig, node: int) -> None:
    _ip("link", "set", config.kafka_link(node), "up")


def remove_broker_network(config: StackConfig) -> None:
    for node in range(1, config.kafka_brokers + 1):
        _ip("link", "del", config.kafka_link(node), check=False)
        _ip("netns", "del", config.kafka_netns(node), check=False)
    _ip("link", "del", config.kafka_bridge, check=False)


def in_namespace(config: StackConfig, node: int) -> list[str]:
    """The command prefix that runs a broker inside its namespace (it execs: same pid)."""
    return ["ip", "netns", "exec", config.kafka_netns(node)]
