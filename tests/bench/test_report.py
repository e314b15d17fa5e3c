"""The results files: every required key a number, goals judged, profiles summarised."""

import math
from pathlib import Path

import orjson

from bench.profile import summarize
from bench.report import (
    REQUIRED_KEYS,
    merged_into,
    missed_goals,
    missing_keys,
    read_json,
    write_json,
    write_markdown,
)
from bench.wrk import parse_result


def complete() -> dict[str, object]:
    return dict.fromkeys(REQUIRED_KEYS, 1.0)


def test_a_complete_result_misses_no_key() -> None:
    assert missing_keys(complete()) == []


def test_absent_nan_bool_and_text_figures_are_missing() -> None:
    results = complete()
    del results["search_p50_ms"]
    results["search_p99_ms"] = math.nan
    results["login_p50_ms"] = True
    results["login_p99_ms"] = "12"
    assert missing_keys(results) == [
        "search_p50_ms",
        "search_p99_ms",
        "login_p50_ms",
        "login_p99_ms",
    ]


def test_goals_are_judged_in_the_right_direction() -> None:
    results = complete() | {"index_events_per_s": 4000.0, "gateway_vs_direct_rps_ratio": 0.8}
    missed = {goal.key for goal in missed_goals(results)}
    assert "index_events_per_s" in missed
    assert "gateway_vs_direct_rps_ratio" not in missed
    assert "login_p99_ms" not in missed


def test_written_files_hold_the_figures(tmp_path: Path) -> None:
    results = complete() | {"index_events_per_s": 4000.0, "machine": {"cores": 2}}
    write_json(results, tmp_path / "r.json")
    write_markdown(results, ["## Notes", "", "hello"], tmp_path / "r.md")
    assert orjson.loads((tmp_path / "r.json").read_bytes())["index_events_per_s"] == 4000.0
    markdown = (tmp_path / "r.md").read_text()
    assert "| `index_events_per_s` | 4,000 | ≥ 5000 | #6 | **missed** |" in markdown
    assert "- cores: `2`" in markdown
    assert markdown.endswith("hello\n")


def test_wrk_result_line_is_parsed() -> None:
    output = (
        "Running 2s test\n"
        'BENCH_RESULT {"requests": 2000, "duration_us": 2000000, "p50_us": 1500, '
        '"p99_us": 9000, "connect": 0, "read": 1, "write": 0, "status": 2, "timeout": 0}\n'
    )
    assert parse_result(output) == {
        "rps": 1000.0,
        "p50_ms": 1.5,
        "p99_ms": 9.0,
        "requests": 2000.0,
        "errors": 3.0,
    }


def test_profile_summary_counts_project_code_inclusive_and_self_time() -> None:
    folded = (
        "main (uvicorn/main.py:1);handle (shared/mw.py:5);verify (jwt/algorithms.py:9) 3\n"
        "main (uvicorn/main.py:1);handle (shared/mw.py:7) 1\n"
    )
    tables = summarize(folded)
    assert tables["project code, inclusive"] == [("handle (shared/mw.py)", 100.0)]
    assert tables["function, self"] == [
        ("verify (jwt/algorithms.py)", 75.0),
        ("handle (shared/mw.py)", 25.0),
    ]
    assert tables["package, self"] == [("jwt", 75.0), ("shared", 25.0)]


def test_a_busy_machine_is_called_out(tmp_path: Path) -> None:
    quiet = complete() | {"machine": {"cores": 2, "load_average_at_start": [0.5, 0.4, 0.3]}}
    busy = complete() | {"machine": {"cores": 2, "load_average_at_start": [6.0, 4.0, 3.0]}}
    write_markdown(quiet, [], tmp_path / "quiet.md")
    write_markdown(busy, [], tmp_path / "busy.md")
    assert "busy" not in (tmp_path / "quiet.md").read_text()
    assert "load average 6 on 2 cores" in (tmp_path / "busy.md").read_text()


def full_run() -> dict[str, object]:
    return {
        "machine": {"load_average_at_start": [0.5, 0.5, 0.5]},
        "code": {"git_commit": "aaaa"},
        "run": {"mode": "full", "only": []},
        "failures": [],
        "raw": {"search": {"figures": 1}, "stream": {"figures": 2}},
        "search_p99_ms": 9.0,
        "event_to_searchable_p50_ms": 21.0,
    }


def test_a_partial_run_replaces_its_own_figures_and_keeps_the_others() -> None:
    partial = {
        "machine": {"load_average_at_start": [0.2, 0.2, 0.2]},
        "code": {"git_commit": "bbbb", "date": "2026-12-07T16:00:00+00:00"},
        "run": {"mode": "full", "only": ["stream"]},
        "failures": [],
        "raw": {"stream": {"figures": 3}},
        "event_to_searchable_p50_ms": 12.0,
    }
    merged = merged_into(full_run(), partial)
    assert merged["event_to_searchable_p50_ms"] == 12.0
    assert merged["search_p99_ms"] == 9.0
    # The full run still describes itself; the partial one is listed with its own context.
    assert merged["code"] == {"git_commit": "aaaa"}
    assert merged["raw"] == {"search": {"figures": 1}, "stream": {"figures": 3}}
    assert merged["partial_runs"] == [
        {
            "benchmarks": ["stream"],
            "machine": partial["machine"],
            "code": partial["code"],
            "failures": [],
            "keys": ["event_to_searchable_p50_ms"],
        }
    ]


def test_partial_runs_accumulate_and_show_in_the_markdown(tmp_path: Path) -> None:
    partial = {"run": {"only": ["gateway"]}, "gateway_vs_nginx_rps_ratio": 0.9}
    once = merged_into(full_run(), partial)
    twice = merged_into(once, {"run": {"only": ["search"]}, "search_p99_ms": 8.0})
    runs = twice["partial_runs"]
    assert isinstance(runs, list)
    assert [run["benchmarks"] for run in runs] == [["gateway"], ["search"]]
    path = tmp_path / "latest.md"
    write_markdown(twice, [], path)
    text = path.read_text()
    assert "## Figures from later partial runs" in text
    assert "- gateway: load average" in text
    assert "- search: load average" in text


def test_a_missing_results_file_reads_as_empty(tmp_path: Path) -> None:
    assert read_json(tmp_path / "absent.json") == {}
