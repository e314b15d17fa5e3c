"""The servers of the local stack: how each is installed, configured, run and probed."""

import base64
import json
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from deploy.local._stack_config import StackConfig
from deploy.local._stack_install import (
    OIDC_PROVIDER_MAIN,
    StackError,
    ferretdb_argv,
    install_ferretdb,
    install_kafka,
    install_oidc_provider,
    install_redis,
    require,
    say,
)
from deploy.local._stack_network import in_namespace
from deploy.local._stack_probes import (
    probe_kafka,
    probe_mongo,
    probe_oidc_provider,
    probe_redis,
)


@dataclass(frozen=True)
class Component:
    name: str
    install: Callable[[Path], Path]  # cache dir -> what was installed there
    argv: Callable[[StackConfig, Path], list[str]]  # writes config, returns the command line
    probe: Callable[[StackConfig], Awaitable[None]]
    ready_timeout: float  # a cold JVM on two busy cores is slow
    stop_timeout: float  # Kafka flushes and closes its logs on SIGTERM
    env: Mapping[str, str] = field(default_factory=dict)  # added to the environment it runs in


KAFKA_JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

KAFKA_LOG4J = """\
# Everything to a size-capped file; only warnings and worse to stdout (the kafka.log we keep).
log4j.rootLogger=INFO, file, stdout
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={server_log}
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.Threshold=WARN
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def _kafka_properties(config: StackConfig, data: Path, node: int) -> str:
    port, controller = config.kafka_port, config.kafka_controller_port
    host = config.kafka_host(node)
    replicas, min_insync = config.kafka_replication_factor, config.kafka_min_insync_replicas
    voters = ",".join(f"{n}@{config.kafka_host(n)}:{controller}" for n in config.kafka_nodes)
    settings = {
        # Every node is broker and controller: three processes, not six, on a laptop, and a
        # quorum of three survives the loss of one, as the partitions' replicas do.
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_insync),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_insync),
        # A lone broker has nobody to wait for; the 3 s default only slows every group join.
        "group.initial.rebalance.delay.ms": "0",
        # Kafka's default, stated so nobody has to look it up: producers may create topics.
        "auto.create.topics.enable": "true",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def _cluster_id(home: Path) -> str:
    """The cluster id chosen at the first format, kept so a re-format never changes it."""
    path = home / "cluster-id"
    if not path.exists():
        cluster_id = "-"
        # Kafka ids are URL-safe base64 of 16 bytes; one starting with "-" reads as a flag.
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.write_text(f"{cluster_id}\n")
    return path.read_text().strip()


def _format_kafka_storage(
    java_argv: list[str], properties: Path, log: Path, cluster_id: str
) -> None:
    say(f"kafka: formatting storage once (cluster id {cluster_id})")
    command = [*java_argv, "kafka.tools.StorageTool", "format"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        formatted = subprocess.run(
            [*command, "-t", cluster_id, "-c", str(properties)],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if formatted.returncode != 0:
        raise StackError(f"kafka: formatting storage failed; see {log}")


def _kafka_argv(config: StackConfig, kafka_home: Path, node: int = 1) -> list[str]:
    name = config.kafka_component(node)
    home = config.home(name)
    data = home / "data"
    data.mkdir(parents=True, exist_ok=True)
    properties = home / "server.properties"
    properties.write_text(_kafka_properties(config, data, node))
    log4j = home / "log4j.properties"
    log4j.write_text(KAFKA_LOG4J.format(server_log=config.log_file(f"{name}-server")))
    java = [
        require("java", "a JDK 17+ (apt-get install openjdk-17-jdk-headless)"),
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{kafka_home / 'libs'}/*",
    ]
    if not (data / "meta.properties").exists():
        # The brokers of a cluster share one id, kept in the single broker's home.
        config.home("kafka").mkdir(parents=True, exist_ok=True)
        cluster_id = _cluster_id(config.home("kafka"))
        _format_kafka_storage(java, properties, config.log_file(name), cluster_id)
    prefix = in_namespace(config, node) if config.kafka_cluster else []
    return [*prefix, *java, *KAFKA_JVM_OPTIONS, "kafka.Kafka", str(properties)]


def _mongo_argv(config: StackConfig, binary: Path) -> list[str]:
    home = config.home("mongo")
    (home / "data").mkdir(parents=True, exist_ok=True)
    return ferretdb_argv(binary, home, config.mongo_port)


def _redis_argv(config: StackConfig, binary: Path) -> list[str]:
    home = config.home("redis")
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "redis.conf"
    conf.write_text(
        "bind 127.0.0.1\n"
        f"port {config.redis_port}\n"
        # We own the process: it stays in the foreground and logs to the file we gave it.
        "daemonize no\n"
        'logfile ""\n'
        f"dir {home}\n"
        "appendonly yes\n"
        "appendfsync everysec\n"
    )
    return [str(binary), str(conf)]


OIDC_JVM_OPTIONS = (
    "-Xms32m",
    "-Xmx192m",
    # A small, mostly idle server: one GC thread and the quick JIT start it in ~2 s less.
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
# interactiveLogin: the authorize endpoint answers with an HTML form (username, extra claims
# as JSON) that tests post like a browser; without it the provider signs anyone in at once.
OIDC_PROVIDER_CONFIG = {"interactiveLogin": True}


def _oidc_provider_argv(config: StackConfig, home: Path) -> list[str]:
    config.home("oidc").mkdir(parents=True, exist_ok=True)
    java = require("java", "a JDK 17+ (apt-get install openjdk-17-jdk-headless)")
    # The server reads its port and settings from the environment only; `env` sets them and
    # execs java, so the pidfile still names the JVM.
    settings = [
        f"SERVER_PORT={config.oidc_port}",
        f"JSON_CONFIG={json.dumps(OIDC_PROVIDER_CONFIG)}",
    ]
    classpath = ["-cp", f"{home / 'libs'}/*"]
    env = require("env", "coreutils")
    return [env, *settings, java, *OIDC_JVM_OPTIONS, *classpath, OIDC_PROVIDER_MAIN]


COMPONENTS = {
    component.name: component
    for component in (
        Component(
            name="kafka",
            install=install_kafka,
            argv=_kafka_argv,
            probe=lambda config: probe_kafka(config.kafka_bootstrap),
            ready_timeout=120,
            stop_timeout=30,
        ),
        Component(
            name="mongo",
            install=install_ferretdb,
            argv=_mongo_argv,
            probe=lambda config: probe_mongo(config.mongo_url),
            ready_timeout=30,
            stop_timeout=10,
            # Go collects garbage when the heap doubles; FerretDB allocates a lot per command
            # and keeps little, so GC was a quarter of its CPU. Collecting at 5x the live heap
            # (tens of MB) cut its CPU at 100 task writes/s from ~0.36 to ~0.32 of a core.
            env={"GOGC": "400"},
        ),
        Component(
            name="redis",
            install=install_redis,
            argv=_redis_argv,
            probe=lambda config: probe_redis(config.redis_url),
            ready_timeout=30,
            stop_timeout=10,
        ),
        Component(
            name="oidc",
            install=install_oidc_provider,
            argv=_oidc_provider_argv,
            probe=lambda config: probe_oidc_provider(config.oidc_url),
            ready_timeout=60,
            stop_timeout=10,
        ),
    )
}


def kafka_broker(config: StackConfig, node: int) -> Component:
    """Broker ``node`` of a cluster: the single-broker component, at its own address."""
    return replace(
        COMPONENTS["kafka"],
        name=config.kafka_component(node),
        argv=partial(_kafka_argv, node=node),
        probe=lambda stack: probe_kafka(stack.kafka_address(node)),
    )


def components(config: StackConfig) -> dict[str, Component]:
    """The stack's components; with ``KAFKA_BROKERS`` > 1, one per broker instead of kafka."""
    if not config.kafka_cluster:
        return dict(COMPONENTS)
    brokers = {config.kafka_component(n): kafka_broker(config, n) for n in config.kafka_nodes}
    return {**brokers, **{name: c for name, c in COMPONENTS.items() if name != "kafka"}}
