"""Consistency tokens: sealed for one user, opaque and inert for everyone else."""

import pytest

from shared.consistency import ConsistencyTokens, MalformedToken, WrittenVersion

SECRET = "unit-test-internal-signing-key-0123456789abcdef"


def test_a_token_opens_for_its_writer_with_the_task_and_version() -> None:
    tokens = ConsistencyTokens(SECRET)
    token = tokens.issue(user_id="u1", task_id="t-42", version=7)
    assert tokens.open(token, user_id="u1") == WrittenVersion(task_id="t-42", version=7)


def test_a_token_names_nothing_it_can_show_another_user() -> None:
    tokens = ConsistencyTokens(SECRET)
    token = tokens.issue(user_id="u1", task_id="t-42", version=7)
    assert tokens.open(token, user_id="u2") is None
    assert "t-42" not in token
    # Sealed with a fresh nonce: two tokens for the same write do not even look alike.
    assert token != tokens.issue(user_id="u1", task_id="t-42", version=7)


def test_another_deployments_or_a_tampered_token_opens_as_nothing() -> None:
    token = ConsistencyTokens(SECRET).issue(user_id="u1", task_id="t", version=1)
    assert ConsistencyTokens(SECRET[::-1]).open(token, user_id="u1") is None
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert ConsistencyTokens(SECRET).open(flipped, user_id="u1") is None


@pytest.mark.parametrize(
    "text", ["", "abc", "not base64 !!", "é" * 40, "A" * 600, "AAAA" * 5, "x.y.z"]
)
def test_text_that_cannot_be_a_token_is_malformed(text: str) -> None:
    with pytest.raises(MalformedToken):
        ConsistencyTokens(SECRET).open(text, user_id="u1")
