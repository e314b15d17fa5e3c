"""Settings of the search service (prefix ``SEARCH_``; shared ones unprefixed)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SEARCH_", extra="ignore", populate_by_name=True)

    service_name: str = "search"
    port: int = 8003
    # Holds the ``current`` symlink and the index directories it points to; one per replica.
    index_dir: Path = Path(".local/search-index")
    # Where the index directories themselves live; default: tmpfs (see ``layout``). A disk
    # path here keeps the index across reboots at the price of slower commits.
    index_storage_dir: Path | None = None
    # Live, the events of every poll are committed at once. Replaying a backlog, a commit waits
    # until a poll finds nothing new for this long or ``commit_max_events`` are staged: each
    # tantivy commit costs milliseconds, so big ones replay several times faster.
    commit_interval_ms: int = Field(default=30, ge=1, le=10_000)
    commit_max_events: int = Field(default=10_000, ge=1, le=100_000)
    writer_heap_bytes: int = Field(default=32_000_000, ge=15_000_000)
    cache_ttl_seconds: int = Field(default=60, ge=1)
    # How long a search with a consistency token waits for this replica to index that write.
    consistency_wait_ms: int = Field(default=1000, ge=0, le=10_000)
    # How long a thread holding the GIL keeps it while another wants it (Python's default is
    # 5 ms). The index writer and the event loop serving searches take turns on it; each of
    # the writer's returns from tantivy waits up to this long behind a search: at 1 ms the
    # stream bench's event-to-searchable p99 was lower in three runs of three (decision 0930).
    gil_switch_interval_ms: float = Field(default=1.0, gt=0, le=100)
    # How often the consumer looks for new partitions and a swapped-in index.
    watch_interval_ms: int = Field(default=1000, ge=50)
