from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture(scope="session")
def executor() -> Iterator[ThreadPoolExecutor]:
    """The password-hashing thread of ``fakes.InMemoryAuth``."""
    with ThreadPoolExecutor(1) as pool:
        yield pool
