"""Idempotent task writes: ``Idempotency-Key`` (IETF draft semantics, as Stripe does).

The first request with a key claims it and runs; its answer (any status below 500) is kept
for ``RETENTION``, and the same key with the same body gets that answer again, marked
``Idempotent-Replayed: true``, without a second write or event. The same key with another
body is a 422. A retry that arrives while the first is still running waits for its answer.
Keys belong to the user who sent them. A 5xx is not kept, so a retry may succeed later.
"""

import asyncio
import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.identity import IDENTITY_HEADER, InvalidIdentity, verify_identity
from shared.middleware import header
from shared.problems import PROBLEM_CONTENT_TYPE, problem_body

log = logging.getLogger("taskstream.tasks.idempotency")
KEY_HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
RETENTION = timedelta(hours=24)
# A claim this old with no answer was left by a replica that died mid-request: take it over.
ABANDONED_AFTER = timedelta(seconds=30)
WAIT_FOR_FIRST_SECONDS = 10.0
# Waiting retries read the record with a growing pause: on SQLite (FerretDB) a busy poll
# would contend for the very write lock the first request needs.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.02, 0.5
# Headers of the first answer that a replay must not repeat: they describe that exchange.
NOT_REPLAYED = frozenset({b"x-request-id", b"content-length", b"date", b"server"})
Document = dict[str, Any]


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """What a key holds for a request: nothing yet (claimed), a kept answer, or a mismatch."""

    claimed: bool = False
    answer: StoredAnswer | None = None
    mismatch: bool = False
    created_at: datetime | None = None


class IdempotencyStore(Protocol):
    async def claim(self, *, key_id: str, fingerprint: str, now: datetime) -> Claim: ...

    async def peek(self, *, key_id: str, fingerprint: str, now: datetime) -> Claim | None:
        """What the record says now, reading only; ``None`` when it may be claimed again."""

    async def complete(self, *, key_id: str, answer: StoredAnswer) -> None: ...

    async def release(self, *, key_id: str) -> None: ...

    async def forget_expired(self, *, now: datetime) -> int: ...


def _claim_of(doc: Document, fingerprint: str, now: datetime) -> Claim | None:
    """What an existing record means for this request; None when it may be taken over."""
    created_at: datetime = doc["created_at"]
    if created_at < now - RETENTION:
        return None
    if doc["fingerprint"] != fingerprint:
        return Claim(mismatch=True)
    if doc.get("status") is not None:
        headers = [(bytes(pair["name"]), bytes(pair["value"])) for pair in doc["headers"]]
        return Claim(answer=StoredAnswer(doc["status"], headers, bytes(doc["body"])))
    if created_at < now - ABANDONED_AFTER:
        return None
    return Claim(created_at=created_at)


class MongoIdempotencyStore:
    """Records in their own collection, ``_id`` = a digest of (user, key)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._records = collection

    async def claim(self, *, key_id: str, fingerprint: str, now: datetime) -> Claim:
        record = {"_id": key_id, "fingerprint": fingerprint, "created_at": now}
        try:
            await self._records.insert_one(record)
        except DuplicateKeyError:
            existing = await self._records.find_one({"_id": key_id})
            if existing is None:  # released meanwhile: try once more from the start
                return await self.claim(key_id=key_id, fingerprint=fingerprint, now=now)
            claim = _claim_of(existing, fingerprint, now)
            if claim is not None:
                return claim
            # Expired or abandoned: replace it, unless someone else just did.
            taken = await self._records.replace_one(
                {"_id": key_id, "created_at": existing["created_at"]}, record
            )
            return Claim(claimed=taken.modified_count == 1, created_at=now)
        return Claim(claimed=True)

    async def peek(self, *, key_id: str, fingerprint: str, now: datetime) -> Claim | None:
        existing = await self._records.find_one({"_id": key_id})
        return None if existing is None else _claim_of(existing, fingerprint, now)

    async def complete(self, *, key_id: str, answer: StoredAnswer) -> None:
        # Pairs as documents: FerretDB v1 stores no arrays nested in arrays.
        headers = [{"name": name, "value": value} for name, value in answer.headers]
        await self._records.update_one(
            {"_id": key_id},
            {"$set": {"status": answer.status, "headers": headers, "body": answer.body}},
        )

    async def release(self, *, key_id: str) -> None:
        await self._records.delete_one({"_id": key_id, "status": None})

    async def forget_expired(self, *, now: datetime) -> int:
        result = await self._records.delete_many({"created_at": {"$lt": now - RETENTION}})
        return result.deleted_count


@dataclass
class InMemoryIdempotencyStore:
    """For unit tests: the same answers as the MongoDB store, in a dict."""

    records: dict[str, Document] = field(default_factory=dict)

    async def claim(self, *, key_id: str, fingerprint: str, now: datetime) -> Claim:
        existing = self.records.get(key_id)
        if existing is not None:
            claim = _claim_of(existing, fingerprint, now)
            if claim is not None:
                return claim
        self.records[key_id] = {"fingerprint": fingerprint, "created_at": now}
        return Claim(claimed=True)

    async def peek(self, *, key_id: str, fingerprint: str, now: datetime) -> Claim | None:
        existing = self.records.get(key_id)
        return None if existing is None else _claim_of(existing, fingerprint, now)

    async def complete(self, *, key_id: str, answer: StoredAnswer) -> None:
        headers = [{"name": name, "value": value} for name, value in answer.headers]
        self.records[key_id] |= {"status": answer.status, "headers": headers}
        self.records[key_id]["body"] = answer.body

    async def release(self, *, key_id: str) -> None:
        self.records.pop(key_id, None)

    async def forget_expired(self, *, now: datetime) -> int:
        expired = [k for k, doc in self.records.items() if doc["created_at"] < now - RETENTION]
        for key in expired:
            del self.records[key]
        return len(expired)


def key_id(user_id: str, key: str) -> str:
    return hashlib.sha256(f"{user_id}\0{key}".encode()).hexdigest()


def fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256(f"{scope['method']} {scope['path']}?".encode())
    digest.update(scope.get("query_string", b"") + b"\n" + body)
    return digest.hexdigest()


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def replaying(body: bytes) -> Receive:
    """A ``receive`` that hands the app the body already read, then waits like a real one."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    return receive


