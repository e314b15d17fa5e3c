"""Signing keys on disk: creation, permissions, rotation, publication, pruning."""

import stat
import time
from pathlib import Path

from services.auth.app.keys import (
    PUBLISH_LEEWAY_SECONDS,
    KeyRing,
    load_keys,
    main,
    published_keys,
    rotate,
    signing_key,
    write_new_key,
)

TTL = 900


def test_first_start_creates_one_private_key_readable_by_owner_only(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    KeyRing(keys_dir, token_ttl=TTL).ensure_key()
    KeyRing(keys_dir, token_ttl=TTL).ensure_key()
    files = list(keys_dir.glob("*.pem"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert not list(keys_dir.glob(".tmp-*"))


def test_a_running_ring_signs_with_a_rotated_key_without_restart(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, token_ttl=TTL)
    ring.ensure_key()
    old = ring.current()
    new = rotate(tmp_path, activate_in=0, prune_after=86_400)
    assert ring.current().kid == new.kid != old.kid
    assert {jwk["kid"] for jwk in ring.jwks()["keys"]} == {old.kid, new.kid}


def test_jwks_entries_are_public_ed25519_keys(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, token_ttl=TTL)
    ring.ensure_key()
    (jwk,) = ring.jwks()["keys"]
    assert jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": jwk["x"],
        "kid": ring.current().kid,
        "alg": "EdDSA",
        "use": "sig",
    }
    assert "d" not in jwk


def test_a_retired_key_is_published_until_its_tokens_have_expired(tmp_path: Path) -> None:
    old = write_new_key(tmp_path, active_from=1_000)
    new = write_new_key(tmp_path, active_from=2_000)
    keys = load_keys(tmp_path)
    last_moment = 2_000 + TTL + PUBLISH_LEEWAY_SECONDS
    assert published_keys(keys, now=last_moment - 1, token_ttl=TTL) == [old, new]
    assert published_keys(keys, now=last_moment, token_ttl=TTL) == [new]


def test_a_key_scheduled_for_later_is_published_but_does_not_sign_yet(tmp_path: Path) -> None:
    current = write_new_key(tmp_path, active_from=1_000)
    upcoming = write_new_key(tmp_path, active_from=5_000)
    keys = load_keys(tmp_path)
    assert signing_key(keys, now=4_999) == current
    assert published_keys(keys, now=4_999, token_ttl=TTL) == [current, upcoming]
    assert signing_key(keys, now=5_000) == upcoming


def test_rotate_prunes_only_keys_retired_longer_ago_than_asked(tmp_path: Path) -> None:
    now = int(time.time())
    ancient = write_new_key(tmp_path, active_from=now - 10_000)
    recent = write_new_key(tmp_path, active_from=now - 5_000)
    newest = rotate(tmp_path, activate_in=0, prune_after=6_000)
    kids = {key.kid for key in load_keys(tmp_path)}
    assert ancient.kid in kids  # retired 5,000 s ago: kept
    rotate(tmp_path, activate_in=0, prune_after=4_000)
    kids = {key.kid for key in load_keys(tmp_path)}
    assert ancient.kid not in kids
    assert {recent.kid, newest.kid} <= kids


def test_command_line_rotation(tmp_path: Path) -> None:
    assert main(["rotate", "--keys-dir", str(tmp_path)]) == 0
    assert main(["rotate", "--keys-dir", str(tmp_path)]) == 0
    assert len(load_keys(tmp_path)) == 2


def test_a_broken_key_file_does_not_stop_signing(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, token_ttl=TTL)
    ring.ensure_key()
    good = ring.current()
    (tmp_path / f"{int(time.time())}-1-broken.pem").write_text("not a key")
    assert ring.current() == good
    assert [jwk["kid"] for jwk in ring.jwks()["keys"]] == [good.kid]
