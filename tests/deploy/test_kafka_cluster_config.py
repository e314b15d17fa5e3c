"""KAFKA_BROKERS: one broker on loopback by default, or a cluster of brokers that each have
their own id, address, log dir and a say in one controller quorum."""

from pathlib import Path

import pytest

from deploy.local._stack_components import _kafka_properties, components
from deploy.local._stack_config import StackConfig

PORTS = {"STACK_KAFKA_PORT": "19592", "STACK_KAFKA_CONTROLLER_PORT": "19593"}


def properties(config: StackConfig, node: int) -> dict[str, str]:
    text = _kafka_properties(config, Path(f"/data/{node}"), node)
    return dict(line.split("=", 1) for line in text.splitlines())


def test_one_broker_on_loopback_stays_the_default() -> None:
    config = StackConfig.from_env(PORTS)
    settings = properties(config, 1)

    assert config.kafka_bootstrap == "127.0.0.1:19592"
    assert "kafka" in components(config)
    assert settings["node.id"] == "1"
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:19593"
    assert settings["default.replication.factor"] == "1"
    assert "TASKS_TOPIC_REPLICATION_FACTOR" not in config.client_env()


def test_three_brokers_each_have_their_own_id_address_and_log_dir() -> None:
    config = StackConfig.from_env({**PORTS, "KAFKA_BROKERS": "3"})
    nodes = [properties(config, node) for node in (1, 2, 3)]

    assert [n["node.id"] for n in nodes] == ["1", "2", "3"]
    assert len({n["listeners"] for n in nodes}) == 3
    assert len({n["log.dirs"] for n in nodes}) == 3
    assert len({n["controller.quorum.voters"] for n in nodes}) == 1
    assert nodes[0]["controller.quorum.voters"].count("@") == 3
    assert config.kafka_bootstrap.count(",") == 2
    assert [name for name in components(config) if name.startswith("kafka")] == [
        "kafka-1",
        "kafka-2",
        "kafka-3",
    ]


def test_a_cluster_replicates_three_times_and_acknowledges_at_two() -> None:
    config = StackConfig.from_env({**PORTS, "KAFKA_BROKERS": "3"})
    settings = properties(config, 2)

    assert settings["default.replication.factor"] == "3"
    assert settings["min.insync.replicas"] == "2"
    assert settings["offsets.topic.replication.factor"] == "3"
    assert config.client_env()["TASKS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert config.client_env()["TASKS_TOPIC_MIN_INSYNC_REPLICAS"] == "2"


def test_two_stacks_never_share_a_cluster_network() -> None:
    mine = StackConfig.from_env({**PORTS, "KAFKA_BROKERS": "3"})
    other = StackConfig.from_env({"STACK_KAFKA_PORT": "9092", "KAFKA_BROKERS": "3"})

    assert mine.kafka_subnet != other.kafka_subnet
    assert mine.kafka_bridge != other.kafka_bridge
    assert mine.kafka_netns(1) != other.kafka_netns(1)
    assert len(mine.kafka_link(1)) <= 15  # Linux interface names


@pytest.mark.parametrize("count", ["0", "6", "three"])
def test_broker_counts_outside_one_to_five_are_refused(count: str) -> None:
    with pytest.raises(ValueError, match="KAFKA_BROKERS"):
        StackConfig.from_env({"KAFKA_BROKERS": count})
