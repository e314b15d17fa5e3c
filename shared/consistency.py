"""Consistency tokens: read-your-writes across the tasks and search services.

Every task write answers with ``X-Consistency-Token``: the task id and the version the write
produced, sealed with AES-GCM under a key derived from ``INTERNAL_SIGNING_SECRET`` for this
purpose alone (HKDF), with the writer's user id as associated data. A search that presents it
waits until the replica serving it has indexed that version. Opened for any other user, the
token is nothing: it neither waits nor reveals which task it names.
"""

import base64
import binascii
import os
from dataclasses import dataclass

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.derived_keys import derive_key

CONSISTENCY_HEADER = "X-Consistency-Token"
MAX_TOKEN_LENGTH = 512
KEY_PURPOSE = "consistency-token"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class MalformedToken(ValueError):
    """The text is not a consistency token at all (bad input, unlike another user's token)."""


@dataclass(frozen=True)
class WrittenVersion:
    """What a token promises: this task has reached at least this version."""

    task_id: str
    version: int


class ConsistencyTokens:
    """Issues and opens the tokens of one deployment (one ``INTERNAL_SIGNING_SECRET``)."""

    def __init__(self, internal_secret: str) -> None:
        self._aead = AESGCM(derive_key(internal_secret.encode(), KEY_PURPOSE))

    def issue(self, *, user_id: str, task_id: str, version: int) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, orjson.dumps([task_id, version]), user_id.encode())
        return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, token: str, *, user_id: str) -> WrittenVersion | None:
        """The write a token names if it is this user's, else ``None``.

        Raises ``MalformedToken`` for text that cannot be a token at all."""
        raw = _unb64(token)
        if len(raw) <= _NONCE_BYTES + _TAG_BYTES:
            raise MalformedToken("not a consistency token")
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], user_id.encode())
        except InvalidTag:
            return None
        task_id, version = orjson.loads(plain)
        return WrittenVersion(task_id=task_id, version=version)


def _unb64(token: str) -> bytes:
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise MalformedToken("not a consistency token")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken("not a consistency token") from exc
