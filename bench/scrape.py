"""Reading the services' own Prometheus metrics, whose exact names the bench only guesses.

The bench looks metrics up by a fragment of their name (``event_to_searchable``, ``lag``) so
that it keeps working while the services rename things; a figure it cannot find is reported
as missing rather than invented.
"""

import asyncio
import math

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bench.http_client import Http

Buckets = list[tuple[float, float]]
SCRAPE_TIMEOUT_SECONDS = 5


async def scrape(client: Http, base_url: str) -> list[Sample]:
    async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS):
        response = await client.get(f"{base_url}/metrics")
    response.raise_for_status()
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def histogram_buckets(samples: list[Sample], fragment: str) -> Buckets | None:
    """Cumulative buckets of the first histogram named like ``fragment``, summed over labels."""
    totals: dict[float, float] = {}
    name = None
    for sample in samples:
        if fragment in sample.name and sample.name.endswith("_bucket"):
            if name is None:
                name = sample.name
            if sample.name == name:
                bound = float(sample.labels["le"])
                totals[bound] = totals.get(bound, 0.0) + sample.value
    return sorted(totals.items()) if totals else None


def total_of(samples: list[Sample], fragment: str, suffix: str = "") -> float | None:
    """Sum over labels of the first metric (gauge or counter) whose name holds ``fragment``."""
    name = next(
        (s.name for s in samples if fragment in s.name and s.name.endswith(suffix)),
        None,
    )
    if name is None:
        return None
    return math.fsum(s.value for s in samples if s.name == name)
