"""Taskstream's local infrastructure without Docker: real Kafka (KRaft), FerretDB, Redis and
an OpenID provider.

    stack.py install | install-tools
             | up [component ...] | down [--started-only] [component ...] | status | env

Components are kafka, mongo (FerretDB), redis and oidc (mock-oauth2-server, the provider that
social sign-in is developed and tested against); naming none means all four. Builds are
cached per machine in ${XDG_CACHE_HOME:-~/.cache}/taskstream; data, logs and pidfiles live in
$STACK_DIR (default .local/stack). Ports come from STACK_KAFKA_PORT (9092),
STACK_KAFKA_CONTROLLER_PORT (9093), STACK_MONGO_PORT (27017), STACK_REDIS_PORT (6379) and
STACK_OIDC_PORT (8070), so several stacks can run side by side.

KAFKA_BROKERS=3 runs a Kafka cluster instead: components kafka-1..kafka-3 (``kafka`` names
them all), each in its own network namespace on the same ports (root only), and
``net-cut kafka-2`` / ``net-heal kafka-2`` partition one broker off and back.
"""

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

# As a script, Python puts only this directory on sys.path; the helpers are imported as
# deploy.local.* (the way mypy and pytest see them), so the repo root must be there too.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.local._stack_components import Component, components
from deploy.local._stack_config import StackConfig
from deploy.local._stack_install import StackError, apt_install, say
from deploy.local._stack_network import (
    cut_off,
    ensure_broker_network,
    reconnect,
    remove_broker_network,
)
from deploy.local._stack_probes import Died, NotReadyInTime, wait_until_ready
from deploy.local._stack_process import (
    Popen,
    port_in_use,
    recorded_pid,
    rss_mib,
    running_pid,
    spawn,
    terminate,
    wait_stopped,
    write_pidfile,
)

BENCH_TOOLS = ("wrk", "nginx", "kcat")
STARTED, FOUND_RUNNING = "started", "found-running"


@dataclass(frozen=True)
class Launch:
    """A component `up` is waiting for: one it just started, or one it found running."""

    component: Component
    pid: int
    process: Popen | None
    alive: Callable[[], bool]
    since: float


def install(config: StackConfig) -> int:
    started = time.monotonic()
    for name, component in components(config).items():
        say(f"{name}: {component.install(config.cache_dir)}")
    say(f"install: done in {time.monotonic() - started:.1f} s")
    return 0


def install_tools(config: StackConfig) -> int:
    apt_install("tools", BENCH_TOOLS, config.cache_dir)
    say(f"tools: {', '.join(BENCH_TOOLS)} installed")
    return 0


def up(config: StackConfig, names: list[str], *, full: bool) -> int:
    known = components(config)
    installed = {name: known[name].install(config.cache_dir) for name in names}
    if config.kafka_cluster and any(name.startswith("kafka") for name in names):
        ensure_broker_network(config)
    launches = []
    for name in names:
        launch = _find_running(config, name) or _start(config, known[name], installed[name])
        if launch is not None:
            launches.append(launch)
    _record_started(config, {la.component.name: la.process is not None for la in launches}, full)
    ready = asyncio.run(_wait_all_ready(config, launches))
    return 0 if ready and len(launches) == len(names) else 1


def _find_running(config: StackConfig, name: str) -> Launch | None:
    pidfile = config.pid_file(name)
    pid = running_pid(pidfile)
    if pid is None:
        if pidfile.exists():
            say(f"{name}: pid {recorded_pid(pidfile)} is gone (stale pidfile); starting anew")
            pidfile.unlink()
        return None
    alive = partial(_still_running, config, name, pid)
    return Launch(components(config)[name], pid, None, alive, time.monotonic())


def _still_running(config: StackConfig, name: str, pid: int) -> bool:
    return running_pid(config.pid_file(name)) == pid


