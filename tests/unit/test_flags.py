"""shared/flags.py against real flag files: context, reloads, refused files, visibility."""

import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.flags import Flags, evaluation_context

REPO_FLAGS = Path(__file__).parents[2] / "deploy" / "flags" / "flags.json"


def definition(canary_percent: int) -> dict[str, Any]:
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            "route.tasks.canary": {
                "state": "ENABLED",
                "variants": {"canary": True, "stable": False},
                "defaultVariant": "stable",
                "targeting": {
                    "fractional": [["canary", canary_percent], ["stable", 100 - canary_percent]]
                },
            },
            "web.visible": {
                "state": "ENABLED",
                "variants": {"a": "a", "b": "b"},
                "defaultVariant": "b",
                "metadata": {"clientVisible": True},
            },
        },
    }


TICKS = itertools.count(1)


def write(path: Path, content: str) -> None:
    """Write, then move the mtime on: two writes within one clock tick must both be seen."""
    path.write_text(content)
    stamp = time.time() + next(TICKS)
    os.utime(path, (stamp, stamp))


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)


def canary_share(flags: Flags, users: int = 400) -> int:
    return sum(
        flags.resolve_boolean(
            "route.tasks.canary", False, evaluation_context(user_id=f"u{i}")
        ).value
        for i in range(users)
    )


@pytest.fixture
def flag_file(tmp_path: Path) -> Iterator[tuple[Path, Flags]]:
    path = tmp_path / "flags.json"
    write(path, json.dumps(definition(0)))
    flags = Flags(str(path), poll_ms=50, domain=f"test-{tmp_path.name}")
    flags.start()
    yield path, flags
    flags.close()


def test_context_carries_user_id_email_domain_and_account_age() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    context = evaluation_context(
        user_id="u1", email="Ann@Example.COM", created_at=now - timedelta(days=3, hours=2), now=now
    )
    assert context.targeting_key == "u1"
    assert context.attributes == {"email_domain": "example.com", "account_age_days": 3}
    assert evaluation_context(user_id="u2").attributes == {}


def test_a_changed_split_is_served_after_the_next_poll(flag_file: tuple[Path, Flags]) -> None:
    path, flags = flag_file
    assert canary_share(flags) == 0
    write(path, json.dumps(definition(100)))
    wait_for(lambda: canary_share(flags, 20) == 20)


def test_fractional_split_is_near_its_weight_and_sticky(flag_file: tuple[Path, Flags]) -> None:
    path, flags = flag_file
    write(path, json.dumps(definition(10)))
    wait_for(lambda: canary_share(flags, 1000) > 0)
    first = canary_share(flags, 1000)
    assert 70 <= first <= 130
    assert canary_share(flags, 1000) == first


def test_an_invalid_file_is_refused_once_and_the_last_good_flags_serve(
    flag_file: tuple[Path, Flags], caplog: pytest.LogCaptureFixture
) -> None:
    path, flags = flag_file
    write(path, json.dumps(definition(100)))
    wait_for(lambda: canary_share(flags, 20) == 20)
    with caplog.at_level(logging.ERROR, logger="taskstream.flags"):
        write(path, '{"flags": {"route.tasks.canary": {"state": "MAYBE"}}}')
        wait_for(lambda: flags.status.refused_mtime is not None)
        time.sleep(0.2)  # several more polls of the same bad file
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    assert "still serving the last good flags" in refused[0].getMessage()
    assert canary_share(flags, 20) == 20
    write(path, "{not json")
    wait_for(lambda: len([r for r in caplog.records if "refused" in r.getMessage()]) >= 1)
    assert canary_share(flags, 20) == 20


def test_only_flags_marked_client_visible_are_listed(flag_file: tuple[Path, Flags]) -> None:
    _, flags = flag_file
    assert flags.client_visible() == ["web.visible"]
    details = flags.evaluate("web.visible", evaluation_context(user_id="u1"))
    assert (details.value, details.variant) == ("b", "b")


def test_a_missing_file_answers_defaults_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "later.json"
    flags = Flags(str(path), poll_ms=50, domain="test-missing")
    flags.start()
    try:
        assert canary_share(flags, 10) == 0
        write(path, json.dumps(definition(100)))
        wait_for(lambda: canary_share(flags, 10) == 10)
    finally:
        flags.close()


def test_the_repository_flag_file_is_valid_and_routes_nobody_to_a_canary() -> None:
    flags = Flags(str(REPO_FLAGS), poll_ms=1000, domain="test-repo")
    flags.start()
    try:
        # The ready event reaches Flags' handler on the SDK's event thread, just after start().
        wait_for(lambda: flags.status.loaded_mtime is not None)
        for service in ("auth", "tasks", "search"):
            context = evaluation_context(user_id="anyone")
            assert flags.resolve_boolean(f"route.{service}.canary", True, context).value is False
        assert flags.client_visible()
        assert not any(key.startswith("route.") for key in flags.client_visible())
    finally:
        flags.close()
