"""Replicas a test started beside the session's system, and took out again.

Their logs still belong to the session: the end-of-session log checks read them too.
"""

from deploy.local.services import ServiceProcess
from tests.integration.harness import System

# Replicas that tests started and later stopped or took out of ``system``.
RETIRED_PROCESSES: list[ServiceProcess] = []


def retire(system: System, *processes: ServiceProcess) -> None:
    """Stop extra processes and take them out of ``system`` (their logs still get checked)."""
    for proc in processes:
        proc.stop()
        system.processes[proc.name].remove(proc)
        RETIRED_PROCESSES.append(proc)
