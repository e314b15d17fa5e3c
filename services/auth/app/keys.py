"""Ed25519 signing keys: made on first start, kept as files, rotated by a command.

``AUTH_KEYS_DIR`` holds one PKCS#8 PEM file per key, named ``<active from>-<created>-<kid>.pem``
(unix seconds, nanoseconds), written 0600 through a temporary file and an atomic rename, so a
reader never sees a half-written key. The newest active key signs; an older key stays in the
JWKS until every token it signed has expired. Replicas notice a new file by the directory's
mtime on their next use, so a rotation needs no restart; they must share the directory (a
volume) or receive the same files.

    python -m services.auth.app.keys rotate --keys-dir DIR [--activate-in S] [--prune-after S]
    python -m services.auth.app.keys list --keys-dir DIR
"""

import argparse
import base64
import fcntl
import hashlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("taskstream.auth.keys")
ALGORITHM = "EdDSA"
# Clock skew and in-flight requests: a retired key stays published this much longer.
PUBLISH_LEEWAY_SECONDS = 60
DEFAULT_PRUNE_AFTER_SECONDS = 86_400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    active_from: int
    # Orders keys that become active in the same second: the later one wins.
    created_ns: int
    # Keys are told apart by kid; the key object itself has no equality.
    private_key: Ed25519PrivateKey = field(compare=False, repr=False)

    def public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": self.kid}

    @property
    def file_name(self) -> str:
        return f"{self.active_from}-{self.created_ns}-{self.kid}.pem"


def kid_for(private_key: Ed25519PrivateKey) -> str:
    """The RFC 7638 thumbprint of the public key: stable, and unique per key."""
    probe = SigningKey("", 0, 0, private_key).public_jwk()
    canonical = json.dumps({k: probe[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _write_private_file(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".tmp-{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temporary, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_new_key(keys_dir: Path, *, active_from: int) -> SigningKey:
    private_key = Ed25519PrivateKey.generate()
    key = SigningKey(kid_for(private_key), active_from, time.time_ns(), private_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private_file(keys_dir / key.file_name, pem)
    return key


def _read_key(path: Path) -> SigningKey:
    active_from, created_ns, kid = path.stem.split("-", 2)
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{path.name} is not an Ed25519 key")
    return SigningKey(kid, int(active_from), int(created_ns), private_key)


def load_keys(keys_dir: Path) -> list[SigningKey]:
    """Every key in the directory, oldest first (temporary files are skipped)."""
    paths = (p for p in keys_dir.glob("*.pem") if not p.name.startswith("."))
    return sorted((_read_key(p) for p in paths), key=lambda k: (k.active_from, k.created_ns))


def signing_key(keys: Sequence[SigningKey], *, now: float) -> SigningKey:
    """The newest key already active (the oldest one if all are scheduled for later)."""
    active = [key for key in keys if key.active_from <= now]
    return active[-1] if active else keys[0]


def retired_at(keys: Sequence[SigningKey], index: int, *, now: float) -> int | None:
    """When ``keys[index]`` stopped signing: when its first active successor took over."""
    successors = [k.active_from for k in keys[index + 1 :] if k.active_from <= now]
    return successors[0] if successors else None


def published_keys(keys: Sequence[SigningKey], *, now: float, token_ttl: int) -> list[SigningKey]:
    """Keys a verifier may still need: current, scheduled, or retired less than a TTL ago."""
    keep = []
    for index, key in enumerate(keys):
        retired = retired_at(keys, index, now=now)
        if retired is None or retired + token_ttl + PUBLISH_LEEWAY_SECONDS > now:
            keep.append(key)
    return keep


@contextmanager
def locked(keys_dir: Path) -> Iterator[None]:
    """Serialise key creation between replicas starting at once and the rotate command."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (keys_dir / ".lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


class KeyRing:
    """The keys of one directory, re-read whenever the directory changes."""

    def __init__(self, keys_dir: Path, *, token_ttl: int) -> None:
        self.keys_dir = keys_dir
        self.token_ttl = token_ttl
        self._keys: list[SigningKey] = []
        self._seen_mtime_ns = -1

    def ensure_key(self) -> None:
        with locked(self.keys_dir):
            if not load_keys(self.keys_dir):
                write_new_key(self.keys_dir, active_from=int(time.time()))
        self._reload_if_changed()

    def _reload_if_changed(self) -> list[SigningKey]:
        # A rename into the directory updates its mtime; one stat per use is cheap.
        try:
            mtime_ns = self.keys_dir.stat().st_mtime_ns
            if mtime_ns != self._seen_mtime_ns:
                self._seen_mtime_ns = mtime_ns
                self._keys = load_keys(self.keys_dir) or self._keys
        except (OSError, ValueError):
            # A broken file must not stop logins: keep signing with what was last read.
            log.exception("cannot read the signing keys; keeping %d loaded", len(self._keys))
        return self._keys

    def current(self) -> SigningKey:
        return signing_key(self._reload_if_changed(), now=time.time())

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        keys = published_keys(self._reload_if_changed(), now=time.time(), token_ttl=self.token_ttl)
        return {"keys": [{**key.public_jwk(), "alg": ALGORITHM, "use": "sig"} for key in keys]}


def rotate(keys_dir: Path, *, activate_in: int, prune_after: int) -> SigningKey:
    """Add a key that signs from ``now + activate_in``; delete keys retired long ago."""
    now = time.time()
    with locked(keys_dir):
        new_key = write_new_key(keys_dir, active_from=int(now) + activate_in)
        keys = load_keys(keys_dir)
        for index, key in enumerate(keys):
            retired = retired_at(keys, index, now=now)
            if retired is not None and retired + prune_after < now:
                (keys_dir / key.file_name).unlink()
    return new_key


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m services.auth.app.keys")
    parser.add_argument("command", choices=("rotate", "list"))
    parser.add_argument("--keys-dir", type=Path, default=Path(".local/auth-keys"))
    parser.add_argument(
        "--activate-in",
        type=int,
        default=0,
        help="seconds before the new key signs (publish first, so every verifier has it)",
    )
    parser.add_argument(
        "--prune-after",
        type=int,
        default=DEFAULT_PRUNE_AFTER_SECONDS,
        help="delete keys retired longer ago than this; must exceed the access-token TTL",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = _parse_args(argv)
    if args.command == "rotate":
        key = rotate(args.keys_dir, activate_in=args.activate_in, prune_after=args.prune_after)
        print(f"new signing key {key.kid} active from {key.active_from}")
    for key in load_keys(args.keys_dir):
        summary: dict[str, Any] = {"kid": key.kid, "active_from": key.active_from}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
