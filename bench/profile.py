"""Where a process spends its time under load, from py-spy's folded stacks.

py-spy needs ptrace on the target; when it cannot attach, the report says so instead.
"""

import asyncio
import shutil
import sys
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path

TOP = 15
PROJECT_PACKAGES = ("shared", "services")


def _py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def _function(frame: str) -> str:
    # "handle (services/gateway/app/routing.py:42)" -> "handle (services/gateway/app/routing.py)"
    return frame.rsplit(":", 1)[0] + ")" if frame.endswith(")") and ":" in frame else frame


def _package(function: str) -> str:
    """``shared``, ``services.gateway``, ``httpcore``, ...: who owns the frame's file."""
    path = function.rpartition("(")[2].rstrip(")")
    parts = path.split("/")
    return ".".join(parts[:2]) if parts[0] == "services" else parts[0]


def summarize(folded: str, top: int = TOP) -> dict[str, list[tuple[str, float]]]:
    """Shares (percent of samples): the project's own functions including what they call,
    and the busiest functions and packages by self time."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        packages[_package(frames[-1])] += count
        for function in set(frames):
            if _package(function).startswith(PROJECT_PACKAGES):
                inclusive[function] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * count / total) for name, count in counter.most_common(top)]

    return {
        "project code, inclusive": shares(inclusive),
        "function, self": shares(own),
        "package, self": shares(packages),
    }


async def record(pid: int, *, seconds: float, load: Awaitable[object], out: Path) -> str:
    """Sample ``pid`` while ``load`` runs; the folded stacks, or why there are none."""
    py_spy = _py_spy()
    if py_spy is None:
        return ""
    process = await asyncio.create_subprocess_exec(
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, (_, stderr) = await asyncio.gather(load, process.communicate())
    if process.returncode != 0:
        raise RuntimeError(f"py-spy failed: {stderr.decode(errors='replace')[-300:]}")
    return await asyncio.to_thread(out.read_text)


def markdown(title: str, folded: str) -> list[str]:
    tables = summarize(folded)
    if not any(tables.values()):
        return [f"### {title}", "", "py-spy produced no samples.", ""]
    lines = [f"### {title}", ""]
    for heading, rows in tables.items():
        lines += [f"| {heading} | % of samples |", "|---|---:|"]
        lines += [f"| `{name}` | {share:.1f} |" for name, share in rows]
        lines.append("")
    return lines
