"""Bench figures land in the docs' markers, and a second fill replaces rather than appends."""

from bench.fill_docs import fill


def test_a_marker_gets_its_figure_and_a_refill_replaces_it() -> None:
    text = "ratio <!-- bench: gateway_vs_direct_rps_ratio --> of direct"
    once = fill(text, {"gateway_vs_direct_rps_ratio": 0.6})
    assert once == "ratio <!-- bench: gateway_vs_direct_rps_ratio -->0.60<!-- /bench --> of direct"
    twice = fill(once, {"gateway_vs_direct_rps_ratio": 1234.4})
    assert (
        twice == "ratio <!-- bench: gateway_vs_direct_rps_ratio -->1,234<!-- /bench --> of direct"
    )


def test_a_missing_figure_says_so() -> None:
    assert "not measured" in fill("<!-- bench: search_p99_ms -->", {"search_p99_ms": None})


def test_keys_with_a_hyphen_are_filled_too() -> None:
    text = "<!-- bench: journey_cpu_cores_tasks-0 -->old<!-- /bench -->"
    assert fill(text, {"journey_cpu_cores_tasks-0": 0.42}) == (
        "<!-- bench: journey_cpu_cores_tasks-0 -->0.42<!-- /bench -->"
    )
