"""Issue 25: search over a million tasks (10,000 users with 100 tasks each, plus one user with
100,000), and over the same shape at a tenth of the size in the same run, so that the growth
of every figure from 100k to 1M shows.

For each scale the corpus goes straight to a topic of its own (3 partitions, as
``task-events``), a fresh search replica rebuilds from offset 0 (events/s by its ``applied``
metric until ``/ready``), then queries are asked one at a time, taking turns between four
kinds: an ordinary user in the service (identities signed for any of the 10,000 user ids), the
heavy user in the service, and through a gateway (which needs real accounts) a few registered
users who are among the ordinary ones, and the bench's own user, who is the heavy one. Last,
the replica's peak RSS and the size of its index (tmpfs, so memory too).
"""

import contextlib
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import cycle
from pathlib import Path

from aiokafka.errors import KafkaError

from bench.client import Bench, User, login, register, warm_up
from bench.corpus import created_event_bytes, queries, vocabulary
from bench.kafka import create_topic, delete_topics, produce_encoded
from bench.search_bench import rebuild_replica
from bench.stats import latency_summary
from bench.system import add, peak_rss_mib
from deploy.local.services import ServiceProcess

PARTITIONS = 3
INDEX_TIMEOUT_S = 1200.0
POLL_S = 0.1
SEARCH_PATH = "/api/v1/search"
# Registered users among the ordinary ones, for the gateway (it needs a real account).
REGISTERED_USERS = 4
WARM_UP_QUERIES = 20
KINDS = ("ordinary", "heavy", "gateway_ordinary", "gateway_heavy")


@dataclass(frozen=True)
class Scale:
    name: str
    users: int
    tasks_per_user: int
    heavy_tasks: int

    @property
    def tasks(self) -> int:
        return self.users * self.tasks_per_user + self.heavy_tasks


def scales(bench: Bench) -> list[Scale]:
    """The tenth first: its replica is gone before the big one starts."""
    sizes = bench.sizes
    full = Scale("1m", sizes.scale_users, sizes.scale_tasks_per_user, sizes.scale_heavy_tasks)
    tenth = Scale("100k", full.users // 10, full.tasks_per_user, full.heavy_tasks // 10)
    return [tenth, full]


@dataclass
class Corpus:
    heavy: User
    registered: list[User]
    ordinary_ids: list[str]


def corpus(scale: Scale, heavy: User, registered: list[User]) -> Corpus:
    rng = random.Random(scale.tasks)
    others = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(scale.users)]
    ids = [user.user_id for user in registered] + others[len(registered) :]
    return Corpus(heavy=heavy, registered=registered, ordinary_ids=ids)


def events(scale: Scale, users: Corpus) -> Iterator[tuple[bytes, bytes]]:
    """Every task's created-event, owners shuffled: the heavy user's tasks are spread over
    the whole topic, as a user who has written for years would be."""
    rng = random.Random(scale.tasks)
    owners = [
        *users.ordinary_ids * scale.tasks_per_user,
        *[users.heavy.user_id] * scale.heavy_tasks,
    ]
    rng.shuffle(owners)
    words = vocabulary()
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for owner_id in owners:
        yield created_event_bytes(rng, words, owner_id=owner_id, stamp=stamp)


async def rebuild(
    bench: Bench, scale: Scale, topic: str
) -> tuple[ServiceProcess, dict[str, float]]:
    """A fresh replica on ``topic``: events/s from its first applied event until ``/ready``."""
    rebuilt = await rebuild_replica(
        bench, topic, scale.tasks, timeout_s=INDEX_TIMEOUT_S, poll_s=POLL_S
    )
    return rebuilt.replica, {
        f"index_{scale.name}_events_per_s": scale.tasks / rebuilt.indexing_s,
        f"index_{scale.name}_seconds_from_spawn": rebuilt.from_spawn_s,
        f"index_{scale.name}_rss_mib": peak_rss_mib(_pid(rebuilt.replica)),
    }


def _pid(process: ServiceProcess) -> int:
    assert process.process is not None
    return process.process.pid


@dataclass
class Asker:
    """Asks one query of one kind and keeps its duration (and the service's ``took_ms``)."""

    bench: Bench
    replica: ServiceProcess
    gateway: ServiceProcess
    users: Corpus
    bearers: dict[str, dict[str, str]]
    rng: random.Random = field(default_factory=lambda: random.Random(25))
    durations: dict[str, list[float]] = field(default_factory=dict)
    # The service's ``took_ms`` by the query's shape, to tell which kind of query is slow.
    by_shape: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._registered = cycle(self.users.registered)

    async def ask(self, kind: str, query: str) -> None:
        params: dict[str, str | int] = {"q": query, "limit": 20}
        if kind.startswith("gateway"):
            user = self.users.heavy if kind == "gateway_heavy" else next(self._registered)
            url, headers = self.gateway.url, self.bearers[user.email]
        else:
            owner = self.users.heavy.user_id if kind == "heavy" else self._ordinary()
            url, headers = (
                self.replica.url,
                self.bench.identity("GET", SEARCH_PATH, params, user_id=owner),
            )
        begun = time.perf_counter()
        reply = await self.bench.http.get(url + SEARCH_PATH, params=params, headers=headers)
        elapsed = time.perf_counter() - begun
        reply.raise_for_status()
        self.durations.setdefault(kind, []).append(elapsed)
        if not kind.startswith("gateway"):
            took = float(reply.json()["took_ms"]) / 1000
            self.durations.setdefault(f"{kind}_took", []).append(took)
            self.by_shape.setdefault(f"{kind}_{query_shape(query)}", []).append(took)

    def _ordinary(self) -> str:
        # Not the registered users: their pages are asked through the gateway.
        return self.rng.choice(self.users.ordinary_ids[len(self.users.registered) :])