def _start(config: StackConfig, component: Component, installed: Path) -> Launch | None:
    name = component.name
    # A cluster's brokers listen in their own namespaces, where these ports are always free.
    on_host = not (config.kafka_cluster and name.startswith("kafka"))
    busy = [port for port in config.ports(name) if on_host and port_in_use(port)]
    if busy:
        say(f"{name}: port {busy[0]} is in use by a process this stack did not start")
        return None
    argv = component.argv(config, installed)
    log = config.log_file(name)
    process = spawn(argv, log=log, cwd=config.home(name), env={**os.environ, **component.env})
    write_pidfile(config.pid_file(name), process.pid)
    say(f"{name}: starting, pid {process.pid}, log {log}")
    alive = partial(_is_running, process)
    return Launch(component, process.pid, process, alive, time.monotonic())


def _is_running(process: Popen) -> bool:
    return process.poll() is None


async def _wait_all_ready(config: StackConfig, launches: list[Launch]) -> bool:
    results = await asyncio.gather(*(_wait_ready(config, launch) for launch in launches))
    return all(results)


async def _wait_ready(config: StackConfig, launch: Launch) -> bool:
    name, timeout = launch.component.name, launch.component.ready_timeout
    probe = partial(launch.component.probe, config)
    try:
        await wait_until_ready(probe, alive=launch.alive, give_up_after=timeout)
    except Died:
        _report_died(config, name)
        return False
    except NotReadyInTime as exc:
        say(f"{name}: not ready after {timeout:.0f} s ({exc}); see {config.log_file(name)}")
        return False
    if launch.process is None:
        say(f"{name}: already up (pid {launch.pid})")
    else:
        say(f"{name}: ready in {time.monotonic() - launch.since:.1f} s")
    return True


def _report_died(config: StackConfig, name: str) -> None:
    log = config.log_file(name)
    say(f"{name}: DIED — see {log}")
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for line in lines[-12:]:
        say(f"    {line}")


def _read_record(config: StackConfig) -> dict[str, str]:
    try:
        lines = config.started_record.read_text().splitlines()
    except FileNotFoundError:
        return {}
    return dict(line.split(maxsplit=1) for line in lines if len(line.split()) == 2)


def _write_record(config: StackConfig, record: dict[str, str]) -> None:
    if not record:
        config.started_record.unlink(missing_ok=True)
        return
    config.started_record.parent.mkdir(parents=True, exist_ok=True)
    config.started_record.write_text("".join(f"{n} {how}\n" for n, how in record.items()))


def _record_started(config: StackConfig, started: dict[str, bool], full: bool) -> None:
    """Remember what this `up` started, for `down --started-only`.

    A full `up` rewrites the record. A partial one (a test restarting kafka) only adds what
    the record does not mention yet, so that restart cannot turn a server that was running
    before `make test` into one that `make test` started and must stop.
    """
    record = {} if full else _read_record(config)
    for name, was_started in started.items():
        record.setdefault(name, STARTED if was_started else FOUND_RUNNING)
    _write_record(config, record)


def down(config: StackConfig, names: list[str], *, started_only: bool, full: bool) -> int:
    record = _read_record(config)
    targets = [n for n in names if record.get(n) == STARTED] if started_only else names
    if not targets:
        say("down: the last full `up` started none of these; leaving them as they are")
    stopping = {name: pid for name in targets if (pid := _terminate(config, name)) is not None}
    since = time.monotonic()
    known = components(config)
    for name, pid in stopping.items():
        quiet = wait_stopped(pid, known[name].stop_timeout)
        config.pid_file(name).unlink(missing_ok=True)
        how = "" if quiet else ", killed after ignoring SIGTERM"
        say(f"{name}: stopped in {time.monotonic() - since:.1f} s{how}")
    if started_only or full:
        _write_record(config, {n: how for n, how in record.items() if n not in names})
    if full and config.kafka_cluster and not any(_brokers_running(config)):
        remove_broker_network(config)
    return 0


def _brokers_running(config: StackConfig) -> list[int]:
    names = (config.kafka_component(node) for node in config.kafka_nodes)
    return [pid for name in names if (pid := running_pid(config.pid_file(name))) is not None]


def set_link(config: StackConfig, names: list[str], *, connected: bool) -> int:
    """Cut brokers off the cluster's network, or join them again (a partition and its heal)."""
    if not config.kafka_cluster:
        say("net-cut/net-heal need a cluster (KAFKA_BROKERS > 1)")
        return 1
    for name in names:
        node = int(name.removeprefix("kafka-"))
        (reconnect if connected else cut_off)(config, node)
        say(f"{name}: {'back on' if connected else 'cut off'} the network")
    return 0


