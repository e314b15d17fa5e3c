"""``make bench``: throughput and latency of the whole system on the local stack."""
