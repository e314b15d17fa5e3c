"""OFREP shapes from a real flag file: visible flags only, errors, request parsing, ETags."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.gateway.app.ofrep import (
    FlagFailed,
    FlagNotFound,
    InvalidContext,
    bulk_body,
    etag_matches,
    evaluate_all,
    evaluate_flag,
    parse_request,
)
from shared.flags import Flags, evaluation_context

VISIBLE = {"clientVisible": True}
USER = evaluation_context(user_id="u1")
FLAGS = {
    "web.density": {
        "state": "ENABLED",
        "variants": {"comfortable": "comfortable", "compact": "compact"},
        "defaultVariant": "compact",
        "metadata": VISIBLE,
    },
    "web.off": {
        "state": "DISABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "metadata": VISIBLE,
    },
    "web.broken": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": {"if": [True, "nonexistent-variant", "off"]},
        "metadata": VISIBLE,
    },
    "server.secret": {"state": "ENABLED", "variants": {"on": True}, "defaultVariant": "on"},
    "server.hidden": {
        "state": "ENABLED",
        "variants": {"on": True},
        "defaultVariant": "on",
        "metadata": {"clientVisible": "yes"},
    },
}


@pytest.fixture
def flags(tmp_path: Path) -> Iterator[Flags]:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": FLAGS}))
    flags = Flags(str(path), poll_ms=1000, domain=f"ofrep-{tmp_path.name}")
    flags.start()
    yield flags
    flags.close()


def test_one_visible_flag_has_the_ofrep_success_shape(flags: Flags) -> None:
    result = evaluate_flag(flags, "web.density", context=USER)
    assert result == {
        "key": "web.density",
        "value": "compact",
        "reason": "STATIC",
        "variant": "compact",
        "metadata": VISIBLE,
    }


@pytest.mark.parametrize("key", ["server.secret", "server.hidden", "no.such.flag"])
def test_private_and_unknown_flags_are_both_not_found(flags: Flags, key: str) -> None:
    with pytest.raises(FlagNotFound):
        evaluate_flag(flags, key, context=USER)


def test_a_flag_whose_rule_fails_is_an_evaluation_failure(flags: Flags) -> None:
    with pytest.raises(FlagFailed) as failure:
        evaluate_flag(flags, "web.broken", context=USER)
    assert failure.value.error_code == "GENERAL"


def test_bulk_lists_visible_flags_only_and_a_disabled_flag_without_value(flags: Flags) -> None:
    results = {item["key"]: item for item in evaluate_all(flags, context=USER)}
    assert sorted(results) == ["web.broken", "web.density", "web.off"]
    assert results["web.off"] == {"key": "web.off", "reason": "DISABLED", "metadata": VISIBLE}
    assert results["web.broken"]["errorCode"] == "GENERAL"


@pytest.mark.parametrize("body", [b"[1]", b"{", b'{"context": 3}', b'{"context": []}'])
def test_a_body_that_is_not_an_evaluation_request_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidContext):
        parse_request(body)


def test_an_empty_body_or_any_context_object_is_accepted() -> None:
    assert parse_request(b"") == {}
    assert parse_request(b'{"context": {"targetingKey": "x"}}') == {"targetingKey": "x"}


def test_etag_is_a_digest_of_the_body_and_if_none_match_compares_weakly() -> None:
    body, etag = bulk_body([{"key": "a", "value": True}])
    assert json.loads(body) == {"flags": [{"key": "a", "value": True}]}
    assert bulk_body([{"key": "a", "value": False}])[1] != etag
    assert etag_matches(etag, etag)
    assert etag_matches(f'"other", W/{etag}', etag)
    assert etag_matches("*", etag)
    assert not etag_matches(None, etag)
    assert not etag_matches('"other"', etag)


def test_rules_on_email_domain_and_account_age_see_the_gateways_context(tmp_path: Path) -> None:
    staff = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": {"if": [{"==": [{"var": "email_domain"}, "example.com"]}, "on", "off"]},
        "metadata": VISIBLE,
    }
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"flags": {"web.staff": staff}}))
    flags = Flags(str(path), poll_ms=1000, domain="ofrep-context")
    flags.start()
    try:
        staff_user = evaluation_context(user_id="u1", email="ann@EXAMPLE.com")
        assert evaluate_flag(flags, "web.staff", context=staff_user)["value"] is True
        assert evaluate_flag(flags, "web.staff", context=USER)["value"] is False
    finally:
        flags.close()
