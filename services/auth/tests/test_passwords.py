"""Password policy and argon2id hashing, without any network."""

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from services.auth.app.config import Settings
from services.auth.app.main import password_hasher
from services.auth.app.passwords import PasswordHashing, common_passwords, password_problem

SECRET = "k" * 8 + "unit-test-signing-key-0123456789"


@pytest.fixture(scope="module")
def hashing() -> Iterator[PasswordHashing]:
    with ThreadPoolExecutor(2) as executor:
        yield PasswordHashing(password_hasher(Settings(internal_signing_secret=SECRET)), executor)


@pytest.mark.parametrize("password", ["short12", "x" * 129, ""])
def test_length_outside_8_to_128_is_refused(password: str) -> None:
    assert password_problem(password) is not None


@pytest.mark.parametrize("password", ["password", "PASSWORD1", "iloveyou", "Qwertyuiop"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert "too common" in (password_problem(password) or "")


@pytest.mark.parametrize("password", ["a" * 8 + "Zq!", "x" * 128, "correct horse battery"])
def test_uncommon_passwords_of_legal_length_pass(password: str) -> None:
    assert password_problem(password) is None


def test_the_shipped_list_is_substantial() -> None:
    assert len(common_passwords()) > 5000


def test_default_parameters_meet_the_owasp_minimum(hashing: PasswordHashing) -> None:
    encoded = hashing.dummy_hash
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.mark.parametrize(
    ("field", "value"), [("argon2_memory_kib", 16 * 1024), ("argon2_time_cost", 1)]
)
def test_settings_refuse_parameters_below_owasp(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"internal_signing_secret": SECRET, field: value})


async def test_hash_then_verify(hashing: PasswordHashing) -> None:
    stored = await hashing.hash("a fine passphrase")
    assert await hashing.verify(stored, "a fine passphrase")
    assert not await hashing.verify(stored, "a fine passphrasE")


async def test_unknown_account_is_checked_against_the_dummy_and_fails(
    hashing: PasswordHashing,
) -> None:
    assert not await hashing.verify(None, "dummy password for unknown accounts")


async def test_a_corrupt_stored_hash_is_a_mismatch_not_an_error(hashing: PasswordHashing) -> None:
    assert not await hashing.verify("not-a-hash", "whatever123")


async def test_hashing_runs_off_the_event_loop(hashing: PasswordHashing) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.gather(*(hashing.hash(f"password number {n}") for n in range(4)))
    ticker.cancel()
    assert ticks > 5


def test_weaker_old_hashes_are_flagged_for_rehash(hashing: PasswordHashing) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("old password")
    assert hashing.needs_rehash(weak)
    assert not hashing.needs_rehash(hashing.dummy_hash)