async def send_answer(send: Send, answer: StoredAnswer, *, replayed: bool) -> None:
    headers = [*answer.headers, *([REPLAYED_HEADER] if replayed else [])]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def send_problem(send: Send, status: int, detail: str, **extra: Any) -> None:
    body = problem_body(status, detail, **extra)
    headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode())]
    if status in (409, 503):
        headers.append((b"retry-after", b"1"))
    await send_answer(send, StoredAnswer(status, headers, body), replayed=False)


class IdempotencyMiddleware:
    """Plain ASGI around the tasks routes; requests without the header pass straight on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, KEY_HEADER) if scope["type"] == "http" else None
        if key is None or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        if not VALID_KEY.fullmatch(key):
            error = {"loc": ["header", "Idempotency-Key"], "type": "value_error"}
            error["msg"] = "1 to 255 visible ASCII characters."
            await send_problem(send, 422, "The request is not valid.", errors=[error])
            return
        body = await read_body(receive)
        user_id = self.user_id(scope, body)
        if user_id is None:  # the route answers 401, and nothing is claimed
            await self.app(scope, replaying(body), send)
            return
        try:
            await self.once(scope, send, body, key_id(user_id, key))
        except PyMongoError:
            await send_problem(send, 503, "A backing service is unavailable; try again shortly.")

    def user_id(self, scope: Scope, body: bytes) -> str | None:
        secret = scope["app"].state.settings.internal_signing_secret.get_secret_value()
        try:
            identity = verify_identity(
                header(scope, IDENTITY_HEADER.encode()),
                secret=secret.encode(),
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b""),
                body=body,
            )
        except InvalidIdentity:
            return None
        return identity.user_id

    async def once(self, scope: Scope, send: Send, body: bytes, key: str) -> None:
        store: IdempotencyStore = scope["app"].state.idempotency
        claim = await self.settled_claim(store, key, fingerprint(scope, body))
        if claim.mismatch:
            detail = "This Idempotency-Key was used with another request."
            await send_problem(send, 422, detail)
        elif claim.answer is not None:
            await send_answer(send, claim.answer, replayed=True)
        elif not claim.claimed:
            await send_problem(send, 409, "A request with this Idempotency-Key is in progress.")
        else:
            await self.run_and_keep(scope, send, body, store, key)

    async def settled_claim(self, store: IdempotencyStore, key: str, fp: str) -> Claim:
        """Claim the key; while another request holds it, wait (bounded) for its answer."""
        deadline = time.monotonic() + WAIT_FOR_FIRST_SECONDS
        pause = FIRST_POLL_SECONDS
        claim: Claim | None = None
        while True:
            if claim is None:
                claim = await store.claim(key_id=key, fingerprint=fp, now=datetime.now(UTC))
            if claim.claimed or claim.answer or claim.mismatch or time.monotonic() > deadline:
                return claim
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)
            claim = await store.peek(key_id=key, fingerprint=fp, now=datetime.now(UTC))

    async def run_and_keep(
        self, scope: Scope, send: Send, body: bytes, store: IdempotencyStore, key: str
    ) -> None:
        start: Message = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                parts.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replaying(body), capture)
        finally:
            status = start.get("status", 500)
            kept = [(k, v) for k, v in start.get("headers", []) if k not in NOT_REPLAYED]
            await keep_or_release(store, key, StoredAnswer(status, kept, b"".join(parts)))


async def keep_or_release(store: IdempotencyStore, key: str, answer: StoredAnswer) -> None:
    """After the answer has gone: keep it for replays, or free the key after a 5xx. A store
    failure here is only logged: the client has its answer, and a claim left unanswered is
    taken over after ``ABANDONED_AFTER``."""
    try:
        if answer.status >= 500:
            await store.release(key_id=key)
        else:
            await store.complete(key_id=key, answer=answer)
    except PyMongoError as exc:
        log.warning("could not record an idempotent answer: %s", type(exc).__name__)


EXPIRY_INTERVAL_SECONDS = 600


async def forget_expired_keys(store: IdempotencyStore) -> None:
    """Drop records past their retention now and then (FerretDB has no TTL indexes)."""
    while True:
        try:
            await store.forget_expired(now=datetime.now(UTC))
        except PyMongoError:
            log.warning("could not drop expired idempotency keys; trying again later")
        await asyncio.sleep(EXPIRY_INTERVAL_SECONDS)