def _terminate(config: StackConfig, name: str) -> int | None:
    """SIGTERM a running component's process group; clear the pidfile of a dead one."""
    pidfile = config.pid_file(name)
    pid = running_pid(pidfile)
    if pid is None:
        stale = " (removed a stale pidfile)" if pidfile.exists() else ""
        pidfile.unlink(missing_ok=True)
        say(f"{name}: not running{stale}")
        return None
    terminate(pid)
    return pid


def status(config: StackConfig) -> int:
    say(f"stack: {config.state_dir}")
    pids = {name: running_pid(config.pid_file(name)) for name in components(config)}
    answering = asyncio.run(_answering(config, pids))
    died = False
    for name, pid in pids.items():
        ports = ",".join(str(port) for port in config.ports(name))
        if pid is not None:
            state = "up" if answering[name] else "running but not answering"
            say(f"{name}: {state}, pid {pid}, port {ports}, rss {rss_mib(pid):.0f} MiB")
        elif config.pid_file(name).exists():
            died = True
            say(f"{name}: DIED — see {config.log_file(name)}")
        else:
            say(f"{name}: down, port {ports}")
    return 1 if died else 0


async def _answering(config: StackConfig, pids: dict[str, int | None]) -> dict[str, bool]:
    names = [name for name, pid in pids.items() if pid is not None]
    known = components(config)
    answers = await asyncio.gather(*(_answers(config, known[name]) for name in names))
    return dict(zip(names, answers, strict=True))


async def _answers(config: StackConfig, component: Component) -> bool:
    try:
        await wait_until_ready(
            partial(component.probe, config), alive=lambda: True, give_up_after=3
        )
    except NotReadyInTime:
        return False
    return True


def print_env(config: StackConfig) -> int:
    for key, value in config.client_env().items():
        print(f"{key}={value}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="components: kafka (kafka-1..n with KAFKA_BROKERS=n), mongo, redis (none: all)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="fetch and build what is missing; start nothing")
    commands.add_parser("install-tools", help="apt-get install " + " ".join(BENCH_TOOLS))
    up_parser = commands.add_parser("up", help="start components and wait until they answer")
    up_parser.add_argument("components", nargs="*", metavar="component")
    down_parser = commands.add_parser("down", help="stop components")
    down_parser.add_argument("components", nargs="*", metavar="component")
    down_parser.add_argument(
        "--started-only", action="store_true", help="only what the last full `up` started"
    )
    for command, text in (("net-cut", "cut brokers off"), ("net-heal", "reconnect brokers")):
        link_parser = commands.add_parser(command, help=f"{text} (KAFKA_BROKERS > 1)")
        link_parser.add_argument("components", nargs="+", metavar="kafka-N")
    commands.add_parser("status", help="state, pid, port and memory of each component")
    commands.add_parser("env", help="the settings services need to reach this stack")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    config = StackConfig.from_env()
    known = components(config)
    chosen = _expand_kafka(config, getattr(args, "components", []))
    if unknown := sorted(set(chosen) - known.keys()):
        parser.error(f"unknown component {', '.join(unknown)}; choose from {', '.join(known)}")
    names = chosen or list(known)
    # aiokafka logs each refused connection while Kafka boots; here those are expected.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        match args.command:
            case "install":
                return install(config)
            case "install-tools":
                return install_tools(config)
            case "up":
                return up(config, names, full=not chosen)
            case "down":
                return down(config, names, started_only=args.started_only, full=not chosen)
            case "net-cut" | "net-heal":
                return set_link(config, names, connected=args.command == "net-heal")
            case "status":
                return status(config)
            case _:
                return print_env(config)
    except StackError as exc:
        say(f"error: {exc}")
        return 1


def _expand_kafka(config: StackConfig, names: list[str]) -> list[str]:
    """``kafka`` names every broker of a cluster, so ``down kafka`` stops them all."""
    brokers = [config.kafka_component(node) for node in config.kafka_nodes]
    return [expanded for name in names for expanded in (brokers if name == "kafka" else [name])]


if __name__ == "__main__":
    sys.exit(main())
