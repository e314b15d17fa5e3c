"""Detached server processes tracked by pidfiles, stopped as whole process groups.

A pidfile holds the pid and the process start time (from /proc), so a pid that the kernel
has since handed to an unrelated process is never mistaken for ours.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

Popen = subprocess.Popen[bytes]


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    fields = raw[raw.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields


def _start_ticks(pid: int) -> str | None:
    fields = _proc_stat(pid)
    return None if fields is None else fields[19]


def write_pidfile(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid} {_start_ticks(pid) or 0}\n")


def recorded_pid(path: Path) -> int | None:
    """The pid a pidfile names, whether or not that process still runs."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def running_pid(path: Path) -> int | None:
    """The pid from a pidfile if that very process is still alive."""
    try:
        pid_text, ticks = path.read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    return pid if _start_ticks(pid) == ticks else None


def spawn(argv: Sequence[str], *, log: Path, cwd: Path, env: Mapping[str, str]) -> Popen:
    """Start a server in its own session, so it outlives us and stops as one group."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )


def _group_members(pgid: int) -> list[int]:
    """Live processes in a process group (a server's forks count as the server)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields is not None and fields[2] == str(pgid):
                members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_members(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pgid: int) -> None:
    _signal_group(pgid, signal.SIGTERM)


def wait_stopped(pgid: int, timeout: float) -> bool:
    """Wait for a terminated group to exit, SIGKILL it after `timeout`; True if it went quietly."""
    if _wait_group_gone(pgid, timeout):
        return True
    _signal_group(pgid, signal.SIGKILL)
    _wait_group_gone(pgid, 5.0)
    return False


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
