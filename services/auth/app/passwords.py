"""Password policy and argon2id hashing, with the hashing kept off the event loop.

The common-password list is Django's (BSD licence; itself from Royce Williams' list of the
most common leaked passwords), cut to the entries our length rule does not already refuse.
"""

import asyncio
import gzip
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")
T = TypeVar("T")


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"Password must be {MIN_LENGTH} to {MAX_LENGTH} characters long."
    if password.lower() in common_passwords():
        return "This password is too common; choose another."
    return None


class PasswordHashing:
    """argon2id in a bounded thread pool: argon2 releases the GIL, the loop stays free."""

    def __init__(self, hasher: PasswordHasher, executor: ThreadPoolExecutor) -> None:
        self.hasher = hasher
        self.executor = executor
        # Verifying unknown emails against this costs what a real check costs.
        self.dummy_hash = hasher.hash("dummy password for unknown accounts")

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        matches = await self._run(self._verify_sync, stored_hash or self.dummy_hash, password)
        return matches and stored_hash is not None

    def _verify_sync(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)
