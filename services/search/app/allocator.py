"""Keeps glibc from handing the index writer's memory back to the kernel after every commit.

Each tantivy commit finishes a segment and starts a fresh segment writer, whose term hash
table and arena take megabytes. With glibc's defaults that memory goes back to the kernel when
the segment is done and is page-faulted in again for the next one, which makes a small commit
several times slower (docs/decisions/0832-search-commit-and-query-costs.md).
Fixed thresholds keep such blocks in the heap for reuse (the ``MALLOC_TRIM_THRESHOLD_`` and
``MALLOC_MMAP_THRESHOLD_`` environment variables do the same when set before start).
"""

import ctypes
import ctypes.util
import logging

log = logging.getLogger("taskstream.search.allocator")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Free memory at the top of a heap stays up to this size instead of being returned.
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024
# Blocks below this come from the heap (reused) rather than from a fresh mmap each time;
# glibc's upper limit for it on 64-bit.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


def retain_freed_memory() -> bool:
    """Set the thresholds; False (and nothing changed) where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is None:
        log.info("no mallopt in this C library; allocator left at its defaults")
        return False
    settings = ((M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES), (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return all(mallopt(option, value) == 1 for option, value in settings)
