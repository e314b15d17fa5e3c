"""The tantivy index of one replica: tasks, tombstones of deleted tasks, and consumer offsets.

The offsets travel as the commit's payload (tantivy writes it into ``meta.json`` together with
the segments it covers), so after a crash the index and its offsets always agree: nothing is
skipped and nothing is applied twice. Deleted tasks stay as tombstone documents that remember
their last version, so a replayed older event cannot resurrect them.
Every method here blocks. Writes and commits run on the consumer's writer thread; a search
(``searcher()``) runs on the event loop, for the reason given in ``service.search_tasks``.
"""

import base64
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import tantivy

from shared.events import TaskCloudEvent, TaskEventType, TaskSnapshot

# An index of another version is unreadable and rebuilt from offset 0 (history: decision 0832).
SCHEMA_VERSION = 4
ANALYZER = "taskstream"
# One raw field holds every exact-match term, each prefixed with its kind ("owner:u1",
# "status:done"): every indexed field costs each commit a term dictionary of its own, a fixed
# cost that dominates at one commit per event (docs/decisions/0832).
KEYS = "keys"
MAX_TOKEN_CHARS = 40
# Segments below this many documents share the lowest merge level. At tantivy's default
# (10,000) the small end of the index is merged again every few commits (decision 0832); at
# 100, small segments merge with their like and each document is merged about log8(n) times.
MERGE_FLOOR_DOCS = 100
# tantivy-py 0.27.0 with the patches in third_party/tantivy-py/: the merge policy above, commit
# payloads, and smaller per-segment allocations and faster unions and filters.
TANTIVY_BUILD = "0.27.0+taskstream.1"
# Bits of the filter of ids staged into a fresh index: 4 MiB; at 1M tasks ~3 % of new ids
# still pay a version lookup (decision 0920).
SEEN_BITS = 1 << 25


class UnreadableIndex(Exception):
    """The directory holds no usable index (missing, corrupt, other schema or other topic)."""


def build_analyzer() -> tantivy.TextAnalyzer:
    """Lowercased, accent-folded words; queries are analysed by the very same analyzer."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def key(kind: str, value: str) -> str:
    """The term of an exact-match value in the ``keys`` field."""
    return f"{kind}:{value}"


def id_key(task_id: str) -> str:
    return key("id", task_id)


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # Only live tasks carry an owner key, so the owner filter leaves out tombstones.
    builder.add_text_field(KEYS, tokenizer_name="raw")
    for name in ("title", "description", "tags"):
        builder.add_text_field(name, tokenizer_name=ANALYZER)
    builder.add_integer_field("version", stored=True, indexed=True, fast=True)
    # The task as the public API shows it (JSON).
    builder.add_bytes_field("payload", stored=True)
    return builder.build()


def task_json(snapshot: TaskSnapshot) -> str:
    """The index document of a live task, as JSON: parsed in Rust, twice as fast to add as a
    ``tantivy.Document`` built field by field (bytes fields take base64 in this form)."""
    payload = snapshot.model_dump_json(exclude={"owner_id"}).encode()
    keys = [
        id_key(snapshot.id),
        key("owner", snapshot.owner_id),
        key("status", snapshot.status.value),
        key("priority", snapshot.priority.value),
        *(key("tag", tag) for tag in snapshot.tags),
    ]
    document = {
        KEYS: keys,
        "title": snapshot.title,
        "description": snapshot.description,
        "tags": snapshot.tags,
        "version": snapshot.version,
        "payload": base64.b64encode(payload).decode(),
    }
    return orjson.dumps(document).decode()


def tombstone_document(snapshot: TaskSnapshot) -> tantivy.Document:
    return tantivy.Document(**{KEYS: id_key(snapshot.id)}, version=snapshot.version)


class UnpatchedTantivy(RuntimeError):
    """tantivy-py without our patches: no merge policy to set, no payload to commit."""


def require_tantivy_build(installed: str) -> None:
    """Refuse any tantivy-py but the build with our patches (its version names them)."""
    if installed != TANTIVY_BUILD:
        raise UnpatchedTantivy(
            f"tantivy {installed} is installed; search needs {TANTIVY_BUILD}, built with the"
            " patches in third_party/tantivy-py/ (`make venv`, or see its README)"
        )


class SeenIds:
    """The ids staged into an index that was empty when opened, as one bit of each id's hash:
    a clear bit proves the task has no document, so replaying from offset 0 skips the version
    lookup of nearly every new task. A set bit may be another id's; the lookup then decides."""

    def __init__(self, bits: int = SEEN_BITS) -> None:
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1

    def add(self, task_id: str) -> None:
        bit = hash(task_id) & self._mask
        self._bits[bit >> 3] |= 1 << (bit & 7)

    def may_hold(self, task_id: str) -> bool:
        bit = hash(task_id) & self._mask
        return bool(self._bits[bit >> 3] & (1 << (bit & 7)))


@dataclass
class StagedChanges:
    """What the writer holds that no reader sees yet."""

    versions: dict[str, int] = field(default_factory=dict)
    owners: set[str] = field(default_factory=set)
    offsets: dict[int, int] = field(default_factory=dict)
    event_times: list[datetime] = field(default_factory=list)
    records: int = 0


@dataclass(frozen=True)
class CommitResult:
    owners: set[str]
    event_times: list[datetime]
    records: int


