"""Taskstream's local infrastructure without Docker: real Kafka (KRaft), FerretDB and Redis.

    stack.py install | install-tools
             | up [component ...] | down [--started-only] [component ...] | status | env

Components are kafka, mongo (FerretDB) and redis; naming none means all three. Builds are
cached per machine in ${XDG_CACHE_HOME:-~/.cache}/taskstream; data, logs and pidfiles live in
$STACK_DIR (default .local/stack). Ports come from STACK_KAFKA_PORT (9092),
STACK_KAFKA_CONTROLLER_PORT (9093), STACK_MONGO_PORT (27017) and STACK_REDIS_PORT (6379), so
several stacks can run side by side.
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

from deploy.local._stack_components import COMPONENTS, Component
from deploy.local._stack_config import StackConfig
from deploy.local._stack_install import StackError, apt_install, say
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
    for name, component in COMPONENTS.items():
        say(f"{name}: {component.install(config.cache_dir)}")
    say(f"install: done in {time.monotonic() - started:.1f} s")
    return 0


def install_tools(config: StackConfig) -> int:
    apt_install("tools", BENCH_TOOLS, config.cache_dir)
    say(f"tools: {', '.join(BENCH_TOOLS)} installed")
    return 0


def up(config: StackConfig, names: list[str], *, full: bool) -> int:
    installed = {name: COMPONENTS[name].install(config.cache_dir) for name in names}
    launches = []
    for name in names:
        launch = _find_running(config, name) or _start(config, COMPONENTS[name], installed[name])
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
    return Launch(COMPONENTS[name], pid, None, alive, time.monotonic())


def _still_running(config: StackConfig, name: str, pid: int) -> bool:
    return running_pid(config.pid_file(name)) == pid


def _start(config: StackConfig, component: Component, installed: Path) -> Launch | None:
    name = component.name
    busy = [port for port in config.ports(name) if port_in_use(port)]
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
    for name, pid in stopping.items():
        quiet = wait_stopped(pid, COMPONENTS[name].stop_timeout)
        config.pid_file(name).unlink(missing_ok=True)
        how = "" if quiet else ", killed after ignoring SIGTERM"
        say(f"{name}: stopped in {time.monotonic() - since:.1f} s{how}")
    if started_only or full:
        _write_record(config, {n: how for n, how in record.items() if n not in names})
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
    pids = {name: running_pid(config.pid_file(name)) for name in COMPONENTS}
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
    answers = await asyncio.gather(*(_answers(config, COMPONENTS[name]) for name in names))
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
        epilog="components: " + ", ".join(COMPONENTS) + " (none named: all)",
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
    commands.add_parser("status", help="state, pid, port and memory of each component")
    commands.add_parser("env", help="the settings services need to reach this stack")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    chosen: list[str] = getattr(args, "components", [])
    if unknown := sorted(set(chosen) - COMPONENTS.keys()):
        parser.error(f"unknown component {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}")
    names = chosen or list(COMPONENTS)
    # aiokafka logs each refused connection while Kafka boots; here those are expected.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    config = StackConfig.from_env()
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
            case "status":
                return status(config)
            case _:
                return print_env(config)
    except StackError as exc:
        say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
