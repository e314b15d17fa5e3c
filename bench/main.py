"""``make bench``: start the system, run every benchmark, write the results files.

``--smoke`` runs everything tiny (for CI), writes under ``.local/bench/`` and fails unless
every required figure is a number.
"""

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench import (
    auth_bench,
    consistency_bench,
    flags_bench,
    gateway_bench,
    journey_bench,
    list_bench,
    live_bench,
    machine,
    report,
    search_bench,
    search_scale_bench,
    stream_bench,
    system,
    tasks_bench,
    web_bench,
)
from bench.client import FULL, SMOKE, Bench, Sizes, register, warm_up
from bench.http_client import open_http
from bench.kafka import delete_topics
from bench.profiles import PROFILE_INTRO, profile_missed_goals
from deploy.local import testrun
from deploy.local.services import REPO
from deploy.local.system import System

Benchmark = Callable[[Bench], Awaitable[dict[str, object]]]
# The write-heavy benchmarks go last: open-loop writes beyond what tasks on FerretDB sustains,
# and saturating reads beside writes, grow FerretDB's SQLite write-ahead log (hundreds of MB,
# checkpoints starved) until every write to that database takes seconds. Search adds a replica
# and a gateway of its own. The stream's 100 writes/s are within what tasks sustains: it runs
# before them, so its latencies are not those of a database they left behind.
BENCHMARKS: dict[str, Benchmark] = {
    "flags": flags_bench.run,
    "gateway": gateway_bench.run,
    "auth": auth_bench.run,
    "web": web_bench.run,
    "search": search_bench.run,
    "search_1m": search_scale_bench.run,
    "consistency": consistency_bench.run,
    "stream": stream_bench.run,
    "live": live_bench.run,
    "journey": journey_bench.run,
    "tasks_list": list_bench.run,
    "tasks": tasks_bench.run,
}


def say(message: str) -> None:
    print(f"==> bench: {message}", flush=True)


@dataclass
class Outcome:
    results: dict[str, object]
    failures: list[str]
    profile: list[str]


async def run_benchmarks(bench: Bench, only: list[str]) -> Outcome:
    """Every benchmark in turn; one that fails is reported and the others still run.

    A missed goal is profiled right after its benchmark, while the system is in that state:
    a later benchmark (tasks, see above) can leave it too slow to tell anything.
    """
    results: dict[str, object] = {}
    raw: dict[str, object] = {}
    failures = []
    profile: list[str] = []
    for name, benchmark in BENCHMARKS.items():
        if only and name not in only:
            continue
        say(f"{name} ...")
        started = time.monotonic()
        load_before = machine.load_average()
        running_before = {service: len(procs) for service, procs in bench.system.processes.items()}
        try:
            figures = await benchmark(bench)
        except Exception as exc:  # One broken service must not hide the others.
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            say(f"{name} FAILED: {failures[-1]}")
            stop_added(bench.system, running_before)
            continue
        raw[name] = {"load_average_before": load_before, "figures": figures.pop("raw", None)}
        results |= figures
        say(f"{name} done in {time.monotonic() - started:.0f} s")
        if bench.sizes.profile_missed_goals:
            profile += await profile_missed_goals(bench, figures)
        stop_added(bench.system, running_before)
    return Outcome({**results, "raw": raw}, failures, profile)


def stop_added(running: System, before: dict[str, int]) -> None:
    """Stop what a benchmark added (search's replica over the backlog and its gateway) once it
    has been profiled: the benchmarks after it measure the system as the others left it."""
    for service, processes in running.processes.items():
        added = processes[before.get(service, 0) :]
        for process in added:
            process.stop()
        del processes[before.get(service, 0) :]


async def measure(running: System, sizes: Sizes, work_dir: Path, only: list[str]) -> Outcome:
    async with open_http() as http:
        user = await register(http, running.gateway_url)
        bench = Bench(system=running, http=http, sizes=sizes, user=user, work_dir=work_dir)
        await warm_up(bench, bench.gateway)
        return await run_benchmarks(bench, only)


def run_system(sizes: Sizes, only: list[str]) -> Outcome:
    """Stack up, our own service processes, the benchmarks; everything we started is stopped."""
    system.install_tools()
    started_stack = system.stack_up()
    work_dir = Path(tempfile.mkdtemp(prefix="taskstream-bench-"))
    try:
        running = system.start(work_dir)
        try:
            return asyncio.run(measure(running, sizes, work_dir, only))
        finally:
            running.stop()
            _clean_up(running)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
        if started_stack:
            system.stack_down_started_only()


def _clean_up(running: System) -> None:
    """The run's database and topics go with it, so benchmarks do not fill the dev stack."""
    topic = running.env["KAFKA_TASK_EVENTS_TOPIC"]
    try:
        system.drop_database(running)
        bootstrap = running.env["KAFKA_BOOTSTRAP_SERVERS"]
        asyncio.run(delete_topics(bootstrap, [topic, f"{topic}-backlog"]))
    except Exception as exc:  # The figures are taken; leftovers only cost disk space.
        say(f"clean-up incomplete ({type(exc).__name__}: {exc}); database and topic stay")


def _notes(outcome: Outcome) -> list[str]:
    failures = [f"- {failure}" for failure in outcome.failures]
    profile = ["## Where the time goes", "", PROFILE_INTRO, "", *outcome.profile]
    return [
        *(["## Failures", "", *failures, ""] if failures else []),
        *(profile if outcome.profile else []),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument(
        "--only",
        nargs="*",
        default=[],
        choices=list(BENCHMARKS),
        help="run these benchmarks only; their figures replace theirs in the results file, the"
        " others stay, and `partial_runs` says which came from which run",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile missed goals, even in --smoke"
    )
    parser.add_argument(
        "--test-stack",
        action="store_true",
        help="use the test stack (ports 19092/27018/6380 + TEST_STACK_PORT_OFFSET)",
    )
    args = parser.parse_args(argv)
    if args.test_stack:
        # Read by stack.py (which stack to bring up) and by the harness (where it is).
        os.environ.update({**testrun.TEST_STACK, **testrun.infra_env()})
    sizes = SMOKE if args.smoke else FULL
    if args.profile:
        sizes = replace(sizes, profile_missed_goals=True)
    host = machine.describe()
    code = machine.code_version()
    outcome = run_system(sizes, args.only)
    host["load_average_at_end"] = machine.load_average()
    run = {"mode": "smoke" if args.smoke else "full", "only": args.only, **asdict(sizes)}
    results = {"machine": host, "code": code, "run": run, **outcome.results}
    results["failures"] = outcome.failures
    out_dir = REPO / (".local/bench" if args.smoke else "bench/results")
    name = "smoke" if args.smoke else "latest"
    if args.only and not args.smoke:
        results = report.merged_into(report.read_json(out_dir / f"{name}.json"), results)
    report.write_json(results, out_dir / f"{name}.json")
    report.write_markdown(results, _notes(outcome), out_dir / f"{name}.md")
    say(f"wrote {out_dir / name}.json and .md")
    missing = report.missing_keys(results)
    if missing:
        say(f"required figures missing or not numbers: {', '.join(missing)}")
    # A full run that lost a figure still writes what it has; CI's smoke run must fail.
    return 1 if args.smoke and (missing or outcome.failures) else 0
