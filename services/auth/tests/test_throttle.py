"""Login throttling decisions: per (account, address), per address, and the flood flag."""

import pytest

from services.auth.app.errors import LoginThrottled
from services.auth.app.throttle import AttemptCounts, Limits, judge, pair_key

LIMITS = Limits(per_pair=10, per_address=50, flood_threshold=100)


def counts(pair: int = 1, address: int = 0, account: int = 0) -> AttemptCounts:
    return AttemptCounts(pair, 900_000, address, 600_000, account)


def test_the_tenth_attempt_from_one_address_is_allowed_the_eleventh_is_not() -> None:
    assert judge(counts(pair=10), LIMITS) is False
    with pytest.raises(LoginThrottled) as refused:
        judge(counts(pair=11), LIMITS)
    assert refused.value.headers == {"Retry-After": "900"}


def test_an_address_with_50_failures_is_refused_whatever_the_account() -> None:
    with pytest.raises(LoginThrottled) as refused:
        judge(counts(address=50), LIMITS)
    assert refused.value.headers == {"Retry-After": "600"}


def test_a_flooded_account_is_never_refused_only_flagged() -> None:
    # Thousands of failures from elsewhere: the owner's fresh address still gets to try.
    assert judge(counts(account=5000), LIMITS) is True
    assert judge(counts(account=99), LIMITS) is False


def test_pairs_are_per_account_and_per_address_group() -> None:
    assert pair_key("a@x.test", "198.51.100.7") != pair_key("a@x.test", "198.51.100.8")
    assert pair_key("a@x.test", "198.51.100.7") != pair_key("b@x.test", "198.51.100.7")
    assert pair_key("a@x.test", "2001:db8::1") == pair_key("a@x.test", "2001:db8::2")
