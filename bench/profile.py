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


def _py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def _function(frame: str) -> str:
    # "handle (services/gateway/app/routing.py:42)" -> "handle (services/gateway/app/routing.py)"
    return frame.rsplit(":", 1)[0] + ")" if frame.endswith(")") and ":" in frame else frame


def summarize(
    folded: str, top: int = TOP
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Inclusive and self shares (percent of samples) of the busiest functions."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1]] += count
        for function in set(frames):
            inclusive[function] += count
    if not total:
        return [], []

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * count / total) for name, count in counter.most_common(top)]

    return shares(inclusive), shares(own)


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
    inclusive, own = summarize(folded)
    if not inclusive:
        return [f"### {title}", "", "py-spy produced no samples.", ""]
    lines = [f"### {title}", "", "| function (inclusive) | % of samples |", "|---|---:|"]
    lines += [f"| `{name}` | {share:.1f} |" for name, share in inclusive]
    lines += ["", "| function (self) | % of samples |", "|---|---:|"]
    lines += [f"| `{name}` | {share:.1f} |" for name, share in own]
    return [*lines, ""]
