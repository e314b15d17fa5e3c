"""``make test``: bring up the test stack, run unit and integration tests and a smoke run of
``make bench``, then stop what we started.

The test stack runs on its own ports and state dir so it never disturbs a ``make run`` stack.
Extra arguments are passed to pytest (``testrun.py tests/integration/test_tasks.py -x``).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # as a script only deploy/local/ is on the path

from deploy.local._stack_config import StackConfig  # noqa: E402

# TEST_STACK_PORT_OFFSET moves every test-stack port, so two clones can test side by side.
_OFFSET = int(os.environ.get("TEST_STACK_PORT_OFFSET", "0"))
TEST_STACK = {
    "STACK_DIR": str(REPO / ".local" / "test-stack"),
    "STACK_KAFKA_PORT": str(19092 + _OFFSET),
    "STACK_KAFKA_CONTROLLER_PORT": str(19093 + _OFFSET),
    "STACK_MONGO_PORT": str(27018 + _OFFSET),
    "STACK_REDIS_PORT": str(6380 + _OFFSET),
    "STACK_OIDC_PORT": str(18070 + _OFFSET),
}


def stack(*args: str, env: dict[str, str]) -> int:
    command = [sys.executable, str(REPO / "deploy" / "local" / "stack.py"), *args]
    return subprocess.call(command, cwd=REPO, env=env)


def infra_env() -> dict[str, str]:
    """Where the test stack listens (with KAFKA_BROKERS=3: every broker, and the topic's RF)."""
    return StackConfig.from_env({**os.environ, **TEST_STACK}).client_env()


def main(pytest_args: list[str]) -> int:
    env = {**os.environ, **TEST_STACK, **infra_env()}
    started = time.monotonic()
    print("==> test stack: installing what is missing and starting it", flush=True)
    if stack("up", env=env) != 0:
        print("test stack failed to start", file=sys.stderr)
        return 1
    print(f"==> test stack ready in {time.monotonic() - started:.1f}s", flush=True)
    try:
        args = pytest_args or ["services", "tests"]
        status = subprocess.call([sys.executable, "-m", "pytest", *args], cwd=REPO, env=env)
        if status != 0 or pytest_args:
            return status
        # The full run also smoke-tests `make bench`, so the benchmarks cannot rot.
        print("==> bench smoke (tiny sizes; figures are not meaningful)", flush=True)
        bench = [sys.executable, "bench/run.py", "--smoke", "--test-stack"]
        return subprocess.call(bench, cwd=REPO, env=env)
    finally:
        print("==> stopping what this run started", flush=True)
        stack("down", "--started-only", env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