WORDS = frozenset(vocabulary())


def query_shape(query: str) -> str:
    """Which of ``corpus.queries``' shapes a query has: two words, a word, a prefix or a typo."""
    if " " in query:
        return "two_words"
    if query in WORDS:
        return "word"
    return "prefix" if len(query) == 3 else "typo"


def query_figures(scale: Scale, durations: dict[str, list[float]]) -> dict[str, float]:
    names = {
        "ordinary": "",
        "heavy": "_heavy_user",
        "ordinary_took": "_took",
        "heavy_took": "_heavy_user_took",
        "gateway_ordinary": "_gateway_ordinary",
        "gateway_heavy": "_gateway_heavy_user",
    }
    both = durations["gateway_ordinary"] + durations["gateway_heavy"]
    figures: dict[str, float] = {}
    for kind, samples in [*((k, durations[k]) for k in names), ("gateway", both)]:
        summary = latency_summary(samples)
        name = f"search_{scale.name}{names.get(kind, '_gateway')}"
        figures |= {f"{name}_p50_ms": summary["p50_ms"], f"{name}_p99_ms": summary["p99_ms"]}
    return figures


def index_mib(replica: ServiceProcess) -> float:
    """The index's files (on tmpfs by default, so memory beside the RSS)."""
    target = (Path(replica.env["SEARCH_INDEX_DIR"]) / "current").resolve()
    return sum(path.stat().st_size for path in target.rglob("*") if path.is_file()) / 2**20


def shape_figures(by_shape: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {name: latency_summary(samples) for name, samples in sorted(by_shape.items())}


async def measure_scale(
    bench: Bench, scale: Scale, users: Corpus, asked: Iterator[str]
) -> tuple[dict[str, float], dict[str, object]]:
    bootstrap = bench.system.env["KAFKA_BOOTSTRAP_SERVERS"]
    topic = f"{bench.system.env['KAFKA_TASK_EVENTS_TOPIC']}-scale-{scale.name}"
    await create_topic(bootstrap, topic, partitions=PARTITIONS)
    started: list[ServiceProcess] = []
    try:
        produced = time.perf_counter()
        await produce_encoded(bootstrap, topic, events(scale, users), partitions=PARTITIONS)
        produce_s = time.perf_counter() - produced
        replica, figures = await rebuild(bench, scale, topic)
        started.append(replica)
        gateway_env = {**bench.system.gateway_env(), "GATEWAY_SEARCH_URLS": replica.url}
        gateway = add(bench.system, "gateway", extra_env=gateway_env)
        started.append(gateway)
        await warm_up(bench, gateway.url)
        accounts = [users.heavy, *users.registered]
        bearers = {
            user.email: {
                "Authorization": f"Bearer {await login(bench.http, gateway.url, user.email)}"
            }
            for user in accounts
        }
        asker = Asker(bench, replica, gateway, users, bearers)
        for _ in range(WARM_UP_QUERIES):
            await asker.ask("ordinary", next(asked))
        asker.durations.clear()
        asker.by_shape.clear()
        # The kinds take turns, so each meets the same moments of a noisy machine.
        for _ in range(bench.sizes.scale_queries):
            for kind in KINDS:
                await asker.ask(kind, next(asked))
        return {
            **figures,
            **query_figures(scale, asker.durations),
            f"search_{scale.name}_peak_rss_mib": peak_rss_mib(_pid(replica)),
            f"search_{scale.name}_index_mib": index_mib(replica),
            f"search_{scale.name}_tasks": float(scale.tasks),
            f"backlog_{scale.name}_produce_events_per_s": scale.tasks / produce_s,
        }, {"took_by_shape": shape_figures(asker.by_shape)}
    finally:
        for process in reversed(started):
            process.stop()
        # The figures are taken; a topic left behind only costs disk space.
        with contextlib.suppress(KafkaError):
            await delete_topics(bootstrap, [topic])


async def run(bench: Bench) -> dict[str, object]:
    registered = [await register(bench.http, bench.gateway) for _ in range(REGISTERED_USERS)]
    # Every query is asked once in the whole run: a repeat by the same user would be answered
    # from the Redis cache, which both scales' replicas share.
    per_scale = WARM_UP_QUERIES + len(KINDS) * bench.sizes.scale_queries
    asked = iter(queries(2 * per_scale, seed=25))
    results: dict[str, object] = {}
    raw: dict[str, object] = {}
    for scale in scales(bench):
        users = corpus(scale, bench.user, registered)
        figures, raw[scale.name] = await measure_scale(bench, scale, users, asked)
        results |= figures
    return {**results, "raw": raw}
