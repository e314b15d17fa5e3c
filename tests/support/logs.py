"""This session's log lines, and the checks run on all of them once the session is over.

``tests/integration/conftest.py`` records the session's system in ``SESSION_SYSTEMS`` and, when
the session finishes (every test done, every process stopped), fails the session if a line is
not structured JSON or holds a secret of ``tests.support.secrets.SESSION_SECRETS``.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from deploy.local.services import ServiceProcess
from tests.integration.harness import LOG_DIR, System
from tests.support.processes import RETIRED_PROCESSES
from tests.support.secrets import SESSION_SECRETS

REQUIRED_FIELDS = ("service", "level", "request_id", "trace_id")
# Log files may be appended to by earlier sessions (ports get reused); only what this session
# wrote is checked, so remember where every existing log ended when the tests were collected.
LOG_OFFSETS_AT_START: dict[Path, int] = {
    path: path.stat().st_size for path in LOG_DIR.glob("*.log") if path.is_file()
}
# The systems this session started (the ``system`` fixture's), running or stopped.
SESSION_SYSTEMS: list[System] = []


def session_processes(system: System) -> list[ServiceProcess]:
    return [proc for procs in system.processes.values() for proc in procs] + RETIRED_PROCESSES


def session_log(path: Path) -> str:
    """What this session appended to ``path`` (earlier sessions may have used the same port)."""
    with path.open("rb") as log:
        log.seek(LOG_OFFSETS_AT_START.get(path, 0))
        return log.read().decode("utf-8", errors="replace")


def session_lines(system: System) -> Iterator[tuple[Path, str]]:
    paths = {proc.log_path for proc in session_processes(system)}
    for path in sorted(paths):
        if not path.is_file():
            continue
        # Split on newlines only: a JSON string may hold U+2028 or U+0085 unescaped.
        for line in session_log(path).split("\n"):
            if line.strip():
                yield path, line


def parsed(line: str) -> dict[str, Any] | None:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) else None


def session_secrets(system: System) -> set[str]:
    """Every secret recorded this session, and the gateway's identity-signing secret."""
    return {*SESSION_SECRETS, system.env["INTERNAL_SIGNING_SECRET"]}


def leaked_secrets(system: System) -> list[str]:
    """``file: first 6 characters…`` of each secret found in a log line (never the secret)."""
    secrets = session_secrets(system)
    leaks = {
        f"{path.name}: {secret[:6]}…"
        for path, line in session_lines(system)
        for secret in secrets
        if secret in line
    }
    return sorted(leaks)


def unstructured_lines(system: System) -> list[str]:
    """Lines that are not a JSON object with every field of ``REQUIRED_FIELDS``."""
    bad = []
    for path, line in session_lines(system):
        entry = parsed(line)
        if entry is None or any(field not in entry for field in REQUIRED_FIELDS):
            bad.append(f"{path.name}: {line[:300]}")
    return bad


def log_check_failures(system: System) -> list[str]:
    """What the end-of-session check reports; empty when the logs are clean."""
    failures = []
    leaks = leaked_secrets(system)
    if leaks:
        failures.append(f"secrets found in logs ({len(leaks)}): {leaks[:20]}")
    bad = unstructured_lines(system)
    if bad:
        failures.append(f"{len(bad)} unstructured log lines, first ones:\n" + "\n".join(bad[:10]))
    return failures
