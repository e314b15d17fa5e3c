"""GCRA math: exact bursts, steady refill, and the IETF header fields."""

from services.gateway.app.ratelimit import Decision, Policy, gcra

POLICY = Policy("user", rate_per_second=10, burst=5)


def run(times_ms: list[float], policy: Policy = POLICY) -> list[Decision]:
    tat, decisions = 0.0, []
    for now in times_ms:
        decision, tat = gcra(tat_ms=tat, now_ms=now, policy=policy)
        decisions.append(decision)
    return decisions


def test_a_full_burst_is_allowed_then_the_next_request_waits_one_interval() -> None:
    decisions = run([1000.0] * 6)
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert decisions[5].retry_after_ms == 100


def test_the_bucket_refills_at_the_rate() -> None:
    decisions = run([1000.0] * 5 + [1050.0, 1100.0, 1100.0])
    assert [d.allowed for d in decisions[5:]] == [False, True, False]


def test_a_steady_rate_at_the_limit_is_never_refused() -> None:
    assert all(d.allowed for d in run([1000.0 + 100 * i for i in range(100)]))


def test_a_denied_request_does_not_spend_tokens() -> None:
    decisions = run([1000.0] * 20 + [1100.0])
    assert decisions[-1].allowed


def test_headers_follow_the_ietf_fields() -> None:
    allowed, denied = run([1000.0] * 5)[-1], run([1000.0] * 6)[-1]
    assert dict(allowed.headers(POLICY)) == {
        b"ratelimit-policy": b'"user";q=5;w=1',
        b"ratelimit": b'"user";r=0;t=1',
    }
    assert dict(denied.headers(POLICY))[b"retry-after"] == b"1"
