"""The gateway's fallback session check: which sessions still vouch for an access token."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.auth.app.sessions import Session

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BEGAN = NOW - timedelta(minutes=5)
LIVE = Session(
    id="s1",
    user_id="u1",
    created_at=BEGAN,
    last_used_at=BEGAN,
    user_agent=None,
    active=True,
    expires_at=NOW + timedelta(days=1),
)
ISSUED = int(BEGAN.timestamp()) + 10


def test_a_live_session_vouches_for_its_own_users_token() -> None:
    assert LIVE.vouches_for(user_id="u1", issued_at=ISSUED, now=NOW)


def test_a_token_minted_in_the_sessions_first_second_counts() -> None:
    began = BEGAN.replace(microsecond=900_000)
    session = replace(LIVE, created_at=began)
    assert session.vouches_for(user_id="u1", issued_at=int(began.timestamp()), now=NOW)


@pytest.mark.parametrize(
    ("session", "user_id", "issued_at"),
    [
        pytest.param(replace(LIVE, active=False), "u1", ISSUED, id="revoked"),
        pytest.param(replace(LIVE, expires_at=NOW), "u1", ISSUED, id="expired"),
        pytest.param(LIVE, "u2", ISSUED, id="other-user"),
        pytest.param(LIVE, "u1", int(BEGAN.timestamp()) - 1, id="issued-before-session"),
    ],
)
def test_a_dead_or_mismatched_session_vouches_for_nothing(
    session: Session, user_id: str, issued_at: int
) -> None:
    assert not session.vouches_for(user_id=user_id, issued_at=issued_at, now=NOW)
