"""Pure helpers for turning samples and rounds into the figures the report shows."""

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(pct/100 * n)), as wrk and HdrHistogram do."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(samples)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99 in milliseconds and the sample count of a list of durations in seconds."""
    return {
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "samples": float(len(seconds)),
    }


def median_of_rounds(rounds: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Per key, the median over rounds; a key missing from some round uses the rounds with it."""
    values: dict[str, list[float]] = {}
    for figures in rounds:
        for key, value in figures.items():
            values.setdefault(key, []).append(value)
    return {key: statistics.median(found) for key, found in values.items()}


def histogram_quantile(buckets: Sequence[tuple[float, float]], quantile: float) -> float:
    """Prometheus-style quantile from cumulative ``(upper_bound, count)`` buckets.

    Interpolates linearly inside the bucket that holds the rank, like ``histogram_quantile``.
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        raise ValueError("empty histogram")
    rank = quantile * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound, count in ordered:
        if count >= rank:
            if math.isinf(upper_bound):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1
            return lower_bound + (upper_bound - lower_bound) * share
        lower_bound, lower_count = upper_bound, count
    return lower_bound


def subtract_buckets(
    after: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """The observations made between two scrapes of one cumulative histogram."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]
