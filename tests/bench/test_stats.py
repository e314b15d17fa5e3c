"""The numbers the benchmark report is built from."""

import math

import pytest

from bench.stats import (
    histogram_quantile,
    latency_summary,
    median_of_rounds,
    percentile,
    subtract_buckets,
)


def test_percentile_is_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_no_samples_and_bad_ranks() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match="pct"):
        percentile([1.0], 0)


def test_latency_summary_is_in_milliseconds() -> None:
    summary = latency_summary([0.001] * 98 + [0.5, 0.5])
    assert summary == {"p50_ms": 1.0, "p99_ms": 500.0, "samples": 100.0}


def test_median_of_rounds_per_key() -> None:
    rounds = [{"rps": 10.0, "p99": 5.0}, {"rps": 30.0}, {"rps": 20.0, "p99": 7.0}]
    assert median_of_rounds(rounds) == {"rps": 20.0, "p99": 6.0}


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    buckets = [(0.01, 50.0), (0.02, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.01)
    assert histogram_quantile(buckets, 0.75) == pytest.approx(0.015)


def test_histogram_quantile_in_the_open_bucket_is_its_lower_bound() -> None:
    buckets = [(0.01, 1.0), (math.inf, 10.0)]
    assert histogram_quantile(buckets, 0.99) == 0.01


def test_histogram_quantile_refuses_an_empty_histogram() -> None:
    with pytest.raises(ValueError, match="empty"):
        histogram_quantile([(0.01, 0.0), (math.inf, 0.0)], 0.5)


def test_subtract_buckets_keeps_only_new_observations() -> None:
    before = [(0.01, 3.0), (math.inf, 4.0)]
    after = [(0.01, 5.0), (math.inf, 9.0)]
    assert subtract_buckets(after, before) == [(0.01, 2.0), (math.inf, 5.0)]