class TaskIndex:
    def __init__(self, path: Path, index: tantivy.Index, *, topic: str, heap_bytes: int) -> None:
        require_tantivy_build(metadata.version("tantivy"))
        self.path = path.resolve()
        self.topic = topic
        self.schema = index.schema
        self.analyzer = build_analyzer()
        self._index = index
        self._index.register_tokenizer(ANALYZER, self.analyzer)
        # Readers move on when ``commit`` reloads them, not when a file watcher notices.
        self._index.config_reader(reload_policy="manual")
        self._writer = index.writer(heap_size=heap_bytes, num_threads=1)
        self._writer.set_log_merge_policy(min_layer_size=MERGE_FLOOR_DOCS)
        # What the last commit made visible, for version lookups; a snapshot, swapped by commit.
        self._committed = index.searcher()
        self._seen = SeenIds() if self._committed.num_docs == 0 else None
        self._closed = False
        self._staged = StagedChanges()
        meta = self._read_meta()
        self.offsets = {int(p): int(offset) for p, offset in meta.get("offsets", {}).items()}
        # Users changed by commits whose cache bump has not been asked for yet (a replay
        # bumps once, when it catches up), or may have been lost in a crash: the commit
        # payload carries them until ``take_unbumped_owners``.
        self._unbumped: set[str] = set(meta.get("owners", ()))

    @classmethod
    def create(cls, path: Path, *, topic: str, heap_bytes: int) -> "TaskIndex":
        path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(build_schema(), path=str(path), reuse=False)
        created = cls(path, index, topic=topic, heap_bytes=heap_bytes)
        created.commit()
        return created

    @classmethod
    def open(cls, path: Path, *, topic: str, heap_bytes: int) -> "TaskIndex":
        if not path.is_dir() or not tantivy.Index.exists(str(path)):
            raise UnreadableIndex(f"no index in {path}")
        try:
            opened = cls(path, tantivy.Index.open(str(path)), topic=topic, heap_bytes=heap_bytes)
        except (ValueError, OSError, RuntimeError) as exc:
            raise UnreadableIndex(f"cannot open {path}: {exc}") from exc
        return opened

    def searcher(self) -> tantivy.Searcher:
        return self._index.searcher()

    def id_query(self, task_id: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.schema, KEYS, id_key(task_id))

    @property
    def staged_records(self) -> int:
        return self._staged.records

    def stage(self, *, partition: int, offset: int, event: TaskCloudEvent | None) -> bool:
        """Apply one record to the writer; False when it changes nothing (stale or unreadable)."""
        self._staged.offsets[partition] = offset + 1
        self._staged.records += 1
        if event is None:
            return False
        snapshot = event.data
        known = self.version_of(snapshot.id)
        if known is not None and snapshot.version <= known:
            return False
        # A delete costs the next commit a lookup in every segment (tantivy applies it to
        # each): only a task the index already holds has a document to replace.
        if known is not None:
            self._writer.delete_documents_by_term(KEYS, id_key(snapshot.id))
        if event.type is TaskEventType.deleted:
            self._writer.add_document(tombstone_document(snapshot))
        else:
            self._writer.add_json(task_json(snapshot))
        self._staged.versions[snapshot.id] = snapshot.version
        if self._seen is not None:
            self._seen.add(snapshot.id)
        self._staged.owners.add(snapshot.owner_id)
        self._staged.event_times.append(event.time)
        return True

    def version_of(self, task_id: str) -> int | None:
        """The newest version staged or committed for a task (tombstones included)."""
        staged = self._staged.versions.get(task_id)
        if staged is not None:
            return staged
        if self._seen is not None and not self._seen.may_hold(task_id):
            return None
        return self.committed_version(task_id)

    def committed_version(self, task_id: str) -> int | None:
        """The version readers see for a task (tombstones included); cheap: one term lookup.

        The term's document frequency counts replaced documents too, so 0 proves there is
        none: a task never committed (most of a replay) costs no search (decision 0920)."""
        searcher = self._committed
        if not searcher.doc_freq(KEYS, id_key(task_id)):
            return None
        hits = searcher.search(self.id_query(task_id), 1, count=False).hits
        if not hits:
            return None
        value = searcher.fast_field_values("version", [hits[0][1]])[0]
        return int(value) if value is not None else None

    def commit(self) -> CommitResult:
        """Commit staged changes with the offsets they reach; readers see them on return."""
        offsets = {**self.offsets, **self._staged.offsets}
        stored_offsets = {str(partition): offset for partition, offset in offsets.items()}
        meta = {
            "schema": SCHEMA_VERSION,
            "topic": self.topic,
            "offsets": stored_offsets,
            "owners": sorted(self._unbumped | self._staged.owners),
        }
        self._writer.commit(orjson.dumps(meta).decode())
        self._index.reload()
        self._committed = self._index.searcher()
        staged, self._staged = self._staged, StagedChanges()
        self.offsets = offsets
        self._unbumped |= staged.owners
        return CommitResult(staged.owners, staged.event_times, staged.records)

    @property
    def unbumped_owner_count(self) -> int:
        return len(self._unbumped)

    def take_unbumped_owners(self) -> set[str]:
        """The users whose cached searches the commits so far have made stale; the caller
        bumps them. The next commit's payload no longer lists them."""
        owners, self._unbumped = self._unbumped, set()
        return owners

    def discard_staged(self) -> None:
        if not self._closed:
            self._writer.rollback()
        self._staged = StagedChanges()

    def close(self) -> None:
        """Release the writer (and its directory lock); searching keeps working."""
        if not self._closed:
            self._closed = True
            self._writer.wait_merging_threads()

    def _read_meta(self) -> dict[str, Any]:
        """The last commit's payload; {} for an index never committed to."""
        payload = orjson.loads((self.path / "meta.json").read_bytes()).get("payload")
        if payload is None:
            if self.searcher().num_docs:
                raise UnreadableIndex("index without offsets (made by an older version)")
            return {}
        meta: dict[str, Any] = orjson.loads(payload)
        if meta.get("schema") != SCHEMA_VERSION or meta.get("topic") != self.topic:
            raise UnreadableIndex("index made for another schema or topic")
        return meta
