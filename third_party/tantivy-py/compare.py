#!/usr/bin/env python3
"""Two builds of the wheel, side by side, on the search service's own engine queries.

    .venv/bin/python third_party/tantivy-py/compare.py A.whl B.whl [--tasks N] [--queries N]

The installed build indexes the search bench's tasks (one owner, as there) into a temporary
folder; one worker process per wheel opens that index and runs the engine part of a search
(``build_query``, ``search`` with the count, the page's stored documents), query by query,
the two workers taking turns (ABBA), so both meet the same moments of a shared machine.
Prints each build's latency figures and the median ratio B/A per query shape.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import IO

# As a script, Python puts only this folder on sys.path; the project's modules need the root.
# (A worker puts its wheel's folder in front of both, so it imports that build's tantivy.)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tantivy

from bench.corpus import backlog_event, queries, vocabulary
from services.search.app.index import ANALYZER, TaskIndex, build_analyzer
from services.search.app.query import SearchFilters, build_query, query_words

OWNER = "owner-1"


def build_index(path: Path, tasks: int) -> None:
    index = TaskIndex.create(path, topic="compare", heap_bytes=100_000_000)
    rng, words = random.Random(tasks), vocabulary()
    for offset in range(tasks):
        index.stage(partition=0, offset=offset, event=backlog_event(rng, words, OWNER))
        if index.staged_records == 2_000:
            index.commit()
    index.commit()
    index.close()


def shaped_queries(count: int) -> list[tuple[str, str]]:
    """The search bench's query mix, each with its shape (see bench/corpus.py)."""

    def shape(text: str) -> str:
        if " " in text:
            return "two words"
        return "prefix" if len(text) == 3 else "word or typo"

    return [(shape(text), text) for text in queries(count, seed=1)]


def worker(index_path: Path) -> None:
    """Reads queries on stdin; answers each with its engine time in seconds."""
    index = tantivy.Index.open(str(index_path))
    analyzer = build_analyzer()
    index.register_tokenizer(ANALYZER, analyzer)
    searcher, filters = index.searcher(), SearchFilters(owner_id=OWNER)
    build = {"version": metadata.version("tantivy"), "module": tantivy.__file__}
    print(json.dumps({**build, "docs": searcher.num_docs}), flush=True)
    for line in sys.stdin:
        started = time.perf_counter()
        words = query_words(analyzer, json.loads(line))
        result = searcher.search(build_query(index.schema, words=words, filters=filters), 20)
        for _, address in result.hits:
            searcher.doc(address)
        print(time.perf_counter() - started, flush=True)


def start_worker(wheel: Path, site: Path, index_path: Path) -> subprocess.Popen[str]:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = (
        f"import sys; sys.path[:0] = [{str(site)!r}, {str(Path(__file__).parent)!r}];"
        f"from pathlib import Path; import compare; compare.worker(Path({str(index_path)!r}))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def ask(process: subprocess.Popen[str], text: str) -> float:
    stdin, stdout = process.stdin, process.stdout
    assert stdin is not None
    assert stdout is not None
    stdin.write(json.dumps(text) + "\n")
    stdin.flush()
    return float(stdout.readline())


def summary(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    at = [ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in (0.5, 0.9, 0.99)]
    mean = statistics.fmean(seconds) * 1000
    return f"p50 {at[0]:.2f} ms, p90 {at[1]:.2f}, p99 {at[2]:.2f}, mean {mean:.2f}"


def compare(wheels: list[Path], tasks: int, count: int, out: IO[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        index_path = Path(scratch) / "index"
        build_index(index_path, tasks)
        workers = [
            start_worker(wheel, Path(scratch) / f"site-{n}", index_path)
            for n, wheel in enumerate(wheels)
        ]
        for wheel, process in zip(wheels, workers, strict=True):
            assert process.stdout is not None
            out.write(f"{wheel.name}: {process.stdout.readline().strip()}\n")
        times: list[list[float]] = [[], []]
        shaped = shaped_queries(count)
        for n, (_, text) in enumerate(shaped):
            order = (0, 1) if n % 2 == 0 else (1, 0)
            for which in order:
                times[which].append(ask(workers[which], text))
        for process in workers:
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    for wheel, seconds in zip(wheels, times, strict=True):
        out.write(f"{wheel.name}: {summary(seconds)}\n")
    for shape in sorted({shape for shape, _ in shaped}):
        ratios = [b / a for (s, _), a, b in zip(shaped, *times, strict=True) if s == shape]
        out.write(f"  {shape}: B/A median {statistics.median(ratios):.3f} ({len(ratios)})\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("wheels", type=Path, nargs=2, metavar="WHEEL")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_200)
    args = parser.parse_args()
    compare(args.wheels, args.tasks, args.queries, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
