"""The allocator thresholds that keep each commit's segment buffers out of page faults."""

import platform

import pytest

from services.search.app.allocator import retain_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_both_thresholds() -> None:
    assert retain_freed_memory() is True
